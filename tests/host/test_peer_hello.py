"""The host's greeting of a guest whose hello arrives before the host's channel is open."""

from __future__ import annotations

import json
from typing import Any, cast

from pairview.host.peer import GuestPeer
from pairview.protocol.control import CONTROL_VERSION, Hello
from pairview.protocol.signaling import PeerInfo, Role


class RecordingChannel:
    """Stands in for the host's control channel: keeps what the host sends on it."""

    def __init__(self, ready_state: str) -> None:
        self.readyState = ready_state
        self.sent: list[str] = []

    def send(self, data: str) -> None:
        if self.readyState != "open":
            raise AssertionError(f"sent {data!r} on a channel that is {self.readyState}")
        self.sent.append(json.loads(data)["type"])


class RecordingEvents:
    """Counts the guests the peer reports as greeted; every other event is ignored."""

    def __init__(self) -> None:
        self.opened = 0

    def control_opened(self, _peer: GuestPeer, _send: Any) -> None:
        self.opened += 1

    def __getattr__(self, _name: str) -> Any:
        return lambda *_args: None


async def _no_signal(_message: Any) -> None:
    return None


def guest_peer(events: RecordingEvents, channel: RecordingChannel) -> GuestPeer:
    peer = GuestPeer(
        guest=PeerInfo(peer_id="robin", role=Role.GUEST, name="Robin"),
        host_name="Host",
        ice_servers=[],
        codec="vp8",
        pipeline=cast(Any, None),
        send=_no_signal,
        events=cast(Any, events),
    )
    peer._control = cast(Any, channel)
    return peer


HELLO = Hello(version=CONTROL_VERSION, name="Robin").model_dump_json()


async def test_hello_before_open_greets_on_open() -> None:
    events, channel = RecordingEvents(), RecordingChannel("connecting")
    peer = guest_peer(events, channel)
    try:
        peer._on_control_message(HELLO)
        assert events.opened == 0

        channel.readyState = "open"
        peer._on_control_open()
        assert events.opened == 1
        # The host's own hello goes first, as on any open channel.
        assert channel.sent[0] == "hello"
    finally:
        await peer.close()


async def test_hello_after_open_greets_at_once() -> None:
    events, channel = RecordingEvents(), RecordingChannel("open")
    peer = guest_peer(events, channel)
    try:
        peer._on_control_open()
        assert events.opened == 0

        peer._on_control_message(HELLO)
        assert events.opened == 1
    finally:
        await peer.close()
