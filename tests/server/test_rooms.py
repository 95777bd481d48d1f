"""Room tokens and invite expiry, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from pairview.protocol.signaling import ErrorCode, Role
from pairview.server import db
from pairview.server.rooms import RoomStore
from pairview.server.signaling import SignalingError


@pytest.fixture
async def rooms(database_url: str) -> AsyncIterator[RoomStore]:
    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    try:
        yield RoomStore(db.sessionmaker(engine))
    finally:
        await engine.dispose()


async def test_expired_invite_rejects_new_guest(rooms: RoomStore) -> None:
    created = await rooms.create(invite_ttl=60)
    later = created.invite_expires_at + timedelta(seconds=1)

    with pytest.raises(SignalingError) as raised:
        await rooms.authorize(created.room_id, Role.GUEST, created.invite_token, now=later)

    assert raised.value.code is ErrorCode.LINK_EXPIRED


async def test_expired_invite_admits_resuming_guest(rooms: RoomStore) -> None:
    created = await rooms.create(invite_ttl=60)
    later = created.invite_expires_at + timedelta(seconds=1)

    state = await rooms.authorize(
        created.room_id, Role.GUEST, created.invite_token, now=later, resuming=True
    )

    assert state.room_id == created.room_id


async def test_resuming_guest_still_needs_token_and_live_room(rooms: RoomStore) -> None:
    created = await rooms.create(invite_ttl=60)

    with pytest.raises(SignalingError) as wrong_token:
        await rooms.authorize(created.room_id, Role.GUEST, "not-the-token", resuming=True)
    await rooms.end(created.room_id, created.host_token)
    with pytest.raises(SignalingError) as ended:
        await rooms.authorize(created.room_id, Role.GUEST, created.invite_token, resuming=True)

    assert wrong_token.value.code is ErrorCode.ROOM_NOT_FOUND
    assert ended.value.code is ErrorCode.ROOM_CLOSED
