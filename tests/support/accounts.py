"""Steps that tests of accounts repeat: signing up through the mail link, signing in."""

from __future__ import annotations

import httpx

from tests.support.mailbox import Mailbox


async def csrf_headers(client: httpx.AsyncClient) -> dict[str, str]:
    """Return the CSRF header a signed-in browser sends with each change."""
    response = await client.get("/api/auth/session")
    assert response.status_code == 200, response.text
    token = response.json()["csrf_token"]
    assert token
    return {"X-CSRF-Token": token}


async def sign_up(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    email: str,
    password: str,
    name: str = "Test User",
) -> None:
    """Sign up and open the confirmation link, which signs `client` in."""
    count = len(mailbox.to(email))
    response = await client.post(
        "/api/auth/sign-up", json={"email": email, "password": password, "display_name": name}
    )
    assert response.status_code == 202, response.text
    mail = await mailbox.wait_for(email, count + 1)
    response = await client.post("/api/auth/verify", json={"token": mail.secret("/verify")})
    assert response.status_code == 200, response.text
    assert response.json() == {"result": "signed-up"}


async def sign_in(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    return await client.post("/api/auth/sign-in", json={"email": email, "password": password})


async def app_token(client: httpx.AsyncClient, email: str, password: str) -> str:
    """Sign in as the host app does and return its Bearer token."""
    response = await client.post(
        "/api/auth/app/sign-in", json={"email": email, "password": password}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["token"]
    return token
