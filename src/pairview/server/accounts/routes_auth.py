"""REST endpoints for signing up, signing in and out, and password resets."""

from __future__ import annotations

import time

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from pairview.server.accounts.auth import (
    DEVICE_COOKIE,
    SESSION_COOKIE,
    AccountsDep,
    CallerDep,
    OptionalCallerDep,
    SameOriginDep,
    client_address,
    read_cookie,
    set_cookie,
)
from pairview.server.accounts.context import Accounts
from pairview.server.accounts.crypto import token_hash
from pairview.server.accounts.errors import InvalidLink, Throttled
from pairview.server.accounts.models import EMAIL_LENGTH, NAME_LENGTH
from pairview.server.accounts.service import Links, SignedIn
from pairview.server.accounts.sessions import CODE_TTL, Principal, SessionKind
from pairview.server.accounts.throttle import Attempt
from pairview.server.accounts.validation import PASSWORD_MAX_LENGTH, normalize_email
from pairview.server.state import ServerState, get_state

router = APIRouter(prefix="/api/auth")

DEVICE_MAX_AGE = 365 * 86400
# Room to say the password is too long, without accepting megabytes of it.
PASSWORD_FIELD = Field(max_length=PASSWORD_MAX_LENGTH * 4)
CHECK_MAIL = {"detail": "Check your mail: we sent a message to that address if it can be used."}


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SignUpRequest(_Body):
    email: str = Field(max_length=EMAIL_LENGTH * 2)
    password: str = PASSWORD_FIELD
    display_name: str = Field(max_length=NAME_LENGTH * 4)


class SignInRequest(_Body):
    email: str = Field(max_length=EMAIL_LENGTH * 2)
    password: str = PASSWORD_FIELD
    device_token: str | None = Field(default=None, max_length=512)


class TokenRequest(_Body):
    token: str = Field(min_length=1, max_length=128)


class ResetRequest(_Body):
    email: str = Field(max_length=EMAIL_LENGTH * 2)


class ResetCompleteRequest(_Body):
    token: str = Field(min_length=1, max_length=128)
    password: str = PASSWORD_FIELD


class CodeRequest(_Body):
    code: str = Field(min_length=1, max_length=32)


class UserView(BaseModel):
    id: str
    email: str | None
    display_name: str
    role: str
    has_password: bool


class SessionView(BaseModel):
    user: UserView
    csrf_token: str | None


class AppSession(BaseModel):
    token: str
    device_token: str | None
    user: UserView


def user_view(principal: Principal) -> UserView:
    return UserView(
        id=principal.user_id,
        email=principal.email,
        display_name=principal.display_name,
        role=principal.role,
        has_password=principal.has_password,
    )


def links_for(request: Request) -> Links:
    state: ServerState = get_state(request)
    return Links(state.public_base_url(request))


def start_web_session(
    response: Response, request: Request, accounts: Accounts, signed_in: SignedIn
) -> None:
    session = signed_in.session
    max_age = int(session.expires_at.timestamp() - time.time())
    set_cookie(response, request, accounts, SESSION_COOKIE, session.token, max_age)


def device_token(accounts: Accounts, account: str) -> str:
    """Make a token that marks this browser or app as having signed in to `account`."""
    return accounts.sealer.seal("device", {"a": token_hash(account)})


def trusted_device(accounts: Accounts, token: str | None, account: str) -> str | None:
    """Return the device's throttle key if `token` was issued for `account`, else None."""
    if token is None:
        return None
    value = accounts.sealer.open("device", token, max_age=DEVICE_MAX_AGE)
    if value is None or value.get("a") != token_hash(account):
        return None
    return token_hash(token)


@router.get("/providers")
async def providers(accounts: AccountsDep) -> list[dict[str, str]]:
    """List the external sign-in options this server offers; none unless configured."""
    return [{"id": key, "label": p.label} for key, p in accounts.providers.items()]


@router.post("/sign-up", status_code=status.HTTP_202_ACCEPTED)
async def sign_up(body: SignUpRequest, request: Request, accounts: SameOriginDep) -> dict[str, str]:
    await accounts.service.sign_up(body.email, body.password, body.display_name, links_for(request))
    return CHECK_MAIL


