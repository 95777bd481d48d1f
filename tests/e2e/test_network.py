"""Pairview across NATs: direct, hole punched, relayed, and back after a network change.

Each test builds its own namespaces (see tests/support/topology.py), runs
coturn from `pairview turn-config` and `pairview server` on the public
segment, `pairview share` on a host behind one router and a guest behind
another, and checks which kind of connection ICE selected, on both ends,
as well as that the picture arrives.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.internet import Internet, Share, aiortc_guest, internet, pattern_app, share
from tests.support.topology import Nat

pytestmark = pytest.mark.e2e


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Internet]:
    with internet(tmp_path) as running, pattern_app(running.display):
        yield running


def host_reports(room: Share, description: str) -> None:
    room.process.wait_for_line(rf"\(peer \S+\): connected {description}", timeout=60)


def test_lan_guest_connects_directly(world: Internet) -> None:
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


def test_cone_nats_connect_without_relay(world: Internet) -> None:
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


def test_symmetric_nats_connect_through_relay(world: Internet) -> None:
    office = world.net.add_site("office", Nat.SYMMETRIC)
    home = world.net.add_site("home", Nat.SYMMETRIC)
    host = world.net.add_host("host", office)
    laptop = world.net.add_host("guest", home)

    with share(world, host) as room, aiortc_guest(world, laptop, room) as guest:
        connected = guest.wait_event("connected", timeout=60)
        guest.wait_event("frame", timeout=30)
        host_reports(room, "through the (guest's )?TURN relay")

    assert connected["connection_type"] == "relay"
