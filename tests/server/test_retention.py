"""The running server applies the usage and audit retention periods by itself."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert

from pairview.server import db
from pairview.server.audit.models import AuditEntry
from pairview.server.runner import start_server
from pairview.server.usage.events import UsageKind, UsageRecord
from pairview.server.usage.models import UsageEvent
from pairview.settings import ServerSettings
from tests.support.database_rows import fetch, wait_for_rows


async def test_server_folds_old_events_at_start(tmp_path: Path, database_url: str) -> None:
    now = datetime.now(UTC)
    engine = db.create_engine(database_url)
    try:
        await db.upgrade(engine)
        async with db.sessionmaker(engine).begin() as session:
            events = [
                UsageRecord(UsageKind.ROOM_STARTED, now - timedelta(days=40), room_ref="old"),
                UsageRecord(UsageKind.ROOM_STARTED, now, room_ref="new"),
            ]
            await session.execute(insert(UsageEvent), [event.row() for event in events])
            for age, target in (
                (timedelta(days=40), "GET /admin old"),
                (timedelta(0), "GET /admin"),
            ):
                session.add(AuditEntry(occurred_at=now - age, action="request", target=target))
    finally:
        await engine.dispose()
    settings = ServerSettings(
        data_dir=tmp_path / "data",
        port=0,
        database_url=database_url,
        usage_retention="30d",
        audit_retention="30d",
    )

    running = await start_server(settings, access_log=False)
    try:
        rows = await wait_for_rows(
            database_url, "SELECT room_ref FROM usage_events", lambda rows: len(rows) == 1
        )
        audit = await wait_for_rows(
            database_url, "SELECT target FROM audit_log", lambda rows: len(rows) == 1
        )
    finally:
        await running.stop()

    assert rows == [{"room_ref": "new"}]
    old_day = (now - timedelta(days=40)).date()
    daily = await fetch(database_url, "SELECT day, measure, value, count FROM usage_daily")
    assert {(str(r["day"])[:10], r["measure"], r["value"], r["count"]) for r in daily} == {
        (old_day.isoformat(), "rooms", "", 1),
        (old_day.isoformat(), "participants", "0", 1),
        (old_day.isoformat(), "events", "room-started", 1),
    }
    assert audit == [{"target": "GET /admin"}]
