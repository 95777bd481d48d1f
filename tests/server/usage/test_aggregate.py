"""Daily usage counts: computed from raw events, and the same after old events are folded."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert

from pairview.server import db
from pairview.server.usage.aggregate import DailyCount, daily_counts, roll_up
from pairview.server.usage.events import UsageKind, UsageRecord
from pairview.server.usage.models import UsageEvent
from tests.support.database_rows import fetch

OLD = date(2030, 3, 1)
RECENT = date(2030, 3, 9)
NOW = datetime(2030, 3, 10, 12, 0, tzinfo=UTC)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def events() -> list[UsageRecord]:
    def joined(day: date, hour: int, room: str, who: str) -> UsageRecord:
        return UsageRecord(
            UsageKind.PARTICIPANT_JOINED, at(day, hour), room_ref=room, participant_ref=who
        )

    def client(day: date, label: str, os: str | None) -> UsageRecord:
        return UsageRecord(UsageKind.CLIENT_CONNECTED, at(day, 9), client=label, os=os)

    def connection(day: date, kind: str) -> UsageRecord:
        return UsageRecord(UsageKind.PEER_CONNECTION, at(day, 9), room_ref="A", detail=kind)

    return [
        # Room A: two people, one of them joining twice.
        UsageRecord(UsageKind.ROOM_STARTED, at(OLD, 9, 15), room_ref="A"),
        joined(OLD, 9, "A", "host-a"),
        joined(OLD, 9, "A", "guest-a"),
        joined(OLD, 10, "A", "guest-a"),
        # Room B: three people; it emptied and started again the same day.
        UsageRecord(UsageKind.ROOM_STARTED, at(OLD, 14), room_ref="B"),
        UsageRecord(UsageKind.ROOM_ENDED, at(OLD, 14, 30), room_ref="B"),
        UsageRecord(UsageKind.ROOM_STARTED, at(OLD, 15), room_ref="B"),
        joined(OLD, 14, "B", "host-b"),
        joined(OLD, 14, "B", "guest-b1"),
        joined(OLD, 15, "B", "guest-b2"),
        connection(OLD, "direct"),
        connection(OLD, "direct"),
        connection(OLD, "relay"),
        client(OLD, "Pairview 0.1.0", "Linux 6.1"),
        client(OLD, "Pairview 0.1.0", "Linux 6.1"),
        client(OLD, "Chrome 156", None),
        UsageRecord(UsageKind.INVITATION_SENT, at(OLD, 9), detail="email"),
        UsageRecord(UsageKind.INVITATION_SENT, at(OLD, 9), detail="link"),
        UsageRecord(UsageKind.PRESENTER_CHANGED, at(OLD, 9), room_ref="A", detail="first"),
        # Room C, recent: one person, through NAT.
        UsageRecord(UsageKind.ROOM_STARTED, at(RECENT, 23, 50), room_ref="C"),
        joined(RECENT, 23, "C", "host-c"),
        connection(RECENT, "nat"),
    ]


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[Any]:
    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    maker = db.sessionmaker(engine)
    async with maker.begin() as session:
        await session.execute(insert(UsageEvent), [event.row() for event in events()])
    try:
        yield maker
    finally:
        await engine.dispose()


def as_dict(rows: list[DailyCount]) -> dict[tuple[date, str, str], int]:
    return {(row.day, row.measure, row.value): row.count for row in rows}


async def test_counts_from_raw_events(sessions: Any) -> None:
    counts = as_dict(await daily_counts(sessions, OLD, RECENT))

    assert counts[OLD, "rooms", ""] == 2
    assert counts[RECENT, "rooms", ""] == 1
    assert counts[OLD, "participants", "2"] == 1
    assert counts[OLD, "participants", "3"] == 1
    assert counts[RECENT, "participants", "1"] == 1
    assert counts[OLD, "connections", "direct"] == 2
    assert counts[OLD, "connections", "relay"] == 1
    assert counts[RECENT, "connections", "nat"] == 1
    assert counts[OLD, "hours", "09"] == 2
    assert counts[OLD, "hours", "10"] == 1
    assert counts[OLD, "hours", "14"] == 2
    assert counts[OLD, "hours", "15"] == 1
    assert counts[RECENT, "hours", "23"] == 1
    assert counts[OLD, "clients", "Pairview 0.1.0"] == 2
    assert counts[OLD, "clients", "Chrome 156"] == 1
    assert counts[OLD, "os", "Linux 6.1"] == 2
    assert counts[OLD, "invitations", "email"] == 1
    assert counts[OLD, "invitations", "link"] == 1
    assert counts[OLD, "presenters", "first"] == 1
    assert counts[OLD, "events", "participant-joined"] == 6
    assert counts[OLD, "events", "room-started"] == 3
    assert counts[OLD, "events", "room-ended"] == 1


async def test_range_limits_the_days(sessions: Any) -> None:
    counts = as_dict(await daily_counts(sessions, RECENT, RECENT))

    assert {day for day, _, _ in counts} == {RECENT}
    assert counts[RECENT, "rooms", ""] == 1


async def test_roll_up_keeps_the_counts(sessions: Any, database_url: str) -> None:
    before = await daily_counts(sessions, OLD - timedelta(days=1), RECENT)

    deleted = await roll_up(sessions, retention=5 * 86400, now=NOW)

    assert deleted == len([e for e in events() if e.occurred_at.date() == OLD])
    remaining = await fetch(database_url, "SELECT occurred_at FROM usage_events")
    assert len(remaining) == len([e for e in events() if e.occurred_at.date() == RECENT])
    stored = await fetch(database_url, "SELECT DISTINCT day FROM usage_daily")
    assert {str(row["day"])[:10] for row in stored} == {OLD.isoformat()}
    assert await daily_counts(sessions, OLD - timedelta(days=1), RECENT) == before


async def test_roll_up_twice_changes_nothing(sessions: Any) -> None:
    await roll_up(sessions, retention=5 * 86400, now=NOW)
    once = await daily_counts(sessions, OLD, RECENT)

    deleted = await roll_up(sessions, retention=5 * 86400, now=NOW)

    assert deleted == 0
    assert await daily_counts(sessions, OLD, RECENT) == once


async def test_roll_up_adds_to_stored_counts(sessions: Any) -> None:
    await roll_up(sessions, retention=5 * 86400, now=NOW)
    async with sessions.begin() as session:
        late = UsageRecord(UsageKind.PEER_CONNECTION, at(OLD, 11), room_ref="A", detail="relay")
        await session.execute(insert(UsageEvent), [late.row()])

    await roll_up(sessions, retention=5 * 86400, now=NOW)

    counts = as_dict(await daily_counts(sessions, OLD, OLD))
    assert counts[OLD, "connections", "relay"] == 2
    assert counts[OLD, "events", "peer-connection"] == 4
