"""The `pairview` command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import secrets
import signal
import ssl
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pairview import __version__
from pairview.errors import PairviewError
from pairview.settings import ServerSettings, ShareSettings, load_settings

logger = logging.getLogger("pairview")


def _server_options(parser: argparse.ArgumentParser, embedded: bool) -> None:
    group = parser.add_argument_group("server" if not embedded else "embedded server")
    group.add_argument(
        "--data-dir",
        type=Path,
        help="directory for the database, secret key and TLS files "
        "(default: $XDG_DATA_HOME/pairview, usually ~/.local/share/pairview)",
    )
    group.add_argument("--tls-cert", type=Path, help="PEM certificate for HTTPS (with --tls-key)")
    group.add_argument("--tls-key", type=Path, help="PEM private key for HTTPS (with --tls-cert)")
    group.add_argument(
        "--insecure-http",
        action="store_true",
        default=None,
        help="serve plain HTTP beyond loopback; without it, a server bound beyond "
        "loopback with no certificate makes a self-signed one. Browsers then block "
        "microphones and the clipboard",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pairview",
        description="Self-hosted, peer-to-peer screen sharing and remote control.",
    )
    parser.add_argument("--version", action="version", version=f"pairview {__version__}")
    parser.add_argument(
        "--config",
        type=Path,
        help="TOML settings file with [server] and [share] tables; flags and "
        "PAIRVIEW_* environment variables take precedence",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details to stderr")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    server = commands.add_parser(
        "server",
        help="run the Pairview server: rooms, signaling and the web client",
        description="Run the Pairview server: rooms, signaling, ICE configuration "
        "and the web client.",
    )
    server.add_argument("--host", help="address to listen on (default: 127.0.0.1)")
    server.add_argument("--port", type=int, help="TCP port to listen on (default: 8800)")
    server.add_argument(
        "--public-url",
        help="the URL guests use to reach this server, such as https://pairview.example.com; "
        "guest links start with it and browsers' WebSockets must come from it",
    )
    server.add_argument(
        "--database-url",
        help="SQLAlchemy URL of the database, such as postgresql+asyncpg://user@host/db "
        "(default: SQLite in the data directory)",
    )
    server.add_argument(
        "--room-creation-token",
        help="require this Bearer token to create rooms (default: anyone who reaches the "
        "server may create one); prefer PAIRVIEW_ROOM_CREATION_TOKEN, which ps does not show",
    )
    _server_options(server, embedded=False)

    share = commands.add_parser(
        "share",
        help="share this screen and print a link for guests",
        description="Share an X11 monitor with guests in their browsers. With no --server, "
        "a server is started inside this process; guests reach it at the printed link.",
    )
    share.add_argument(
        "--server",
        help="URL of a running Pairview server (default: start one in this process)",
    )
    share.add_argument(
        "--server-token",
        help="Bearer token for creating rooms on --server, if it requires one",
    )
    share.add_argument(
        "--cafile", type=Path, help="CA certificate (PEM) to trust for --server's HTTPS"
    )
    share.add_argument(
        "--bind",
        help="address the embedded server listens on (default: 127.0.0.1, this machine "
        "only; 0.0.0.0 for the LAN)",
    )
    share.add_argument(
        "--port", type=int, help="TCP port of the embedded server (default: 0, any free port)"
    )
    share.add_argument(
        "--monitor",
        type=int,
        help="monitor to share, numbered from 1; 0 shares all monitors as one (default: 1)",
    )
    share.add_argument("--list-monitors", action="store_true", help="list monitors and exit")
    share.add_argument("--codec", choices=["vp8", "h264"], help="video codec (default: vp8)")
    share.add_argument("--fps", type=int, help="maximum frames per second, 1 to 60 (default: 30)")
    share.add_argument(
        "--max-bitrate",
        help="maximum video bitrate in bit/s, such as 8M or 2500k (default: 8M); text "
        "stays sharp at 1080p from about 4M",
    )
    share.add_argument(
        "--min-bitrate",
        help="bitrate floor when guests report congestion, such as 300k (default: 300k)",
    )
    share.add_argument(
        "--invite-ttl",
        help="how long the guest link stays valid, such as 90m or 24h (default: 24h)",
    )
    share.add_argument("--name", help="your name as guests see it (default: Host)")
    share.add_argument(
        "--allow-control",
        action="store_true",
        default=None,
        help="let every guest control your pointer and keyboard without asking you; "
        "without it, each guest asks and you answer in this terminal",
    )
    share.add_argument(
        "--downloads-dir",
        type=Path,
        help="folder for files that guests send you (default: Pairview in your XDG "
        "download directory, usually ~/Downloads/Pairview)",
    )
    share.add_argument(
        "--max-file-size",
        help="largest file sent, received or passed between guests, such as 500M or 2G "
        "(default: 2G; K, M, G are powers of 1000, KiB, MiB, GiB of 1024)",
    )
    share.add_argument(
        "--microphone",
        help="PulseAudio (or PipeWire) source that guests hear: a source name as "
        "`pactl list short sources` shows it, default, or none (default: default)",
    )
    share.add_argument(
        "--speaker",
        help="PulseAudio sink that plays the guests' voices: a sink name, default, "
        "or none (default: default)",
    )
    share.add_argument(
        "--system-audio",
        action="store_true",
        default=None,
        help="let guests hear what your speakers play (the default sink's monitor); "
        "/system-audio on|off changes it while sharing",
    )
    _server_options(share, embedded=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    try:
        if args.command == "server":
            return _run_server(args)
        if args.command == "share":
            return _run_share(args)
    except PairviewError as error:
        print(f"pairview: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    parser.error(f"unknown command {args.command!r}")
    return 2


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # aioice logs every candidate pair check at INFO; keep that for --verbose.
    for name in ("aioice", "aiortc", "websockets", "uvicorn.error", "httpx", "alembic"):
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.WARNING)


def _server_overrides(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "data_dir": args.data_dir,
        "tls_cert": args.tls_cert,
        "tls_key": args.tls_key,
        "insecure_http": args.insecure_http,
    }


def _run_server(args: argparse.Namespace) -> int:
    from pairview.server.runner import start_server

    settings = load_settings(
        ServerSettings,
        args.config,
        host=args.host,
        port=args.port,
        public_url=args.public_url,
        database_url=args.database_url,
        room_creation_token=args.room_creation_token,
        **_server_overrides(args),
    )
    logging.getLogger().setLevel(settings.log_level.upper())

    async def serve() -> None:
        stop = _stop_event()
        running = await start_server(settings)
        if running.tls is not None:
            origin = f"https://{settings.host}:{running.port}"
            print(f"Pairview server listening on {origin}", flush=True)
            if running.tls.self_signed:
                print(
                    f"Self-signed certificate, SHA-256 fingerprint: {running.tls.fingerprint}",
                    flush=True,
                )
        else:
            print(f"Pairview server listening on http://{settings.host}:{running.port}", flush=True)
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait({waiter, running.task}, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        await running.stop()

    asyncio.run(serve())
    return 0


def _stop_event() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def _run_share(args: argparse.Namespace) -> int:
    from pairview.host.capture import list_monitors, monitor_region

    settings = load_settings(
        ShareSettings,
        args.config,
        server=args.server,
        server_token=args.server_token,
        cafile=args.cafile,
        bind=args.bind,
        port=args.port,
        monitor=args.monitor,
        codec=args.codec,
        fps=args.fps,
        max_bitrate=args.max_bitrate,
        min_bitrate=args.min_bitrate,
        invite_ttl=args.invite_ttl,
        name=args.name,
        allow_control=args.allow_control,
        downloads_dir=args.downloads_dir,
        max_file_size=args.max_file_size,
        microphone=args.microphone,
        speaker=args.speaker,
        system_audio=args.system_audio,
    )
    if args.list_monitors:
        for index, region in enumerate(list_monitors()):
            label = "all monitors" if index == 0 else f"monitor {index}"
            print(
                f"{index}: {label}, {region.width}x{region.height} at +{region.left}+{region.top}"
            )
        return 0
    region = monitor_region(settings.monitor)
    server_settings = None
    if settings.server is None:
        server_settings = load_settings(
            ServerSettings,
            args.config,
            host=settings.bind,
            port=settings.port,
            room_creation_token=secrets.token_urlsafe(32),
            **_server_overrides(args),
        )
    asyncio.run(_share(settings, server_settings, region))
    return 0


async def _share(
    settings: ShareSettings, server_settings: ServerSettings | None, region: Any
) -> None:
    from pairview.host.chat import Chat
    from pairview.host.console import Console
    from pairview.host.files import FileTransfers
    from pairview.host.input.panic import XPanicShortcut
    from pairview.host.input.xtest import XTestInjector
    from pairview.host.output import ShareOutput
    from pairview.host.pipeline import PipelineConfig
    from pairview.host.remote import RemoteControl
    from pairview.host.rooms import create_room, end_room
    from pairview.host.share import Share
    from pairview.server.api import guest_url
    from pairview.server.runner import start_server

    stop = _stop_event()
    output = ShareOutput()
    running = None
    try:
        if server_settings is not None:
            running = await start_server(server_settings, access_log=False)
            api_url = running.local_url
            ssl_context = running.client_ssl_context()
            bearer = server_settings.room_creation_token
            ticket = await create_room(
                api_url,
                bearer.get_secret_value() if bearer else None,
                settings.invite_ttl,
                ssl_context,
            )
            ticket = dataclasses.replace(
                ticket,
                guest_url=guest_url(running.base_url, ticket.room_id, _fragment(ticket.guest_url)),
            )
        else:
            assert settings.server is not None
            ssl_context = (
                ssl.create_default_context(cafile=settings.cafile) if settings.cafile else None
            )
            token = settings.server_token.get_secret_value() if settings.server_token else None
            ticket = await create_room(settings.server, token, settings.invite_ttl, ssl_context)

        codec = "VP8" if settings.codec == "vp8" else "H.264"
        output.info(
            f"Pairview {__version__}: sharing monitor {settings.monitor} "
            f"({region.width}x{region.height}) as {codec}, up to {settings.fps} fps "
            f"and {settings.max_bitrate / 1e6:g} Mbit/s."
        )
        expiry = ticket.invite_expires_at.strftime("%Y-%m-%d %H:%M UTC")
        output.info(f"Send this link to your guests; it is valid until {expiry}:")
        output.link(ticket.guest_url)
        if running is not None and running.tls is not None and running.tls.self_signed:
            output.info(
                "The server's certificate is self-signed; guests can compare its SHA-256 "
                f"fingerprint with what their browser shows: {running.tls.fingerprint}"
            )
        output.info("Press Ctrl-C to end the room. Type /help for commands.")

        console = Console(output)
        remote = RemoteControl(
            output,
            region,
            XTestInjector,
            XPanicShortcut,
            allow_all=settings.allow_control,
            host_name=settings.name,
            request_timeout=settings.control_request_timeout,
        )
        await remote.start(console)
        chat = Chat(output, settings.name)
        chat.register(console)
        files = FileTransfers(output, settings.downloads_dir, settings.max_file_size, settings.name)
        files.register(console)
        host_audio = _start_audio(settings, output)
        host_audio.register(console, output)
        console_task = asyncio.create_task(console.run())
        pipeline_config = PipelineConfig(region, settings.codec, settings.fps, settings.max_bitrate)
        share = Share(
            settings, ticket, pipeline_config, output, ssl_context, remote, chat, files, host_audio
        )
        try:
            await share.run(stop)
        finally:
            console_task.cancel()
            await remote.close()
            await asyncio.to_thread(host_audio.stop)
        with contextlib.suppress(Exception):
            await end_room(ticket, ssl_context)
    finally:
        if running is not None:
            await running.stop()


def _start_audio(settings: ShareSettings, output: Any) -> Any:
    """Start the host's sound for guests; a missing sound server only costs a warning."""
    from pairview.host.audio.outgoing import HostAudio
    from pairview.host.audio.pulse import AudioUnavailable

    host_audio = HostAudio(asyncio.get_running_loop(), settings.microphone)
    try:
        host_audio.start()
    except AudioUnavailable as error:
        output.warning(f"No microphone: {error}. Guests do not hear you.")
    if settings.system_audio:
        try:
            host_audio.set_system_audio(True)
        except AudioUnavailable as error:
            output.warning(f"No system audio: {error}.")
        else:
            output.info("Guests hear your system audio; /system-audio off stops it.")
    return host_audio


def _fragment(url: str) -> str:
    return url.partition("#")[2]
