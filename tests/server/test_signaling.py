"""The signaling hub's membership and routing rules, without sockets."""

from __future__ import annotations

import itertools

import pytest

from pairview.protocol.signaling import (
    Answer,
    Bye,
    Candidate,
    ErrorCode,
    IceCandidate,
    Offer,
    PeerJoined,
    PeerLeft,
    Role,
    RoomClosed,
)
from pairview.server.signaling import SignalingError, SignalingHub


@pytest.fixture
def hub() -> SignalingHub:
    counter = itertools.count(1)
    return SignalingHub(grace=10, make_peer_id=lambda: f"p{next(counter)}")


def offer(to: str, sender: str | None = None) -> Offer:
    return Offer.model_validate(
        {"type": "offer", "to": to, "connection_id": "c1", "sdp": "v=0", "from": sender}
    )


def test_join_assigns_peer_ids_and_lists_others(hub: SignalingHub) -> None:
    host = hub.join("room-a", Role.HOST, "Host")
    guest = hub.join("room-a", Role.GUEST, "Alice")

    assert host.peer_id == "p1"
    assert host.peers == []
    assert guest.peer_id == "p2"
    assert [peer.peer_id for peer in guest.peers] == ["p1"]
    assert guest.peers[0].role is Role.HOST


def test_join_announces_newcomer_to_room_only(hub: SignalingHub) -> None:
    hub.join("room-a", Role.HOST, "Host")
    hub.join("room-b", Role.HOST, "Other host")

    outcome = hub.join("room-a", Role.GUEST, "Alice")

    assert [d.peer_id for d in outcome.deliveries] == ["p1"]
    announcement = outcome.deliveries[0].message
    assert isinstance(announcement, PeerJoined)
    assert announcement.peer.name == "Alice"


def test_second_host_rejected(hub: SignalingHub) -> None:
    hub.join("room-a", Role.HOST, "Host")

    with pytest.raises(SignalingError) as raised:
        hub.join("room-a", Role.HOST, "Impostor")

    assert raised.value.code is ErrorCode.HOST_ALREADY_CONNECTED


def test_route_stamps_sender_over_forged_from(hub: SignalingHub) -> None:
    hub.join("room-a", Role.HOST, "Host")
    hub.join("room-a", Role.GUEST, "Alice")
    hub.join("room-a", Role.GUEST, "Bob")

    delivery = hub.route("p2", offer("p1", sender="p3"))

    assert delivery.peer_id == "p1"
    assert isinstance(delivery.message, Offer)
    assert delivery.message.from_ == "p2"


@pytest.mark.parametrize(
    "message",
    [
        Answer.model_validate({"type": "answer", "to": "p1", "connection_id": "c", "sdp": "v=0"}),
        Candidate(
            type="candidate",
            to="p1",
            connection_id="c",
            candidate=IceCandidate(candidate="candidate:1 1 udp 1 10.0.0.1 9 typ host"),
        ),
        Candidate(type="candidate", to="p1", connection_id="c", candidate=None),
        Bye(type="bye", to="p1"),
    ],
    ids=["answer", "candidate", "end-of-candidates", "bye"],
)
def test_route_relays_every_relayed_type(
    hub: SignalingHub, message: Answer | Candidate | Bye
) -> None:
    hub.join("room-a", Role.HOST, "Host")
    hub.join("room-a", Role.GUEST, "Alice")

    delivery = hub.route("p2", message)

    assert delivery.peer_id == "p1"
    assert delivery.message.type == message.type
    assert delivery.message.from_ == "p2"


def test_route_to_other_room_rejected(hub: SignalingHub) -> None:
    hub.join("room-a", Role.HOST, "Host A")
    hub.join("room-b", Role.HOST, "Host B")
    hub.join("room-a", Role.GUEST, "Alice")

    with pytest.raises(SignalingError) as raised:
        hub.route("p3", offer("p2"))

    assert raised.value.code is ErrorCode.PEER_NOT_FOUND


