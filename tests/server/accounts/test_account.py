"""The account page: name, address, deletion; and the administrators' user list."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import inspect, text
from sqlalchemy.ext.asyncio import create_async_engine

from pairview.server.accounts.events import SESSION_ENDED
from pairview.server.runner import RunningServer
from tests.server.accounts.conftest import PASSWORD
from tests.server.accounts.test_sessions import closed_with, events_socket
from tests.server.accounts.test_sharing import FRIEND, HOST, start_host
from tests.support.accounts import csrf_headers, sign_in, sign_up
from tests.support.mailbox import Mailbox


async def database_dump(database_url: str) -> dict[str, list[dict[str, object]]]:
    """Every row of every table, for searching personal data."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda c: inspect(c).get_table_names())
            dump = {}
            for table in tables:
                result = await connection.execute(text(f"SELECT * FROM {table}"))  # noqa: S608
                dump[table] = [dict(row) for row in result.mappings()]
    finally:
        await engine.dispose()
    return dump


async def test_change_display_name(client: httpx.AsyncClient, mailbox: Mailbox) -> None:
    await sign_up(client, mailbox, "name@example.org", PASSWORD, "Old Name")
    headers = await csrf_headers(client)

    changed = await client.patch(
        "/api/account/name", json={"display_name": "New Name"}, headers=headers
    )
    empty = await client.patch("/api/account/name", json={"display_name": " "}, headers=headers)

    assert changed.status_code == 200
    assert changed.json()["display_name"] == "New Name"
    assert empty.status_code == 422
    assert (await client.get("/api/account")).json()["display_name"] == "New Name"


async def test_change_email_through_link(
    client_factory: Callable[..., httpx.AsyncClient], mailbox: Mailbox
) -> None:
    client = client_factory()
    await sign_up(client, mailbox, "old@example.org", PASSWORD)
    await sign_up(client_factory(), mailbox, "taken@example.org", PASSWORD)
    headers = await csrf_headers(client)

    wrong = await client.post(
        "/api/account/email",
        json={"email": "new@example.org", "password": "wrong password"},
        headers=headers,
    )
    taken = await client.post(
        "/api/account/email",
        json={"email": "taken@example.org", "password": PASSWORD},
        headers=headers,
    )
    fresh = await client.post(
        "/api/account/email",
        json={"email": "new@example.org", "password": PASSWORD},
        headers=headers,
    )

    assert wrong.status_code == 403
    assert taken.status_code == fresh.status_code == 202
    assert taken.content == fresh.content
    assert len(mailbox.to("taken@example.org")) == 1
    link = (await mailbox.wait_for("new@example.org")).secret("/verify")
    assert (await client.get("/api/account")).json()["email"] == "old@example.org"
    confirmed = await client.post("/api/auth/verify", json={"token": link})
    assert confirmed.json() == {"result": "email-changed"}
    assert (await client.get("/api/account")).json()["email"] == "new@example.org"
    notice = await mailbox.wait_for("old@example.org", 2)
    assert notice.subject == "Your Pairview address was changed"
    assert (await sign_in(client, "new@example.org", PASSWORD)).status_code == 200
    assert (await sign_in(client, "old@example.org", PASSWORD)).status_code == 401


async def test_delete_account_removes_personal_data(
    client_factory: Callable[..., httpx.AsyncClient],
    mailbox: Mailbox,
    database_url: str,
    accounts_server: RunningServer,
    certificate: tuple[Path, Path],
) -> None:
    friend = client_factory()
    await sign_up(friend, mailbox, FRIEND, PASSWORD, "Friend Fred")
    host = await start_host(client_factory(), mailbox)
    headers = await csrf_headers(host.web)
    await host.web.post("/api/contacts", json={"email": FRIEND}, headers=headers)
    await host.web.post("/api/contacts", json={"email": "nouser@example.org"}, headers=headers)
    await host.invite(emails=[FRIEND, "nouser@example.org"], links=1)
    # Fred keeps Hannah in his contacts: her address goes from his list too.
    fred_headers = await csrf_headers(friend)
    await friend.post("/api/contacts", json={"email": HOST}, headers=fred_headers)
    await host.web.post("/api/auth/reset", json={"email": HOST})
    socket = await events_socket(accounts_server, host.web, certificate)
    # Usage events are written in batches: write out what is waiting first.
    app: Any = accounts_server.server.config.app
    await app.state.pairview.usage_recorder.flush()
    before = await database_dump(database_url)
    assert HOST in str(before)
    assert "Hosting Hannah" in str(before)

    refused = await host.web.request(
        "DELETE", "/api/account", json={"password": "wrong password"}, headers=headers
    )
    deleted = await host.web.request(
        "DELETE", "/api/account", json={"password": PASSWORD}, headers=headers
    )

    assert refused.status_code == 403
    assert deleted.status_code == 204
    assert await closed_with(socket) == SESSION_ENDED
    after = await database_dump(database_url)
    hannah = str(next(u["id"] for u in before["users"] if u["email"] == HOST))
    assert HOST not in str(after)
    assert "Hosting Hannah" not in str(after)
    assert hannah not in str(after)
    assert [u["email"] for u in after["users"]] == [FRIEND]
    assert after["sessions"] != []
    assert all(s["user_id"] != hannah for s in after["sessions"])
    assert after["identities"] == after["mail_tokens"] == after["invitations"] == []
    # Usage statistics keep their counts, with no trace of who.
    assert len(after["usage_events"]) == len(before["usage_events"])
    assert {e["user_id"] for e in after["usage_events"]} <= {None, after["users"][0]["id"]}
    assert after["contacts"] == []
    assert (await host.web.get("/api/account")).status_code == 401
    assert (await sign_in(host.web, HOST, PASSWORD)).status_code == 401


async def test_admin_lists_users_only_for_admins(
    client: httpx.AsyncClient, mailbox: Mailbox, database_url: str
) -> None:
    await sign_up(client, mailbox, "plain@example.org", PASSWORD)

    refused = await client.get("/api/admin/users")
    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE users SET role = 'admin'"))
    finally:
        await engine.dispose()
    listed = await client.get("/api/admin/users")

    assert refused.status_code == 403
    assert listed.status_code == 200
    assert [u["email"] for u in listed.json()] == ["plain@example.org"]
