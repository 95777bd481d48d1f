"""ICE servers and TURN credentials: minted for members of live rooms only."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import SecretStr

from pairview.errors import ConfigError
from pairview.server.ice import IceConfig, stun_bind_host, turn_credentials
from pairview.server.runner import RunningServer, start_server
from pairview.server.state import ServerState
from pairview.settings import ServerSettings, load_settings
from tests.server.wsclient import create_room, peer

SECRET = "correct-horse-battery-staple"


def expected_credential(username: str) -> str:
    digest = hmac.new(SECRET.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def test_credentials_follow_turn_rest_convention() -> None:
    username, credential, expires_at = turn_credentials(SECRET, "peer-1", 600, now=1_000_000)

    assert username == "1000600:peer-1"
    assert expires_at == 1_000_600
    assert credential == expected_credential(username)


def turn_settings(tmp_path: Any, **extra: Any) -> ServerSettings:
    return ServerSettings(
        data_dir=tmp_path,
        host="198.51.100.1",
        turn_secret=SecretStr(SECRET),
        turn_host="relay.example.com",
        **extra,
    )


def test_grant_lists_stun_and_every_turn_transport(tmp_path: Any) -> None:
    config = IceConfig(turn_settings(tmp_path, turn_credential_ttl=900), stun_port=3478)

    grant = config.grant("peer-1", now=2_000_000)

    stun, turn = grant.servers
    assert stun.urls == ["stun:198.51.100.1:3478"]
    assert stun.username is None
    assert turn.urls == [
        "turn:relay.example.com:3478?transport=udp",
        "turn:relay.example.com:3478?transport=tcp",
        "turns:relay.example.com:5349?transport=tcp",
    ]
    assert turn.username == "2000900:peer-1"
    assert turn.credential == expected_credential("2000900:peer-1")
    assert grant.expires_at == 2_000_900


def test_grant_without_builtin_stun_uses_coturn(tmp_path: Any) -> None:
    settings = turn_settings(tmp_path, turn_transports=["udp"], stun_port="off")
    assert stun_bind_host(settings) is None
    config = IceConfig(settings, stun_port=None)

    servers = config.grant("p").servers

    assert [server.urls for server in servers] == [
        ["stun:relay.example.com:3478"],
        ["turn:relay.example.com:3478?transport=udp"],
    ]


def test_grant_without_turn_has_no_credentials(tmp_path: Any) -> None:
    settings = ServerSettings(data_dir=tmp_path, host="198.51.100.1", ice_host="stun.example.org")

    grant = IceConfig(settings, stun_port=3478).grant("p")

    assert [server.urls for server in grant.servers] == [["stun:stun.example.org:3478"]]
    assert grant.expires_at is None


def test_stun_off_on_loopback_unless_given_a_host(tmp_path: Any) -> None:
    assert stun_bind_host(ServerSettings(data_dir=tmp_path, host="127.0.0.1")) is None
    assert (
        stun_bind_host(ServerSettings(data_dir=tmp_path, host="127.0.0.1", stun_host="0.0.0.0"))
        == "0.0.0.0"
    )
    assert (
        stun_bind_host(ServerSettings(data_dir=tmp_path, host="0.0.0.0", stun_port="off")) is None
    )


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("turn_credential_ttl", "25h", "at most 24 hours"),
        ("turn_secret", "short", "at least 16 characters"),
        ("turn_transports", '["udp", "quic"]', "turn_transports"),
        ("stun_port", "70000", "stun_port"),
        ("turn_host", "relay.example.com/evil", "host name or IP address"),
    ],
)
def test_bad_ice_setting_named(
    monkeypatch: pytest.MonkeyPatch, setting: str, value: str, message: str
) -> None:
    monkeypatch.setenv(f"PAIRVIEW_{setting.upper()}", value)

    with pytest.raises(ConfigError, match=message) as raised:
        load_settings(ServerSettings)

    assert f"PAIRVIEW_{setting.upper()}" in str(raised.value)


def test_secret_hidden_in_repr(tmp_path: Any) -> None:
    settings = turn_settings(tmp_path)

    assert SECRET not in repr(settings)
    assert SECRET not in str(settings.model_dump())


@pytest.fixture
async def turn_server(server_settings: ServerSettings) -> AsyncIterator[RunningServer]:
    settings = server_settings.model_copy(
        update={"turn_secret": SecretStr(SECRET), "turn_host": "198.51.100.1"}
    )
    running = await start_server(settings, access_log=False)
    try:
        yield running
    finally:
        await running.stop()


def server_state(server: RunningServer) -> ServerState:
    app: Any = server.server.config.app
    state: ServerState = app.state.pairview
    return state


async def test_welcome_carries_fresh_turn_credentials(
    turn_server: RunningServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    room = await create_room(turn_server)
    async with peer(turn_server) as guest:
        welcome = await guest.join(room)

    turn = welcome["ice_servers"][-1]
    expiry, _, peer_id = turn["username"].partition(":")
    assert peer_id == welcome["peer_id"]
    assert int(expiry) == welcome["ice_expires_at"]
    assert 6 * 3600 - 60 < int(expiry) - time.time() <= 6 * 3600
    assert turn["credential"] == expected_credential(turn["username"])
    assert turn["credential"] not in caplog.text
    assert SECRET not in caplog.text


async def test_refresh_ice_answers_member_of_live_room(turn_server: RunningServer) -> None:
    room = await create_room(turn_server)
    async with peer(turn_server) as host:
        await host.join(room, role="host", name="Host")
        await host.send({"type": "refresh-ice"})
        fresh = await host.receive_type("ice-servers")

    turn = fresh["ice_servers"][-1]
    assert turn["credential"] == expected_credential(turn["username"])
    assert fresh["expires_at"] == int(turn["username"].partition(":")[0])
    assert server_state(turn_server).signaling.stats.ice_refreshes == 1


async def test_refresh_ice_refused_after_room_ended(turn_server: RunningServer) -> None:
    room = await create_room(turn_server)
    async with peer(turn_server) as guest:
        await guest.join(room)
        # End the room in the database only, as another server instance would.
        await server_state(turn_server).rooms.end_unchecked(room["room_id"])
        await guest.send({"type": "refresh-ice"})
        error = await guest.receive_type("error")

    assert error["code"] == "room-closed"
    assert error["ref_type"] == "refresh-ice"
    assert server_state(turn_server).signaling.stats.ice_refreshes == 0


async def test_refresh_ice_refused_before_join(turn_server: RunningServer) -> None:
    async with peer(turn_server) as stranger:
        await stranger.send({"type": "refresh-ice"})
        error = await stranger.receive()

    assert error["code"] == "not-joined"


async def test_connection_report_counted(server: RunningServer) -> None:
    room = await create_room(server)
    async with peer(server) as host, peer(server) as guest:
        await host.join(room, role="host", name="Host")
        guest_id = (await guest.join(room))["peer_id"]
        for kind in ("relay", "direct", "relay"):
            await host.send(
                {"type": "connection-report", "guest": guest_id, "connection_type": kind}
            )
        await host.send({"type": "ping"})
        await host.receive_type("pong")

    assert server_state(server).signaling.stats.connection_types == {"relay": 2, "direct": 1}


@pytest.mark.parametrize(
    ("sender", "report", "code"),
    [
        ("guest", {"connection_type": "relay"}, "forbidden"),
        ("host", {"guest": "nobody", "connection_type": "relay"}, "peer-not-found"),
        ("host", {"connection_type": "carrier-pigeon"}, "invalid-message"),
    ],
    ids=["from-guest", "unknown-guest", "unknown-type"],
)
async def test_bad_connection_report_rejected(
    server: RunningServer, sender: str, report: dict[str, str], code: str
) -> None:
    room = await create_room(server)
    async with peer(server) as host, peer(server) as guest:
        await host.join(room, role="host", name="Host")
        guest_id = (await guest.join(room))["peer_id"]
        await host.receive_type("peer-joined")
        client = host if sender == "host" else guest
        await client.send({"type": "connection-report", "guest": guest_id, **report})
        error = await client.receive_type("error")

    assert error["code"] == code
    assert server_state(server).signaling.stats.connection_types == {}


async def test_reconnect_relayed_to_host_with_sender(server: RunningServer) -> None:
    room = await create_room(server)
    async with peer(server) as host, peer(server) as guest:
        host_id = (await host.join(room, role="host", name="Host"))["peer_id"]
        guest_id = (await guest.join(room))["peer_id"]
        await guest.send(
            {"type": "reconnect", "to": host_id, "connection_id": "abc", "from": "forged"}
        )
        relayed = await host.receive_type("reconnect")

    assert relayed == {
        "type": "reconnect",
        "to": host_id,
        "connection_id": "abc",
        "from": guest_id,
    }
