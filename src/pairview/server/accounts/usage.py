"""Usage statistics: counted events with a time and at most an account id.

No email, name or address is ever written here; deleting an account
clears its id from its events (ON DELETE SET NULL).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from pairview.server.accounts.models import UsageEvent


class UsageKind(StrEnum):
    SIGN_UP = "sign-up"
    SIGN_IN = "sign-in"
    ROOM_CREATED = "room-created"
    INVITATION_SENT = "invitation-sent"
    INVITATION_USED = "invitation-used"


def record_usage(db: AsyncSession, kind: UsageKind, user_id: str | None) -> None:
    """Add one event inside the caller's transaction."""
    db.add(UsageEvent(kind=kind.value, user_id=user_id, occurred_at=datetime.now(UTC)))
