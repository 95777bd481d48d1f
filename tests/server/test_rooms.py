"""Rooms in the database, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import text

from pairview.protocol.signaling import ErrorCode, Role
from pairview.server import db
from pairview.server.rooms import RoomStore, hash_token
from pairview.server.signaling import SignalingError


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[RoomStore]:
    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    try:
        yield RoomStore(db.sessionmaker(engine))
    finally:
        await engine.dispose()


async def test_tokens_authorize_their_role_only(store: RoomStore) -> None:
    room = await store.create(invite_ttl=60)

    host = await store.authorize(room.room_id, Role.HOST, room.host_token)
    guest = await store.authorize(room.room_id, Role.GUEST, room.invite_token)

    assert host.room_id == guest.room_id == room.room_id
    for role, token in ((Role.HOST, room.invite_token), (Role.GUEST, room.host_token)):
        with pytest.raises(SignalingError) as raised:
            await store.authorize(room.room_id, role, token)
        assert raised.value.code is ErrorCode.ROOM_NOT_FOUND


async def test_unknown_room_and_wrong_token_answer_alike(store: RoomStore) -> None:
    room = await store.create(invite_ttl=60)

    with pytest.raises(SignalingError) as unknown:
        await store.authorize("no-such-room", Role.GUEST, room.invite_token)
    with pytest.raises(SignalingError) as wrong:
        await store.authorize(room.room_id, Role.GUEST, "wrong")

    assert unknown.value.code is wrong.value.code is ErrorCode.ROOM_NOT_FOUND
    assert unknown.value.message == wrong.value.message


async def test_expiry_applies_to_guests_not_host(store: RoomStore) -> None:
    start = datetime(2030, 1, 1, tzinfo=UTC)
    room = await store.create(invite_ttl=60, now=start)
    later = start + timedelta(seconds=61)

    with pytest.raises(SignalingError) as raised:
        await store.authorize(room.room_id, Role.GUEST, room.invite_token, now=later)
    host = await store.authorize(room.room_id, Role.HOST, room.host_token, now=later)

    assert raised.value.code is ErrorCode.LINK_EXPIRED
    assert host.invite_expires_at == start + timedelta(seconds=60)


async def test_ended_room_refuses_everyone(store: RoomStore) -> None:
    room = await store.create(invite_ttl=60)

    assert await store.end(room.room_id, room.host_token) is True
    assert await store.end(room.room_id, room.host_token) is False
    for role, token in ((Role.HOST, room.host_token), (Role.GUEST, room.invite_token)):
        with pytest.raises(SignalingError) as raised:
            await store.authorize(room.room_id, role, token)
        assert raised.value.code is ErrorCode.ROOM_CLOSED
    assert room.room_id not in await store.live_room_ids()


async def test_end_with_guest_token_refused(store: RoomStore) -> None:
    room = await store.create(invite_ttl=60)

    with pytest.raises(SignalingError):
        await store.end(room.room_id, room.invite_token)

    assert await store.is_live(room.room_id)


async def test_only_token_hashes_stored(store: RoomStore, database_url: str) -> None:
    room = await store.create(invite_ttl=60)
    engine = db.create_engine(database_url)
    try:
        async with engine.connect() as connection:
            row = (await connection.execute(text("SELECT * FROM rooms"))).mappings().one()
    finally:
        await engine.dispose()

    stored = " ".join(str(value) for value in row.values())
    assert room.host_token not in stored
    assert room.invite_token not in stored
    assert row["host_token_hash"] == hash_token(room.host_token)


async def test_timestamps_read_back_in_utc(store: RoomStore) -> None:
    start = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
    room = await store.create(invite_ttl=3600, now=start)

    state = await store.authorize(room.room_id, Role.HOST, room.host_token, now=start)

    assert state.invite_expires_at == datetime(2030, 6, 1, 13, 0, tzinfo=UTC)
    assert state.invite_expires_at.tzinfo is not None


async def test_migrations_run_twice_harmlessly(database_url: str) -> None:
    engine = db.create_engine(database_url)
    try:
        await db.upgrade(engine)
        await db.upgrade(engine)
        async with engine.connect() as connection:
            version = (
                await connection.execute(text("SELECT version_num FROM alembic_version"))
            ).scalar_one()
    finally:
        await engine.dispose()

    assert version == ScriptDirectory.from_config(db.alembic_config()).get_current_head()


async def test_expired_invite_rejects_new_guest(store: RoomStore) -> None:
    created = await store.create(invite_ttl=60)
    later = created.invite_expires_at + timedelta(seconds=1)

    with pytest.raises(SignalingError) as raised:
        await store.authorize(created.room_id, Role.GUEST, created.invite_token, now=later)

    assert raised.value.code is ErrorCode.LINK_EXPIRED


async def test_expired_invite_admits_resuming_guest(store: RoomStore) -> None:
    created = await store.create(invite_ttl=60)
    later = created.invite_expires_at + timedelta(seconds=1)

    state = await store.authorize(
        created.room_id, Role.GUEST, created.invite_token, now=later, resuming=True
    )

    assert state.room_id == created.room_id


async def test_resuming_guest_still_needs_token_and_live_room(store: RoomStore) -> None:
    created = await store.create(invite_ttl=60)

    with pytest.raises(SignalingError) as wrong_token:
        await store.authorize(created.room_id, Role.GUEST, "not-the-token", resuming=True)
    await store.end(created.room_id, created.host_token)
    with pytest.raises(SignalingError) as ended:
        await store.authorize(created.room_id, Role.GUEST, created.invite_token, resuming=True)

    assert wrong_token.value.code is ErrorCode.ROOM_NOT_FOUND
    assert ended.value.code is ErrorCode.ROOM_CLOSED
