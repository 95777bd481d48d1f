"""The admin dashboard's data: usage summaries for a range of days, as JSON and as CSV."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import UTC, date, datetime, timedelta

from fastapi import APIRouter, Response
from pydantic import BaseModel

from pairview.server.accounts.auth import AdminDep
from pairview.server.accounts.validation import InvalidInput
from pairview.server.db import sessionmaker
from pairview.server.state import ServerState, StateDep
from pairview.server.usage.aggregate import DailyCount, Measure, daily_counts

router = APIRouter(prefix="/api/admin")

DEFAULT_RANGE_DAYS = 30
MAX_RANGE_DAYS = 731
CONNECTION_TYPES = ("direct", "nat", "relay")


class LiveCounts(BaseModel):
    rooms: int
    participants: int
    websockets: int


class UsageSummary(BaseModel):
    """Everything the dashboard draws, for the UTC days from `start` to `end`."""

    start: date
    end: date
    days: list[date]
    rooms_per_day: list[int]
    # Number of rooms by their number of distinct participants ("1", "2", ...).
    participants_per_room: dict[str, int]
    # Peer connections per day, by connection type (direct, nat, relay).
    connections_per_day: dict[str, list[int]]
    connection_totals: dict[str, int]
    clients: dict[str, int]
    operating_systems: dict[str, int]
    # Participants joining in each UTC hour of the day, 0 to 23.
    busiest_hours: list[int]
    events: dict[str, int]
    invitations: dict[str, int]
    presenters: dict[str, int]
    now: LiveCounts


def parse_day(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            field, f"Invalid {field} date {value[:40]!r}: expected YYYY-MM-DD."
        ) from None


def day_range(start: str | None, end: str | None, today: date) -> tuple[date, date]:
    """Return the first and last day asked for; by default the last 30 days up to today."""
    last = parse_day(end, "end") if end else today
    first = parse_day(start, "start") if start else last - timedelta(days=DEFAULT_RANGE_DAYS - 1)
    if first > last:
        raise InvalidInput("start", f"The start {first} is after the end {last}.")
    if (last - first).days + 1 > MAX_RANGE_DAYS:
        raise InvalidInput(
            "start", f"The range {first} to {last} is longer than {MAX_RANGE_DAYS} days."
        )
    return first, last


def _totals(rows: list[DailyCount], measure: Measure) -> dict[str, int]:
    totals: Counter[str] = Counter()
    for row in rows:
        if row.measure == measure:
            totals[row.value] += row.count
    return dict(totals.most_common())


def live_counts(state: ServerState) -> LiveCounts:
    rooms = state.hub.room_ids()
    participants = sum(len(state.hub.members(room_id)) for room_id in rooms)
    return LiveCounts(
        rooms=len(rooms), participants=participants, websockets=state.signaling.client_count
    )


def summarize(rows: list[DailyCount], first: date, last: date, now: LiveCounts) -> UsageSummary:
    days = [first + timedelta(days=offset) for offset in range((last - first).days + 1)]
    index = {day: position for position, day in enumerate(days)}
    rooms = [0] * len(days)
    connections = {kind: [0] * len(days) for kind in CONNECTION_TYPES}
    hours = [0] * 24
    for row in rows:
        if row.measure == Measure.ROOMS:
            rooms[index[row.day]] += row.count
        elif row.measure == Measure.CONNECTIONS and row.value in connections:
            connections[row.value][index[row.day]] += row.count
        elif row.measure == Measure.HOURS:
            hours[int(row.value)] += row.count
    participants = _totals(rows, Measure.PARTICIPANTS)
    return UsageSummary(
        start=first,
        end=last,
        days=days,
        rooms_per_day=rooms,
        participants_per_room=dict(sorted(participants.items(), key=lambda item: int(item[0]))),
        connections_per_day=connections,
        connection_totals={kind: sum(counts) for kind, counts in connections.items()},
        clients=_totals(rows, Measure.CLIENTS),
        operating_systems=_totals(rows, Measure.OS),
        busiest_hours=hours,
        events=_totals(rows, Measure.EVENTS),
        invitations=_totals(rows, Measure.INVITATIONS),
        presenters=_totals(rows, Measure.PRESENTERS),
        now=now,
    )


async def _counts(
    state: ServerState, start: str | None, end: str | None
) -> tuple[list[DailyCount], date, date]:
    first, last = day_range(start, end, datetime.now(UTC).date())
    rows = await daily_counts(sessionmaker(state.engine), first, last)
    return rows, first, last


@router.get("/usage")
async def usage(
    admin: AdminDep, state: StateDep, start: str | None = None, end: str | None = None
) -> UsageSummary:
    """Summarize usage from `start` to `end` (YYYY-MM-DD, UTC days, both included)."""
    rows, first, last = await _counts(state, start, end)
    return summarize(rows, first, last, live_counts(state))


@router.get("/usage.csv")
async def usage_csv(
    admin: AdminDep, state: StateDep, start: str | None = None, end: str | None = None
) -> Response:
    """Export the daily counts behind the dashboard: day, measure, value, count."""
    rows, first, last = await _counts(state, start, end)
    output = io.StringIO()
    writer = csv.writer(output, lineterminator="\r\n")
    writer.writerow(["day", "measure", "value", "count"])
    for row in rows:
        writer.writerow([row.day.isoformat(), row.measure, row.value, row.count])
    filename = f"pairview-usage-{first}-{last}.csv"
    return Response(
        output.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
