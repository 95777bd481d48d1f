"""Rooms of signed-in hosts, contacts, and invitations to live rooms."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from websockets.asyncio.client import connect

from pairview.protocol.signaling import PROTOCOL_VERSION
from pairview.server.runner import RunningServer
from tests.server.accounts.conftest import PASSWORD
from tests.server.accounts.test_sessions import events_socket, tls, ws_url
from tests.support.accounts import app_token, csrf_headers, sign_up
from tests.support.mailbox import Mailbox
from tests.support.timing import seconds

HOST = "host@example.org"
FRIEND = "friend@example.org"


class Host:
    """A signed-in host: a browser session, and a host app token with a live room."""

    def __init__(self, web: httpx.AsyncClient, token: str, room_id: str) -> None:
        self.web = web
        self.bearer = {"Authorization": f"Bearer {token}"}
        self.room_id = room_id

    async def invite(self, **body: Any) -> httpx.Response:
        return await self.web.post(
            f"/api/rooms/{self.room_id}/invitations",
            json=body,
            headers=await csrf_headers(self.web),
        )


async def start_host(client: httpx.AsyncClient, mailbox: Mailbox) -> Host:
    await sign_up(client, mailbox, HOST, PASSWORD, "Hosting Hannah")
    token = await app_token(client, HOST, PASSWORD)
    room = await client.post("/api/rooms", json={}, headers={"Authorization": f"Bearer {token}"})
    assert room.status_code == 201, room.text
    return Host(client, token, room.json()["room_id"])


async def join_as_guest(server: RunningServer, certificate: tuple[Path, Path], url: str) -> str:
    """Join the room of a /r/ROOM#TICKET link over signaling; return the first reply's type."""
    path, _, ticket = url.partition("#")
    room_id = path.rsplit("/", 1)[1]
    async with connect(ws_url(server, "/ws"), ssl=tls(certificate)) as socket:
        join = {
            "type": "join",
            "version": PROTOCOL_VERSION,
            "room": room_id,
            "token": ticket,
            "role": "guest",
            "name": "Guest",
        }
        await socket.send(json.dumps(join))
        reply = json.loads(await socket.recv())
    kind: str = reply["type"] if reply["type"] != "error" else reply["code"]
    return kind


async def test_room_creation_needs_signed_in_host(
    client: httpx.AsyncClient, mailbox: Mailbox
) -> None:
    anonymous = await client.post("/api/rooms", json={})
    forged = await client.post("/api/rooms", json={}, headers={"Authorization": "Bearer forged"})
    host = await start_host(client, mailbox)

    assert anonymous.status_code == 401
    assert "pairview login" in anonymous.json()["detail"]
    assert forged.status_code == 401
    rooms = (await client.get("/api/my/rooms")).json()
    assert [r["room_id"] for r in rooms] == [host.room_id]


async def test_contacts_add_list_remove(
    client_factory: Callable[..., httpx.AsyncClient], mailbox: Mailbox
) -> None:
    friend = client_factory()
    await sign_up(friend, mailbox, FRIEND, PASSWORD, "Friend")
    owner = client_factory()
    await sign_up(owner, mailbox, "owner@example.org", PASSWORD, "Owner Olga")
    headers = await csrf_headers(owner)

    known = await owner.post("/api/contacts", json={"email": FRIEND}, headers=headers)
    unknown = await owner.post(
        "/api/contacts", json={"email": "Newcomer@Example.org"}, headers=headers
    )
    duplicate = await owner.post("/api/contacts", json={"email": FRIEND}, headers=headers)
    invalid = await owner.post("/api/contacts", json={"email": "nope"}, headers=headers)
    listed = (await owner.get("/api/contacts")).json()

    assert known.status_code == unknown.status_code == 201
    assert set(known.json()) == set(unknown.json()) == {"id", "email", "created_at"}
    assert duplicate.status_code == 409
    assert invalid.status_code == 422
    assert [c["email"] for c in listed] == [FRIEND, "newcomer@example.org"]
    invitation = await mailbox.wait_for("newcomer@example.org")
    assert invitation.subject == "Owner Olga invites you to Pairview"
    assert "/sign-up" in invitation.text
    notice = await mailbox.wait_for(FRIEND, 2)
    assert notice.subject == "Owner Olga added you as a contact on Pairview"

    removed = await owner.delete(f"/api/contacts/{listed[0]['id']}", headers=headers)
    again = await owner.delete(f"/api/contacts/{listed[0]['id']}", headers=headers)
    assert removed.status_code == 204
    assert again.status_code == 404
    assert [c["email"] for c in (await owner.get("/api/contacts")).json()] == [
        "newcomer@example.org"
    ]