def test_route_to_self_or_unknown_rejected(hub: SignalingHub) -> None:
    hub.join("room-a", Role.HOST, "Host")

    for target in ("p1", "nobody"):
        with pytest.raises(SignalingError) as raised:
            hub.route("p1", offer(target))
        assert raised.value.code is ErrorCode.PEER_NOT_FOUND


def test_route_before_join_rejected(hub: SignalingHub) -> None:
    with pytest.raises(SignalingError) as raised:
        hub.route("p9", offer("p1"))

    assert raised.value.code is ErrorCode.NOT_JOINED


def test_leave_tells_connected_members(hub: SignalingHub) -> None:
    hub.join("room-a", Role.HOST, "Host")
    hub.join("room-a", Role.GUEST, "Alice")
    hub.join("room-a", Role.GUEST, "Bob")
    hub.disconnect("p3", now=0)

    departure, deliveries = hub.leave("p2")

    assert departure is not None
    assert departure.role is Role.GUEST
    assert [d.peer_id for d in deliveries] == ["p1"]
    assert deliveries[0].message == PeerLeft(peer_id="p2")
    assert [peer.peer_id for peer in hub.members("room-a")] == ["p1", "p3"]


def test_disconnected_peer_stays_until_grace_ends(hub: SignalingHub) -> None:
    hub.join("room-a", Role.HOST, "Host")
    hub.join("room-a", Role.GUEST, "Alice")

    hub.disconnect("p2", now=100)
    early, early_deliveries = hub.expire(now=109.9)
    late, late_deliveries = hub.expire(now=110)

    assert early == []
    assert early_deliveries == []
    assert [d.peer_id for d in late] == ["p2"]
    assert [d.peer_id for d in late_deliveries] == ["p1"]
    assert hub.member("p2") is None


def test_resume_keeps_peer_id_silently(hub: SignalingHub) -> None:
    hub.join("room-a", Role.HOST, "Host")
    hub.join("room-a", Role.GUEST, "Alice")
    hub.disconnect("p2", now=100)

    outcome = hub.join("room-a", Role.GUEST, "Alice", resume_peer_id="p2")
    expired, _ = hub.expire(now=200)

    assert outcome.peer_id == "p2"
    assert outcome.resumed
    assert outcome.deliveries == []
    assert expired == []


def test_resume_after_server_restart_rebuilds_membership(hub: SignalingHub) -> None:
    # A new hub knows no one: a resuming peer is added back under its old id.
    hub.join("room-a", Role.HOST, "Host", resume_peer_id="old-host")

    outcome = hub.join("room-a", Role.GUEST, "Alice", resume_peer_id="old-guest")

    assert outcome.peer_id == "old-guest"
    assert not outcome.resumed
    assert [d.peer_id for d in outcome.deliveries] == ["old-host"]


def test_resume_of_peer_in_other_room_gets_fresh_id(hub: SignalingHub) -> None:
    hub.join("room-a", Role.HOST, "Host A")

    outcome = hub.join("room-b", Role.GUEST, "Mallory", resume_peer_id="p1")

    assert outcome.peer_id != "p1"
    assert hub.member("p1") is not None
    assert hub.member("p1").room_id == "room-a"  # type: ignore[union-attr]


def test_close_room_tells_connected_and_forgets_all(hub: SignalingHub) -> None:
    hub.join("room-a", Role.HOST, "Host")
    hub.join("room-a", Role.GUEST, "Alice")
    hub.join("room-a", Role.GUEST, "Bob")
    hub.disconnect("p3", now=0)

    deliveries = hub.close_room("room-a", "ended")

    assert sorted(d.peer_id for d in deliveries) == ["p1", "p2"]
    assert all(d.message == RoomClosed(reason="ended") for d in deliveries)
    assert hub.members("room-a") == []
    assert hub.member("p3") is None
