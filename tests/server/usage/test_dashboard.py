"""The admin dashboard: its data as JSON and CSV, and its charts drawn in headless Chromium."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import pytest
from playwright.async_api import Browser, async_playwright
from sqlalchemy import insert

from pairview.server import db
from pairview.server.runner import RunningServer
from pairview.server.usage.events import UsageKind, UsageRecord
from pairview.server.usage.models import UsageDaily, UsageEvent
from tests.server.accounts.conftest import PASSWORD
from tests.server.accounts.test_pages import CHROMIUM_ARGS, Tab
from tests.support.accounts import sign_up
from tests.support.browser import png_pixels
from tests.support.database_rows import make_admin
from tests.support.mailbox import Mailbox
from tests.support.timing import seconds

ADMIN = "admin@example.org"
TODAY = datetime.now(UTC).date()
CHARTS = ["rooms", "participants", "connections", "hours", "clients", "os"]
# The figure's background, #17191c in pairview.css.
BACKGROUND = np.array([23, 25, 28])
# Colours of the connection types: --ok, --warn and --bad.
TYPE_COLOURS = {"direct": (52, 168, 83), "nat": (251, 188, 4), "relay": (234, 67, 53)}


@pytest.fixture(autouse=True)
def today() -> None:
    """Date each test's events and checks from the day it starts, since a run may cross midnight."""
    global TODAY
    TODAY = datetime.now(UTC).date()


def at(day: date, hour: int) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 30, tzinfo=UTC)


def sample_events() -> list[UsageRecord]:
    """Rooms on the last three days, of one to three participants, over every connection type."""
    events = []
    for offset, size, kind in [(1, 2, "direct"), (2, 3, "relay"), (2, 1, "nat"), (3, 2, "direct")]:
        day = TODAY - timedelta(days=offset)
        room = f"room-{offset}-{size}"
        events.append(UsageRecord(UsageKind.ROOM_STARTED, at(day, 9 + size), room_ref=room))
        for person in range(size):
            events.append(
                UsageRecord(
                    UsageKind.PARTICIPANT_JOINED,
                    at(day, 9 + size + person),
                    room_ref=room,
                    participant_ref=f"p{person}",
                )
            )
            label = ("Pairview 0.1.0", "Linux 6.1") if person == 0 else ("Chrome 156", "Windows")
            events.append(
                UsageRecord(UsageKind.CLIENT_CONNECTED, at(day, 9), client=label[0], os=label[1])
            )
        events.append(
            UsageRecord(UsageKind.PEER_CONNECTION, at(day, 12), room_ref=room, detail=kind)
        )
    return events


def stored_counts() -> list[dict[str, Any]]:
    """Daily counts of a day whose raw events the retention job already folded."""
    day = TODAY - timedelta(days=20)
    return [
        {"day": day, "measure": "rooms", "value": "", "count": 4},
        {"day": day, "measure": "participants", "value": "2", "count": 4},
        {"day": day, "measure": "connections", "value": "relay", "count": 3},
        {"day": day, "measure": "connections", "value": "direct", "count": 1},
        {"day": day, "measure": "hours", "value": "17", "count": 8},
        {"day": day, "measure": "clients", "value": "Firefox 140", "count": 4},
        {"day": day, "measure": "os", "value": "macOS 14.5", "count": 4},
        {"day": day, "measure": "events", "value": "room-started", "count": 4},
    ]


@pytest.fixture
async def admin(
    client: httpx.AsyncClient, mailbox: Mailbox, database_url: str, accounts_server: RunningServer
) -> httpx.AsyncClient:
    """A signed-in administrator's client, on a server with usage data."""
    await sign_up(client, mailbox, ADMIN, PASSWORD, "Ada Admin")
    await make_admin(database_url, ADMIN)
    engine = db.create_engine(database_url)
    try:
        async with db.sessionmaker(engine).begin() as session:
            await session.execute(insert(UsageEvent), [e.row() for e in sample_events()])
            await session.execute(insert(UsageDaily), stored_counts())
    finally:
        await engine.dispose()
    return client


async def test_summary_adds_raw_and_stored_days(admin: httpx.AsyncClient) -> None:
    start = (TODAY - timedelta(days=29)).isoformat()
    response = await admin.get("/api/admin/usage", params={"start": start})

    assert response.status_code == 200, response.text
    summary = response.json()
    assert summary["start"] == start
    assert summary["end"] == TODAY.isoformat()
    assert len(summary["days"]) == 30
    assert sum(summary["rooms_per_day"]) == 4 + 4
    assert summary["rooms_per_day"][-2] == 1
    assert summary["rooms_per_day"][-3] == 2
    assert summary["participants_per_room"] == {"1": 1, "2": 6, "3": 1}
    assert summary["connection_totals"] == {"direct": 3, "nat": 1, "relay": 4}
    assert summary["clients"] == {"Chrome 156": 4, "Firefox 140": 4, "Pairview 0.1.0": 4}
    assert summary["operating_systems"]["macOS 14.5"] == 4
    assert summary["busiest_hours"][17] == 8
    assert sum(summary["busiest_hours"]) == 8 + 8
    assert summary["now"] == {"rooms": 0, "participants": 0, "websockets": 0}


