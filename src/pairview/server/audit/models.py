"""Database models of the audit log.

The log is append-only. Migration 0003 adds triggers on SQLite and
PostgreSQL that reject every UPDATE of `audit_log` and every DELETE, except
a DELETE of rows older than a cut-off that the retention job declares in
`audit_purge_permits` inside its own transaction. Someone with write access
to the database can still declare such a cut-off or drop the triggers: the
triggers stop mistakes and the application, not the database's owner.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from pairview.server.db import Base, UtcDateTime

TARGET_LENGTH = 300
ADDRESS_LENGTH = 64


class AuditEntry(Base):
    """An administrator's sign-in or request, or a signed-in user's denied admin request.

    `actor_id` has no foreign key, so that entries outlive the account;
    the log contains no email address or display name.
    """

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    actor_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    action: Mapped[str] = mapped_column(String(16))
    # "GET /api/admin/usage" for a request, the sign-in method for a sign-in.
    target: Mapped[str] = mapped_column(String(TARGET_LENGTH))
    address: Mapped[str | None] = mapped_column(String(ADDRESS_LENGTH), nullable=True)


class AuditPurgePermit(Base):
    """A cut-off below which the retention job may delete audit entries, during its transaction."""

    __tablename__ = "audit_purge_permits"

    purge_before: Mapped[datetime] = mapped_column(UtcDateTime(), primary_key=True)
