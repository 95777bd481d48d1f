"""Running the server with uvicorn: as `pairview server`, or embedded in the host app."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import ssl
from collections.abc import Iterator
from dataclasses import dataclass

import uvicorn
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

from pairview.errors import ConfigError, PairviewError
from pairview.server.app import create_app
from pairview.server.network import is_loopback, is_wildcard, reachable_hosts, url_host
from pairview.server.tls import Certificate, ensure_self_signed, load_fingerprint
from pairview.server.usage.metrics import metrics_listener_app
from pairview.settings import ServerSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TlsFiles:
    cert_path: str
    key_path: str
    fingerprint: str
    self_signed: bool


def plan_tls(settings: ServerSettings) -> TlsFiles | None:
    """Decide how the server speaks: HTTPS with given or self-signed files, or plain HTTP.

    Plain HTTP is allowed on loopback, or beyond it only with `insecure_http`.
    """
    if (settings.tls_cert is None) != (settings.tls_key is None):
        raise ConfigError("Give both --tls-cert and --tls-key, or neither.")
    if settings.tls_cert is not None and settings.tls_key is not None:
        for path in (settings.tls_cert, settings.tls_key):
            if not path.is_file():
                raise ConfigError(f"TLS file {path} does not exist or is not a file.")
        try:
            given_fingerprint = load_fingerprint(settings.tls_cert)
        except ValueError:
            raise ConfigError(
                f"TLS certificate {settings.tls_cert} is not a PEM certificate."
            ) from None
        return TlsFiles(str(settings.tls_cert), str(settings.tls_key), given_fingerprint, False)
    if is_loopback(settings.host) or settings.insecure_http:
        return None
    names = [*reachable_hosts(settings.host), "127.0.0.1", "localhost"]
    certificate: Certificate = ensure_self_signed(settings.data_dir, names)
    return TlsFiles(
        str(certificate.cert_path), str(certificate.key_path), certificate.fingerprint, True
    )


def public_base_url(settings: ServerSettings, port: int, tls: TlsFiles | None) -> str:
    """The base of guest links: the configured public URL, else this machine's first address."""
    if settings.public_url:
        return settings.public_url
    scheme = "https" if tls else "http"
    host = reachable_hosts(settings.host)[0]
    return f"{scheme}://{url_host(host)}:{port}"


