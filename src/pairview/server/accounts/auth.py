"""Cookies, the signed-in caller, and CSRF checks for the account routes.

Browsers carry the session in a cookie that is HttpOnly, SameSite=Lax and,
on HTTPS, Secure with the `__Host-` prefix (so no other host or path can
set it). A request that changes something with that cookie must also send
the session's CSRF token in `X-CSRF-Token` and come from an allowed Origin.
Host apps send their session token as a Bearer token instead, which a
browser never adds on its own, so those requests need no CSRF token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Response, status
from starlette.websockets import WebSocket

from pairview.server.accounts.context import Accounts, get_accounts
from pairview.server.accounts.sessions import Principal
from pairview.server.audit.log import AuditAction
from pairview.server.ws import origin_allowed
from pairview.settings import ServerSettings

SESSION_COOKIE = "pv_session"
DEVICE_COOKIE = "pv_device"
FLOW_COOKIE = "pv_flow"
PENDING_COOKIE = "pv_pending"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def bearer_token(authorization: str | None) -> str | None:
    if authorization is None:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def secure(request: Request, accounts: Accounts) -> bool:
    """Return whether cookies get the Secure flag: on HTTPS, or behind an HTTPS public URL."""
    public_url = accounts.settings.public_url or ""
    return request.url.scheme == "https" or public_url.startswith("https://")


def cookie_name(request: Request, accounts: Accounts, base: str) -> str:
    return f"__Host-{base}" if secure(request, accounts) else base


def read_cookie(request: Request, accounts: Accounts, base: str) -> str | None:
    return request.cookies.get(cookie_name(request, accounts, base))


def set_cookie(
    response: Response,
    request: Request,
    accounts: Accounts,
    base: str,
    value: str,
    max_age: int,
) -> None:
    response.set_cookie(
        cookie_name(request, accounts, base),
        value,
        max_age=max_age,
        path="/",
        secure=secure(request, accounts),
        httponly=True,
        samesite="lax",
    )


def clear_cookie(response: Response, request: Request, accounts: Accounts, base: str) -> None:
    response.delete_cookie(
        cookie_name(request, accounts, base),
        path="/",
        secure=secure(request, accounts),
        httponly=True,
        samesite="lax",
    )


def check_origin(request: Request, accounts: Accounts) -> None:
    """Reject a state-changing request that a page of another origin sent."""
    origin = request.headers.get("origin")
    if origin is not None and not origin_allowed(
        origin, request.headers.get("host"), accounts.settings
    ):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Requests from this origin are not allowed.")


AccountsDep = Annotated[Accounts, Depends(get_accounts)]


def same_origin(request: Request, accounts: AccountsDep) -> Accounts:
    """The account layer, for a request that must not come from a page of another origin."""
    if request.method not in SAFE_METHODS:
        check_origin(request, accounts)
    return accounts


@dataclass(frozen=True, slots=True)
class Caller:
    principal: Principal
    via_cookie: bool


async def optional_caller(request: Request, accounts: AccountsDep) -> Caller | None:
    """Return the signed-in caller, or None; a cookie request that changes state needs CSRF."""
    token = bearer_token(request.headers.get("authorization"))
    if token is not None:
        principal = await accounts.store.resolve(token)
        if principal is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "This sign-in has ended; sign in again.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return Caller(principal, via_cookie=False)

    cookie = read_cookie(request, accounts, SESSION_COOKIE)
    if cookie is None:
        return None
    principal = await accounts.store.resolve(cookie)
    if principal is None:
        return None
    if request.method not in SAFE_METHODS:
        check_origin(request, accounts)
        if not accounts.store.csrf_valid(principal.session_id, request.headers.get(CSRF_HEADER)):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, "Missing or wrong CSRF token; reload the page."
            )
    return Caller(principal, via_cookie=True)


async def current_caller(caller: Annotated[Caller | None, Depends(optional_caller)]) -> Caller:
    if caller is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Sign in first.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return caller


async def current_principal(caller: Annotated[Caller, Depends(current_caller)]) -> Principal:
    return caller.principal


async def audit_admin_request(request: Request, principal: Principal, accounts: Accounts) -> None:
    """Log a signed-in user's request to an admin route, then reject it unless they are an admin.

    The entry is written before the route runs: if it cannot be written,
    the request fails and nothing an administrator asked for happens unlogged.
    """
    allowed = principal.role == "admin"
    target = f"{request.method} {request.url.path}"
    if request.url.query:
        target += f"?{request.url.query}"
    action = AuditAction.REQUEST if allowed else AuditAction.DENIED
    await accounts.audit.record(action, target, principal.user_id, client_address(request))
    if not allowed:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Only administrators may do this.")


async def admin_principal(
    request: Request,
    principal: Annotated[Principal, Depends(current_principal)],
    accounts: AccountsDep,
) -> Principal:
    """Return the signed-in administrator, after logging the request.

    Every route that depends on this is an audited admin route.
    """
    await audit_admin_request(request, principal, accounts)
    return principal


async def admin_page_principal(
    request: Request,
    caller: Annotated[Caller | None, Depends(optional_caller)],
    accounts: AccountsDep,
) -> Principal:
    """Return the administrator viewing an admin page; send a visitor not signed in to sign in."""
    if caller is None:
        raise HTTPException(status.HTTP_303_SEE_OTHER, "Sign in first.", {"Location": "/sign-in"})
    await audit_admin_request(request, caller.principal, accounts)
    return caller.principal


OptionalCallerDep = Annotated[Caller | None, Depends(optional_caller)]
CallerDep = Annotated[Caller, Depends(current_caller)]
PrincipalDep = Annotated[Principal, Depends(current_principal)]
AdminDep = Annotated[Principal, Depends(admin_principal)]
AdminPageDep = Annotated[Principal, Depends(admin_page_principal)]
SameOriginDep = Annotated[Accounts, Depends(same_origin)]


def websocket_session_token(websocket: WebSocket, settings: ServerSettings) -> str | None:
    """Return the session token in a WebSocket handshake's cookie, if any."""
    secure = websocket.url.scheme == "wss" or (settings.public_url or "").startswith("https://")
    name = f"__Host-{SESSION_COOKIE}" if secure else SESSION_COOKIE
    return websocket.cookies.get(name)


def client_address(request: Request) -> str:
    # NOTE: behind a reverse proxy every client shares the proxy's address;
    # forwarded headers are not trusted, because any client can set them.
    return request.client.host if request.client else "unknown"
