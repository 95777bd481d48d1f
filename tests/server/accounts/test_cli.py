"""`pairview login`, `logout`, `db upgrade` and `admin`, run as a user runs them."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from pairview.cli import server_token
from pairview.login import CredentialStore, Login
from pairview.server.runner import RunningServer
from pairview.settings import ShareSettings
from tests.server.accounts.conftest import PASSWORD
from tests.support.accounts import csrf_headers, sign_in, sign_up
from tests.support.mailbox import Mailbox
from tests.support.timing import seconds

EMAIL = "cli@example.org"


async def pairview(
    tmp_path: Path, *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run the `pairview` command in a child process with its own config directory."""
    environment = {
        **os.environ,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "share"),
        **(env or {}),
    }
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "pairview", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=environment,
        timeout=seconds(60),
        check=False,
    )


def credentials(tmp_path: Path) -> Path:
    return tmp_path / "config" / "pairview" / "credentials.json"


async def test_login_keeps_owner_only_token_and_logout_revokes_it(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    accounts_server: RunningServer,
    certificate: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    await sign_up(client, mailbox, EMAIL, PASSWORD, "Cli Carla")
    server = accounts_server.local_url
    common = ("--server", server, "--cafile", str(certificate[0]))

    wrong = await pairview(tmp_path, "login", *common, "--email", EMAIL, stdin="wrong password\n")
    login = await pairview(tmp_path, "login", *common, "--email", EMAIL, stdin=PASSWORD + "\n")

    assert wrong.returncode == 2
    assert "Wrong email or password" in wrong.stderr
    assert login.returncode == 0, login.stderr
    assert "as Cli Carla" in login.stdout
    path = credentials(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    token = json.loads(path.read_text())["servers"][server]["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/account", headers=bearer)).status_code == 200
    room = await client.post("/api/rooms", json={}, headers=bearer)
    assert room.status_code == 201

    logout = await pairview(tmp_path, "logout", *common)

    assert logout.returncode == 0, logout.stderr
    assert (await client.get("/api/account", headers=bearer)).status_code == 401
    assert "token" not in json.loads(path.read_text())["servers"][server]


async def test_login_with_one_time_code(
    client_factory: Callable[..., httpx.AsyncClient],
    mailbox: Mailbox,
    accounts_server: RunningServer,
    certificate: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    web = client_factory()
    await sign_up(web, mailbox, EMAIL, PASSWORD, "Code Cody")
    made = await web.post("/api/auth/app/code", headers=await csrf_headers(web))
    code = made.json()["code"]
    common = ("--server", accounts_server.local_url, "--cafile", str(certificate[0]), "--code")

    login = await pairview(tmp_path, "login", *common, stdin=code.lower() + "\n")
    reused = await pairview(tmp_path, "login", *common, stdin=code + "\n")

    assert made.status_code == 201
    assert len(code.replace("-", "")) == 10
    assert login.returncode == 0, login.stderr
    assert "as Code Cody" in login.stdout
    assert reused.returncode == 2
    assert "not valid" in reused.stderr


async def test_code_guessing_throttled(client: httpx.AsyncClient) -> None:
    answers = [
        await client.post("/api/auth/app/code/redeem", json={"code": f"AAAAA-AAAA{i}"})
        for i in range(11)
    ]

    assert [a.status_code for a in answers[:10]] == [404] * 10
    assert answers[10].status_code == 429


async def test_admin_create_and_list_users(
    tmp_path: Path, database_url: str, client: httpx.AsyncClient
) -> None:
    env = {"PAIRVIEW_DATABASE_URL": database_url}
    create = ("admin", "create-user", "Admin@Example.org", "--name", "Ada Admin")

    made = await pairview(tmp_path, *create, "--admin", "--password-stdin", stdin=PASSWORD, env=env)
    again = await pairview(tmp_path, *create, "--password-stdin", stdin=PASSWORD, env=env)
    weak = await pairview(
        tmp_path,
        "admin",
        "create-user",
        "b@example.org",
        "--name",
        "B",
        "--password-stdin",
        stdin="short",
        env=env,
    )
    bad = await pairview(
        tmp_path,
        "admin",
        "create-user",
        "not-an-address",
        "--name",
        "B",
        "--password-stdin",
        stdin=PASSWORD,
        env=env,
    )
    listed = await pairview(tmp_path, "admin", "list-users", env=env)

    assert made.returncode == 0, made.stderr
    assert again.returncode == 2
    assert "already exists" in again.stderr
    assert weak.returncode == 2
    assert "password" in weak.stderr
    assert bad.returncode == 2
    assert "email" in bad.stderr
    lines = listed.stdout.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].split("\t")[1:] == ["admin@example.org", "Ada Admin", "admin"]
    # The account works on the server: it signs in and sees the user list.
    assert (await sign_in(client, "admin@example.org", PASSWORD)).status_code == 200
    assert (await client.get("/api/admin/users")).status_code == 200


async def test_db_upgrade_creates_every_table(tmp_path: Path, database_url: str) -> None:
    result = await pairview(tmp_path, "db", "upgrade", "--database-url", database_url)

    assert result.returncode == 0, result.stderr
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda c: set(inspect(c).get_table_names()))
    finally:
        await engine.dispose()
    assert {"rooms", "users", "identities", "sessions", "contacts", "invitations"} <= tables


def test_share_uses_stored_login(tmp_path: Path) -> None:
    store = CredentialStore(tmp_path / "credentials.json")
    store.put(Login("https://pv.example.org", "stored-token", None, "Me"))

    stored = server_token(ShareSettings(server="https://pv.example.org/"), store)
    given = server_token(ShareSettings(server="https://pv.example.org", server_token="x"), store)
    other = server_token(ShareSettings(server="https://other.example.org"), store)
    embedded = server_token(ShareSettings(), store)

    assert stored == "stored-token"
    assert given == "x"
    assert other is None
    assert embedded is None
