"""Every kind of usage event, recorded by driving the real flows of a server with accounts."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from pairview.protocol.signaling import PROTOCOL_VERSION
from pairview.server.runner import RunningServer
from pairview.server.usage.events import UsageKind
from tests.server.accounts.conftest import PASSWORD
from tests.server.accounts.test_sessions import tls, ws_url
from tests.server.accounts.test_sharing import FRIEND, HOST, start_host
from tests.support.accounts import csrf_headers, sign_in, sign_up
from tests.support.database_rows import all_rows, fetch, wait_for_rows
from tests.support.mailbox import Mailbox

EVENTS = "SELECT * FROM usage_events ORDER BY id"
APP = {"name": "pairview", "version": "0.1.0", "os": "linux", "os_version": "6.1"}


async def join(
    server: RunningServer,
    certificate: tuple[Path, Path],
    room: str,
    token: str,
    role: str,
    name: str,
    cookie: str | None = None,
    client: dict[str, Any] | None = None,
) -> tuple[ClientConnection, dict[str, Any]]:
    headers = {"Origin": server.local_url}
    if cookie is not None:
        headers["Cookie"] = f"__Host-pv_session={cookie}"
    socket = await connect(ws_url(server, "/ws"), ssl=tls(certificate), additional_headers=headers)
    message = {
        "type": "join",
        "version": PROTOCOL_VERSION,
        "room": room,
        "token": token,
        "role": role,
        "name": name,
        "client": client,
    }
    await socket.send(json.dumps(message))
    welcome = json.loads(await socket.recv())
    assert welcome["type"] == "welcome", welcome
    return socket, welcome


async def test_every_event_kind_is_recorded(
    client_factory: Callable[..., httpx.AsyncClient],
    mailbox: Mailbox,
    accounts_server: RunningServer,
    certificate: tuple[Path, Path],
    database_url: str,
) -> None:
    # sign-up and sign-in of a guest, then a signed-in host's app creates a room
    friend = client_factory()
    await sign_up(friend, mailbox, FRIEND, PASSWORD, "Friend Fred")
    assert (await sign_in(friend, FRIEND, PASSWORD)).status_code == 200
    host = await start_host(client_factory(), mailbox)
    created = await host.web.post("/api/rooms", json={}, headers=host.bearer)
    assert created.status_code == 201
    room = created.json()

    # a contact, and invitations by email, by link and from the contact list
    headers = await csrf_headers(host.web)
    contact = await host.web.post("/api/contacts", json={"email": FRIEND}, headers=headers)
    assert contact.status_code == 201
    invitations = f"/api/rooms/{room['room_id']}/invitations"
    for body in (
        {"emails": ["someone@example.org"]},
        {"links": 1},
        {"contact_ids": [contact.json()["id"]]},
    ):
        made = await host.web.post(invitations, json=body, headers=headers)
        assert made.status_code == 201, made.text
    to_friend = made.json()[0]["id"]

    # Fred accepts the invitation and joins in his signed-in browser.
    accepted = await friend.post(
        f"/api/invitations/{to_friend}/accept", headers=await csrf_headers(friend)
    )
    assert accepted.status_code == 200
    ticket = accepted.json()["room_url"].partition("#")[2]
    hosting, _ = await join(
        accounts_server,
        certificate,
        room["room_id"],
        room["host_token"],
        "host",
        "Hosting Hannah",
        client=APP,
    )
    guest, welcome = await join(
        accounts_server,
        certificate,
        room["room_id"],
        ticket,
        "guest",
        "Friend Fred",
        cookie=friend.cookies["__Host-pv_session"],
        client={"name": "firefox", "version": "140.0", "os": "windows"},
    )
    report = {"type": "connection-report", "guest": welcome["peer_id"], "connection_type": "nat"}
    await hosting.send(json.dumps(report))
    await guest.send(json.dumps({"type": "leave"}))
    await guest.wait_closed()
    await hosting.send(json.dumps({"type": "end"}))
    await hosting.wait_closed()

    rows = await wait_for_rows(
        database_url, EVENTS, lambda rows: any(r["kind"] == "room-ended" for r in rows)
    )
    recorded = Counter(row["kind"] for row in rows)
    assert set(recorded) == {kind.value for kind in UsageKind}
    users = {r["email"]: r["id"] for r in await fetch(database_url, "SELECT id, email FROM users")}
    joined = [row for row in rows if row["kind"] == "participant-joined"]
    assert [(row["role"], row["user_id"], row["participant_ref"]) for row in joined] == [
        ("host", users[HOST], None),
        ("guest", users[FRIEND], None),
    ]
    left = [row["user_id"] for row in rows if row["kind"] == "participant-left"]
    assert left == [users[FRIEND], users[HOST]]
    sent = sorted(row["detail"] for row in rows if row["kind"] == "invitation-sent")
    assert sent == ["contact", "email", "link"]
    assert [r["detail"] for r in rows if r["kind"] == "peer-connection"] == ["nat"]
    assert [r["detail"] for r in rows if r["kind"] == "presenter-changed"] == ["first"]
    clients = {(r["role"], r["client"], r["os"]) for r in rows if r["kind"] == "client-connected"}
    assert clients == {("host", "Pairview 0.1.0", "Linux 6.1"), ("guest", "Firefox 140", "Windows")}
    assert recorded["room-created"] == 2
    assert recorded["sign-up"] == 2

    # No event contains an address or a name.
    stored = str((await all_rows(database_url))["usage_events"])
    for personal in (HOST, FRIEND, "someone@example.org", "Hannah", "Fred", "127.0.0.1"):
        assert personal not in stored
