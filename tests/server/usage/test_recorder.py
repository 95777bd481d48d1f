"""The batched usage recorder: it writes in batches and survives database errors."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from pairview.server import db
from pairview.server.usage.events import UsageKind, UsageRecord
from pairview.server.usage.recorder import UsageRecorder
from tests.support.database_rows import execute, fetch


def _event(kind: UsageKind = UsageKind.ROOM_STARTED) -> UsageRecord:
    return UsageRecord(kind, datetime.now(UTC), room_ref="r" * 32)


async def test_flush_writes_every_queued_event(database_url: str) -> None:
    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    try:
        recorder = UsageRecorder(db.sessionmaker(engine), batch_size=3)
        for _ in range(7):
            recorder.record(_event())
        assert await fetch(database_url, "SELECT id FROM usage_events") == []

        await recorder.flush()

        rows = await fetch(database_url, "SELECT kind, room_ref FROM usage_events")
        assert rows == [{"kind": "room-started", "room_ref": "r" * 32}] * 7
        assert recorder.written == 7
        assert recorder.pending == 0
        assert recorder.write_errors == 0
    finally:
        await engine.dispose()


async def test_database_error_is_counted_not_raised(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    try:
        recorder = UsageRecorder(db.sessionmaker(engine))
        await execute(database_url, "ALTER TABLE usage_events RENAME TO usage_events_gone")
        recorder.record(_event())
        recorder.record(_event(UsageKind.ROOM_ENDED))

        with caplog.at_level(logging.WARNING, logger="pairview.server.usage.recorder"):
            await recorder.flush()

        assert recorder.write_errors == 1
        assert recorder.dropped == 2
        assert recorder.written == 0
        assert recorder.pending == 0
        assert "writing 2 usage events failed" in caplog.text

        # Once the table is back, later events are written again.
        await execute(database_url, "ALTER TABLE usage_events_gone RENAME TO usage_events")
        recorder.record(_event())
        await recorder.flush()
        assert recorder.written == 1
    finally:
        await engine.dispose()


async def test_too_many_pending_events_are_dropped(database_url: str) -> None:
    engine = db.create_engine(database_url)
    try:
        recorder = UsageRecorder(db.sessionmaker(engine), max_pending=2)
        for _ in range(5):
            recorder.record(_event())

        assert recorder.pending == 2
        assert recorder.recorded == 2
        assert recorder.dropped == 3
    finally:
        await engine.dispose()
