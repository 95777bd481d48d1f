"""Backups on SQLite and PostgreSQL: equal after restore, owner-only, pruned after 15 days."""

from __future__ import annotations

import asyncio
import os
import stat
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pairview.server import db
from pairview.server.accounts.admin import create_user, delete_user
from pairview.server.audit.log import AuditAction, AuditLog
from pairview.server.backup import operations, postgres
from pairview.server.backup.errors import BackupError
from pairview.server.backup.schema import known_revisions
from pairview.server.rooms import RoomStore
from pairview.server.usage.events import UsageKind, UsageRecord
from pairview.server.usage.models import UsageDaily, UsageEvent
from pairview.settings import ServerSettings
from tests.support.database_rows import all_rows, execute, fetch
from tests.support.timing import seconds

PAIRVIEW = str(Path(sys.executable).with_name("pairview"))
PASSWORD = "correct horse battery"
# Whole seconds, as backup names keep milliseconds only.
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> ServerSettings:
    return ServerSettings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        backup_dir=tmp_path / "backups",
        argon2_memory_kib=19456,
        argon2_iterations=2,
        argon2_parallelism=1,
    )


async def fill(settings: ServerSettings) -> str:
    """Put rows in every kind of table; return the id of an account."""
    user_id = await create_user(settings, "kept@example.org", "Kept Kim", PASSWORD, admin=True)
    engine = db.create_engine(settings.resolved_database_url)
    try:
        sessions = db.sessionmaker(engine)
        await RoomStore(sessions).create(3600, owner_id=user_id)
        await AuditLog(sessions, None).record(AuditAction.REQUEST, "GET /admin", user_id, "::1")
        async with sessions.begin() as session:
            event = UsageRecord(UsageKind.SIGN_IN, NOW, user_id=user_id)
            session.add(UsageEvent(**event.row()))
            session.add(UsageDaily(day=NOW.date(), measure="rooms", value="", count=3))
    finally:
        await engine.dispose()
    return user_id


async def test_restore_gives_an_equal_database(settings: ServerSettings, database_url: str) -> None:
    user_id = await fill(settings)
    before = await all_rows(database_url)
    assert all(before[table] for table in ("users", "rooms", "audit_log", "usage_events"))

    made, pruned = await operations.create_backup(settings)
    await delete_user(settings, user_id)
    await create_user(settings, "later@example.org", "Later Lee", PASSWORD, admin=False)
    assert await all_rows(database_url) != before
    restored = await operations.restore_backup(settings, made.name)

    assert pruned == []
    assert restored.revision == known_revisions()[-1]
    assert await all_rows(database_url) == before
    # The restored database takes new rows: its sequences came back too.
    await create_user(settings, "after@example.org", "After Ali", PASSWORD, admin=False)
    rows = await fetch(database_url, "SELECT email FROM users ORDER BY email")
    assert [row["email"] for row in rows] == ["after@example.org", "kept@example.org"]


