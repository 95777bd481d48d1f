"""Sign-in through GitHub, Slack and OpenID Connect, against a local provider server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.server.accounts.conftest import PASSWORD
from tests.support.accounts import sign_up
from tests.support.mailbox import Mailbox
from tests.support.providers import CLIENT_ID, ProviderServer


@pytest.fixture
def settings_overrides(providers: ProviderServer) -> dict[str, Any]:
    return providers.settings()


async def authorize(client: httpx.AsyncClient, key: str) -> str:
    """Start a sign-in and let the provider approve it; return the callback path and query."""
    start = await client.get(f"/api/auth/{key}/start")
    assert start.status_code == 303, start.text
    async with httpx.AsyncClient() as browser:
        approval = await browser.get(start.headers["location"])
    assert approval.status_code == 302, approval.text
    callback = urlsplit(approval.headers["location"])
    return f"{callback.path}?{callback.query}"


async def sign_in_with(client: httpx.AsyncClient, key: str) -> httpx.Response:
    return await client.get(await authorize(client, key))


def rejected(response: httpx.Response, key: str) -> bool:
    return (
        response.status_code == 303
        and response.headers["location"] == f"/sign-in?error={key}"
        and "pv_session" not in response.headers.get("set-cookie", "")
        and "pv_pending" not in response.headers.get("set-cookie", "")
    )


async def finish_welcome(client: httpx.AsyncClient, name: str) -> None:
    response = await client.post("/api/auth/welcome", json={"display_name": name})
    assert response.status_code == 201, response.text


async def table_rows(database_url: str, table: str) -> list[dict[str, Any]]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(text(f"SELECT * FROM {table}"))  # noqa: S608
            return [dict(row) for row in result.mappings()]
    finally:
        await engine.dispose()


async def test_providers_listed_when_configured(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/auth/providers")

    assert [p["id"] for p in response.json()] == ["github", "slack", "sso"]


async def test_authorization_request_uses_state_and_pkce(
    client: httpx.AsyncClient, providers: ProviderServer
) -> None:
    start = await client.get("/api/auth/github/start")
    query = parse_qs(urlsplit(start.headers["location"]).query)

    assert query["client_id"] == [CLIENT_ID]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert len(query["state"][0]) >= 43
    cookie = start.headers["set-cookie"]
    assert cookie.startswith("__Host-pv_flow=")
    assert "HttpOnly" in cookie
    assert query["state"][0] not in cookie


async def test_github_first_signin_asks_name_then_signs_in(
    client_factory: Callable[..., httpx.AsyncClient],
    providers: ProviderServer,
    database_url: str,
) -> None:
    client = client_factory()
    response = await sign_in_with(client, "github")
    assert response.status_code == 303
    assert response.headers["location"] == "/welcome"
    welcome = (await client.get("/api/auth/welcome")).json()
    assert welcome == {"provider": "Github", "suggested_name": "Octo Cat"}

    await finish_welcome(client, "Octo")

    account = (await client.get("/api/account")).json()
    assert account["display_name"] == "Octo"
    assert account["email"] is None
    identities = await table_rows(database_url, "identities")
    assert [(i["provider"], i["subject"]) for i in identities] == [("github", "4242")]
    sealed = identities[0]["sealed_access_token"]
    assert sealed
    assert not any(token in sealed for token in providers.state.tokens)

    again = client_factory()
    second = await sign_in_with(again, "github")
    assert second.headers["location"] == "/share"
    assert (await again.get("/api/account")).json()["id"] == account["id"]


async def test_github_same_email_does_not_sign_into_password_account(
    client_factory: Callable[..., httpx.AsyncClient], mailbox: Mailbox
) -> None:
    owner = client_factory()
    await sign_up(owner, mailbox, "same@example.org", PASSWORD, "Password Owner")
    owner_id = (await owner.get("/api/account")).json()["id"]
    stranger = client_factory()

    response = await sign_in_with(stranger, "github")

    assert response.headers["location"] == "/welcome"
    assert (await stranger.get("/api/account")).status_code == 401
    await finish_welcome(stranger, "GitHub Person")
    assert (await stranger.get("/api/account")).json()["id"] != owner_id


@pytest.mark.parametrize("key", ["github", "slack", "sso"])
async def test_callback_without_state_rejected(client: httpx.AsyncClient, key: str) -> None:
    callback = await authorize(client, key)
    code = parse_qs(urlsplit(callback).query)["code"][0]

    response = await client.get(f"/api/auth/{key}/callback?code={code}")

    assert rejected(response, key)


@pytest.mark.parametrize("key", ["github", "slack", "sso"])
async def test_callback_with_wrong_state_rejected(client: httpx.AsyncClient, key: str) -> None:
    callback = await authorize(client, key)
    code = parse_qs(urlsplit(callback).query)["code"][0]

    response = await client.get(f"/api/auth/{key}/callback?code={code}&state=guessed")

    assert rejected(response, key)


async def test_callback_in_other_browser_rejected(
    client_factory: Callable[..., httpx.AsyncClient],
) -> None:
    """An attacker's own callback link, opened in a victim's browser, signs no one in."""
    attacker, victim = client_factory(), client_factory()
    callback = await authorize(attacker, "github")

    response = await victim.get(callback)

    assert rejected(response, "github")


@pytest.mark.parametrize("key", ["github", "slack", "sso"])
async def test_reused_code_rejected(client: httpx.AsyncClient, key: str) -> None:
    callback = await authorize(client, key)
    first = await client.get(callback)
    assert first.status_code == 303
    assert first.headers["location"] == "/welcome"
    replay = await client.get(callback)

    # With a fresh attempt's state, the provider still refuses the used code.
    fresh = await authorize(client, key)
    state = parse_qs(urlsplit(fresh).query)["state"][0]
    code = parse_qs(urlsplit(callback).query)["code"][0]
    reused = await client.get(f"/api/auth/{key}/callback?code={code}&state={state}")

    assert rejected(replay, key)
    assert rejected(reused, key)


@pytest.mark.parametrize("key", ["github", "slack", "sso"])
async def test_code_for_other_verifier_rejected(
    client_factory: Callable[..., httpx.AsyncClient], key: str
) -> None:
    """A code obtained in another attempt fails PKCE even with this attempt's state."""
    victim, attacker = client_factory(), client_factory()
    victim_start = await victim.get(f"/api/auth/{key}/start")
    state = parse_qs(urlsplit(victim_start.headers["location"]).query)["state"][0]
    stolen = parse_qs(urlsplit(await authorize(attacker, key)).query)["code"][0]

    response = await victim.get(f"/api/auth/{key}/callback?code={stolen}&state={state}")

    assert rejected(response, key)