async def test_contacts_of_others_invisible(
    client_factory: Callable[..., httpx.AsyncClient], mailbox: Mailbox
) -> None:
    alice, bob = client_factory(), client_factory()
    await sign_up(alice, mailbox, "alice@example.org", PASSWORD)
    await sign_up(bob, mailbox, "bob@example.org", PASSWORD)
    added = await alice.post(
        "/api/contacts", json={"email": FRIEND}, headers=await csrf_headers(alice)
    )

    listed = await bob.get("/api/contacts")
    removal = await bob.delete(
        f"/api/contacts/{added.json()['id']}", headers=await csrf_headers(bob)
    )

    assert listed.json() == []
    assert removal.status_code == 404
    assert len((await alice.get("/api/contacts")).json()) == 1


async def test_invited_contact_sees_invitation_live_and_joins(
    client_factory: Callable[..., httpx.AsyncClient],
    mailbox: Mailbox,
    accounts_server: RunningServer,
    certificate: tuple[Path, Path],
) -> None:
    friend = client_factory()
    await sign_up(friend, mailbox, FRIEND, PASSWORD, "Friend Fred")
    events = await events_socket(accounts_server, friend, certificate)
    host = await start_host(client_factory(), mailbox)
    contact = await host.web.post(
        "/api/contacts", json={"email": FRIEND}, headers=await csrf_headers(host.web)
    )

    made = await host.invite(contact_ids=[contact.json()["id"]])

    assert made.status_code == 201
    async with asyncio.timeout(seconds(5)):
        event = json.loads(await events.recv())
    await events.close()
    assert event["type"] == "invitation"
    assert event["invitation"]["inviter_name"] == "Hosting Hannah"
    assert event["invitation"]["room_id"] == host.room_id
    received = (await friend.get("/api/invitations")).json()
    assert [r["id"] for r in received] == [event["invitation"]["id"]]

    accepted = await friend.post(
        f"/api/invitations/{received[0]['id']}/accept", headers=await csrf_headers(friend)
    )
    assert accepted.status_code == 200
    assert accepted.json()["display_name"] == "Friend Fred"
    room_url = accepted.json()["room_url"]
    assert room_url.startswith(f"/r/{host.room_id}#")
    assert await join_as_guest(accounts_server, certificate, room_url) == "welcome"
    # A used invitation leaves the list and cannot be used again.
    assert (await friend.get("/api/invitations")).json() == []
    second = await friend.post(
        f"/api/invitations/{received[0]['id']}/accept", headers=await csrf_headers(friend)
    )
    assert second.status_code == 404


async def test_invitation_by_mail_and_by_link(
    client_factory: Callable[..., httpx.AsyncClient],
    mailbox: Mailbox,
    accounts_server: RunningServer,
    certificate: tuple[Path, Path],
) -> None:
    host = await start_host(client_factory(), mailbox)

    made = await host.invite(emails=["guest@example.org"], links=1)

    assert made.status_code == 201
    by_mail, by_link = made.json()
    assert by_mail["email"] == "guest@example.org"
    assert by_mail["link"] is None
    assert by_link["email"] is None
    link_token = by_link["link"].partition("#")[2]
    assert len(link_token) >= 43
    mail = await mailbox.wait_for("guest@example.org")
    assert mail.subject == "Hosting Hannah invites you to a screen share"
    mail_token = mail.secret("/invite")

    anonymous = client_factory()
    for token in (mail_token, link_token):
        redeemed = await anonymous.post("/api/invitations/redeem", json={"token": token})
        assert redeemed.status_code == 200, redeemed.text
        url = redeemed.json()["room_url"]
        assert await join_as_guest(accounts_server, certificate, url) == "welcome"
    statuses = (await host.web.get(f"/api/rooms/{host.room_id}/invitations")).json()
    assert [s["status"] for s in statuses] == ["used", "used"]


