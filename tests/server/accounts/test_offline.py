"""With no provider configured, sign-in options that need a third party are hidden."""

from __future__ import annotations

import httpx
import pytest

from pairview.errors import ConfigError
from pairview.settings import ServerSettings, load_settings


async def test_no_providers_without_settings(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/auth/providers")

    assert response.status_code == 200
    assert response.json() == []


@pytest.mark.parametrize("key", ["github", "slack", "sso"])
async def test_provider_routes_absent_without_settings(client: httpx.AsyncClient, key: str) -> None:
    start = await client.get(f"/api/auth/{key}/start")
    callback = await client.get(f"/api/auth/{key}/callback?code=x&state=y")

    assert start.status_code == 404
    assert callback.status_code == 404


@pytest.mark.parametrize(
    "url", ["http://sso.example.org", "ftp://sso.example.org", "https://", "not a url"]
)
def test_provider_url_must_be_https(url: str) -> None:
    with pytest.raises(ConfigError, match="oidc_issuer"):
        load_settings(ServerSettings, None, oidc_issuer=url)


@pytest.mark.parametrize("url", ["https://sso.example.org/realms/x", "http://127.0.0.1:8080"])
def test_provider_url_accepts_https_and_loopback(url: str) -> None:
    assert load_settings(ServerSettings, None, oidc_issuer=url).oidc_issuer == url
