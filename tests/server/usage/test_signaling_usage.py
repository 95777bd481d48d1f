"""Signaling records rooms, participants, presenters, clients and connection types."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pairview.server.runner import RunningServer, start_server
from pairview.server.tokens import load_or_create_secret_key
from pairview.server.usage.events import UsageKeys
from pairview.settings import ServerSettings
from tests.server.wsclient import create_room, peer
from tests.support.database_rows import all_rows, execute, wait_for_rows

APP = {"name": "pairview", "version": "0.1.0", "os": "linux", "os_version": "6.1.0"}
BROWSER = {"name": "chromium", "version": "156.0.1", "os": "linux", "os_version": None}
EVENTS = "SELECT * FROM usage_events ORDER BY id"


@pytest.fixture
async def usage_server(tmp_path: Path, database_url: str) -> AsyncIterator[RunningServer]:
    settings = ServerSettings(
        data_dir=tmp_path / "data",
        host="127.0.0.1",
        port=0,
        database_url=database_url,
        reconnect_grace=2,
        signaling_join_timeout=3,
    )
    running = await start_server(settings, access_log=False)
    try:
        yield running
    finally:
        await running.stop()


def state(server: RunningServer) -> Any:
    app: Any = server.server.config.app
    return app.state.pairview


def kinds(rows: list[dict[str, Any]]) -> Counter[str]:
    return Counter(row["kind"] for row in rows)


async def test_room_lifecycle_events(
    usage_server: RunningServer, database_url: str, tmp_path: Path
) -> None:
    room = await create_room(usage_server)
    async with peer(usage_server) as host, peer(usage_server) as guest:
        assert (await host.join(room, "host", "Hanna", client=APP))["type"] == "welcome"
        welcome = await guest.join(room, "guest", "Ana", client=BROWSER)
        await host.receive_type("peer-joined")
        report = {
            "type": "connection-report",
            "guest": welcome["peer_id"],
            "connection_type": "relay",
        }
        await host.send(report)
        await guest.send({"type": "leave"})
        await host.receive_type("peer-left")
        await host.send({"type": "leave"})

    # A different presenter takes the room over, leaves, and comes back.
    for name in ("Bob", "Bob"):
        async with peer(usage_server) as host:
            assert (await host.join(room, "host", name, client=APP))["type"] == "welcome"
            await host.send({"type": "leave"})
            await host.closed_with()
    async with peer(usage_server) as host:
        assert (await host.join(room, "host", "Bob"))["type"] == "welcome"
        async with httpx.AsyncClient() as client:
            ended = await client.delete(
                f"{usage_server.local_url}/api/rooms/{room['room_id']}",
                headers={"Authorization": f"Bearer {room['host_token']}"},
            )
        assert ended.status_code == 204
        await host.receive_type("room-closed")

    rows = await wait_for_rows(database_url, EVENTS, lambda rows: kinds(rows)["room-ended"] == 4)
    assert kinds(rows) == {
        "room-created": 1,
        "room-started": 4,
        "room-ended": 4,
        "participant-joined": 5,
        "participant-left": 5,
        "client-connected": 5,
        "presenter-changed": 4,
        "peer-connection": 1,
    }
    presenters = [row["detail"] for row in rows if row["kind"] == "presenter-changed"]
    assert presenters == ["first", "different", "same", "same"]
    connection = next(row for row in rows if row["kind"] == "peer-connection")
    assert connection["detail"] == "relay"
    clients = Counter(
        (row["role"], row["client"], row["os"]) for row in rows if row["kind"] == "client-connected"
    )
    assert clients == {
        ("host", "Pairview 0.1.0", "Linux 6.1"): 3,
        ("guest", "Chromium 156", "Linux"): 1,
        ("host", "Unknown", None): 1,
    }

    # Participants are distinguished by a keyed hash of their names, never the name.
    keys = UsageKeys(load_or_create_secret_key(tmp_path / "data"))
    joined = [row for row in rows if row["kind"] == "participant-joined"]
    assert [row["participant_ref"] for row in joined] == [
        keys.participant_ref(name) for name in ("Hanna", "Ana", "Bob", "Bob", "Bob")
    ]
    assert {row["room_ref"] for row in rows if row["room_ref"]} == {keys.room_ref(room["room_id"])}
    assert all(row["user_id"] is None for row in rows)

    stored = str((await all_rows(database_url))["usage_events"])
    for secret in ("Hanna", "Ana", "Bob", room["room_id"], room["host_token"], "127.0.0.1"):
        assert secret not in stored


async def test_resumed_peer_is_not_a_new_participant(
    usage_server: RunningServer, database_url: str
) -> None:
    room = await create_room(usage_server)
    async with peer(usage_server) as host:
        welcome = await host.join(room, "host", "Hanna")
    async with peer(usage_server) as host:
        again = await host.join(room, "host", "Hanna", resume=welcome["resume"])
        assert again["peer_id"] == welcome["peer_id"]
        await host.send({"type": "leave"})
        await host.closed_with()

    rows = await wait_for_rows(database_url, EVENTS, lambda rows: kinds(rows)["room-ended"] == 1)
    assert kinds(rows)["participant-joined"] == 1
    assert kinds(rows)["room-started"] == 1


async def test_broken_usage_table_leaves_signaling_working(
    usage_server: RunningServer, database_url: str
) -> None:
    await execute(database_url, "ALTER TABLE usage_events RENAME TO usage_events_gone")
    room = await create_room(usage_server)
    async with peer(usage_server) as host, peer(usage_server) as guest:
        assert (await host.join(room, "host", "Hanna"))["type"] == "welcome"
        welcome = await guest.join(room, "guest", "Ana")
        await host.receive_type("peer-joined")
        offer = {"type": "offer", "to": welcome["peer_id"], "connection_id": "c1", "sdp": "v=0"}
        await host.send(offer)
        relayed = await guest.receive_type("offer")
        assert relayed["sdp"] == "v=0"

        recorder = state(usage_server).usage_recorder
        await recorder.flush()
        assert recorder.write_errors >= 1
        assert recorder.dropped >= 1
        assert state(usage_server).signaling.stats.relayed == 1
    await execute(database_url, "ALTER TABLE usage_events_gone RENAME TO usage_events")