async def test_bad_invitations_answer_alike(
    client_factory: Callable[..., httpx.AsyncClient],
    mailbox: Mailbox,
    database_url: str,
) -> None:
    """Expired, used, revoked, someone else's and made-up invitations get one answer."""
    friend = client_factory()
    await sign_up(friend, mailbox, FRIEND, PASSWORD)
    host = await start_host(client_factory(), mailbox)
    links = [v["link"].partition("#")[2] for v in (await host.invite(links=3)).json()]
    expired, used, _revoked = links
    to_friend = (await host.invite(emails=[FRIEND])).json()[0]
    friend_link = (await mailbox.wait_for(FRIEND, 2)).secret("/invite")

    engine = create_async_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text("UPDATE invitations SET expires_at = created_at WHERE token_hash = :h"),
                {"h": hashlib.sha256(expired.encode()).hexdigest()},
            )
    finally:
        await engine.dispose()
    stranger = client_factory()
    assert (await stranger.post("/api/invitations/redeem", json={"token": used})).status_code == 200
    listed = (await host.web.get(f"/api/rooms/{host.room_id}/invitations")).json()
    revoked_id = next(i["id"] for i in listed if i["status"] == "pending" and not i["email"])
    assert (
        await host.web.delete(
            f"/api/invitations/{revoked_id}", headers=await csrf_headers(host.web)
        )
    ).status_code == 204

    answers = []
    for token in (expired, used, friend_link, "made-up-token"):
        answers.append(await stranger.post("/api/invitations/redeem", json={"token": token}))
    remaining = [t for t in links if t not in (expired, used)]
    for token in remaining:
        answers.append(await stranger.post("/api/invitations/redeem", json={"token": token}))
    foreign_accept = await stranger.post(f"/api/invitations/{to_friend['id']}/accept")

    assert [a.status_code for a in answers] == [404] * len(answers)
    assert len({a.content for a in answers}) == 1
    assert foreign_accept.status_code in (401, 404)
    # The invitation made for Fred still works for Fred.
    mine = await friend.post(
        "/api/invitations/redeem", json={"token": friend_link}, headers=await csrf_headers(friend)
    )
    assert mine.status_code == 200


async def test_invitations_only_to_own_live_room(
    client_factory: Callable[..., httpx.AsyncClient], mailbox: Mailbox
) -> None:
    host = await start_host(client_factory(), mailbox)
    other = client_factory()
    await sign_up(other, mailbox, "other@example.org", PASSWORD)

    foreign = await other.post(
        f"/api/rooms/{host.room_id}/invitations",
        json={"links": 1},
        headers=await csrf_headers(other),
    )
    unknown = await host.web.post(
        "/api/rooms/no-such-room/invitations",
        json={"links": 1},
        headers=await csrf_headers(host.web),
    )
    await host.web.delete(f"/api/rooms/{host.room_id}", headers={"Authorization": "Bearer wrong"})
    empty = await host.invite()
    too_many = await host.invite(links=51)

    assert foreign.status_code == 404
    assert unknown.status_code == 404
    assert empty.status_code == 422
    assert too_many.status_code == 422
    assert (await host.web.get(f"/api/rooms/{host.room_id}/invitations")).json() == []


@pytest.mark.parametrize("address", ["not-an-address", "a" * 300 + "@example.org"])
async def test_invitation_with_bad_address_stores_nothing(
    client_factory: Callable[..., httpx.AsyncClient], mailbox: Mailbox, address: str
) -> None:
    host = await start_host(client_factory(), mailbox)

    response = await host.invite(emails=["good@example.org", address])

    assert response.status_code == 422
    assert (await host.web.get(f"/api/rooms/{host.room_id}/invitations")).json() == []
    assert mailbox.to("good@example.org") == []
