"""Deleting an account leaves no address or name in any text column of any table."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from pairview.errors import PairviewError
from pairview.protocol.signaling import PROTOCOL_VERSION
from pairview.server.accounts.admin import delete_user
from pairview.server.runner import RunningServer
from pairview.settings import ServerSettings
from tests.server.accounts.conftest import PASSWORD
from tests.server.accounts.test_sessions import tls, ws_url
from tests.server.accounts.test_sharing import FRIEND, HOST, start_host
from tests.support.accounts import csrf_headers, sign_in, sign_up
from tests.support.database_rows import execute, fetch, make_admin, text_values, wait_for_rows
from tests.support.mailbox import Mailbox
from tests.support.timing import seconds

NAME = "Hosting Hannah"
PAIRVIEW = str(Path(sys.executable).with_name("pairview"))


async def leave_traces(
    client_factory: Callable[..., httpx.AsyncClient],
    mailbox: Mailbox,
    server: RunningServer,
    certificate: tuple[Path, Path],
    database_url: str,
) -> str:
    """Give Hannah every kind of data the server keeps about a person; return her id."""
    friend = client_factory()
    await sign_up(friend, mailbox, FRIEND, PASSWORD, "Friend Fred")
    host = await start_host(client_factory(), mailbox)
    await make_admin(database_url, HOST)
    assert (await sign_in(host.web, HOST, PASSWORD)).status_code == 200
    assert (await host.web.get("/api/admin/users")).status_code == 200
    headers = await csrf_headers(host.web)
    await host.web.post("/api/contacts", json={"email": FRIEND}, headers=headers)
    await host.invite(emails=[FRIEND, "nobody@example.org"], links=1)
    await host.web.post("/api/auth/app/code", headers=headers)
    await host.web.post("/api/auth/reset", json={"email": HOST})

    # Fred keeps Hannah as a contact, invites her, and she joins his room signed in.
    fred = await csrf_headers(friend)
    await friend.post("/api/contacts", json={"email": HOST}, headers=fred)
    token = (
        await friend.post("/api/auth/app/sign-in", json={"email": FRIEND, "password": PASSWORD})
    ).json()["token"]
    room = (
        await friend.post("/api/rooms", json={}, headers={"Authorization": f"Bearer {token}"})
    ).json()
    made = await friend.post(
        f"/api/rooms/{room['room_id']}/invitations", json={"emails": [HOST]}, headers=fred
    )
    assert made.status_code == 201
    accepted = await host.web.post(
        f"/api/invitations/{made.json()[0]['id']}/accept", headers=headers
    )
    ticket = accepted.json()["room_url"].partition("#")[2]
    cookie = host.web.cookies["__Host-pv_session"]
    async with connect(
        ws_url(server, "/ws"),
        ssl=tls(certificate),
        additional_headers={"Cookie": f"__Host-pv_session={cookie}", "Origin": server.local_url},
    ) as socket:
        join = {
            "type": "join",
            "version": PROTOCOL_VERSION,
            "room": room["room_id"],
            "token": ticket,
            "role": "guest",
            "name": NAME,
        }
        await socket.send(json.dumps(join))
        assert json.loads(await socket.recv())["type"] == "welcome"
        await socket.send(json.dumps({"type": "leave"}))

    hannah: str = (await host.web.get("/api/account")).json()["id"]
    await wait_for_rows(
        database_url,
        "SELECT id FROM usage_events WHERE user_id = :id AND kind = 'participant-left'",
        lambda rows: len(rows) == 1,
        id=hannah,
    )
    return hannah


def personal(values: list[tuple[str, str, str]], *needles: str) -> list[tuple[str, str, str]]:
    return [v for v in values if any(n.lower() in v[2].lower() for n in needles)]


@pytest.mark.parametrize("deleted_by", ["owner", "admin", "command"])
async def test_deletion_leaves_no_address_or_name(
    client_factory: Callable[..., httpx.AsyncClient],
    mailbox: Mailbox,
    accounts_server: RunningServer,
    certificate: tuple[Path, Path],
    database_url: str,
    tmp_path: Path,
    deleted_by: str,
) -> None:
    hannah = await leave_traces(client_factory, mailbox, accounts_server, certificate, database_url)
    before = await text_values(database_url)
    found = {(table, column) for table, column, _ in personal(before, HOST, NAME)}
    assert {("users", "email"), ("users", "display_name"), ("contacts", "email")} <= found
    assert {("invitations", "invitee_email"), ("mail_tokens", "email")} <= found
    events = await fetch(
        database_url, "SELECT kind FROM usage_events WHERE user_id = :id", id=hannah
    )
    assert {"sign-up", "sign-in", "participant-joined"} <= {row["kind"] for row in events}

    # Each way of deleting signs its actor in first; events counted after that.
    client = client_factory()
    if deleted_by == "owner":
        assert (await sign_in(client, HOST, PASSWORD)).status_code == 200
    elif deleted_by == "admin":
        await sign_up(client, mailbox, "admin@example.org", PASSWORD, "Ada Admin")
        await make_admin(database_url, "admin@example.org")
    count = len(await fetch(database_url, "SELECT id FROM usage_events"))

    if deleted_by == "owner":
        response = await client.request(
            "DELETE",
            "/api/account",
            json={"password": PASSWORD},
            headers=await csrf_headers(client),
        )
        assert response.status_code == 204
    elif deleted_by == "admin":
        response = await client.delete(
            f"/api/admin/users/{hannah}", headers=await csrf_headers(client)
        )
        assert response.status_code == 204
    else:
        command = [PAIRVIEW, "admin", "delete-user", HOST, "--yes"]
        command += ["--database-url", database_url, "--data-dir", str(tmp_path / "cli")]
        process = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        async with asyncio.timeout(seconds(60)):
            stdout, stderr = await process.communicate()
        assert process.returncode == 0, stderr.decode()
        assert f"Deleted account {hannah}" in stdout.decode()

    after = await text_values(database_url)
    assert personal(after, HOST, NAME, "Hannah") == []
    # The id is a random string; only the audit log still contains it, as the
    # record of what administrators did.
    assert {table for table, _, value in after if hannah in value} <= {"audit_log"}
    assert len(await fetch(database_url, "SELECT id FROM usage_events")) == count
    assert (
        await fetch(database_url, "SELECT id FROM usage_events WHERE user_id = :id", id=hannah)
        == []
    )
    assert await fetch(database_url, "SELECT id FROM users WHERE id = :id", id=hannah) == []


async def test_failed_deletion_changes_nothing(
    client_factory: Callable[..., httpx.AsyncClient],
    mailbox: Mailbox,
    accounts_server: RunningServer,
    certificate: tuple[Path, Path],
    database_url: str,
    tmp_path: Path,
) -> None:
    hannah = await leave_traces(client_factory, mailbox, accounts_server, certificate, database_url)
    before = await text_values(database_url)
    settings = ServerSettings(data_dir=tmp_path / "cli", database_url=database_url)
    # Without its usage table the anonymisation fails, and so must the whole deletion.
    await execute(database_url, "ALTER TABLE usage_events RENAME TO usage_events_gone")
    try:
        with pytest.raises(Exception) as raised:  # noqa: PT011 - the driver's error varies
            await delete_user(settings, hannah)
    finally:
        await execute(database_url, "ALTER TABLE usage_events_gone RENAME TO usage_events")

    assert not isinstance(raised.value, PairviewError)
    assert await text_values(database_url) == before
