"""The signaling WebSocket, served by the real server in this process."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.exceptions import InvalidStatus

from pairview.server.runner import RunningServer
from tests.server.wsclient import create_room, peer, ws_url


async def test_host_and_guest_meet(server: RunningServer) -> None:
    room = await create_room(server)
    async with peer(server) as host, peer(server) as guest:
        welcome = await host.join(room, role="host", name="Host")
        guest_welcome = await guest.join(room, name="Alice")
        announced = await host.receive()

    assert welcome["type"] == "welcome"
    assert welcome["role"] == "host"
    assert welcome["ice_servers"] == []
    assert guest_welcome["peers"] == [
        {"peer_id": welcome["peer_id"], "role": "host", "name": "Host"}
    ]
    assert announced == {
        "type": "peer-joined",
        "peer": {"peer_id": guest_welcome["peer_id"], "role": "guest", "name": "Alice"},
    }


@pytest.mark.parametrize("wrong", ["token", "room"])
async def test_wrong_token_or_room_rejected_alike(server: RunningServer, wrong: str) -> None:
    room = await create_room(server)
    if wrong == "token":
        room["invite_token"] = "x" * 43
    else:
        room["room_id"] = "A" * 22
    async with peer(server) as guest:
        answer = await guest.join(room)
        code = await guest.closed_with()

    assert answer["type"] == "error"
    assert answer["code"] == "room-not-found"
    assert "link" in answer["message"]
    assert code == 4001


async def test_host_token_does_not_open_guest_role_and_back(server: RunningServer) -> None:
    room = await create_room(server)
    async with peer(server) as impostor:
        await impostor.send(
            {
                "type": "join",
                "version": 1,
                "room": room["room_id"],
                "token": room["invite_token"],
                "role": "host",
                "name": "Eve",
            }
        )
        answer = await impostor.receive()

    assert answer["code"] == "room-not-found"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("{not json", "invalid-message"),
        ("[1, 2, 3]", "invalid-message"),
        ('{"no": "type"}', "invalid-message"),
        ('{"type": "teleport"}', "unknown-type"),
        ('{"type": "offer", "to": 5, "connection_id": "c", "sdp": "v=0"}', "invalid-message"),
        ('{"type": "ping", "extra": true}', "invalid-message"),
        ("{" * 40 + "}" * 40, "invalid-message"),
        ('{"type": "ping", "x": ' + "[" * 30 + "]" * 30 + "}", "invalid-message"),
    ],
    ids=[
        "bad-json",
        "not-object",
        "no-type",
        "unknown-type",
        "wrong-field-type",
        "extra-field",
        "deep-object",
        "deep-array",
    ],
)
async def test_malformed_message_answered_and_connection_usable(
    server: RunningServer, text: str, code: str
) -> None:
    room = await create_room(server)
    async with peer(server) as guest:
        await guest.join(room)
        await guest.send(text)
        error = await guest.receive()
        await guest.send({"type": "ping"})
        pong = await guest.receive()

    assert error["type"] == "error"
    assert error["code"] == code
    assert error["message"]
    assert pong == {"type": "pong"}


async def test_invalid_field_named_in_error(server: RunningServer) -> None:
    room = await create_room(server)
    async with peer(server) as guest:
        await guest.join(room)
        await guest.send({"type": "offer", "to": "someone", "connection_id": "c", "sdp": ""})
        error = await guest.receive()

    assert error["code"] == "invalid-message"
    assert "sdp" in error["message"]
    assert error["ref_type"] == "offer"


async def test_binary_message_rejected(server: RunningServer) -> None:
    room = await create_room(server)
    async with peer(server) as guest:
        await guest.join(room)
        await guest.connection.send(b"\x00\x01")
        error = await guest.receive()
        await guest.send({"type": "ping"})
        pong = await guest.receive()

    assert error["code"] == "invalid-message"
    assert pong["type"] == "pong"


async def test_huge_sdp_rejected_in_words(server: RunningServer) -> None:
    room = await create_room(server)
    async with peer(server) as host, peer(server) as guest:
        host_welcome = await host.join(room, role="host")
        await guest.join(room)
        await guest.send(
            {
                "type": "offer",
                "to": host_welcome["peer_id"],
                "connection_id": "c",
                "sdp": "a" * 40_000,
            }
        )
        error = await guest.receive()

    assert error["code"] == "invalid-message"
    assert "sdp" in error["message"]


async def test_oversized_message_closes_with_1009(server: RunningServer) -> None:
    room = await create_room(server)
    async with peer(server, max_size=None) as guest:
        await guest.join(room)
        await guest.send(json.dumps({"type": "ping", "pad": "x" * 200_000}))
        code = await guest.closed_with()

    assert code == 1009


async def test_flood_closes_with_1008_and_spares_other_rooms(server: RunningServer) -> None:
    room = await create_room(server)
    other = await create_room(server)
    async with peer(server) as flooder, peer(server) as bystander:
        await flooder.join(room)
        await bystander.join(other)
        for _ in range(400):
            try:
                await flooder.send({"type": "ping"})
            except Exception:
                break
        code = await flooder.closed_with()
        await bystander.send({"type": "ping"})
        pong = await bystander.receive()

    assert code == 1008
    assert pong == {"type": "pong"}


async def test_foreign_origin_refused_with_403(server: RunningServer) -> None:
    with pytest.raises(InvalidStatus) as raised:
        async with peer(server, origin="https://evil.example"):
            pass

    assert raised.value.response.status_code == 403


async def test_same_origin_accepted(server: RunningServer) -> None:
    room = await create_room(server)
    async with peer(server, origin=server.local_url) as guest:
        welcome = await guest.join(room)

    assert welcome["type"] == "welcome"


async def test_forged_from_overwritten(server: RunningServer) -> None:
    room = await create_room(server)
    async with peer(server) as host, peer(server) as alice, peer(server) as bob:
        host_id = (await host.join(room, role="host"))["peer_id"]
        alice_id = (await alice.join(room, name="Alice"))["peer_id"]
        bob_id = (await bob.join(room, name="Bob"))["peer_id"]
        await bob.send(
            {"type": "offer", "to": host_id, "connection_id": "c1", "sdp": "v=0", "from": alice_id}
        )
        relayed = await host.receive_type("offer")

    assert relayed["from"] == bob_id
    assert relayed["sdp"] == "v=0"


async def test_message_to_other_room_not_relayed(server: RunningServer) -> None:
    room = await create_room(server)
    other = await create_room(server)
    async with peer(server) as host, peer(server) as stranger:
        host_id = (await host.join(room, role="host"))["peer_id"]
        await stranger.join(other, role="host")
        await stranger.send({"type": "offer", "to": host_id, "connection_id": "c1", "sdp": "v=0"})
        error = await stranger.receive()
        await host.send({"type": "ping"})
        next_for_host = await host.receive()

    assert error["code"] == "peer-not-found"
    assert next_for_host == {"type": "pong"}


async def test_messages_before_join_rejected(server: RunningServer) -> None:
    async with peer(server) as guest:
        await guest.send({"type": "offer", "to": "abc", "connection_id": "c1", "sdp": "v=0"})
        error = await guest.receive()

    assert error["code"] == "not-joined"


async def test_second_join_rejected(server: RunningServer) -> None:
    room = await create_room(server)
    async with peer(server) as guest:
        await guest.join(room)
        again = await guest.join(room)

    assert again["code"] == "already-joined"


async def test_silent_client_closed_after_join_timeout(server: RunningServer) -> None:
    async with peer(server) as idle:
        code = await idle.closed_with(timeout=10)

    assert code == 4003


async def test_expired_link_reported_to_token_holder(server: RunningServer) -> None:
    room = await create_room(server, invite_ttl=0.5)
    await asyncio.sleep(1)
    async with peer(server) as guest:
        answer = await guest.join(room)

    assert answer["code"] == "link-expired"


async def test_host_end_closes_room_for_everyone(server: RunningServer) -> None:
    room = await create_room(server)
    async with peer(server) as host, peer(server) as guest:
        await host.join(room, role="host")
        await guest.join(room)
        await guest.send({"type": "end"})
        refused = await guest.receive()
        await host.send({"type": "end"})
        closed = await guest.receive_type("room-closed")
        code = await guest.closed_with()
    async with peer(server) as late:
        late_answer = await late.join(room)

    assert refused["code"] == "forbidden"
    assert closed == {"type": "room-closed", "reason": "ended"}
    assert code == 4000
    assert late_answer["code"] == "room-closed"


async def test_resume_keeps_peer_id_without_leaving(server: RunningServer) -> None:
    room = await create_room(server)
    async with peer(server) as host:
        await host.join(room, role="host")
        async with peer(server) as guest:
            first = await guest.join(room)
            await host.receive_type("peer-joined")
        async with peer(server) as guest_again:
            second = await guest_again.join(room, resume=first["resume"])
        await asyncio.sleep(0.2)
        await host.send({"type": "ping"})
        next_for_host = await host.receive()

    assert second["peer_id"] == first["peer_id"]
    assert next_for_host == {"type": "pong"}


async def test_forged_resume_gets_new_peer_id(server: RunningServer) -> None:
    room = await create_room(server)
    async with peer(server) as host, peer(server) as guest:
        host_welcome = await host.join(room, role="host")
        welcome = await guest.join(room, resume=f"{host_welcome['peer_id']}.forged")

    assert welcome["peer_id"] != host_welcome["peer_id"]


async def test_departed_peer_announced_after_grace(server: RunningServer) -> None:
    room = await create_room(server)
    async with peer(server) as host:
        await host.join(room, role="host")
        async with peer(server) as guest:
            guest_id = (await guest.join(room))["peer_id"]
            await host.receive_type("peer-joined")
        left = await host.receive_type("peer-left", timeout=6)

    assert left == {"type": "peer-left", "peer_id": guest_id}


async def test_leave_announced_at_once(server: RunningServer) -> None:
    room = await create_room(server)
    async with peer(server) as host, peer(server) as guest:
        await host.join(room, role="host")
        guest_id = (await guest.join(room))["peer_id"]
        await host.receive_type("peer-joined")
        await guest.send({"type": "leave"})
        left = await host.receive_type("peer-left", timeout=1)
        code = await guest.closed_with()

    assert left["peer_id"] == guest_id
    assert code == 1000


def test_ws_url_shape(server: RunningServer) -> None:
    assert ws_url(server).startswith("ws://127.0.0.1:")
