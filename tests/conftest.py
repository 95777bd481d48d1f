"""Fixtures shared by every test: settings, databases and a running server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pairview.server.runner import RunningServer, start_server
from pairview.settings import ServerSettings
from tests.support.databases import fresh_database


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run a failed end-to-end test once more before reporting it as failed.

    These tests drive real browsers, Xvfb and network namespaces on a
    machine that other work shares, and a page load or ICE check delayed
    past a timeout fails them now and then. A rerun shows as "R" in the
    report, so such failures stay visible, and a test that fails twice fails.
    """
    for item in items:
        if item.get_closest_marker("e2e") is not None:
            item.add_marker(pytest.mark.flaky(reruns=1, reruns_delay=2))


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
