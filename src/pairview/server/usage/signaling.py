"""Usage events of signaling: rooms, participants, presenters, clients and connection types.

The WebSocket layer reports to this observer what the hub decided. The
observer turns it into events for the recorder and keeps, per connected
peer, only what the matching "left" event needs.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime

from pairview.protocol.signaling import ClientInfo, ConnectionType, Role
from pairview.server.usage.events import (
    PresenterChange,
    UsageKeys,
    UsageKind,
    UsageRecord,
    client_labels,
)
from pairview.server.usage.recorder import UsageRecorder

# Rooms whose last presenter is remembered, to tell a returning presenter
# from a different one; the oldest are forgotten first.
MAX_REMEMBERED_PRESENTERS = 10_000


@dataclass(frozen=True, slots=True)
class Participant:
    room_ref: str
    role: Role
    user_id: str | None
    participant_ref: str | None

    @property
    def identity(self) -> str | None:
        return self.user_id or self.participant_ref


class SignalingUsage:
    def __init__(self, recorder: UsageRecorder, keys: UsageKeys) -> None:
        self._recorder = recorder
        self._keys = keys
        self._participants: dict[str, Participant] = {}
        self._presenters: OrderedDict[str, str | None] = OrderedDict()

    def joined(
        self,
        room_id: str,
        peer_id: str,
        role: Role,
        name: str,
        user_id: str | None,
        client: ClientInfo | None,
        room_started: bool,
    ) -> None:
        """Record a new member of a room (not one that resumed after a dropped connection)."""
        now = datetime.now(UTC)
        room_ref = self._keys.room_ref(room_id)
        participant = Participant(
            room_ref,
            role,
            user_id,
            None if user_id else self._keys.participant_ref(name),
        )
        self._participants[peer_id] = participant
        if room_started:
            self._recorder.record(UsageRecord(UsageKind.ROOM_STARTED, now, room_ref=room_ref))
        self._recorder.record(
            UsageRecord(
                UsageKind.PARTICIPANT_JOINED,
                now,
                user_id=user_id,
                room_ref=room_ref,
                participant_ref=participant.participant_ref,
                role=role.value,
            )
        )
        client_label, os_label = client_labels(client)
        self._recorder.record(
            UsageRecord(
                UsageKind.CLIENT_CONNECTED, now, role=role.value, client=client_label, os=os_label
            )
        )
        if role is Role.HOST:
            self._presenter_joined(room_id, participant, now)

    def left(self, peer_id: str, room_emptied: bool) -> None:
        """Record that a member left for good; with `room_emptied`, the room is inactive."""
        now = datetime.now(UTC)
        participant = self._participants.pop(peer_id, None)
        if participant is None:
            return
        self._recorder.record(
            UsageRecord(
                UsageKind.PARTICIPANT_LEFT,
                now,
                user_id=participant.user_id,
                room_ref=participant.room_ref,
                participant_ref=participant.participant_ref,
                role=participant.role.value,
            )
        )
        if room_emptied:
            self._recorder.record(
                UsageRecord(UsageKind.ROOM_ENDED, now, room_ref=participant.room_ref)
            )

    def room_closed(self, room_id: str, peer_ids: list[str]) -> None:
        """Record that a room ended for everyone in it; `peer_ids` are its last members."""
        for index, peer_id in enumerate(peer_ids):
            self.left(peer_id, room_emptied=index == len(peer_ids) - 1)
        self._presenters.pop(room_id, None)

    def connection(self, room_id: str, connection_type: ConnectionType) -> None:
        """Record how one peer connection of a room travels, as its host reported."""
        self._recorder.record(
            UsageRecord(
                UsageKind.PEER_CONNECTION,
                datetime.now(UTC),
                room_ref=self._keys.room_ref(room_id),
                detail=connection_type.value,
            )
        )

    def _presenter_joined(self, room_id: str, participant: Participant, now: datetime) -> None:
        if room_id not in self._presenters:
            change = PresenterChange.FIRST
        elif self._presenters[room_id] == participant.identity:
            change = PresenterChange.SAME
        else:
            change = PresenterChange.DIFFERENT
        self._presenters[room_id] = participant.identity
        self._presenters.move_to_end(room_id)
        while len(self._presenters) > MAX_REMEMBERED_PRESENTERS:
            self._presenters.popitem(last=False)
        self._recorder.record(
            UsageRecord(
                UsageKind.PRESENTER_CHANGED,
                now,
                user_id=participant.user_id,
                room_ref=participant.room_ref,
                participant_ref=participant.participant_ref,
                role=Role.HOST.value,
                detail=change.value,
            )
        )