async def test_backups_are_owner_only(settings: ServerSettings) -> None:
    await fill(settings)
    settings.resolved_backup_dir.mkdir(mode=0o755)

    made, _ = await operations.create_backup(settings)

    assert stat.S_IMODE(settings.resolved_backup_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE(made.path.stat().st_mode) == 0o600
    assert [p.name for p in settings.resolved_backup_dir.iterdir()] == [made.name]


async def test_prune_removes_exactly_the_expired(settings: ServerSettings) -> None:
    await fill(settings)
    ages = [timedelta(days=30), timedelta(days=15, seconds=1), timedelta(days=15), timedelta(0)]
    # Made with a long retention, so that making them prunes none.
    keep = settings.model_copy(update={"backup_retention": 365 * 86400.0})
    made = [(await operations.create_backup(keep, now=NOW - age))[0] for age in ages]

    pruned = await operations.prune_backups(settings, now=NOW)

    assert [b.name for b in pruned] == [made[0].name, made[1].name]
    left = await operations.list_backups(settings)
    assert [info.file.name for info in left] == [made[2].name, made[3].name]
    assert not made[0].path.exists()


async def test_create_prunes_with_the_set_retention(
    settings: ServerSettings, tmp_path: Path
) -> None:
    await fill(settings)
    short = settings.model_copy(update={"backup_retention": 3600.0})
    old, _ = await operations.create_backup(short, now=NOW - timedelta(hours=2))

    new, pruned = await operations.create_backup(short, now=NOW)

    assert pruned == [old]
    assert [info.file for info in await operations.list_backups(short)] == [new]


async def test_deleted_account_is_gone_once_backups_expire(
    settings: ServerSettings, database_url: str
) -> None:
    user_id = await fill(settings)
    made, _ = await operations.create_backup(settings, now=NOW - timedelta(days=16))
    await delete_user(settings, user_id)

    await operations.prune_backups(settings, now=NOW)

    with pytest.raises(BackupError, match="older than the retention period are deleted"):
        await operations.restore_backup(settings, made.name)
    assert await fetch(database_url, "SELECT id FROM users WHERE id = :id", id=user_id) == []


async def test_restore_refuses_a_newer_schema(settings: ServerSettings, database_url: str) -> None:
    await fill(settings)
    await execute(database_url, "UPDATE alembic_version SET version_num = :v", v="9999_future")
    made, _ = await operations.create_backup(settings)
    head = known_revisions()[-1]
    await execute(database_url, "UPDATE alembic_version SET version_num = :head", head=head)
    before = await all_rows(database_url)

    with pytest.raises(BackupError, match="'9999_future', newer than this Pairview"):
        await operations.restore_backup(settings, made.name)

    assert await all_rows(database_url) == before


async def run_pairview(*args: str, stdin: bytes = b"") -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        PAIRVIEW,
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(seconds(120)):
        stdout, stderr = await process.communicate(stdin)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def test_command_line(settings: ServerSettings, database_url: str) -> None:
    await fill(settings)
    where = ["--database-url", database_url, "--data-dir", str(settings.data_dir)]
    where += ["--backup-dir", str(settings.resolved_backup_dir)]

    created = await run_pairview("backup", "create", *where)
    listed = await run_pairview("backup", "list", *where)
    name = listed[1].split("\t")[0]
    unconfirmed = await run_pairview("backup", "restore", name, *where)
    confirmed = await run_pairview("backup", "restore", name, "--yes", *where)
    missing = await run_pairview("backup", "restore", "pairview-none.sqlite3", "--yes", *where)
    bad = await run_pairview("backup", "prune", "--backup-retention", "soon", *where)

    assert created[0] == 0, created[2]
    assert created[1].startswith("Created ")
    assert listed[0] == 0
    assert f"schema {known_revisions()[-1]}" in listed[1]
    assert "deleted in 15.0 days" in listed[1]
    assert unconfirmed[0] == 2
    assert "Give --yes to confirm" in unconfirmed[2]
    assert confirmed[0] == 0, confirmed[2]
    assert "Restored" in confirmed[1]
    assert missing[0] == 2
    assert "No backup named 'pairview-none.sqlite3'" in missing[2]
    assert bad[0] == 2
    assert "backup_retention" in bad[2]
    assert "'soon'" in bad[2]
    assert "Traceback" not in unconfirmed[2] + missing[2] + bad[2]


async def test_older_pg_dump_is_refused(
    settings: ServerSettings, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("only PostgreSQL backups use pg_dump")
    await fill(settings)
    server = postgres.server_major(postgres.Database.from_url(database_url))
    # A pg_dump of an older major version, found first on PATH.
    tools = tmp_path / "old-client"
    tools.mkdir()
    fake = tools / "pg_dump"
    fake.write_text(f"#!/bin/sh\necho 'pg_dump (PostgreSQL) {server - 2}.9'\n", encoding="ascii")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}:{os.environ['PATH']}")

    with pytest.raises(
        BackupError, match=f"pg_dump is version {server - 2}, the PostgreSQL server"
    ):
        await operations.create_backup(settings)

    assert await operations.list_backups(settings) == []
    assert list(settings.resolved_backup_dir.iterdir()) == []


async def test_restore_leaves_other_tables_alone(
    settings: ServerSettings, database_url: str
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("a SQLite restore replaces the whole file, which is Pairview's own")
    await fill(settings)
    created, _ = await operations.create_backup(settings)
    await execute(database_url, "CREATE TABLE invoices (id integer PRIMARY KEY)")
    await execute(database_url, "INSERT INTO invoices VALUES (7)")

    with pytest.raises(BackupError, match=r"tables that are not Pairview's \(invoices\)"):
        await operations.restore_backup(settings, created.name)

    assert await fetch(database_url, "SELECT id FROM invoices") == [{"id": 7}]
