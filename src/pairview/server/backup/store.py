"""The backups directory: file names, listing, and pruning expired backups."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pairview.server.backup.errors import BackupError

SUFFIXES = {"sqlite": ".sqlite3", "postgresql": ".pgdump"}
NAME_PATTERN = re.compile(r"^pairview-(\d{8}T\d{6}\.\d{3})Z(\.sqlite3|\.pgdump)$")
TIME_FORMAT = "%Y%m%dT%H%M%S.%f"


@dataclass(frozen=True, slots=True)
class BackupFile:
    path: Path
    created_at: datetime
    backend: str

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def backup_name(backend: str, created_at: datetime) -> str:
    stamp = created_at.astimezone(UTC).strftime(TIME_FORMAT)[:-3]
    return f"pairview-{stamp}Z{SUFFIXES[backend]}"


def parse_name(path: Path) -> BackupFile | None:
    """Return the backup a file name stands for, or None for any other file."""
    match = NAME_PATTERN.match(path.name)
    if match is None:
        return None
    created_at = datetime.strptime(match.group(1) + "000", TIME_FORMAT).replace(tzinfo=UTC)
    backend = next(name for name, suffix in SUFFIXES.items() if suffix == match.group(2))
    return BackupFile(path, created_at, backend)


class BackupStore:
    """A directory of backups that only its owner can open."""

    def __init__(self, directory: Path, retention: float) -> None:
        self.directory = directory
        self.retention = timedelta(seconds=retention)

    def prepare(self) -> Path:
        """Create the directory if needed and make it owner-only; return it."""
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            mode = stat.S_IMODE(self.directory.stat().st_mode)
            if mode != 0o700:
                os.chmod(self.directory, 0o700)
        except OSError as error:
            raise BackupError(
                f"Cannot prepare the backups directory {self.directory}: {error.strerror}."
            ) from None
        return self.directory

    def new_path(self, backend: str, now: datetime) -> Path:
        path = self.prepare() / backup_name(backend, now)
        if path.exists():
            raise BackupError(f"A backup named {path.name} already exists; try again.")
        return path

    def backups(self) -> list[BackupFile]:
        """Return the backups in the directory, oldest first."""
        if not self.directory.is_dir():
            return []
        found = [parse_name(path) for path in self.directory.iterdir() if path.is_file()]
        return sorted((b for b in found if b is not None), key=lambda b: b.created_at)

    def find(self, name: str) -> BackupFile:
        backup = next((b for b in self.backups() if b.name == name), None)
        if backup is None:
            known = ", ".join(b.name for b in self.backups()) or "none"
            raise BackupError(
                f"No backup named {name!r} in {self.directory} (backups there: {known}). "
                "Backups older than the retention period are deleted."
            )
        return backup

    def expired(self, now: datetime) -> list[BackupFile]:
        return [b for b in self.backups() if b.created_at < now - self.retention]

    def prune(self, now: datetime) -> list[BackupFile]:
        """Delete the backups older than the retention period; return them."""
        removed = []
        for backup in self.expired(now):
            backup.path.unlink(missing_ok=True)
            removed.append(backup)
        return removed


def finish_file(temporary: Path, final: Path) -> None:
    """Make a finished backup owner-only and give it its final name."""
    os.chmod(temporary, 0o600)
    os.replace(temporary, final)
