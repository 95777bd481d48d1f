"""The exception of backup operations."""

from __future__ import annotations

from pairview.errors import PairviewError


class BackupError(PairviewError):
    """A backup could not be made, found, checked or restored."""
