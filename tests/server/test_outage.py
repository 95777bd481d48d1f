"""A database outage: a fast 503 while it lasts, and recovery when it ends."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from pairview.server.runner import RunningServer, start_server
from pairview.settings import ServerSettings
from tests.server.wsclient import peer
from tests.support.databases import fresh_database
from tests.support.tcpproxy import TcpProxy
from tests.support.timing import seconds


@pytest.fixture
async def proxy() -> AsyncIterator[TcpProxy]:
    running = TcpProxy("127.0.0.1", 5432)
    await running.start()
    yield running
    await running.cut()


@pytest.fixture
async def server(tmp_path: Path, proxy: TcpProxy) -> AsyncIterator[RunningServer]:
    async with fresh_database("postgresql", tmp_path) as url:
        through_proxy = url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        settings = ServerSettings(data_dir=tmp_path / "data", port=0, database_url=through_proxy)
        running = await start_server(settings, access_log=False)
        try:
            yield running
        finally:
            await running.stop()


async def create_room(client: httpx.AsyncClient, server: RunningServer) -> httpx.Response:
    return await client.post(f"{server.local_url}/api/rooms")


async def test_outage_gives_503_then_recovers(
    server: RunningServer, proxy: TcpProxy, caplog: pytest.LogCaptureFixture
) -> None:
    # Every request is bounded: a request that hung on the database would fail the test.
    async with httpx.AsyncClient(timeout=seconds(15)) as client:
        before = await create_room(client, server)
        await proxy.cut()
        with caplog.at_level(logging.ERROR):
            during = [await create_room(client, server) for _ in range(3)]
            health = await client.get(f"{server.local_url}/api/health")
        await proxy.restore()
        after = await create_room(client, server)

    assert before.status_code == 201
    assert [response.status_code for response in during] == [503, 503, 503]
    assert during[0].headers["retry-after"]
    assert "database" in during[0].json()["detail"]
    assert health.status_code == 503
    assert after.status_code == 201
    # One line per failed request, with no traceback flood.
    assert len([r for r in caplog.records if r.exc_info]) == 0


async def test_join_during_outage_answered_in_words(server: RunningServer, proxy: TcpProxy) -> None:
    async with httpx.AsyncClient(timeout=seconds(15)) as client:
        room = (await create_room(client, server)).json()
    await proxy.cut()
    async with peer(server) as guest:
        answer = await asyncio.wait_for(guest.join(room), seconds(15))
        code = await guest.closed_with()
    await proxy.restore()
    async with peer(server) as guest_again:
        welcome = await guest_again.join(room)

    assert answer["type"] == "error"
    assert answer["code"] == "unavailable"
    assert code == 4001
    assert welcome["type"] == "welcome"


async def test_hung_database_answers_503_within_timeout(
    server: RunningServer, proxy: TcpProxy
) -> None:
    async with httpx.AsyncClient(timeout=seconds(30)) as client:
        before = await create_room(client, server)
        proxy.stall()
        during = await create_room(client, server)
        await proxy.cut()
        await proxy.restore()
        after = await create_room(client, server)

    assert before.status_code == 201
    assert during.status_code == 503
    assert after.status_code == 201
