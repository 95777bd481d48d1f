"""The administrators' pages: usage dashboard, audit log and accounts."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from fastapi.responses import FileResponse

from pairview.server.accounts.auth import AdminPageDep
from pairview.server.web import WEB_DIR

router = APIRouter()

ADMIN_PAGES = frozenset({"audit", "users"})


@router.get("/admin", include_in_schema=False)
async def dashboard(admin: AdminPageDep) -> FileResponse:
    return FileResponse(WEB_DIR / "admin" / "dashboard.html")


@router.get("/admin/{page}", include_in_schema=False)
async def admin_page(page: str, admin: AdminPageDep) -> FileResponse:
    if page not in ADMIN_PAGES:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such page.")
    return FileResponse(WEB_DIR / "admin" / f"{page}.html")
