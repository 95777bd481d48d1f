"""Rooms and their tokens, kept in the database.

A room has three secrets: its id (in the guest link), the host token (only
the host app has it) and the guest invite token (in the link's fragment,
so that it never reaches server logs or Referer headers). Only SHA-256
hashes of the tokens are stored; each carries 256 random bits, so a plain
hash is enough and no slow password hash is needed.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from pairview.protocol.signaling import ErrorCode, Role
from pairview.server.accounts.crypto import JoinTickets
from pairview.server.db import RoomRecord
from pairview.server.signaling import SignalingError

ROOM_ID_BYTES = 16
TOKEN_BYTES = 32


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _matches(token: str, expected_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), expected_hash)


@dataclass(frozen=True, slots=True)
class CreatedRoom:
    room_id: str
    host_token: str
    invite_token: str
    invite_expires_at: datetime


@dataclass(frozen=True, slots=True)
class RoomState:
    room_id: str
    invite_expires_at: datetime
    ended: bool
    # The account of the signed-in host that created the room, if any.
    owner_id: str | None = None


class RoomStore:
    """Creates rooms, checks tokens against them and ends them."""

    def __init__(
        self, sessions: async_sessionmaker[Any], tickets: JoinTickets | None = None
    ) -> None:
        self._sessions = sessions
        self._tickets = tickets

    async def create(
        self,
        invite_ttl: float,
        now: datetime | None = None,
        owner_id: str | None = None,
        owner_session_id: str | None = None,
    ) -> CreatedRoom:
        """Create a room; `owner_id` and `owner_session_id` name the signed-in host, if any."""
        now = now or datetime.now(UTC)
        created = CreatedRoom(
            room_id=secrets.token_urlsafe(ROOM_ID_BYTES),
            host_token=secrets.token_urlsafe(TOKEN_BYTES),
            invite_token=secrets.token_urlsafe(TOKEN_BYTES),
            invite_expires_at=now + timedelta(seconds=invite_ttl),
        )
        async with self._sessions.begin() as session:
            session.add(
                RoomRecord(
                    id=created.room_id,
                    host_token_hash=hash_token(created.host_token),
                    invite_token_hash=hash_token(created.invite_token),
                    created_at=now,
                    invite_expires_at=created.invite_expires_at,
                    owner_id=owner_id,
                    owner_session_id=owner_session_id,
                )
            )
        return created

    async def authorize(
        self,
        room_id: str,
        role: Role,
        token: str,
        now: datetime | None = None,
        resuming: bool = False,
    ) -> RoomState:
        """Check a host or guest token for a room, or raise SignalingError.

        An unknown room and a wrong token give the same answer, so the
        server is no oracle for room ids. Only a caller holding the right
        token learns that the link expired or the room ended. The invite's
        expiry stops new guests only: a guest `resuming` with a resume token
        was let in before and may reconnect as long as the room is live. A
        guest may also present a join ticket, given out for a used invitation.
        """
        now = now or datetime.now(UTC)
        async with self._sessions() as session:
            record = await session.get(RoomRecord, room_id)
        expected = None
        if record is not None:
            expected = record.host_token_hash if role is Role.HOST else record.invite_token_hash
        ticket = (
            role is Role.GUEST
            and record is not None
            and self._tickets is not None
            and self._tickets.valid(token, record.id, now.timestamp())
        )
        if record is None or expected is None or not (ticket or _matches(token, expected)):
            raise SignalingError(
                ErrorCode.ROOM_NOT_FOUND,
                "No room matches this link. Check the link, or ask the host for a new one.",
            )
        if record.ended_at is not None:
            raise SignalingError(ErrorCode.ROOM_CLOSED, "The host has ended this room.")
        if role is Role.GUEST and not (resuming or ticket) and record.invite_expires_at <= now:
            raise SignalingError(
                ErrorCode.LINK_EXPIRED, "This link has expired. Ask the host for a new one."
            )
        return RoomState(record.id, record.invite_expires_at, ended=False, owner_id=record.owner_id)

    async def is_live(self, room_id: str) -> bool:
        async with self._sessions() as session:
            record = await session.get(RoomRecord, room_id)
        return record is not None and record.ended_at is None

    async def end(self, room_id: str, host_token: str, now: datetime | None = None) -> bool:
        """End a room if `host_token` is its host token; return whether it was live."""
        now = now or datetime.now(UTC)
        async with self._sessions.begin() as session:
            record = await session.get(RoomRecord, room_id)
            if record is None or not _matches(host_token, record.host_token_hash):
                raise SignalingError(
                    ErrorCode.ROOM_NOT_FOUND, f"No room {room_id!r} for this token."
                )
            if record.ended_at is not None:
                return False
            record.ended_at = now
            return True

    async def end_unchecked(self, room_id: str, now: datetime | None = None) -> None:
        """End a room whose host token the caller has already checked."""
        now = now or datetime.now(UTC)
        async with self._sessions.begin() as session:
            await session.execute(
                update(RoomRecord)
                .where(RoomRecord.id == room_id, RoomRecord.ended_at.is_(None))
                .values(ended_at=now)
            )

    async def live_rooms_of_sessions(self, session_ids: list[str]) -> list[str]:
        """Return the live rooms that any of these sessions created."""
        if not session_ids:
            return []
        async with self._sessions() as session:
            rows = await session.execute(
                select(RoomRecord.id).where(
                    RoomRecord.owner_session_id.in_(session_ids), RoomRecord.ended_at.is_(None)
                )
            )
        return [row[0] for row in rows]

    async def live_room_ids(self) -> list[str]:
        async with self._sessions() as session:
            rows = await session.execute(select(RoomRecord.id).where(RoomRecord.ended_at.is_(None)))
        return [row[0] for row in rows]
