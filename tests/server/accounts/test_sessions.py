"""Sessions end at sign-out, password change and reset, with their open WebSockets."""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from pairview.protocol.signaling import PROTOCOL_VERSION, CloseCode
from pairview.server.accounts.events import SESSION_ENDED
from pairview.server.runner import RunningServer
from tests.server.accounts.conftest import PASSWORD
from tests.support.accounts import app_token, csrf_headers, sign_in, sign_up
from tests.support.mailbox import Mailbox
from tests.support.timing import seconds

EMAIL = "owner@example.org"


def ws_url(server: RunningServer, path: str) -> str:
    return server.local_url.replace("https://", "wss://") + path


def tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


async def events_socket(
    server: RunningServer, client: httpx.AsyncClient, certificate: tuple[Path, Path]
) -> ClientConnection:
    cookie = client.cookies["__Host-pv_session"]
    socket = await connect(
        ws_url(server, "/api/events"),
        ssl=tls(certificate),
        additional_headers={"Cookie": f"__Host-pv_session={cookie}", "Origin": server.local_url},
    )
    hello = json.loads(await socket.recv())
    assert hello["type"] == "hello"
    return socket


async def closed_with(socket: ClientConnection) -> int | None:
    """Wait for the server to close `socket`; return its close code."""
    async with asyncio.timeout(seconds(5)):
        await socket.wait_closed()
    return socket.close_code


async def test_signout_ends_every_session_and_socket(
    client_factory: Callable[..., httpx.AsyncClient],
    mailbox: Mailbox,
    accounts_server: RunningServer,
    certificate: tuple[Path, Path],
) -> None:
    laptop, phone, app = client_factory(), client_factory(), client_factory()
    await sign_up(laptop, mailbox, EMAIL, PASSWORD)
    assert (await sign_in(phone, EMAIL, PASSWORD)).status_code == 200
    token = await app_token(app, EMAIL, PASSWORD)
    socket = await events_socket(accounts_server, phone, certificate)

    response = await laptop.post("/api/auth/sign-out", headers=await csrf_headers(laptop))

    assert response.status_code == 204
    assert await closed_with(socket) == SESSION_ENDED
    assert (await laptop.get("/api/account")).status_code == 401
    assert (await phone.get("/api/account")).status_code == 401
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await app.get("/api/account", headers=bearer)).status_code == 401


async def test_signout_ends_rooms_the_session_created(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    accounts_server: RunningServer,
    certificate: tuple[Path, Path],
) -> None:
    await sign_up(client, mailbox, EMAIL, PASSWORD)
    token = await app_token(client, EMAIL, PASSWORD)
    bearer = {"Authorization": f"Bearer {token}"}
    room = (await client.post("/api/rooms", json={}, headers=bearer)).json()
    host = await connect(ws_url(accounts_server, "/ws"), ssl=tls(certificate))
    join = {
        "type": "join",
        "version": PROTOCOL_VERSION,
        "room": room["room_id"],
        "token": room["host_token"],
        "role": "host",
        "name": "Host",
    }
    await host.send(json.dumps(join))
    assert json.loads(await host.recv())["type"] == "welcome"

    response = await client.post("/api/auth/sign-out", headers=bearer)

    assert response.status_code == 204
    assert await closed_with(host) == CloseCode.ROOM_CLOSED


async def test_password_change_ends_other_sessions(
    client_factory: Callable[..., httpx.AsyncClient],
    mailbox: Mailbox,
    accounts_server: RunningServer,
    certificate: tuple[Path, Path],
) -> None:
    laptop, phone = client_factory(), client_factory()
    await sign_up(laptop, mailbox, EMAIL, PASSWORD)
    assert (await sign_in(phone, EMAIL, PASSWORD)).status_code == 200
    socket = await events_socket(accounts_server, phone, certificate)
    old_cookie = laptop.cookies["__Host-pv_session"]

    response = await laptop.put(
        "/api/account/password",
        json={"current_password": PASSWORD, "new_password": "a brand new password"},
        headers=await csrf_headers(laptop),
    )

    assert response.status_code == 200
    assert laptop.cookies["__Host-pv_session"] != old_cookie
    assert await closed_with(socket) == SESSION_ENDED
    assert (await phone.get("/api/account")).status_code == 401
    assert (await laptop.get("/api/account")).status_code == 200
    assert (await sign_in(phone, EMAIL, PASSWORD)).status_code == 401
    assert (await sign_in(phone, EMAIL, "a brand new password")).status_code == 200