async def test_csv_export(admin: httpx.AsyncClient) -> None:
    start = (TODAY - timedelta(days=29)).isoformat()
    response = await admin.get("/api/admin/usage.csv", params={"start": start})

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    filename = f"pairview-usage-{start}-{TODAY.isoformat()}.csv"
    assert response.headers["content-disposition"] == f'attachment; filename="{filename}"'
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == ["day", "measure", "value", "count"]
    relayed = sum(
        int(r["count"]) for r in rows if r["measure"] == "connections" and r["value"] == "relay"
    )
    assert relayed == 4
    old = (TODAY - timedelta(days=20)).isoformat()
    assert {"day": old, "measure": "rooms", "value": "", "count": "4"} in rows


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"start": "2024-13-01"}, "start", "'2024-13-01'"),
        ({"end": "yesterday"}, "end", "'yesterday'"),
        ({"start": "2024-02-02", "end": "2024-02-01"}, "start", "after the end"),
        ({"start": "2020-01-01", "end": "2024-01-01"}, "start", "longer than 731 days"),
    ],
    ids=["bad-month", "not-a-date", "reversed", "too-long"],
)
async def test_bad_range_is_named(
    admin: httpx.AsyncClient, params: dict[str, str], field: str, words: str
) -> None:
    response = await admin.get("/api/admin/usage", params=params)

    assert response.status_code == 422
    assert response.json()["field"] == field
    assert words in response.json()["detail"]


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()


def _drawn_share(pixels: np.ndarray[Any, Any], box: Any) -> float:
    """Return the share of pixels in `box` that differ clearly from the figure's background."""
    top, left = int(box["y"]), int(box["x"])
    area = pixels[top : top + int(box["height"]), left : left + int(box["width"])].astype(int)
    differs = np.abs(area - BACKGROUND).sum(axis=2) > 60
    return float(differs.mean())


def _has_colour(pixels: np.ndarray[Any, Any], box: Any, colour: tuple[int, ...]) -> bool:
    top, left = int(box["y"]), int(box["x"])
    area = pixels[top : top + int(box["height"]), left : left + int(box["width"])].astype(int)
    return bool((np.abs(area - np.array(colour)).sum(axis=2) < 24).any())


async def test_dashboard_draws_every_chart(
    admin: httpx.AsyncClient, browser: Browser, accounts_server: RunningServer
) -> None:
    context = await browser.new_context(
        ignore_https_errors=True, viewport={"width": 1400, "height": 2400}
    )
    try:
        tab = Tab(context, await context.new_page(), accounts_server.local_url)
        page = tab.page
        await tab.open("/sign-in")
        await page.fill("#email", ADMIN)
        await page.fill("#password", PASSWORD)
        await page.click("#sign-in-form button")
        await page.wait_for_url("**/share")
        await page.click("nav a[href='/admin']")
        await page.wait_for_selector("#charts[data-state=ready]")

        start = (TODAY - timedelta(days=29)).isoformat()
        assert await page.input_value("#start") == start
        assert await page.get_attribute("#csv-link", "href") == (
            f"/api/admin/usage.csv?start={start}&end={TODAY.isoformat()}"
        )
        assert await page.text_content("#relay-share") == "50% of 8 connections"
        pixels = png_pixels(await page.screenshot(type="png", full_page=True))
        for name in CHARTS:
            figure = page.locator(f"#chart-{name}")
            bars = int(await figure.get_attribute("data-bars") or "0")
            rects = await figure.locator("svg rect").count()
            box = await figure.locator("svg").bounding_box()
            assert box is not None, name
            assert bars > 0, name
            assert rects == bars, name
            assert _drawn_share(pixels, box) > 0.01, f"chart {name} looks empty"
        connections = await page.locator("#chart-connections svg").bounding_box()
        assert connections is not None
        for kind, colour in TYPE_COLOURS.items():
            assert _has_colour(pixels, connections, colour), f"no {kind} bar drawn"
        assert await page.locator("#event-table tbody tr").count() >= 4

        # A shorter range redraws with fewer bars.
        await page.click("button[data-days='7']")
        await page.wait_for_selector("#chart-rooms[data-bars='3']")
        assert await page.locator("#chart-clients svg rect").count() == 2
        assert tab.problems == []
    finally:
        await context.close()
        await _wait_for_event_sockets(accounts_server)


async def _wait_for_event_sockets(server: RunningServer) -> None:
    app: Any = server.server.config.app
    for _ in range(int(seconds(5) / 0.05)):
        if app.state.pairview.accounts.channels.count == 0:
            return
        await asyncio.sleep(0.05)


async def test_admin_pages_need_an_admin(
    client_factory: Callable[..., httpx.AsyncClient], mailbox: Mailbox
) -> None:
    anonymous = client_factory()
    user = client_factory()
    await sign_up(user, mailbox, "plain@example.org", PASSWORD, "Plain User")

    for path in ("/admin", "/admin/audit", "/admin/users"):
        redirected = await anonymous.get(path)
        refused = await user.get(path)
        assert redirected.status_code == 303, path
        assert redirected.headers["location"] == "/sign-in"
        assert refused.status_code == 403, path
