"""Pairview across NATs: direct, hole punched, relayed, and back after a network change.

Each test builds its own namespaces (see tests/support/topology.py), runs
coturn from `pairview turn-config` and `pairview server` on the public
segment, `pairview share` on a host behind one router and a guest behind
another, and checks which kind of connection ICE selected, on both ends,
as well as that the picture arrives.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, sync_playwright

from tests.support.internet import (
    CHROMIUM_ARGS,
    PATTERN_COLOURS,
    READ_TOP_LEFT,
    Internet,
    Share,
    aiortc_guest,
    chromium_wrapper,
    close_to,
    internet,
    pattern_app,
    rotate,
    share,
)
from tests.support.timing import wait_for
from tests.support.topology import Nat, Node

pytestmark = pytest.mark.e2e


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[Internet, subprocess.Popen[str]]]:
    with internet(tmp_path) as running, pattern_app(running.display) as pattern:
        yield running, pattern


def host_reports(room: Share, description: str) -> None:
    room.process.wait_for_line(rf"\(peer \S+\): connected {description}", timeout=60)


@contextlib.contextmanager
def chromium_guest(world: Internet, node: Node, link: str) -> Iterator[Page]:
    """Open the guest link in headless Chromium running inside `node`."""
    wrapper = chromium_wrapper(world.workdir, node)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(wrapper), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                ignore_https_errors=True, viewport={"width": 1000, "height": 700}
            )
            page = context.new_page()
            page.goto(link)
            page.fill("#name-input", "Alice")
            page.click("button[type=submit]")
            yield page
        finally:
            browser.close()


def page_data(page: Page, key: str) -> str | None:
    value: str | None = page.evaluate(f"() => document.body.dataset.{key} ?? null")
    return value


def wait_for_colour(page: Page, rotations: int, timeout: float = 20) -> None:
    expected = PATTERN_COLOURS[rotations % 4]
    wait_for(
        lambda: close_to(page.evaluate(READ_TOP_LEFT), expected),
        timeout=timeout,
        what=f"the page to show colour {expected}",
    )


def test_lan_guest_connects_directly(app: tuple[Internet, subprocess.Popen[str]]) -> None:
    world, _ = app
    office = world.net.add_site("office", Nat.CONE)
    host = world.net.add_host("host", office)
    laptop = world.net.add_host("guest", office)

    with share(world, host) as room, aiortc_guest(world, laptop, room) as guest:
        connected = guest.wait_event("connected", timeout=60)
        frame = guest.wait_event("frame", timeout=30)
        host_reports(room, "directly")

    assert connected["connection_type"] == "direct"
    assert connected["pair"]["local_type"] == "host"
    assert frame["connection_id"] == connected["connection_id"]


def test_cone_nats_connect_without_relay(app: tuple[Internet, subprocess.Popen[str]]) -> None:
    world, _ = app
    office = world.net.add_site("office", Nat.CONE)
    home = world.net.add_site("home", Nat.CONE)
    host = world.net.add_host("host", office)
    laptop = world.net.add_host("guest", home)

    with share(world, host) as room, aiortc_guest(world, laptop, room) as guest:
        connected = guest.wait_event("connected", timeout=60)
        guest.wait_event("frame", timeout=30)
        host_reports(room, "through NAT, without a relay")

    assert connected["connection_type"] == "nat"
    assert "relay" not in (connected["pair"]["local_type"], connected["pair"]["remote_type"])


def test_symmetric_nats_connect_through_relay(
    app: tuple[Internet, subprocess.Popen[str]],
) -> None:
    world, _ = app
    office = world.net.add_site("office", Nat.SYMMETRIC)
    home = world.net.add_site("home", Nat.SYMMETRIC)
    host = world.net.add_host("host", office)
    laptop = world.net.add_host("guest", home)

    with share(world, host) as room, aiortc_guest(world, laptop, room) as guest:
        connected = guest.wait_event("connected", timeout=60)
        guest.wait_event("frame", timeout=30)
        host_reports(room, "through the (guest's )?TURN relay")

    assert connected["connection_type"] == "relay"


def test_chromium_behind_symmetric_nat_relayed(
    app: tuple[Internet, subprocess.Popen[str]],
) -> None:
    world, pattern = app
    office = world.net.add_site("office", Nat.SYMMETRIC)
    home = world.net.add_site("home", Nat.SYMMETRIC)
    host = world.net.add_host("host", office)
    laptop = world.net.add_host("guest", home)

    with share(world, host) as room, chromium_guest(world, laptop, room.link) as page:
        wait_for(lambda: page_data(page, "state") == "playing", 60, what="the page to play")
        wait_for(lambda: page_data(page, "connectionType"), 30, what="the connection type")
        host_reports(room, "through the (guest's )?TURN relay")
        wait_for_colour(page, rotate(pattern))
        connection_type = page_data(page, "connectionType")
        status = page.text_content("#status")

    assert connection_type == "relay"
    assert status == "Connected through a relay"


def test_guest_address_change_recovers(app: tuple[Internet, subprocess.Popen[str]]) -> None:
    world, _ = app
    office = world.net.add_site("office", Nat.CONE)
    home = world.net.add_site("home", Nat.CONE)
    cafe = world.net.add_site("cafe", Nat.SYMMETRIC)
    host = world.net.add_host("host", office)
    laptop = world.net.add_host("guest", home)

    with share(world, host) as room, aiortc_guest(world, laptop, room) as guest:
        first = guest.wait_event("connected", timeout=60)
        guest.wait_event("frame", timeout=30)
        old_address = laptop.address

        world.net.move(laptop, cafe)
        second = guest.wait_event(
            "connected", 60, where=lambda event: event["connection_id"] != first["connection_id"]
        )
        frame = guest.wait_event(
            "frame", 30, where=lambda event: event["connection_id"] == second["connection_id"]
        )
        room.process.wait_for_line(r"reconnected [\d.]+ s after the connection was lost")

    assert laptop.address != old_address
    assert first["connection_type"] == "nat"
    assert second["connection_type"] == "relay"
    assert frame["count"] >= 1


def test_chromium_address_change_recovers(app: tuple[Internet, subprocess.Popen[str]]) -> None:
    world, pattern = app
    office = world.net.add_site("office", Nat.CONE)
    home = world.net.add_site("home", Nat.CONE)
    cafe = world.net.add_site("cafe", Nat.CONE)
    host = world.net.add_host("host", office)
    laptop = world.net.add_host("guest", home)

    with share(world, host) as room, chromium_guest(world, laptop, room.link) as page:
        wait_for(lambda: page_data(page, "connectionType"), 60, what="the first connection")
        first_connection = page_data(page, "connectionId")

        world.net.move(laptop, cafe)
        wait_for(
            lambda: page_data(page, "connectionId") not in (None, first_connection),
            60,
            what="a new connection",
        )
        wait_for_colour(page, rotate(pattern), timeout=30)
        connection_type = page_data(page, "connectionType")

    assert connection_type == "nat"


def test_server_restart_keeps_share(app: tuple[Internet, subprocess.Popen[str]]) -> None:
    world, pattern = app
    office = world.net.add_site("office", Nat.CONE)
    home = world.net.add_site("home", Nat.CONE)
    host = world.net.add_host("host", office)
    laptop = world.net.add_host("guest", home)

    with share(world, host) as room, chromium_guest(world, laptop, room.link) as page:
        wait_for(lambda: page_data(page, "connectionType"), 60, what="the connection")
        connection = page_data(page, "connectionId")

        world.stop_server()
        wait_for(
            lambda: page_data(page, "signaling") == "disconnected", 30, what="the page to notice"
        )
        # The picture keeps flowing peer to peer while the server is down.
        wait_for_colour(page, rotate(pattern))

        world.start_server()
        wait_for(lambda: page_data(page, "signaling") == "joined", 60, what="the page to rejoin")
        room.process.wait_for_line(r"reconnected to the signaling server", timeout=60)
        wait_for_colour(page, rotate(pattern))
        after = page_data(page, "connectionId")

    assert after == connection
    assert not any("connection lost" in line for line in room.process.lines)


def test_rejected_turn_credentials_reported(tmp_path: Path) -> None:
    with internet(tmp_path, server_secret="not-the-relay-secret-0123") as world:
        office = world.net.add_site("office", Nat.SYMMETRIC)
        host = world.net.add_host("host", office)
        with share(world, host) as room:
            match = room.process.wait_for_line(r"The TURN relay rejected the credentials.*")
            room.process.wait_for_line(r"Guests behind strict NATs or firewalls cannot connect")

    assert "static-auth-secret" in match.group(0)
