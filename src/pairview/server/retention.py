"""The retention job: fold old usage events into daily counts, and purge old audit entries.

It runs at start-up and then hourly in every server. Backups have their
own retention, applied by `pairview backup create` and `pairview backup prune`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from pairview.server.audit.log import AuditLog
from pairview.server.db import DATABASE_ERRORS
from pairview.server.usage.aggregate import roll_up
from pairview.settings import ServerSettings

logger = logging.getLogger(__name__)

RETENTION_INTERVAL = 3600.0


@dataclass(frozen=True, slots=True)
class RetentionResult:
    usage_events_folded: int
    audit_entries_deleted: int


async def apply_retention(
    sessions: async_sessionmaker[Any], settings: ServerSettings, now: datetime | None = None
) -> RetentionResult:
    """Apply the usage and audit retention periods once."""
    now = now or datetime.now(UTC)
    folded = await roll_up(sessions, settings.usage_retention, now)
    purged = await AuditLog(sessions, None).purge(now - timedelta(seconds=settings.audit_retention))
    if folded or purged:
        logger.info(
            "retention: %d usage events folded into daily counts, %d audit entries deleted",
            folded,
            purged,
        )
    return RetentionResult(folded, purged)


async def apply_retention_periodically(
    sessions: async_sessionmaker[Any], settings: ServerSettings
) -> None:
    """Apply retention every hour; runs for the server's lifetime."""
    while True:
        try:
            await apply_retention(sessions, settings)
        except DATABASE_ERRORS as error:
            logger.warning("the retention job failed: %s", type(error).__name__)
        await asyncio.sleep(RETENTION_INTERVAL)
