"""Sign-up through a mailed link, and what it stores."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.server.accounts.conftest import PASSWORD
from tests.support.accounts import sign_in, sign_up
from tests.support.mailbox import Mailbox


async def test_signup_link_creates_account_and_signs_in(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    response = await client.post(
        "/api/auth/sign-up",
        json={"email": "Ada@Example.org", "password": PASSWORD, "display_name": " Ada "},
    )
    assert response.status_code == 202
    mail = await mailbox.wait_for("ada@example.org")
    assert mail.subject == "Confirm your Pairview account"

    before = await client.get("/api/account")
    assert before.status_code == 401

    response = await client.post("/api/auth/verify", json={"token": mail.secret("/verify")})
    assert response.status_code == 200
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Host-pv_session=")
    assert "HttpOnly" in cookie
    assert "Secure" in cookie
    assert "SameSite=lax" in cookie
    assert "Path=/" in cookie

    account = (await client.get("/api/account")).json()
    assert account["email"] == "ada@example.org"
    assert account["display_name"] == "Ada"
    assert account["has_password"] is True


async def test_signup_link_works_once(
    client_factory: Callable[..., httpx.AsyncClient], mailbox: Mailbox
) -> None:
    first, second = client_factory(), client_factory()
    await first.post(
        "/api/auth/sign-up",
        json={"email": "once@example.org", "password": PASSWORD, "display_name": "Once"},
    )
    token = (await mailbox.wait_for("once@example.org")).secret("/verify")
    assert (await first.post("/api/auth/verify", json={"token": token})).status_code == 200

    again = await second.post("/api/auth/verify", json={"token": token})

    assert again.status_code == 404
    assert "not valid" in again.json()["detail"]
    assert (await second.get("/api/account")).status_code == 401


async def test_no_account_before_link_is_opened(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    await client.post(
        "/api/auth/sign-up",
        json={"email": "pending@example.org", "password": PASSWORD, "display_name": "P"},
    )
    await mailbox.wait_for("pending@example.org")

    response = await sign_in(client, "pending@example.org", PASSWORD)

    assert response.status_code == 401


async def test_second_signup_for_pending_address_keeps_first_out(
    client_factory: Callable[..., httpx.AsyncClient], mailbox: Mailbox
) -> None:
    """Someone who signs up with another's address first cannot take the account over."""
    squatter, owner = client_factory(), client_factory()
    await squatter.post(
        "/api/auth/sign-up",
        json={"email": "victim@example.org", "password": "squatter-password", "display_name": "S"},
    )
    # The squatter's mail must be in before the owner signs up, or the owner
    # would open the squatter's link as the first mail that arrives.
    await mailbox.wait_for("victim@example.org", 1)
    await sign_up(owner, mailbox, "victim@example.org", PASSWORD, "Victim")

    squatter_sign_in = await sign_in(squatter, "victim@example.org", "squatter-password")
    first_link = (mailbox.to("victim@example.org")[0]).secret("/verify")
    squatter_link = await squatter.post("/api/auth/verify", json={"token": first_link})

    assert squatter_sign_in.status_code == 401
    assert squatter_link.status_code == 404
    assert (await sign_in(owner, "victim@example.org", PASSWORD)).status_code == 200


async def test_signup_answers_alike_for_known_address(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    await sign_up(client, mailbox, "known@example.org", PASSWORD)
    body = {"password": "another password", "display_name": "Someone"}

    known = await client.post("/api/auth/sign-up", json={**body, "email": "known@example.org"})
    unknown = await client.post("/api/auth/sign-up", json={**body, "email": "new@example.org"})

    assert known.status_code == unknown.status_code == 202
    assert known.content == unknown.content
    reminder = await mailbox.wait_for("known@example.org", 2)
    assert reminder.subject == "Your Pairview account"
    assert "/reset" in reminder.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-address", "password": PASSWORD, "display_name": "X"}, "email"),
        ({"email": "a@example.org", "password": "short", "display_name": "X"}, "password"),
        ({"email": "a@example.org", "password": PASSWORD, "display_name": "   "}, "display_name"),
        (
            {"email": "a@example.org", "password": PASSWORD, "display_name": "x" * 65},
            "display_name",
        ),
        (
            {"email": "a@example.org", "password": PASSWORD, "display_name": "tab\there"},
            "display_name",
        ),
        ({"email": "a@example.org", "password": "p" * 257, "display_name": "X"}, "password"),
    ],
)
async def test_signup_rejects_bad_input(
    client: httpx.AsyncClient, mailbox: Mailbox, body: dict[str, str], field: str
) -> None:
    response = await client.post("/api/auth/sign-up", json=body)

    assert response.status_code == 422
    assert response.json()["field"] == field
    assert mailbox.messages == []


@pytest.mark.parametrize(
    "body",
    [
        {"email": "a@example.org", "password": PASSWORD},
        {"email": "a" * 600 + "@example.org", "password": PASSWORD, "display_name": "X"},
        {"email": "a@example.org", "password": "p" * 5000, "display_name": "X"},
        {"email": "a@example.org", "password": PASSWORD, "display_name": "X", "role": "admin"},
    ],
)
async def test_signup_rejects_malformed_body(
    client: httpx.AsyncClient, mailbox: Mailbox, body: dict[str, str]
) -> None:
    response = await client.post("/api/auth/sign-up", json=body)

    assert response.status_code == 422
    assert mailbox.messages == []


async def test_signup_from_foreign_origin_rejected(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    response = await client.post(
        "/api/auth/sign-up",
        json={"email": "x@example.org", "password": PASSWORD, "display_name": "X"},
        headers={"Origin": "https://evil.example"},
    )

    assert response.status_code == 403
    assert mailbox.messages == []


async def test_account_row_holds_only_needed_data(
    client: httpx.AsyncClient, mailbox: Mailbox, database_url: str
) -> None:
    await sign_up(client, mailbox, "min@example.org", PASSWORD, "Minimal")

    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            users = (await connection.execute(text("SELECT * FROM users"))).mappings().all()
            tokens = (await connection.execute(text("SELECT * FROM mail_tokens"))).all()
            sessions = (await connection.execute(text("SELECT id FROM sessions"))).all()
    finally:
        await engine.dispose()

    assert len(users) == 1
    assert set(users[0].keys()) == {
        "id",
        "email",
        "display_name",
        "password_hash",
        "role",
        "created_at",
    }
    assert users[0]["password_hash"].startswith("$argon2id$")
    assert PASSWORD not in str(dict(users[0]))
    assert tokens == []
    cookie = client.cookies.get("__Host-pv_session")
    assert cookie is not None
    assert [row[0] for row in sessions] != [cookie]
    assert len(sessions[0][0]) == 64