def bind_socket(
    host: str, port: int, host_flag: str = "--host", port_flag: str = "--port"
) -> socket.socket:
    """Open the listening socket first, so a bad address or busy port is a clear error.

    It also makes port 0 work. The error message advises changing `host_flag`
    or `port_flag`, whichever can fix the failure.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise _listen_error(error, host, port, host_flag, port_flag) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _listen_error(
    error: OSError, host: str, port: int, host_flag: str, port_flag: str
) -> PairviewError:
    """Explain a failed bind with advice about the setting that can fix it."""
    address_advice = f"Choose one with {host_flag}, such as 127.0.0.1 or 0.0.0.0."
    # socket.gaierror comes first: its errno is a getaddrinfo code, not an errno value.
    if isinstance(error, socket.gaierror):
        return PairviewError(
            f"Cannot listen on {host}: it is neither an IP address nor a host name "
            f"that resolves ({error.strerror}). {address_advice}"
        )
    if error.errno == errno.EADDRNOTAVAIL:
        return PairviewError(
            f"Cannot listen on {host}: it is not an address of this machine. {address_advice}"
        )
    reason = f"Cannot listen on {host} port {port}: {error.strerror}."
    if error.errno == errno.EADDRINUSE:
        return PairviewError(f"{reason} Choose another with {port_flag}, or stop what uses it.")
    if error.errno == errno.EACCES:
        return PairviewError(
            f"{reason} Choose another with {port_flag}. By default, Linux lets only root "
            "or a program with CAP_NET_BIND_SERVICE listen on ports below 1024."
        )
    return PairviewError(reason)


class _Server(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the program around it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class RunningServer:
    server: _Server
    task: asyncio.Task[None]
    host: str
    port: int
    tls: TlsFiles | None
    base_url: str
    # The separate metrics listener, when `metrics_port` is set.
    metrics: _Server | None = None
    metrics_task: asyncio.Task[None] | None = None
    metrics_port: int | None = None

    @property
    def local_url(self) -> str:
        """A URL for this process's own requests: loopback when bound to every address."""
        scheme = "https" if self.tls else "http"
        host = "127.0.0.1" if is_wildcard(self.host) else url_host(self.host)
        return f"{scheme}://{host}:{self.port}"

    def client_ssl_context(self) -> ssl.SSLContext | None:
        """TLS settings that trust this server's certificate, for the host's own requests."""
        if self.tls is None:
            return None
        context = ssl.create_default_context(cafile=self.tls.cert_path)
        return context

    async def stop(self) -> None:
        if self.metrics is not None and self.metrics_task is not None:
            self.metrics.should_exit = True
            with contextlib.suppress(asyncio.CancelledError, SystemExit):
                await self.metrics_task
        self.server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError, SystemExit):
            await self.task


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol, safe to shut down while replying to a client's close.

    uvicorn 0.55 replies to a client's close frame and closes the transport. If
    the server shuts down before the connection is lost, uvicorn sends a
    close frame of its own, the websockets library raises InvalidState, and
    the server's shutdown fails halfway.
    """

    def shutdown(self) -> None:
        if self.handshake_complete and not self.close_sent and self.conn.state is not State.OPEN:
            self.stop_keepalive()
            self.transport.close()
            return
        super().shutdown()


async def start_server(
    settings: ServerSettings, access_log: bool = True, host_flag: str = "--host"
) -> RunningServer:
    """Start the server on the running event loop and return once it accepts connections.

    `host_flag` is the flag named when `settings.host` cannot be listened on.
    """
    # Bind before planning TLS, so that a mistyped address does not replace the
    # data directory's self-signed certificate with one made for that address.
    sock = bind_socket(settings.host, settings.port, host_flag)
    try:
        tls = plan_tls(settings)
    except BaseException:
        sock.close()
        raise
    port = int(sock.getsockname()[1])

    app = create_app(settings, tls=tls is not None)
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=access_log,
        ws=WebSocketProtocol,
        ws_max_size=settings.signaling_max_message_bytes,
        ws_ping_interval=20,
        ws_ping_timeout=20,
        ssl_certfile=tls.cert_path if tls else None,
        ssl_keyfile=tls.key_path if tls else None,
        server_header=False,
        # NOTE: when `pairview share` stops after its room ended, one of a guest
        # browser's TLS connections sometimes stays open until this timeout, and
        # uvicorn then logs "timeout graceful shutdown exceeded" at ERROR.
        timeout_graceful_shutdown=3,
    )
    server = _Server(config)
    task = asyncio.create_task(serve(server, sock))
    await _wait_started(server, task)
    base = public_base_url(settings, port, tls)
    running = RunningServer(server, task, settings.host, port, tls, base)

    if settings.metrics_port is not None:
        try:
            await _start_metrics(running, app, settings.metrics_host, settings.metrics_port)
        except BaseException:
            await running.stop()
            raise
    return running


async def serve(server: _Server, sock: socket.socket) -> None:
    try:
        await server.serve(sockets=[sock])
    except SystemExit:
        # uvicorn exits the process when start-up fails; report it instead.
        raise PairviewError("The server failed to start; see the error above.") from None
    finally:
        sock.close()


async def _wait_started(server: _Server, task: asyncio.Task[None]) -> None:
    while not server.started:
        if task.done():
            task.result()
            raise PairviewError("The server stopped during start-up.")
        await asyncio.sleep(0.02)


async def _start_metrics(running: RunningServer, app: object, host: str, port: int) -> None:
    """Open the metrics listener, plain HTTP on its own address, such as loopback or a VPN."""
    sock = bind_socket(host, port, "--metrics-host", "--metrics-port")
    config = uvicorn.Config(
        metrics_listener_app(app),
        log_config=None,
        access_log=False,
        lifespan="off",
        server_header=False,
    )
    running.metrics = _Server(config)
    running.metrics_port = int(sock.getsockname()[1])
    running.metrics_task = asyncio.create_task(serve(running.metrics, sock))
    await _wait_started(running.metrics, running.metrics_task)
    logger.info("serving metrics on http://%s:%d/metrics", url_host(host), running.metrics_port)