async def test_password_change_needs_current_password(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    await sign_up(client, mailbox, EMAIL, PASSWORD)

    response = await client.put(
        "/api/account/password",
        json={"current_password": "not the password", "new_password": "a brand new password"},
        headers=await csrf_headers(client),
    )

    assert response.status_code == 422
    assert response.json()["field"] == "current_password"
    assert (await sign_in(client, EMAIL, PASSWORD)).status_code == 200


async def test_reset_link_sets_password_and_ends_sessions(
    client_factory: Callable[..., httpx.AsyncClient], mailbox: Mailbox
) -> None:
    owner, forgetful = client_factory(), client_factory()
    await sign_up(owner, mailbox, EMAIL, PASSWORD)
    await forgetful.post("/api/auth/reset", json={"email": EMAIL})
    token = (await mailbox.wait_for(EMAIL, 2)).secret("/reset")

    short = await forgetful.post(
        "/api/auth/reset/complete", json={"token": token, "password": "short"}
    )
    done = await forgetful.post(
        "/api/auth/reset/complete", json={"token": token, "password": "the new password"}
    )
    again = await forgetful.post(
        "/api/auth/reset/complete", json={"token": token, "password": "yet another one"}
    )

    assert short.status_code == 422
    assert done.status_code == 200
    assert again.status_code == 404
    assert (await owner.get("/api/account")).status_code == 401
    assert (await sign_in(forgetful, EMAIL, PASSWORD)).status_code == 401
    assert (await sign_in(forgetful, EMAIL, "the new password")).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-CSRF-Token": "forged"}],
    ids=["missing", "wrong"],
)
async def test_cookie_change_needs_csrf_token(
    client: httpx.AsyncClient, mailbox: Mailbox, headers: dict[str, str]
) -> None:
    await sign_up(client, mailbox, EMAIL, PASSWORD, "Before")

    response = await client.patch(
        "/api/account/name", json={"display_name": "After"}, headers=headers
    )

    assert response.status_code == 403
    assert (await client.get("/api/account")).json()["display_name"] == "Before"


async def test_csrf_token_of_other_session_rejected(
    client_factory: Callable[..., httpx.AsyncClient], mailbox: Mailbox
) -> None:
    mine, theirs = client_factory(), client_factory()
    await sign_up(mine, mailbox, EMAIL, PASSWORD, "Before")
    await sign_up(theirs, mailbox, "other@example.org", PASSWORD)

    response = await mine.patch(
        "/api/account/name", json={"display_name": "After"}, headers=await csrf_headers(theirs)
    )

    assert response.status_code == 403


async def test_cookie_change_from_foreign_origin_rejected(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    await sign_up(client, mailbox, EMAIL, PASSWORD, "Before")
    headers = {**(await csrf_headers(client)), "Origin": "https://evil.example"}

    response = await client.patch(
        "/api/account/name", json={"display_name": "After"}, headers=headers
    )

    assert response.status_code == 403
    assert (await client.get("/api/account")).json()["display_name"] == "Before"


async def test_events_socket_needs_session_and_origin(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    accounts_server: RunningServer,
    certificate: tuple[Path, Path],
) -> None:
    await sign_up(client, mailbox, EMAIL, PASSWORD)
    cookie = client.cookies["__Host-pv_session"]
    cases: list[dict[str, str]] = [
        {"Origin": accounts_server.local_url},
        {"Origin": accounts_server.local_url, "Cookie": "__Host-pv_session=made-up"},
        {"Origin": "https://evil.example", "Cookie": f"__Host-pv_session={cookie}"},
    ]
    for headers in cases:
        with pytest.raises((InvalidStatus, ConnectionClosed)):
            async with connect(
                ws_url(accounts_server, "/api/events"),
                ssl=tls(certificate),
                additional_headers=headers,
            ) as socket:
                await socket.recv()
