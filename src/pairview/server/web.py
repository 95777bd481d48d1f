"""The web client's pages and files, and the security headers on every response."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.responses import FileResponse, RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

WEB_DIR = Path(str(resources.files("pairview") / "web"))
STATIC_DIR = WEB_DIR / "static"
ROOM_ID = re.compile(r"^[A-Za-z0-9_-]{16,64}$")

# The guest page loads nothing from elsewhere and runs no inline code.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)

router = APIRouter()


ACCOUNT_PAGES = frozenset(
    {"sign-in", "sign-up", "verify", "reset", "welcome", "account", "contacts", "share", "invite"}
)


@router.get("/", include_in_schema=False)
async def index(request: Request) -> Response:
    if request.app.state.pairview.accounts is not None:
        return RedirectResponse("/share", status_code=status.HTTP_303_SEE_OTHER)
    return FileResponse(WEB_DIR / "index.html")


@router.get("/{page}", include_in_schema=False)
async def account_page(page: str, request: Request) -> FileResponse:
    """Serve an account page; a server without accounts has none."""
    if page not in ACCOUNT_PAGES or request.app.state.pairview.accounts is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such page.")
    return FileResponse(WEB_DIR / "account" / f"{page}.html")


@router.get("/r/{room_id}", include_in_schema=False)
async def room_page(room_id: str) -> FileResponse:
    if not ROOM_ID.match(room_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "No such room page.")
    return FileResponse(WEB_DIR / "room.html")


class SecurityHeaders:
    """ASGI middleware adding CSP and related headers to every HTTP response."""

    def __init__(self, app: ASGIApp, hsts: bool) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
            (
                b"permissions-policy",
                b"camera=(), geolocation=(), microphone=(self), display-capture=(self)",
            ),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        if hsts:
            self.headers.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + self.headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