async def test_slack_signin_keys_identity_by_team_and_user(
    client: httpx.AsyncClient, database_url: str
) -> None:
    response = await sign_in_with(client, "slack")
    assert response.headers["location"] == "/welcome"
    assert (await client.get("/api/auth/welcome")).json()["suggested_name"] == "Slack Sam"

    await finish_welcome(client, "Sam")

    identities = await table_rows(database_url, "identities")
    assert [(i["provider"], i["subject"]) for i in identities] == [("slack", "T0007/U0042")]


async def test_sso_stores_nothing_but_subject(
    client: httpx.AsyncClient, providers: ProviderServer, database_url: str
) -> None:
    response = await sign_in_with(client, "sso")
    assert response.headers["location"] == "/welcome"
    assert (await client.get("/api/auth/welcome")).json()["suggested_name"] == ""

    await finish_welcome(client, "Chosen Name")

    identities = await table_rows(database_url, "identities")
    assert [(i["provider"], i["subject"]) for i in identities] == [
        (f"oidc:{providers.issuer}", "oidc-subject-1")
    ]
    assert identities[0]["sealed_access_token"] is None
    users = await table_rows(database_url, "users")
    assert users[0]["email"] is None
    assert users[0]["password_hash"] is None
    everything = str(
        [await table_rows(database_url, t) for t in ("users", "identities", "sessions")]
    )
    assert "sso.user@example.org" not in everything
    assert "Sso User" not in everything


@pytest.mark.parametrize(
    "mode",
    [
        "wrong-nonce",
        "missing-nonce",
        "wrong-audience",
        "other-client",
        "expired",
        "wrong-issuer",
        "alg-none",
        "hs256",
        "bad-signature",
    ],
)
async def test_sso_rejects_bad_id_token(
    client: httpx.AsyncClient, providers: ProviderServer, database_url: str, mode: str
) -> None:
    providers.state.id_token_mode = mode

    response = await sign_in_with(client, "sso")

    assert rejected(response, "sso")
    assert (await client.get("/api/auth/welcome")).status_code == 404
    assert await table_rows(database_url, "identities") == []
    assert await table_rows(database_url, "users") == []


async def test_unknown_provider_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/auth/facebook/start")

    assert response.status_code == 404


async def test_welcome_without_pending_signin_rejected(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/welcome", json={"display_name": "Nobody"})

    assert response.status_code == 404
