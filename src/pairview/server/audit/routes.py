"""Reading the audit log: administrators can list it, and no route changes it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from pairview.server.accounts.auth import AccountsDep, AdminDep

router = APIRouter(prefix="/api/admin")

MAX_PAGE = 500


class AuditEntryView(BaseModel):
    id: int
    occurred_at: datetime
    actor_id: str | None
    action: str
    target: str
    address: str | None


@router.get("/audit")
async def audit_log(
    admin: AdminDep,
    accounts: AccountsDep,
    before: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
) -> list[AuditEntryView]:
    """List audit entries, newest first; `before` pages back from an entry id."""
    entries = await accounts.audit.entries(before, limit)
    return [AuditEntryView.model_validate(entry, from_attributes=True) for entry in entries]
