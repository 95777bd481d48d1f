"""Room membership and message routing, with no I/O.

The hub decides who is in which room, which peer may send what to whom,
and what every peer must be told. It returns deliveries instead of
sending, so the WebSocket layer (and later a Redis bus) stays thin and
this logic is tested without sockets.

A peer whose connection drops stays a member, "away", for a grace period,
so that a client which reconnects with its resume token keeps its peer id
and nobody sees it leave.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from pairview.errors import PairviewError
from pairview.protocol.signaling import (
    Answer,
    Bye,
    Candidate,
    ErrorCode,
    Offer,
    PeerInfo,
    PeerJoined,
    PeerLeft,
    Reconnect,
    RelayedMessage,
    Role,
    RoomClosed,
    ServerMessage,
)


class SignalingError(PairviewError):
    """A message or join that the hub rejects; `code` goes back to the client."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Delivery:
    peer_id: str
    message: ServerMessage


@dataclass(slots=True)
class Member:
    info: PeerInfo
    room_id: str
    away_since: float | None = None

    @property
    def connected(self) -> bool:
        return self.away_since is None


@dataclass(frozen=True, slots=True)
class JoinOutcome:
    peer_id: str
    peers: list[PeerInfo]
    deliveries: list[Delivery]
    # True when an away or still-connected member came back with its resume token.
    resumed: bool = False
    # True when this join made the room active: it had no members before.
    room_started: bool = False


@dataclass(frozen=True, slots=True)
class Departure:
    room_id: str
    peer_id: str
    role: Role
    # True when the peer was the room's last member, so the room is no longer active.
    room_emptied: bool = False


@dataclass(slots=True)
class _Room:
    members: dict[str, Member] = field(default_factory=dict)


def new_peer_id() -> str:
    return secrets.token_urlsafe(6)


class SignalingHub:
    """Membership of every live room, and the routing rules between members."""

    # NOTE: members and their routes live in this process only, so every
    # peer of a room must reach the same server instance. Sharing them
    # between instances through Redis is not built.

    def __init__(self, grace: float, make_peer_id: Callable[[], str] = new_peer_id) -> None:
        self._grace = grace
        self._make_peer_id = make_peer_id
        self._rooms: dict[str, _Room] = {}
        self._members: dict[str, Member] = {}

    def member(self, peer_id: str) -> Member | None:
        return self._members.get(peer_id)

    def members(self, room_id: str) -> list[PeerInfo]:
        room = self._rooms.get(room_id)
        return [] if room is None else [m.info for m in room.members.values()]

    def room_ids(self) -> list[str]:
        return list(self._rooms)

    def join(
        self, room_id: str, role: Role, name: str, resume_peer_id: str | None = None
    ) -> JoinOutcome:
        """Add a peer to a room, or bring back an away peer that resumes.

        The caller has already checked the room token and, for a resume,
        that the resume token was issued for this room, role and peer id.
        """
        foreign = self._members.get(resume_peer_id) if resume_peer_id else None
        if foreign is not None and foreign.room_id != room_id:
            resume_peer_id = None
        started = room_id not in self._rooms
        room = self._rooms.setdefault(room_id, _Room())
        existing = room.members.get(resume_peer_id) if resume_peer_id else None

        if existing is not None and existing.info.role == role:
            existing.away_since = None
            others = [m.info for pid, m in room.members.items() if pid != existing.info.peer_id]
            return JoinOutcome(existing.info.peer_id, others, [], resumed=True)

        if role is Role.HOST and any(m.info.role is Role.HOST for m in room.members.values()):
            raise SignalingError(
                ErrorCode.HOST_ALREADY_CONNECTED,
                "This room already has a host connected.",
            )

        peer_id = resume_peer_id or self._unused_peer_id()
        info = PeerInfo(peer_id=peer_id, role=role, name=name)
        member = Member(info=info, room_id=room_id)
        deliveries = [
            Delivery(other.info.peer_id, PeerJoined(peer=info))
            for other in room.members.values()
            if other.connected
        ]
        others = [m.info for m in room.members.values()]
        room.members[peer_id] = member
        self._members[peer_id] = member
        return JoinOutcome(peer_id, others, deliveries, room_started=started)

    def disconnect(self, peer_id: str, now: float) -> None:
        """Mark a peer away after its connection dropped; `expire` removes it later."""
        member = self._members.get(peer_id)
        if member is not None and member.connected:
            member.away_since = now

    def leave(self, peer_id: str) -> tuple[Departure | None, list[Delivery]]:
        """Remove a peer at once and tell the rest of its room."""
        member = self._members.pop(peer_id, None)
        if member is None:
            return None, []
        room = self._rooms[member.room_id]
        del room.members[peer_id]
        emptied = not room.members
        if emptied:
            del self._rooms[member.room_id]
        deliveries = [
            Delivery(other.info.peer_id, PeerLeft(peer_id=peer_id))
            for other in room.members.values()
            if other.connected
        ]
        return Departure(member.room_id, peer_id, member.info.role, emptied), deliveries

    def expire(self, now: float) -> tuple[list[Departure], list[Delivery]]:
        """Remove every peer that has been away for longer than the grace period."""
        expired = [
            peer_id
            for peer_id, member in self._members.items()
            if member.away_since is not None and now - member.away_since >= self._grace
        ]
        departures: list[Departure] = []
        deliveries: list[Delivery] = []
        for peer_id in expired:
            departure, told = self.leave(peer_id)
            if departure is not None:
                departures.append(departure)
            deliveries.extend(told)
        return departures, deliveries

    def route(self, sender_id: str, message: RelayedMessage) -> Delivery:
        """Stamp the sender on a relayed message and address it to a peer of the same room."""
        sender = self._members.get(sender_id)
        if sender is None:
            raise SignalingError(ErrorCode.NOT_JOINED, "Join a room before sending messages.")
        room = self._rooms[sender.room_id]
        target = room.members.get(message.to)
        if target is None or message.to == sender_id:
            raise SignalingError(
                ErrorCode.PEER_NOT_FOUND,
                f"No peer {message.to!r} in this room.",
            )
        stamped: Offer | Answer | Candidate | Bye | Reconnect = message.model_copy(
            update={"from_": sender_id}
        )
        return Delivery(target.info.peer_id, stamped)

    def close_room(self, room_id: str, reason: str) -> list[Delivery]:
        """Remove a room with all its members and tell those connected why."""
        room = self._rooms.pop(room_id, None)
        if room is None:
            return []
        closed = RoomClosed(reason="expired" if reason == "expired" else "ended")
        deliveries = []
        for peer_id, member in room.members.items():
            del self._members[peer_id]
            if member.connected:
                deliveries.append(Delivery(peer_id, closed))
        return deliveries

    def _unused_peer_id(self) -> str:
        for _ in range(100):
            peer_id = self._make_peer_id()
            if peer_id not in self._members:
                return peer_id
        raise RuntimeError("could not find an unused peer id in 100 attempts")
