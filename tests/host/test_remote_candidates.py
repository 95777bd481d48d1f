"""End-of-candidates from a guest that sent no candidate with an address.

Two real aiortc peers connect on loopback. The answer reaches the host with
its candidates removed, as when a browser hides them behind mDNS names, so
the host learns the guest's address only from the guest's checks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from aiortc import RTCIceCandidate, RTCPeerConnection

from pairview.host.ice import RemoteCandidates
from tests.support.peers import negotiate, peers

TIMEOUT = 20.0


pytestmark = pytest.mark.usefixtures("loopback_only")


def without_candidates(sdp: str) -> str:
    lines = sdp.splitlines()
    candidates_removed = [
        line for line in lines if not line.startswith(("a=candidate:", "a=end-of-candidates"))
    ]
    return "\r\n".join(candidates_removed) + "\r\n"


async def connect(
    signal_end: Callable[[RTCPeerConnection], Awaitable[None]],
) -> tuple[str, str | None]:
    """Connect with an answer that has no candidates, then signal end-of-candidates.

    Return the host's final connection state and the first message that
    crossed the data channel, or None when none did.
    """
    async with peers(2) as (host, guest):
        channel = host.createDataChannel("control")
        arrived: asyncio.Queue[str] = asyncio.Queue()
        guest.on("datachannel", lambda incoming: incoming.on("message", arrived.put_nowait))
        channel.on("open", lambda: channel.send("hello"))
        settled = asyncio.Event()

        @host.on("connectionstatechange")
        def changed() -> None:
            if host.connectionState in ("connected", "failed"):
                settled.set()

        await negotiate(host, guest, edit_answer=without_candidates)
        await signal_end(host)

        async with asyncio.timeout(TIMEOUT):
            await settled.wait()
        state = str(host.connectionState)
        message = None
        if state == "connected":
            async with asyncio.timeout(TIMEOUT):
                message = await arrived.get()
        return state, message


async def test_held_back_end_connects() -> None:
    async def held_back(host: RTCPeerConnection) -> None:
        await RemoteCandidates(host).add(None)

    assert await connect(held_back) == ("connected", "hello")


async def test_passed_on_end_fails() -> None:
    """Show the aioice behaviour that the hold-back works around.

    When a newer aioice connects here, the hold-back can go.
    """

    async def passed_on(host: RTCPeerConnection) -> None:
        await host.addIceCandidate(None)

    state, message = await connect(passed_on)

    assert state == "failed"
    assert message is None


def candidate(ip: str) -> RTCIceCandidate:
    return RTCIceCandidate(
        component=1,
        foundation="1",
        ip=ip,
        port=9,
        priority=2130706431,
        protocol="udp",
        type="host",
        sdpMLineIndex=0,
    )


class Recorder:
    """Stand-in for a peer connection, recording the candidates it is given."""

    def __init__(self) -> None:
        self.added: list[RTCIceCandidate | None] = []

    async def addIceCandidate(self, candidate: RTCIceCandidate | None) -> None:
        self.added.append(candidate)


async def test_mdns_names_not_counted() -> None:
    recorder = Recorder()
    remote = RemoteCandidates(recorder)  # type: ignore[arg-type]
    hidden = candidate("8a1d5c2e-4b7f-4d0e-9a3c-1f2e3d4c5b6a.local")

    await remote.add(hidden)
    await remote.add(None)

    assert recorder.added == [hidden]
    assert remote.addresses == 0


async def test_end_passes_after_address() -> None:
    recorder = Recorder()
    remote = RemoteCandidates(recorder)  # type: ignore[arg-type]
    hidden = candidate("8a1d5c2e-4b7f-4d0e-9a3c-1f2e3d4c5b6a.local")
    visible = candidate("10.1.2.3")

    await remote.add(hidden)
    await remote.add(visible)
    await remote.add(None)

    assert recorder.added == [hidden, visible, None]
    assert remote.addresses == 1
