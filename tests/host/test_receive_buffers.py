"""The host's UDP sockets get the receive buffer the host requests from aioice.

The sockets are opened by gathering host candidates with no ICE server,
which binds them on this machine's addresses and sends nothing.
"""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path

import aioice.turn
import psutil
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection

from pairview.host import ice
from pairview.host.ice import RECEIVE_BUFFER, enlarge_receive_buffers

AIOICE_DEFAULT = 256 * 1024


def rmem_max() -> int:
    return int(Path("/proc/sys/net/core/rmem_max").read_text())


def udp_descriptors() -> set[int]:
    return {c.fd for c in psutil.Process().net_connections(kind="udp") if c.fd >= 0}


def receive_buffer(descriptor: int) -> int:
    with socket.socket(fileno=os.dup(descriptor)) as sock:
        return sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)


async def gathered_buffers() -> list[int]:
    """Gather a new connection's host candidates; return its sockets' receive buffers."""
    before = udp_descriptors()
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        pc.createDataChannel("probe")
        await pc.setLocalDescription(await pc.createOffer())
        buffers = [receive_buffer(fd) for fd in udp_descriptors() - before]
    finally:
        await pc.close()
    assert buffers, "gathering opened no UDP socket: this machine has no address but loopback"
    return buffers


async def test_sockets_get_larger_buffer(monkeypatch: pytest.MonkeyPatch) -> None:
    # Put aioice's constant back after the test, whatever it was.
    monkeypatch.setattr(aioice.turn, "UDP_SOCKET_BUFFER_SIZE", aioice.turn.UDP_SOCKET_BUFFER_SIZE)
    limit = rmem_max()
    if limit <= AIOICE_DEFAULT:
        pytest.skip(f"net.core.rmem_max is {limit}: no buffer above aioice's own can be granted")

    # Linux reports twice the size granted, for its own bookkeeping.
    default = await gathered_buffers()
    assert default == [2 * AIOICE_DEFAULT] * len(default)
    enlarge_receive_buffers()
    granted = 2 * min(RECEIVE_BUFFER, limit)
    buffers = await gathered_buffers()
    assert buffers == [granted] * len(buffers)


def test_capped_buffer_logs_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(aioice.turn, "UDP_SOCKET_BUFFER_SIZE", aioice.turn.UDP_SOCKET_BUFFER_SIZE)
    rmem_max = tmp_path / "rmem_max"
    rmem_max.write_text("212992\n")
    monkeypatch.setattr(ice, "RMEM_MAX", rmem_max)
    with caplog.at_level(logging.INFO, logger="pairview.host.ice"):
        enlarge_receive_buffers()
    assert aioice.turn.UDP_SOCKET_BUFFER_SIZE == RECEIVE_BUFFER
    [record] = caplog.records
    assert "capped at 212992 bytes by net.core.rmem_max" in record.getMessage()
    assert f"net.core.rmem_max={RECEIVE_BUFFER}" in record.getMessage()

    caplog.clear()
    rmem_max.write_text(f"{RECEIVE_BUFFER}\n")
    with caplog.at_level(logging.INFO, logger="pairview.host.ice"):
        enlarge_receive_buffers()
    assert caplog.records == []
