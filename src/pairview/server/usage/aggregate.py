"""Daily counts of usage: computed from raw events, and kept after the events are deleted.

Every chart of the dashboard is drawn from (day, measure, value, count)
rows, for UTC days. For recent days they are computed from raw events
when requested. For days older than the usage retention, the retention
job stores them in `usage_daily` and deletes those days' raw events, in
one transaction.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, String, cast, delete, func, literal_column, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pairview.server.usage.events import UsageKind
from pairview.server.usage.models import LABEL_LENGTH, UsageDaily, UsageEvent

# Serializes roll-ups of several server instances on PostgreSQL.
ROLL_UP_LOCK_KEY = 0x70766175


class Measure(StrEnum):
    # Distinct rooms that started on the day; the value is empty.
    ROOMS = "rooms"
    # Rooms, by the day they started, with a given number of distinct participants.
    PARTICIPANTS = "participants"
    CONNECTIONS = "connections"
    CLIENTS = "clients"
    OS = "os"
    # Participants joining in a given UTC hour ("00" to "23").
    HOURS = "hours"
    # Events of each kind.
    EVENTS = "events"
    INVITATIONS = "invitations"
    PRESENTERS = "presenters"


@dataclass(frozen=True, slots=True, order=True)
class DailyCount:
    day: date
    measure: str
    value: str
    count: int


# The measure that each kind's `detail`, `client` or `os` feeds.
_DETAIL_MEASURES = {
    UsageKind.PEER_CONNECTION: Measure.CONNECTIONS,
    UsageKind.INVITATION_SENT: Measure.INVITATIONS,
    UsageKind.PRESENTER_CHANGED: Measure.PRESENTERS,
}


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def utc_hour(db: AsyncSession, column: Any) -> ColumnElement[str]:
    """Return an SQL expression for the UTC hour of a timestamp, as "YYYY-MM-DD HH".

    The formats are literal SQL, not bound parameters, because PostgreSQL
    matches a GROUP BY expression with the SELECT one by its text.
    """
    if db.get_bind().dialect.name == "sqlite":
        # SQLite keeps these timestamps as UTC text.
        return func.strftime(literal_column("'%Y-%m-%d %H'"), column)
    utc = func.timezone(literal_column("'UTC'"), column)
    return func.to_char(utc, literal_column("'YYYY-MM-DD HH24'"))


def _range(query: Any, start: datetime | None, end: datetime) -> Any:
    query = query.where(UsageEvent.occurred_at < end)
    return query if start is None else query.where(UsageEvent.occurred_at >= start)


async def raw_counts(db: AsyncSession, start: datetime | None, end: datetime) -> list[DailyCount]:
    """Compute the daily counts of the raw events from `start` (or the first) up to `end`."""
    counter: Counter[tuple[date, str, str]] = Counter()
    await _count_categories(db, start, end, counter)
    await _count_rooms(db, start, end, counter)
    return sorted(DailyCount(*key, count) for key, count in counter.items())


async def _count_categories(
    db: AsyncSession, start: datetime | None, end: datetime, counter: Counter[tuple[date, str, str]]
) -> None:
    hour = utc_hour(db, UsageEvent.occurred_at).label("hour")
    columns = (hour, UsageEvent.kind, UsageEvent.detail, UsageEvent.client, UsageEvent.os)
    query = _range(select(*columns, func.count()), start, end).group_by(*columns)
    for bucket, kind, detail, client, os, count in (await db.execute(query)).all():
        day = date.fromisoformat(bucket[:10])
        counter[day, Measure.EVENTS, kind] += count
        detail_measure = _DETAIL_MEASURES.get(kind)
        if detail_measure is not None:
            counter[day, detail_measure, detail or "unknown"] += count
        if kind == UsageKind.CLIENT_CONNECTED:
            counter[day, Measure.CLIENTS, client or "Unknown"] += count
            if os:
                counter[day, Measure.OS, os] += count
        if kind == UsageKind.PARTICIPANT_JOINED:
            counter[day, Measure.HOURS, bucket[11:13]] += count


async def _count_rooms(
    db: AsyncSession, start: datetime | None, end: datetime, counter: Counter[tuple[date, str, str]]
) -> None:
    """Count distinct rooms per day, and rooms by their number of distinct participants.

    A room is counted for participants on the first day it started within
    the range, with every participant it has had since.

    NOTE: a room that starts again after its earlier start was folded into
    daily counts is counted a second time in the participants measure.
    """
    hour = utc_hour(db, UsageEvent.occurred_at)
    started = _range(
        select(UsageEvent.room_ref, func.min(hour)).where(
            UsageEvent.kind == UsageKind.ROOM_STARTED, UsageEvent.room_ref.is_not(None)
        ),
        start,
        end,
    ).group_by(UsageEvent.room_ref)
    first_day = {ref: date.fromisoformat(bucket[:10]) for ref, bucket in await db.execute(started)}

    days = _range(
        select(UsageEvent.room_ref, hour).where(UsageEvent.kind == UsageKind.ROOM_STARTED),
        start,
        end,
    )
    rooms_by_day = {
        (date.fromisoformat(bucket[:10]), ref) for ref, bucket in await db.execute(days)
    }
    for day, _ in rooms_by_day:
        counter[day, Measure.ROOMS, ""] += 1

    if not first_day:
        return
    # A participant is an account, else a name hash; an event with neither
    # (its account was deleted) counts as a participant of its own.
    identity = func.coalesce(
        UsageEvent.user_id, UsageEvent.participant_ref, cast(UsageEvent.id, String)
    )
    joined = (
        select(UsageEvent.room_ref, func.count(identity.distinct()))
        .where(
            UsageEvent.kind == UsageKind.PARTICIPANT_JOINED,
            UsageEvent.room_ref.in_(select(started.subquery().c.room_ref)),
        )
        .group_by(UsageEvent.room_ref)
    )
    participants: dict[str | None, int] = {ref: n for ref, n in await db.execute(joined)}
    for ref, day in first_day.items():
        counter[day, Measure.PARTICIPANTS, str(participants.get(ref, 0))] += 1


async def stored_counts(db: AsyncSession, first: date, last: date) -> list[DailyCount]:
    rows = await db.execute(
        select(UsageDaily).where(UsageDaily.day >= first, UsageDaily.day <= last)
    )
    return [DailyCount(r.day, r.measure, r.value, r.count) for r in rows.scalars()]


async def daily_counts(
    sessions: async_sessionmaker[Any], first: date, last: date
) -> list[DailyCount]:
    """Return the daily counts of the days from `first` to `last`, stored and raw together.

    Each event is either raw or already folded into a stored count, never
    both, so the two add up.
    """
    async with sessions() as db:
        stored = await stored_counts(db, first, last)
        raw = await raw_counts(db, day_start(first), day_start(last + timedelta(days=1)))
    total: Counter[tuple[date, str, str]] = Counter()
    for row in [*stored, *raw]:
        total[row.day, row.measure, row.value] += row.count
    return sorted(DailyCount(*key, count) for key, count in total.items())


async def roll_up(sessions: async_sessionmaker[Any], retention: float, now: datetime) -> int:
    """Fold raw events of whole days older than `retention` seconds into daily counts.

    Returns how many raw events were deleted. The counts are added and the
    events deleted in one transaction.
    """
    cutoff = day_start((now - timedelta(seconds=retention)).astimezone(UTC).date())
    async with sessions.begin() as db:
        if db.get_bind().dialect.name == "postgresql":
            await db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ROLL_UP_LOCK_KEY})
        for row in await raw_counts(db, None, cutoff):
            value = row.value[:LABEL_LENGTH]
            existing = await db.get(UsageDaily, (row.day, row.measure, value))
            if existing is None:
                db.add(UsageDaily(day=row.day, measure=row.measure, value=value, count=row.count))
            else:
                existing.count += row.count
        await db.flush()
        result = await db.execute(delete(UsageEvent).where(UsageEvent.occurred_at < cutoff))
    deleted: int = result.rowcount
    return deleted
