"""Opening the listening socket, and the advice given when that fails.

Every bind here fails on this machine without sending a packet: "bad host!"
is neither an IP address nor a valid host name, and glibc rejects it without
asking a DNS server (a string such as 999.1.1.1 would be looked up).
192.0.2.1 (TEST-NET-1) is not an address of this machine.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from pairview.errors import PairviewError
from pairview.server.runner import _listen_error, bind_socket, start_server
from pairview.server.tls import CERT_FILE, KEY_FILE, ensure_self_signed
from pairview.settings import ServerSettings

NOT_AN_ADDRESS = "bad host!"
NOT_THIS_MACHINE = "192.0.2.1"


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port on which another socket already listens."""
    blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    try:
        yield int(blocker.getsockname()[1])
    finally:
        blocker.close()


def test_malformed_address_advises_host() -> None:
    with pytest.raises(PairviewError) as raised:
        bind_socket(NOT_AN_ADDRESS, 0)

    message = str(raised.value)
    assert message.startswith(
        f"Cannot listen on {NOT_AN_ADDRESS}: it is neither an IP address nor a host name"
    )
    assert "Choose one with --host, such as 127.0.0.1 or 0.0.0.0." in message
    assert "--port" not in message


def test_foreign_address_advises_host() -> None:
    with pytest.raises(PairviewError) as raised:
        bind_socket(NOT_THIS_MACHINE, 0)

    message = str(raised.value)
    assert f"{NOT_THIS_MACHINE}: it is not an address of this machine." in message
    assert "Choose one with --host" in message
    assert "--port" not in message


def test_address_advice_names_given_flag() -> None:
    with pytest.raises(PairviewError) as raised:
        bind_socket(NOT_THIS_MACHINE, 0, host_flag="--bind")

    message = str(raised.value)
    assert "Choose one with --bind" in message
    assert "--host" not in message


def test_busy_port_advises_port(busy_port: int) -> None:
    with pytest.raises(PairviewError) as raised:
        bind_socket("127.0.0.1", busy_port)

    message = str(raised.value)
    assert f"Cannot listen on 127.0.0.1 port {busy_port}:" in message
    assert "Choose another with --port, or stop what uses it." in message
    assert "--host" not in message


def test_busy_metrics_port_names_its_flag(busy_port: int) -> None:
    with pytest.raises(PairviewError) as raised:
        bind_socket("127.0.0.1", busy_port, "--metrics-host", "--metrics-port")

    assert "Choose another with --metrics-port" in str(raised.value)


def test_forbidden_port_advises_port() -> None:
    # Tests may run as root, which may listen on any port, so the error is made here.
    error = PermissionError(errno.EACCES, "Permission denied")

    message = str(_listen_error(error, "0.0.0.0", 80, "--bind", "--port"))

    assert message.startswith("Cannot listen on 0.0.0.0 port 80: Permission denied.")
    assert "Choose another with --port." in message
    assert "--bind" not in message


def test_other_failure_gives_no_advice() -> None:
    error = OSError(errno.EAFNOSUPPORT, "Address family not supported by protocol")

    message = str(_listen_error(error, "::1", 8800, "--host", "--port"))

    assert message == "Cannot listen on ::1 port 8800: Address family not supported by protocol."


async def test_failed_bind_keeps_certificate(tmp_path: Path) -> None:
    ensure_self_signed(tmp_path, ["198.51.100.7", "127.0.0.1", "localhost"])
    cert_before = (tmp_path / CERT_FILE).read_bytes()
    key_before = (tmp_path / KEY_FILE).read_bytes()
    settings = ServerSettings(data_dir=tmp_path, host=NOT_THIS_MACHINE, port=0, stun_port=None)

    with pytest.raises(PairviewError, match="not an address of this machine"):
        await start_server(settings, access_log=False)

    assert (tmp_path / CERT_FILE).read_bytes() == cert_before
    assert (tmp_path / KEY_FILE).read_bytes() == key_before
