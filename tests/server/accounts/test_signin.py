"""Sign-in: password hashing, same answers for every address, throttling, rotation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import argon2
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from pairview.errors import ConfigError
from pairview.server.accounts.context import Accounts
from pairview.server.runner import RunningServer
from pairview.settings import ServerSettings, load_settings
from tests.server.accounts.conftest import PASSWORD
from tests.support.accounts import sign_in, sign_up
from tests.support.mailbox import Mailbox

EMAIL = "owner@example.org"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    # Low enough for one test to reach; the per-account limit stays at 5.
    return {"signin_failures_per_address": 8}


def accounts_of(server: RunningServer) -> Accounts:
    app: Any = server.server.config.app
    accounts = app.state.pairview.accounts
    assert isinstance(accounts, Accounts)
    return accounts


async def stored_hash(database_url: str, email: str) -> str:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(
                text("SELECT password_hash FROM users WHERE email = :email"), {"email": email}
            )
            value: str = result.scalar_one()
    finally:
        await engine.dispose()
    return value


async def set_hash(database_url: str, email: str, password_hash: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text("UPDATE users SET password_hash = :hash WHERE email = :email"),
                {"hash": password_hash, "email": email},
            )
    finally:
        await engine.dispose()


def client_at(client_factory: Callable[..., httpx.AsyncClient], address: str) -> httpx.AsyncClient:
    """A client whose connections come from another loopback address."""
    return client_factory(transport=httpx.AsyncHTTPTransport(local_address=address, verify=False))


async def test_signin_sets_new_session_each_time(
    client_factory: Callable[..., httpx.AsyncClient], mailbox: Mailbox
) -> None:
    client = client_factory()
    await sign_up(client, mailbox, EMAIL, PASSWORD)
    first = client.cookies["__Host-pv_session"]

    response = await sign_in(client, EMAIL, PASSWORD)

    assert response.status_code == 200
    second = client.cookies["__Host-pv_session"]
    assert second != first
    assert len(second) >= 43  # 256 bits in URL-safe base64
    stale = client_factory(cookies={"__Host-pv_session": first})
    assert (await stale.get("/api/account")).status_code == 401
    assert (await client.get("/api/account")).status_code == 200


async def test_signin_answers_alike_for_unknown_address(
    client: httpx.AsyncClient, mailbox: Mailbox, accounts_server: RunningServer
) -> None:
    await sign_up(client, mailbox, EMAIL, PASSWORD)
    hasher = accounts_of(accounts_server).service.hasher
    checked: list[str] = []
    original = hasher._verify

    def counting(stored: str, password: str) -> bool:
        checked.append(stored)
        return original(stored, password)

    hasher._verify = counting  # type: ignore[method-assign,assignment]

    known = await sign_in(client, EMAIL, "wrong password here")
    unknown = await sign_in(client, "nobody@example.org", "wrong password here")

    assert known.status_code == unknown.status_code == 401
    assert known.content == unknown.content
    assert known.json() == {"detail": "Wrong email or password."}
    # One Argon2 check each, with the same parameters, so both take about as long.
    assert len(checked) == 2
    assert argon2.extract_parameters(checked[0]) == argon2.extract_parameters(checked[1])


async def test_reset_answers_alike_for_unknown_address(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    await sign_up(client, mailbox, EMAIL, PASSWORD)

    known = await client.post("/api/auth/reset", json={"email": EMAIL})
    unknown = await client.post("/api/auth/reset", json={"email": "nobody@example.org"})

    assert known.status_code == unknown.status_code == 202
    assert known.content == unknown.content
    assert (await mailbox.wait_for(EMAIL, 2)).subject == "Reset your Pairview password"
    assert mailbox.to("nobody@example.org") == []


async def test_hash_meets_owasp_minimum(
    client: httpx.AsyncClient, mailbox: Mailbox, database_url: str
) -> None:
    await sign_up(client, mailbox, EMAIL, PASSWORD)

    parameters = argon2.extract_parameters(await stored_hash(database_url, EMAIL))

    assert parameters.type is argon2.Type.ID
    assert parameters.memory_cost >= 19456
    assert parameters.time_cost >= 2
    assert parameters.parallelism >= 1


@pytest.mark.parametrize(
    "weak",
    [
        argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1),
        argon2.PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1, type=argon2.Type.I),
    ],
    ids=["weak-parameters", "argon2i"],
)
async def test_weaker_hash_upgraded_at_signin(
    client: httpx.AsyncClient, mailbox: Mailbox, database_url: str, weak: argon2.PasswordHasher
) -> None:
    await sign_up(client, mailbox, EMAIL, PASSWORD)
    await set_hash(database_url, EMAIL, weak.hash(PASSWORD))

    failed = await sign_in(client, EMAIL, "wrong password here")
    unchanged = await stored_hash(database_url, EMAIL)
    response = await sign_in(client, EMAIL, PASSWORD)
    upgraded = await stored_hash(database_url, EMAIL)

    assert failed.status_code == 401
    assert argon2.extract_parameters(unchanged) == weak._parameters
    assert response.status_code == 200
    parameters = argon2.extract_parameters(upgraded)
    assert parameters.type is argon2.Type.ID
    assert parameters.memory_cost == 19456
    assert parameters.time_cost == 2
    assert argon2.PasswordHasher().verify(upgraded, PASSWORD)


async def test_stronger_hash_kept_at_signin(
    client: httpx.AsyncClient, mailbox: Mailbox, database_url: str
) -> None:
    await sign_up(client, mailbox, EMAIL, PASSWORD)
    strong = argon2.PasswordHasher(time_cost=3, memory_cost=32768, parallelism=2).hash(PASSWORD)
    await set_hash(database_url, EMAIL, strong)

    assert (await sign_in(client, EMAIL, PASSWORD)).status_code == 200

    assert await stored_hash(database_url, EMAIL) == strong


@pytest.mark.parametrize(
    ("name", "value"),
    [("argon2_memory_kib", 19455), ("argon2_iterations", 1), ("argon2_parallelism", 0)],
)
def test_settings_reject_weaker_than_owasp(tmp_path: Path, name: str, value: int) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings(ServerSettings, None, data_dir=tmp_path, **{name: value})


async def test_throttle_per_account_with_retry_after(
    client_factory: Callable[..., httpx.AsyncClient], mailbox: Mailbox
) -> None:
    owner = client_factory()
    await sign_up(owner, mailbox, EMAIL, PASSWORD)
    guesser = client_at(client_factory, "127.0.0.2")

    failures = [await sign_in(guesser, EMAIL, f"guess number {i}") for i in range(5)]
    throttled = await sign_in(guesser, EMAIL, PASSWORD)
    other = client_at(client_factory, "127.0.0.4")
    unknown = [await sign_in(other, "nobody@example.org", f"guess {i}") for i in range(6)]

    assert [r.status_code for r in failures] == [401] * 5
    assert throttled.status_code == 429
    assert 1 <= int(throttled.headers["Retry-After"]) <= 15 * 60
    # An address with no account is throttled exactly like one with an account.
    assert [r.status_code for r in unknown] == [401] * 5 + [429]


async def test_throttled_account_lets_owner_device_in(
    client_factory: Callable[..., httpx.AsyncClient], mailbox: Mailbox
) -> None:
    owner = client_factory()
    await sign_up(owner, mailbox, EMAIL, PASSWORD)
    assert (await sign_in(owner, EMAIL, PASSWORD)).status_code == 200
    guesser = client_at(client_factory, "127.0.0.2")
    for i in range(6):
        await sign_in(guesser, EMAIL, f"guess number {i}")
    new_browser = client_factory()

    owner_again = await sign_in(owner, EMAIL, PASSWORD)
    stranger = await sign_in(new_browser, EMAIL, PASSWORD)

    assert owner_again.status_code == 200
    assert stranger.status_code == 429


async def test_device_token_only_for_its_account(
    client_factory: Callable[..., httpx.AsyncClient], mailbox: Mailbox
) -> None:
    """A guesser who signs in to their own account gains no attempts on another."""
    guesser = client_at(client_factory, "127.0.0.2")
    await sign_up(guesser, mailbox, "guesser@example.org", PASSWORD)
    assert (await sign_in(guesser, "guesser@example.org", PASSWORD)).status_code == 200
    await sign_up(client_factory(), mailbox, EMAIL, PASSWORD)

    results = [await sign_in(guesser, EMAIL, f"guess number {i}") for i in range(6)]

    assert [r.status_code for r in results] == [401] * 5 + [429]


async def test_throttle_per_address(
    client_factory: Callable[..., httpx.AsyncClient], mailbox: Mailbox
) -> None:
    owner = client_factory()
    await sign_up(owner, mailbox, EMAIL, PASSWORD)
    guesser = client_at(client_factory, "127.0.0.3")

    spread = [await sign_in(guesser, f"user{i}@example.org", "a wrong password") for i in range(8)]
    blocked = await sign_in(guesser, "user99@example.org", "a wrong password")
    elsewhere = await sign_in(owner, EMAIL, PASSWORD)

    assert [r.status_code for r in spread] == [401] * 8
    assert blocked.status_code == 429
    assert "Retry-After" in blocked.headers
    assert elsewhere.status_code == 200
