"""Fixtures shared by every test: settings, databases and a running server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pairview.server.runner import RunningServer, start_server
from pairview.settings import ServerSettings
from tests.support.databases import fresh_database


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of an empty database, once on SQLite and once on PostgreSQL."""
    async with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def server_settings(tmp_path: Path) -> ServerSettings:
    return ServerSettings(
        data_dir=tmp_path / "data",
        host="127.0.0.1",
        port=0,
        reconnect_grace=2,
        signaling_join_timeout=3,
    )


@pytest.fixture
async def server(server_settings: ServerSettings) -> AsyncIterator[RunningServer]:
    """The Pairview server running in this process on a free loopback port."""
    running = await start_server(server_settings, access_log=False)
    try:
        yield running
    finally:
        await running.stop()
