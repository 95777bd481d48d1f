"""The interface of external sign-in providers, and the account a completed sign-in yields."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import httpx

from pairview.errors import PairviewError

HTTP_TIMEOUT = 10.0


class ProviderError(PairviewError):
    """The provider rejected the sign-in or its response failed a check."""


@dataclass(frozen=True, slots=True)
class ExternalAccount:
    """The account that signed in at the provider.

    Only `provider`, `subject` and (for GitHub and Slack) `access_token` are
    ever stored; `suggested_name` only prefills the form where the user
    picks a display name.
    """

    provider: str
    subject: str
    access_token: str | None
    suggested_name: str | None


@dataclass(frozen=True, slots=True)
class Flow:
    """The secrets of one sign-in attempt, kept in a sealed cookie until the callback."""

    state: str
    code_verifier: str
    nonce: str


class Provider(Protocol):
    key: str
    label: str

    async def authorization_url(self, redirect_uri: str, flow: Flow) -> str: ...

    async def complete(self, code: str, redirect_uri: str, flow: Flow) -> ExternalAccount: ...


def http_client() -> httpx.AsyncClient:
    # Redirects are not followed, so a token request never goes on to another host.
    return httpx.AsyncClient(timeout=HTTP_TIMEOUT, follow_redirects=False)


def json_object(response: httpx.Response, what: str) -> dict[str, object]:
    """Return the response's JSON object, or raise ProviderError naming `what` failed."""
    if response.status_code != 200:
        raise ProviderError(f"{what} failed with HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise ProviderError(f"{what} returned no JSON") from None
    if not isinstance(body, dict):
        raise ProviderError(f"{what} returned no JSON object")
    return body
