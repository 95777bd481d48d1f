"""Writing and reading the audit log of administrator access.

Entries are written in the transaction of what they record (a sign-in)
or before the request they record runs. If the entry cannot be written,
the sign-in or request fails, so none happens without its entry.
Entries older than the audit retention are deleted by the retention job,
through the one path the database triggers let through.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pairview.server.audit.alerts import WebhookAlerts
from pairview.server.audit.models import (
    ADDRESS_LENGTH,
    TARGET_LENGTH,
    AuditEntry,
    AuditPurgePermit,
)

logger = logging.getLogger(__name__)


class AuditAction(StrEnum):
    SIGN_IN = "sign-in"
    REQUEST = "request"
    # A signed-in user who is not an administrator called an admin route.
    DENIED = "denied"
    # `pairview admin` changed something directly in the database.
    CLI = "cli"


@dataclass(frozen=True, slots=True)
class AuditView:
    id: int
    occurred_at: datetime
    actor_id: str | None
    action: str
    target: str
    address: str | None


class AuditLog:
    def __init__(self, sessions: async_sessionmaker[Any], alerts: WebhookAlerts | None) -> None:
        self._sessions = sessions
        self.alerts = alerts

    def add(
        self,
        db: AsyncSession,
        action: AuditAction,
        target: str,
        actor_id: str | None,
        address: str | None,
    ) -> None:
        """Add an entry inside the caller's transaction."""
        db.add(
            AuditEntry(
                occurred_at=datetime.now(UTC),
                actor_id=actor_id,
                action=action.value,
                target=target[:TARGET_LENGTH],
                address=address[:ADDRESS_LENGTH] if address else None,
            )
        )

    async def record(
        self, action: AuditAction, target: str, actor_id: str | None, address: str | None
    ) -> None:
        """Write an entry in a transaction of its own; database errors reach the caller."""
        async with self._sessions.begin() as db:
            self.add(db, action, target, actor_id, address)

    def signed_in(self, user_id: str, method: str, address: str | None) -> None:
        """Send the sign-in alert, after the sign-in and its entry are committed."""
        logger.info("administrator %s signed in (%s)", user_id[:6], method)
        if self.alerts is not None:
            self.alerts.admin_signed_in(user_id, method, address, datetime.now(UTC))

    async def entries(self, before_id: int | None, limit: int) -> list[AuditView]:
        """Return up to `limit` entries, newest first, older than entry `before_id` if given."""
        query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
        if before_id is not None:
            query = query.where(AuditEntry.id < before_id)
        async with self._sessions() as db:
            rows = (await db.execute(query)).scalars()
            return [
                AuditView(e.id, e.occurred_at, e.actor_id, e.action, e.target, e.address)
                for e in rows
            ]

    async def purge(self, before: datetime) -> int:
        """Delete entries older than `before`; return how many were deleted.

        The permit row lets the triggers pass these deletes, and exists only
        inside this transaction, so no other connection can read it.
        """
        async with self._sessions.begin() as db:
            db.add(AuditPurgePermit(purge_before=before))
            await db.flush()
            result = await db.execute(delete(AuditEntry).where(AuditEntry.occurred_at < before))
            await db.execute(
                delete(AuditPurgePermit).where(AuditPurgePermit.purge_before == before)
            )
        deleted: int = result.rowcount
        return deleted
