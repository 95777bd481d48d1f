"""The audit log is append-only in the database; only the retention job deletes old entries."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import DBAPIError

from pairview.server import db
from pairview.server.audit.log import AuditAction, AuditLog
from pairview.server.audit.models import AuditEntry
from pairview.server.retention import apply_retention
from pairview.settings import ServerSettings
from tests.support.database_rows import execute, fetch

NOW = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[Any]:
    engine = db.create_engine(database_url)
    await db.upgrade(engine)
    maker = db.sessionmaker(engine)
    async with maker.begin() as session:
        for days in (400, 10, 0):
            session.add(
                AuditEntry(
                    occurred_at=NOW - timedelta(days=days),
                    actor_id="a" * 32,
                    action="request",
                    target=f"GET /admin ({days} days ago)",
                    address="127.0.0.1",
                )
            )
    try:
        yield maker
    finally:
        await engine.dispose()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_log SET target = 'changed'",
        "UPDATE audit_log SET actor_id = NULL WHERE id = 1",
        "DELETE FROM audit_log",
        "DELETE FROM audit_log WHERE id = 1",
    ],
    ids=["update-all", "update-one", "delete-all", "delete-one"],
)
async def test_changes_are_rejected(sessions: Any, database_url: str, statement: str) -> None:
    with pytest.raises(DBAPIError, match="append-only"):
        await execute(database_url, statement)

    rows = await fetch(database_url, "SELECT target, actor_id FROM audit_log ORDER BY id")
    assert len(rows) == 3
    assert all(row["actor_id"] == "a" * 32 for row in rows)
    assert all(row["target"] != "changed" for row in rows)


async def test_truncate_is_rejected_on_postgresql(sessions: Any, database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no TRUNCATE; DELETE without WHERE is rejected above")
    with pytest.raises(DBAPIError, match="append-only"):
        await execute(database_url, "TRUNCATE audit_log")
    assert len(await fetch(database_url, "SELECT id FROM audit_log")) == 3


async def test_appending_still_works(sessions: Any, database_url: str) -> None:
    await AuditLog(sessions, None).record(AuditAction.CLI, "delete-user x", None, None)

    rows = await fetch(database_url, "SELECT action, target FROM audit_log ORDER BY id")
    assert rows[-1] == {"action": "cli", "target": "delete-user x"}


async def test_purge_deletes_only_older_entries(sessions: Any, database_url: str) -> None:
    deleted = await AuditLog(sessions, None).purge(NOW - timedelta(days=365))

    assert deleted == 1
    rows = await fetch(database_url, "SELECT target FROM audit_log ORDER BY id")
    assert [row["target"] for row in rows] == [
        "GET /admin (10 days ago)",
        "GET /admin (0 days ago)",
    ]
    # The permit lived only inside the purge's transaction.
    assert await fetch(database_url, "SELECT * FROM audit_purge_permits") == []
    with pytest.raises(DBAPIError, match="append-only"):
        await execute(database_url, "DELETE FROM audit_log")


async def test_retention_job_applies_the_audit_period(
    sessions: Any, database_url: str, tmp_path: Path
) -> None:
    settings = ServerSettings(data_dir=tmp_path, database_url=database_url, audit_retention="7d")

    result = await apply_retention(sessions, settings, now=NOW)

    assert result.audit_entries_deleted == 2
    rows = await fetch(database_url, "SELECT target FROM audit_log")
    assert rows == [{"target": "GET /admin (0 days ago)"}]
