"""The Prometheus endpoint: who may read it, and what it counts."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from pairview.server.runner import RunningServer, start_server
from pairview.settings import ServerSettings
from tests.server.wsclient import create_room, peer

TOKEN = "metrics-token-for-tests"
SAMPLE = re.compile(r"^([a-z_:]+)(?:\{(.*)\})? (\S+)$")


def settings_for(tmp_path: Path, **overrides: Any) -> ServerSettings:
    return ServerSettings(
        data_dir=tmp_path / "data",
        host="127.0.0.1",
        port=0,
        reconnect_grace=2,
        signaling_join_timeout=3,
        **overrides,
    )


@pytest.fixture
async def metrics_server(tmp_path: Path) -> AsyncIterator[RunningServer]:
    running = await start_server(settings_for(tmp_path, metrics_token=TOKEN), access_log=False)
    try:
        yield running
    finally:
        await running.stop()


def parse(text: str) -> dict[tuple[str, str], float]:
    """Return {(name, labels): value}, checking that every family declares HELP and TYPE."""
    declared = set()
    samples = {}
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            declared.add(line.split()[2])
            continue
        if line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match is not None, f"not a sample line: {line!r}"
        name, labels, value = match.groups()
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in declared or family in declared, f"{name} has no TYPE line"
        samples[name, labels or ""] = float(value)
    return samples


async def scrape(server: RunningServer, token: str | None = TOKEN) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient() as client:
        return await client.get(f"{server.local_url}/metrics", headers=headers)


async def test_metrics_need_the_token(metrics_server: RunningServer) -> None:
    missing = await scrape(metrics_server, None)
    wrong = await scrape(metrics_server, "not-the-token-at-all")
    right = await scrape(metrics_server)

    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert wrong.status_code == 401
    assert right.status_code == 200
    assert right.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"


async def test_metrics_off_without_token(server: RunningServer) -> None:
    assert (await scrape(server)).status_code == 404


async def test_metrics_count_rooms_and_messages(metrics_server: RunningServer) -> None:
    room = await create_room(metrics_server)
    async with peer(metrics_server) as host, peer(metrics_server) as guest:
        await host.join(room, "host", "Hanna")
        welcome = await guest.join(room, "guest", "Ana")
        await host.receive_type("peer-joined")
        await host.send(
            {"type": "offer", "to": welcome["peer_id"], "connection_id": "c", "sdp": "x"}
        )
        await guest.receive_type("offer")
        await guest.send({"type": "no-such-type"})
        await guest.receive_type("error")

        response = await scrape(metrics_server)

    samples = parse(response.text)
    assert samples["pairview_rooms", ""] == 1
    assert samples["pairview_participants", 'role="host"'] == 1
    assert samples["pairview_participants", 'role="guest"'] == 1
    assert samples["pairview_websocket_connections", 'kind="signaling"'] == 2
    assert samples["pairview_websocket_connections_total", ""] == 2
    assert samples["pairview_signaling_messages_relayed_total", ""] == 1
    assert samples["pairview_signaling_messages_rejected_total", ""] == 1
    assert samples["pairview_turn_credentials_issued_total", ""] == 0

    created = 'method="POST",route="/api/rooms",status="2xx"'
    assert samples["pairview_http_request_duration_seconds_count", created] == 1
    assert samples["pairview_http_request_duration_seconds_bucket", created + ',le="+Inf"'] == 1
    buckets = [
        value
        for (name, labels), value in samples.items()
        if name == "pairview_http_request_duration_seconds_bucket" and labels.startswith(created)
    ]
    assert buckets == sorted(buckets), "bucket counts must be cumulative"
    # Route templates, not paths: no room id reaches the metrics.
    assert room["room_id"] not in response.text


async def test_turn_credentials_are_counted(tmp_path: Path) -> None:
    settings = settings_for(
        tmp_path,
        metrics_token=TOKEN,
        turn_secret="turn-secret-for-tests",
        turn_host="127.0.0.1",
    )
    running = await start_server(settings, access_log=False)
    try:
        room = await create_room(running)
        async with peer(running) as host:
            welcome = await host.join(room, "host", "Hanna")
            assert any(server.get("username") for server in welcome["ice_servers"])
            await host.send({"type": "refresh-ice"})
            await host.receive_type("ice-servers")
            samples = parse((await scrape(running)).text)
    finally:
        await running.stop()

    assert samples["pairview_turn_credentials_issued_total", ""] == 2


async def test_separate_metrics_listener(tmp_path: Path) -> None:
    running = await start_server(settings_for(tmp_path, metrics_port=0), access_log=False)
    try:
        assert running.metrics_port is not None
        base = f"http://127.0.0.1:{running.metrics_port}"
        async with httpx.AsyncClient() as client:
            metrics = await client.get(f"{base}/metrics")
            other = await client.get(f"{base}/api/health")
        on_main = await scrape(running)
    finally:
        await running.stop()

    assert metrics.status_code == 200
    assert parse(metrics.text)["pairview_rooms", ""] == 0
    assert other.status_code == 404
    assert on_main.status_code == 404
