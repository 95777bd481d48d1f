"""The `pairview` command."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import functools
import logging
import os
import secrets
import signal
import ssl
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pairview import __version__, backup_cli
from pairview.errors import PairviewError
from pairview.login import CredentialStore
from pairview.loop import run_loop
from pairview.settings import ServerSettings, ShareSettings, invalid_setting, load_settings

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


def _ice_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "STUN and TURN",
        "The TURN secret is read only from PAIRVIEW_TURN_SECRET or the configuration "
        "file, never from a flag, so that ps does not show it.",
    )
    group.add_argument(
        "--stun-port",
        help="UDP port of the built-in STUN server, or 'off' (default: 3478; off when the "
        "server listens on loopback only and no --stun-host is given)",
    )
    group.add_argument(
        "--stun-host", help="address the built-in STUN server listens on (default: --host)"
    )
    group.add_argument(
        "--ice-host",
        help="host name or address clients use for STUN and TURN (default: the host of "
        "--public-url, else this machine's first address)",
    )
    group.add_argument(
        "--turn-host", help="host name or address of the coturn relay (default: --ice-host)"
    )
    group.add_argument("--turn-port", type=int, help="coturn's UDP and TCP port (default: 3478)")
    group.add_argument(
        "--turn-tls-port", type=int, help="coturn's TURN over TLS port (default: 5349)"
    )
    group.add_argument(
        "--turn-credential-ttl",
        help="how long minted TURN credentials stay valid, such as 6h; at most 24h (default: 6h)",
    )


def _turn_config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        help="file to write, created readable by its owner only (default: standard output)",
    )
    parser.add_argument(
        "--realm", help="TURN realm (default: turn_realm from the settings, 'pairview')"
    )
    parser.add_argument(
        "--port", type=int, help="UDP and TCP listening port (default: turn_port, 3478)"
    )
    parser.add_argument(
        "--tls-port", type=int, help="TURN over TLS listening port (default: turn_tls_port, 5349)"
    )
    parser.add_argument(
        "--listening-ip",
        action="append",
        default=[],
        metavar="IP",
        help="address coturn listens on; repeat for several (default: every address)",
    )
    parser.add_argument(
        "--relay-ip",
        action="append",
        default=[],
        metavar="IP",
        help="address relayed traffic leaves from; repeat for several (default: coturn's choice)",
    )
    parser.add_argument(
        "--external-ip",
        metavar="PUBLIC[/PRIVATE]",
        help="the relay's public address when it sits behind NAT, optionally with the "
        "private address it maps to",
    )
    parser.add_argument("--cert", help="PEM certificate for TURN over TLS (with --pkey)")
    parser.add_argument("--pkey", help="PEM private key for TURN over TLS (with --cert)")
    parser.add_argument(
        "--min-port", type=int, default=49152, help="lowest relay port (default: 49152)"
    )
    parser.add_argument(
        "--max-port", type=int, default=65535, help="highest relay port (default: 65535)"
    )
    parser.add_argument(
        "--user-quota",
        type=int,
        default=12,
        help="allocations one TURN username may hold at once (default: 12)",
    )
    parser.add_argument(
        "--total-quota",
        type=int,
        default=1000,
        help="allocations the relay holds at once in total (default: 1000)",
    )
    parser.add_argument(
        "--max-bps",
        type=int,
        default=2_000_000,
        help="bytes per second one relayed session may carry in each direction "
        "(default: 2000000, about 16 Mbit/s)",
    )
    parser.add_argument(
        "--bps-capacity",
        type=int,
        default=100_000_000,
        help="bytes per second the relay carries in total in each direction "
        "(default: 100000000, about 800 Mbit/s)",
    )
    parser.add_argument(
        "--allow-peer",
        action="append",
        default=[],
        metavar="RANGE",
        help="let the relay reach this address, CIDR network or first-last range although "
        "it is denied by default, such as 10.20.0.0/16 for an on-premises LAN; repeat for "
        "several",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pairview",
        description="Self-hosted, peer-to-peer screen sharing and remote control.",
    )
    parser.add_argument("--version", action="version", version=f"pairview {__version__}")
    config_help = (
        "TOML settings file with [server] and [share] tables; flags and "
        "PAIRVIEW_* environment variables take precedence"
    )
    parser.add_argument("--config", type=Path, help=config_help)
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details to stderr")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # Every command also takes --config after its name, as in `pairview share --config FILE`.
    config_option = argparse.ArgumentParser(add_help=False)
    config_option.add_argument("--config", type=Path, default=argparse.SUPPRESS, help=config_help)
    add_command = functools.partial(commands.add_parser, parents=[config_option])

    server = add_command(
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
    server.add_argument(
        "--accounts",
        action="store_true",
        default=None,
        help="turn on accounts: sign-in, contacts and invitations; creating a room then "
        "needs a signed-in host (see the README for the mail and sign-in settings)",
    )
    server.add_argument(
        "--metrics-port",
        help="also serve Prometheus metrics at /metrics on this port of --metrics-host, "
        "or 'off' (default: off; the main port serves them only with PAIRVIEW_METRICS_TOKEN)",
    )
    server.add_argument(
        "--metrics-host",
        help="address of the metrics port, such as a management network's (default: 127.0.0.1)",
    )
    _server_options(server, embedded=False)
    _ice_options(server)

    turn = add_command(
        "turn-config",
        help="write a hardened coturn configuration for the TURN relay",
        description="Write a coturn configuration that accepts the TURN credentials this "
        "server mints and refuses to relay to loopback, private, link-local, CGNAT, "
        "multicast, reserved and cloud metadata addresses. The shared secret comes from "
        "PAIRVIEW_TURN_SECRET or turn_secret in the [server] table of --config.",
    )
    _turn_config_options(turn)

    login = add_command(
        "login",
        help="sign this host app in to a Pairview server with accounts",
        description="Sign in to a Pairview server and keep the token in "
        "$XDG_CONFIG_HOME/pairview/credentials.json (owner-only), for `pairview share "
        "--server URL`. Asks for email and password, or with --code for the one-time code "
        "the account page shows (for GitHub, Slack or single sign-on accounts).",
    )
    login.add_argument("--server", required=True, help="URL of the Pairview server")
    login.add_argument("--email", help="the account's email address (default: ask)")
    login.add_argument(
        "--code", action="store_true", help="sign in with a one-time code from the account page"
    )
    login.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password (or with --code, the code) from standard input",
    )
    login.add_argument("--cafile", type=Path, help="CA certificate (PEM) to trust for --server")

    logout = add_command(
        "logout",
        help="sign out of a Pairview server and forget the token",
        description="Sign out of a Pairview server: every session of the account ends, on "
        "every device, and the token kept by `pairview login` is forgotten.",
    )
    logout.add_argument("--server", required=True, help="URL of the Pairview server")
    logout.add_argument("--cafile", type=Path, help="CA certificate (PEM) to trust for --server")

    database = add_command(
        "db", help="manage the server's database", description="Manage the server's database."
    )
    database_commands = database.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = database_commands.add_parser(
        "upgrade",
        help="apply every pending migration (the server also does this at start)",
        description="Apply every pending migration to the database.",
    )
    upgrade.add_argument("--database-url", help="SQLAlchemy URL (default: SQLite in --data-dir)")
    upgrade.add_argument("--data-dir", type=Path, help="the server's data directory")

    admin = add_command(
        "admin",
        help="manage accounts directly in the server's database",
        description="Manage accounts directly in the server's database (PAIRVIEW_DATABASE_URL "
        "or SQLite in the data directory); no server needs to run.",
    )
    admin_commands = admin.add_subparsers(dest="admin_command", required=True, metavar="ACTION")
    create_user = admin_commands.add_parser(
        "create-user",
        help="create a confirmed account",
        description="Create a confirmed account; the password is asked for, or read from "
        "standard input with --password-stdin.",
    )
    create_user.add_argument("email", help="the account's email address")
    create_user.add_argument("--name", required=True, help="the account's display name")
    create_user.add_argument("--admin", action="store_true", help="give the account the admin role")
    create_user.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    list_users = admin_commands.add_parser(
        "list-users", help="list every account", description="List every account, oldest first."
    )
    delete_user = admin_commands.add_parser(
        "delete-user",
        help="delete an account and its personal data",
        description="Delete an account with its contacts, invitations, sign-ins and addresses "
        "in other people's contact lists; its usage events stay, no longer naming it. The "
        "audit log records the deletion. Backups still hold the account until they expire.",
    )
    delete_user.add_argument("account", help="the account's id or email address")
    delete_user.add_argument(
        "--yes", action="store_true", help="delete without asking for confirmation"
    )
    for command in (create_user, list_users, delete_user):
        command.add_argument(
            "--database-url", help="SQLAlchemy URL (default: SQLite in --data-dir)"
        )
        command.add_argument("--data-dir", type=Path, help="the server's data directory")

    backup_cli.add_commands(commands)

    share = add_command(
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
        help="Bearer token for creating rooms on --server, if it requires one (default: "
        "the token kept by `pairview login --server URL`)",
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
    share.add_argument(
        "--event-loop",
        choices=["uvloop", "asyncio"],
        help="the event loop the host app runs on: uvloop moves files about twice as "
        "fast; asyncio is Python's own loop, a fallback should uvloop misbehave "
        "(default: uvloop)",
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
        if args.command in ("login", "logout", "db", "admin"):
            from pairview import accounts_cli

            return accounts_cli.run(args)
        if args.command == "turn-config":
            return _run_turn_config(args)
        if args.command == "backup":
            return backup_cli.run(args)
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
        accounts=args.accounts,
        stun_port=args.stun_port,
        stun_host=args.stun_host,
        ice_host=args.ice_host,
        turn_host=args.turn_host,
        turn_port=args.turn_port,
        turn_tls_port=args.turn_tls_port,
        turn_credential_ttl=args.turn_credential_ttl,
        metrics_port=args.metrics_port,
        metrics_host=args.metrics_host,
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


def _run_turn_config(args: argparse.Namespace) -> int:
    from pairview.server.turnconfig import TurnConfig

    settings = load_settings(ServerSettings, args.config)
    if settings.turn_secret is None:
        raise PairviewError(
            "No TURN secret: set PAIRVIEW_TURN_SECRET (or turn_secret in the [server] table "
            "of --config) to a random string of at least 16 characters, for example the "
            "output of `openssl rand -base64 32`, and give the Pairview server the same value."
        )
    config = TurnConfig(
        secret=settings.turn_secret.get_secret_value(),
        realm=args.realm or settings.turn_realm,
        port=args.port if args.port is not None else settings.turn_port,
        tls_port=args.tls_port if args.tls_port is not None else settings.turn_tls_port,
        listening_ips=args.listening_ip,
        relay_ips=args.relay_ip,
        external_ip=args.external_ip,
        cert=args.cert,
        pkey=args.pkey,
        min_port=args.min_port,
        max_port=args.max_port,
        user_quota=args.user_quota,
        total_quota=args.total_quota,
        max_bps=args.max_bps,
        bps_capacity=args.bps_capacity,
        allowed_peers=args.allow_peer,
    )
    text = config.render()
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        descriptor = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
    except OSError as error:
        raise PairviewError(f"Cannot write {args.output}: {error.strerror}") from None
    print(f"Wrote the coturn configuration to {args.output}", file=sys.stderr)
    if config.cert is None:
        print(
            "No --cert and --pkey given, so TURN over TLS is off: remove 'tls' from the "
            "server's turn_transports, or give a certificate.",
            file=sys.stderr,
        )
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
        event_loop=args.event_loop,
    )
    if args.list_monitors:
        for index, region in enumerate(list_monitors()):
            label = "all monitors" if index == 0 else f"monitor {index}"
            print(
                f"{index}: {label}, {region.width}x{region.height} at +{region.left}+{region.top}"
            )
        return 0
    _prepare_downloads_dir(settings)
    region = monitor_region(settings.monitor)
    server_settings = None
    if settings.server is None:
        server_settings = load_settings(
            ServerSettings,
            args.config,
            host=settings.bind,
            port=settings.port,
            room_creation_token=secrets.token_urlsafe(32),
            # Peers on one LAN reach each other without STUN, and a fixed UDP
            # port would clash with a second share or a local coturn.
            stun_port="off",
            **_server_overrides(args),
        )
    run_loop(_share(settings, server_settings, region), settings.event_loop)
    return 0


def _prepare_downloads_dir(settings: ShareSettings) -> None:
    """Create the downloads folder, so that a bad one stops the program before the room opens."""
    from pairview.host.downloads import SaveError, prepare_folder

    try:
        prepare_folder(settings.downloads_dir)
    except SaveError as error:
        raise invalid_setting(ShareSettings, "downloads_dir", str(error)) from None


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
            running = await start_server(server_settings, access_log=False, host_flag="--bind")
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
            token = server_token(settings)
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
        share.register(console)
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


def server_token(settings: ShareSettings, store: CredentialStore | None = None) -> str | None:
    """Return the Bearer token for creating rooms: --server-token, else the stored login."""
    if settings.server_token is not None:
        return settings.server_token.get_secret_value()
    if settings.server is None:
        return None
    login = (store or CredentialStore()).get(settings.server)
    return login.token if login else None


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
