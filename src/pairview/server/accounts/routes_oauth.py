"""Sign-in through GitHub, Slack or an OpenID Connect provider.

`start` keeps the attempt's state, PKCE verifier and nonce in a sealed,
short-lived cookie and sends the browser to the provider. `callback`
accepts the code only with the matching state from that same browser, and
only once: the cookie is cleared whatever happens. A provider identity
seen for the first time leads to a page where the user picks a display
name; it never signs in to an account that has the same email address.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from datetime import UTC, datetime

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError

from pairview.server.accounts.auth import (
    FLOW_COOKIE,
    PENDING_COOKIE,
    SESSION_COOKIE,
    AccountsDep,
    SameOriginDep,
    clear_cookie,
    client_address,
    read_cookie,
    set_cookie,
)
from pairview.server.accounts.context import Accounts
from pairview.server.accounts.crypto import new_id, token_hash
from pairview.server.accounts.models import NAME_LENGTH, Identity, User
from pairview.server.accounts.providers import ExternalAccount, Flow, Provider, ProviderError
from pairview.server.accounts.routes_auth import links_for, start_web_session
from pairview.server.accounts.service import Role, SignedIn
from pairview.server.accounts.sessions import SessionKind
from pairview.server.accounts.validation import clean_display_name
from pairview.server.usage.events import UsageKind, record_usage

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/auth")

FLOW_MAX_AGE = 600
PENDING_MAX_AGE = 900


def _provider(accounts: Accounts, key: str) -> Provider:
    provider = accounts.providers.get(key)
    if provider is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"No sign-in option {key[:20]!r} here.")
    return provider


def _redirect_uri(request: Request, key: str) -> str:
    return f"{links_for(request).base_url}/api/auth/{key}/callback"


def _failed(request: Request, accounts: Accounts, key: str) -> RedirectResponse:
    response = RedirectResponse(f"/sign-in?error={key}", status_code=status.HTTP_303_SEE_OTHER)
    clear_cookie(response, request, accounts, FLOW_COOKIE)
    return response


@router.get("/{key}/start")
async def start(key: str, request: Request, accounts: AccountsDep) -> RedirectResponse:
    provider = _provider(accounts, key)
    flow = Flow(
        state=secrets.token_urlsafe(32),
        code_verifier=secrets.token_urlsafe(48),
        nonce=secrets.token_urlsafe(32),
    )
    try:
        url = await provider.authorization_url(_redirect_uri(request, key), flow)
    except (ProviderError, OSError) as error:
        logger.warning("%s sign-in could not start: %s", key, error)
        return _failed(request, accounts, key)
    response = RedirectResponse(url, status_code=status.HTTP_303_SEE_OTHER)
    sealed = accounts.sealer.seal(
        "flow", {"p": key, "s": flow.state, "v": flow.code_verifier, "n": flow.nonce}
    )
    set_cookie(response, request, accounts, FLOW_COOKIE, sealed, FLOW_MAX_AGE)
    return response


@router.get("/{key}/callback")
async def callback(
    key: str,
    request: Request,
    accounts: AccountsDep,
    code: str | None = None,
    state: str | None = None,
) -> RedirectResponse:
    provider = _provider(accounts, key)
    sealed = read_cookie(request, accounts, FLOW_COOKIE)
    saved = accounts.sealer.open("flow", sealed, max_age=FLOW_MAX_AGE) if sealed else None
    if (
        saved is None
        or saved.get("p") != key
        or not code
        or not state
        or len(code) > 2048
        or not hmac.compare_digest(str(saved.get("s")), state)
    ):
        logger.warning("%s sign-in rejected: missing or wrong state", key)
        return _failed(request, accounts, key)

    flow = Flow(str(saved["s"]), str(saved["v"]), str(saved["n"]))
    try:
        external = await provider.complete(code, _redirect_uri(request, key), flow)
    except (ProviderError, OSError) as error:
        logger.warning("%s sign-in rejected: %s", key, error)
        return _failed(request, accounts, key)

    user_id = await _update_identity(accounts, external)
    if user_id is None:
        response = RedirectResponse("/welcome", status_code=status.HTTP_303_SEE_OTHER)
        pending = {
            "p": external.provider,
            "s": external.subject,
            "t": external.access_token,
            "n": (external.suggested_name or "")[:NAME_LENGTH],
        }
        set_cookie(
            response,
            request,
            accounts,
            PENDING_COOKIE,
            accounts.sealer.seal("pending", pending),
            PENDING_MAX_AGE,
        )
    else:
        previous = read_cookie(request, accounts, SESSION_COOKIE)
        signed_in = await accounts.service.sign_in_user(
            user_id,
            SessionKind.WEB,
            token_hash(previous) if previous else None,
            method=key,
            address=client_address(request),
        )
        response = RedirectResponse("/share", status_code=status.HTTP_303_SEE_OTHER)
        start_web_session(response, request, accounts, signed_in)
    clear_cookie(response, request, accounts, FLOW_COOKIE)
    return response


async def _update_identity(accounts: Accounts, external: ExternalAccount) -> str | None:
    """Return the account of a known identity, storing its new access token; None if unknown."""
    async with accounts.service.sessions.begin() as db:
        identity = await db.get(Identity, (external.provider, external.subject))
        if identity is None:
            return None
        identity.sealed_access_token = _seal_token(accounts, external.access_token)
        user_id: str = identity.user_id
        return user_id


def _seal_token(accounts: Accounts, access_token: str | None) -> str | None:
    if access_token is None:
        return None
    return accounts.sealer.seal("access token", {"t": access_token})


class WelcomeView(BaseModel):
    provider: str
    suggested_name: str


class WelcomeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: str = Field(max_length=NAME_LENGTH * 4)


def _pending(request: Request, accounts: Accounts) -> dict[str, object]:
    sealed = read_cookie(request, accounts, PENDING_COOKIE)
    value = accounts.sealer.open("pending", sealed, max_age=PENDING_MAX_AGE) if sealed else None
    if value is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            "No sign-in to finish here; start again from the sign-in page.",
        )
    return value


@router.get("/welcome")
async def welcome(request: Request, accounts: AccountsDep) -> WelcomeView:
    pending = _pending(request, accounts)
    provider = str(pending["p"])
    label = "single sign-on" if provider.startswith("oidc:") else provider.capitalize()
    return WelcomeView(provider=label, suggested_name=str(pending.get("n") or ""))


@router.post("/welcome", status_code=status.HTTP_201_CREATED)
async def finish_welcome(
    body: WelcomeRequest, request: Request, response: Response, accounts: SameOriginDep
) -> dict[str, str]:
    """Make the account for a first sign-in through a provider, with the name the user picked."""
    pending = _pending(request, accounts)
    name = clean_display_name(body.display_name)
    provider, subject = str(pending["p"]), str(pending["s"])
    access_token = pending.get("t")
    now = datetime.now(UTC)
    try:
        async with accounts.service.sessions.begin() as db:
            user = User(
                id=new_id(), email=None, display_name=name, role=Role.USER.value, created_at=now
            )
            db.add(user)
            await db.flush()
            db.add(
                Identity(
                    provider=provider,
                    subject=subject,
                    user_id=user.id,
                    sealed_access_token=_seal_token(
                        accounts, access_token if isinstance(access_token, str) else None
                    ),
                    created_at=now,
                )
            )
            record_usage(db, UsageKind.SIGN_UP, user.id)
            session = await accounts.store.create(db, user.id, SessionKind.WEB, now)
    except IntegrityError:
        # The same identity finished in another tab first.
        raise HTTPException(
            status.HTTP_409_CONFLICT, "This sign-in already has an account; sign in again."
        ) from None
    start_web_session(response, request, accounts, SignedIn(session, user.id))
    clear_cookie(response, request, accounts, PENDING_COOKIE)
    logger.info("account %s created through %s", user.id[:6], provider.partition(":")[0])
    return {"result": "signed-up"}