@router.post("/verify")
async def verify(
    body: TokenRequest, request: Request, response: Response, accounts: SameOriginDep
) -> dict[str, str]:
    """Open a mail link: confirm a sign-up (and sign in), or confirm a new address."""
    try:
        signed_in = await accounts.service.confirm_sign_up(body.token)
    except InvalidLink:
        await accounts.service.confirm_email_change(body.token)
        return {"result": "email-changed"}
    start_web_session(response, request, accounts, signed_in)
    return {"result": "signed-up"}


async def _sign_in(
    body: SignInRequest, request: Request, accounts: Accounts, kind: SessionKind, device: str | None
) -> tuple[SignedIn, str]:
    account = normalize_email(body.email)
    attempt = Attempt(account, client_address(request), trusted_device(accounts, device, account))
    previous = read_cookie(request, accounts, SESSION_COOKIE) if kind is SessionKind.WEB else None
    signed_in = await accounts.service.sign_in(
        account,
        body.password,
        attempt,
        kind,
        previous_session_id=token_hash(previous) if previous else None,
    )
    return signed_in, account


@router.post("/sign-in")
async def sign_in(
    body: SignInRequest, request: Request, response: Response, accounts: SameOriginDep
) -> dict[str, str]:
    """Sign a browser in; a new session token replaces any it had."""
    device = read_cookie(request, accounts, DEVICE_COOKIE)
    signed_in, account = await _sign_in(body, request, accounts, SessionKind.WEB, device)
    start_web_session(response, request, accounts, signed_in)
    set_cookie(
        response, request, accounts, DEVICE_COOKIE, device_token(accounts, account), DEVICE_MAX_AGE
    )
    return {"result": "signed-in"}


@router.post("/app/sign-in")
async def app_sign_in(body: SignInRequest, request: Request, accounts: SameOriginDep) -> AppSession:
    """Sign the host app in with email and password; it keeps the returned Bearer token."""
    signed_in, account = await _sign_in(body, request, accounts, SessionKind.APP, body.device_token)
    principal = await accounts.store.resolve(signed_in.session.token)
    assert principal is not None
    return AppSession(
        token=signed_in.session.token,
        device_token=device_token(accounts, account),
        user=user_view(principal),
    )


@router.post("/app/code", status_code=status.HTTP_201_CREATED)
async def create_app_code(caller: CallerDep, accounts: AccountsDep) -> dict[str, str | int]:
    """Show a one-time code that signs the host app in as the caller (for any sign-in kind)."""
    code = await accounts.store.create_login_code(caller.principal.user_id)
    return {"code": f"{code[:5]}-{code[5:]}", "expires_in": int(CODE_TTL.total_seconds())}


@router.post("/app/code/redeem")
async def redeem_app_code(
    body: CodeRequest, request: Request, accounts: SameOriginDep
) -> AppSession:
    address = client_address(request)
    now = time.monotonic()
    wait = accounts.code_failures.retry_after(address, now)
    if wait is not None:
        raise Throttled(wait)
    user_id = await accounts.store.redeem_login_code(body.code)
    if user_id is None:
        accounts.code_failures.add(address, now)
        raise InvalidLink("code")
    signed_in = await accounts.service.sign_in_user(
        user_id, SessionKind.APP, method="code", address=address
    )
    principal = await accounts.store.resolve(signed_in.session.token)
    assert principal is not None
    return AppSession(token=signed_in.session.token, device_token=None, user=user_view(principal))


@router.post("/sign-out", status_code=status.HTTP_204_NO_CONTENT)
async def sign_out(caller: CallerDep, accounts: AccountsDep) -> Response:
    """End every session of the caller's account: every browser, every host app."""
    await accounts.service.sign_out(caller.principal)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/session")
async def session(caller: OptionalCallerDep, accounts: AccountsDep) -> SessionView:
    """Return who is signed in, and for a browser the CSRF token its requests must send."""
    if caller is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Not signed in.")
    csrf = accounts.store.csrf_token(caller.principal.session_id) if caller.via_cookie else None
    return SessionView(user=user_view(caller.principal), csrf_token=csrf)


@router.post("/reset", status_code=status.HTTP_202_ACCEPTED)
async def request_reset(
    body: ResetRequest, request: Request, accounts: SameOriginDep
) -> dict[str, str]:
    await accounts.service.request_reset(body.email, links_for(request))
    return CHECK_MAIL


@router.post("/reset/complete")
async def complete_reset(body: ResetCompleteRequest, accounts: SameOriginDep) -> dict[str, str]:
    await accounts.service.complete_reset(body.token, body.password)
    return {"detail": "Your password is set. Sign in with it."}
