"""Real aiortc peer connections for tests, connected without signaling servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription


@asynccontextmanager
async def peers(count: int) -> AsyncIterator[list[RTCPeerConnection]]:
    """Yield `count` peer connections with no ICE servers, and close them afterwards."""
    created = [RTCPeerConnection(RTCConfiguration(iceServers=[])) for _ in range(count)]
    try:
        yield created
    finally:
        for pc in created:
            await pc.close()


async def negotiate(
    offerer: RTCPeerConnection,
    answerer: RTCPeerConnection,
    edit_answer: Callable[[str], str] = str,
) -> None:
    """Run the offer and answer exchange, with `edit_answer` changing the answer in transit."""
    await offerer.setLocalDescription(await offerer.createOffer())
    await answerer.setRemoteDescription(
        RTCSessionDescription(sdp=offerer.localDescription.sdp, type="offer")
    )
    await answerer.setLocalDescription(await answerer.createAnswer())
    await offerer.setRemoteDescription(
        RTCSessionDescription(sdp=edit_answer(answerer.localDescription.sdp), type="answer")
    )
