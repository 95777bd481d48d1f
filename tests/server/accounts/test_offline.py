"""With no provider configured, sign-in options that need a third party are hidden."""

from __future__ import annotations

import httpx
import pytest


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
