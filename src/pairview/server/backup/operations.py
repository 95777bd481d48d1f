"""`pairview backup` operations on the configured database and backups directory."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

from pairview.server import db
from pairview.server.backup import postgres, sqlite
from pairview.server.backup.errors import BackupError
from pairview.server.backup.schema import check_restorable
from pairview.server.backup.store import BackupFile, BackupStore, finish_file
from pairview.settings import ServerSettings

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BackupInfo:
    file: BackupFile
    # None when the backup could not be read.
    revision: str | None


def backup_store(settings: ServerSettings) -> BackupStore:
    return BackupStore(settings.resolved_backup_dir, settings.backup_retention)


def _target(settings: ServerSettings) -> tuple[str, Path | postgres.Database]:
    """Return the database's backend name and where it is."""
    url = settings.resolved_database_url
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        path = make_url(url).database
        if not path or path == ":memory:":
            raise BackupError(f"The SQLite URL {url!r} names no database file.")
        return backend, Path(path)
    if backend == "postgresql":
        return backend, postgres.Database.from_url(url)
    raise BackupError(f"Backups support SQLite and PostgreSQL, not {backend!r} databases.")


def read_revision(backup: BackupFile) -> str | None:
    if backup.backend == "sqlite":
        return sqlite.revision(backup.path)
    return postgres.revision(str(backup.path))


def _create(settings: ServerSettings, now: datetime) -> BackupFile:
    backend, where = _target(settings)
    store = backup_store(settings)
    final = store.new_path(backend, now)
    temporary = final.with_name(f".{final.name}.partial")
    try:
        if isinstance(where, Path):
            sqlite.create(where, temporary)
        else:
            postgres.create(where, str(temporary))
        finish_file(temporary, final)
    finally:
        temporary.unlink(missing_ok=True)
    created = next(b for b in store.backups() if b.path == final)
    logger.info("backup %s created", created.name)
    return created


async def create_backup(
    settings: ServerSettings, now: datetime | None = None
) -> tuple[BackupFile, list[BackupFile]]:
    """Back up the database, then prune expired backups; return the new one and the pruned."""
    now = now or datetime.now(UTC)
    created = await asyncio.to_thread(_create, settings, now)
    pruned = await prune_backups(settings, now)
    return created, pruned


async def list_backups(settings: ServerSettings) -> list[BackupInfo]:
    """Return every backup, oldest first, with its schema revision where it can be read."""

    def read_all() -> list[BackupInfo]:
        infos = []
        for backup in backup_store(settings).backups():
            try:
                revision = read_revision(backup)
            except BackupError:
                revision = None
            infos.append(BackupInfo(backup, revision))
        return infos

    return await asyncio.to_thread(read_all)


async def check_backup(settings: ServerSettings, name: str) -> BackupInfo:
    """Find a backup and check that this code and this database can restore it."""
    backend, _ = _target(settings)
    backup = backup_store(settings).find(name)
    if backup.backend != backend:
        raise BackupError(
            f"Backup {name} is a {backup.backend} backup, but the database is {backend}."
        )
    revision = await asyncio.to_thread(read_revision, backup)
    check_restorable(revision, name)
    return BackupInfo(backup, revision)


async def restore_backup(settings: ServerSettings, name: str) -> BackupInfo:
    """Replace the database's content with a backup's, then migrate it to this code's schema.

    NOTE: nothing checks that the server is stopped. A running server keeps
    its connections and in-memory rooms across the restore.
    """
    info = await check_backup(settings, name)
    _, where = _target(settings)
    if isinstance(where, Path):
        await asyncio.to_thread(sqlite.restore, info.file.path, where)
    else:
        await asyncio.to_thread(postgres.restore, str(info.file.path), where)
    engine = db.create_engine(settings.resolved_database_url)
    try:
        await db.upgrade(engine)
    finally:
        await engine.dispose()
    logger.info("backup %s restored", name)
    return info


async def prune_backups(settings: ServerSettings, now: datetime | None = None) -> list[BackupFile]:
    """Delete backups older than the backup retention; return them."""
    now = now or datetime.now(UTC)
    pruned = await asyncio.to_thread(backup_store(settings).prune, now)
    for backup in pruned:
        logger.info("backup %s deleted: older than the retention period", backup.name)
    return pruned
