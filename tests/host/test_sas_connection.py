"""The short authentication string on real aiortc connections, with and without a man in the middle.

The peers gather candidates on loopback only, so every packet stays on
127.0.0.1.
"""

from __future__ import annotations

import asyncio
import re

import pytest
from aiortc import RTCDataChannel, RTCPeerConnection

from pairview.protocol.sas import connection_code
from tests.support.peers import negotiate, peers

TIMEOUT = 20.0


pytestmark = pytest.mark.usefixtures("loopback_only")


async def reach(pc: RTCPeerConnection, states: set[str]) -> str:
    """Wait until the connection's state is one of `states`; return it."""
    changed = asyncio.Event()
    pc.on("connectionstatechange", changed.set)
    async with asyncio.timeout(TIMEOUT):
        while pc.connectionState not in states:
            await changed.wait()
            changed.clear()
    return str(pc.connectionState)


def codes(host: RTCPeerConnection, guest: RTCPeerConnection) -> tuple[str | None, str | None]:
    return (
        connection_code(host.localDescription.sdp, host.remoteDescription.sdp, local_is_host=True),
        connection_code(
            guest.localDescription.sdp, guest.remoteDescription.sdp, local_is_host=False
        ),
    )


def opening(channel: RTCDataChannel) -> asyncio.Event:
    """Return an event that is set once `channel` is open."""
    event = asyncio.Event()
    channel.on("open", event.set)
    if channel.readyState == "open":
        event.set()
    return event


def received(channel: RTCDataChannel) -> asyncio.Queue[str | bytes]:
    queue: asyncio.Queue[str | bytes] = asyncio.Queue()
    channel.on("message", queue.put_nowait)
    return queue


async def test_direct_connection_shows_equal_codes() -> None:
    async with peers(2) as (host, guest):
        host.createDataChannel("control")
        await negotiate(host, guest)
        assert await reach(host, {"connected", "failed"}) == "connected"
        await reach(guest, {"connected"})
        at_host, at_guest = codes(host, guest)
        assert at_host is not None
        assert re.fullmatch(r"\d{3} \d{3}", at_host)
        assert at_host == at_guest


async def test_man_in_the_middle_shows_different_codes() -> None:
    """A signaling server that answers the host itself and offers to the guest itself.

    It relays the data both ways, so nothing but the codes gives it away.
    """
    async with peers(4) as (host, guest, toward_host, toward_guest):
        host_channel = host.createDataChannel("control")
        relay_to_guest = toward_guest.createDataChannel("control")
        opened = [opening(channel) for channel in (host_channel, relay_to_guest)]
        from_host: asyncio.Queue[RTCDataChannel] = asyncio.Queue()
        toward_host.on("datachannel", from_host.put_nowait)
        from_relay: asyncio.Queue[RTCDataChannel] = asyncio.Queue()
        guest.on("datachannel", from_relay.put_nowait)

        await negotiate(host, toward_host)
        await negotiate(toward_guest, guest)
        for pc in (host, guest, toward_host, toward_guest):
            assert await reach(pc, {"connected", "failed"}) == "connected"

        async with asyncio.timeout(TIMEOUT):
            relay_from_host = await from_host.get()
            guest_channel = await from_relay.get()
            # The answering side has a channel before the offering side has
            # the acknowledgement that opens its own.
            for channel_open in opened:
                await channel_open.wait()
        relay_from_host.on("message", relay_to_guest.send)
        at_guest = received(guest_channel)
        host_channel.send("hello through the middle")
        async with asyncio.timeout(TIMEOUT):
            assert await at_guest.get() == "hello through the middle"

        at_host, at_guest_code = codes(host, guest)
        assert at_host is not None
        assert at_guest_code is not None
        assert at_host != at_guest_code


async def test_swapped_fingerprint_fails_the_connection() -> None:
    """A server that only rewrites the guest's fingerprint: the host's DTLS check refuses it."""
    forged = "a=fingerprint:sha-256 " + ":".join(["5A"] * 32)

    def forge(sdp: str) -> str:
        edited = re.sub(r"a=fingerprint:sha-256 [0-9A-Fa-f:]+", forged, sdp)
        assert edited != sdp, "the answer carries no SHA-256 fingerprint to forge"
        return edited

    async with peers(2) as (host, guest):
        host.createDataChannel("control")
        await negotiate(host, guest, edit_answer=forge)
        assert await reach(host, {"connected", "failed"}) == "failed"
