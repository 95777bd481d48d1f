"""Backups of a SQLite database with SQLite's online backup API.

The backup API copies a consistent snapshot while the server keeps
running. A restore copies the backup's pages back over the live file;
the server must be stopped first.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from pairview.server.backup.errors import BackupError


@contextlib.contextmanager
def _connect(path: Path) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(path)
    try:
        yield connection
    finally:
        connection.close()


def _existing(path: Path) -> Path:
    if not path.is_file():
        raise BackupError(f"No SQLite database at {path}; check --data-dir or --database-url.")
    return path


def create(database: Path, target: Path) -> None:
    """Copy a consistent snapshot of `database` into the new file `target`."""
    try:
        with _connect(_existing(database)) as source, _connect(target) as copy:
            source.backup(copy)
    except sqlite3.Error as error:
        target.unlink(missing_ok=True)
        raise BackupError(f"Backing up {database} failed: {error}.") from None


def revision(backup: Path) -> str | None:
    """Return the schema revision stored in a backup, after checking its integrity."""
    try:
        with _connect(_existing(backup)) as connection:
            check = connection.execute("PRAGMA integrity_check").fetchone()
            if check is None or check[0] != "ok":
                raise BackupError(f"Backup {backup.name} is damaged: {check}.")
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error as error:
        raise BackupError(
            f"Backup {backup.name} is not a readable Pairview database: {error}."
        ) from None
    return str(row[0]) if row else None


def restore(backup: Path, database: Path) -> None:
    """Replace the whole content of `database` with the backup's."""
    database.parent.mkdir(parents=True, exist_ok=True)
    try:
        with _connect(_existing(backup)) as source, _connect(database) as live:
            source.backup(live)
    except sqlite3.Error as error:
        raise BackupError(
            f"Restoring {backup.name} into {database} failed: {error}. Stop the server first."
        ) from None
