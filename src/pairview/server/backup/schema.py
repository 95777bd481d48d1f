"""The schema revisions this version of Pairview can restore: its own and older ones."""

from __future__ import annotations

from alembic.script import ScriptDirectory

from pairview.server.backup.errors import BackupError
from pairview.server.db import alembic_config


def known_revisions() -> list[str]:
    """Return the migrations this code ships, oldest first."""
    scripts = ScriptDirectory.from_config(alembic_config())
    return [script.revision for script in reversed(list(scripts.walk_revisions()))]


def check_restorable(revision: str | None, name: str) -> None:
    """Raise BackupError unless a backup's schema revision is one this code ships."""
    known = known_revisions()
    if revision is None:
        raise BackupError(
            f"Backup {name} has no Pairview schema revision (no alembic_version row); "
            "it cannot be restored."
        )
    if revision not in known:
        raise BackupError(
            f"Backup {name} has schema revision {revision!r}, newer than this Pairview "
            f"(which knows revisions up to {known[-1]!r}). Restore it with the Pairview "
            "version that made it, or a later one."
        )
