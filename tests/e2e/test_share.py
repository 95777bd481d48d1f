"""Screen sharing as its users see it.

`pairview share` runs in one network namespace and captures an Xvfb
screen, where the pattern app draws four coloured quadrants. Headless
Chromium runs in a second namespace and opens the guest link. The tests
read the pixels of the guest's video and the share's terminal output.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from pairview.host.playout import PLAYOUT_DELAY_URI
from tests.support.browser import (
    body_data,
    chromium_wrapper,
    colour_matches,
    join,
    launch_options,
    problem_code,
    screenshot_pixels,
    video_frame,
    wait_for_colours,
    wait_for_state,
    websocket_frames,
)
from tests.support.desktop import PatternApp, pattern_app
from tests.support.netns import (
    EgressCounter,
    Lan,
    NetnsUnavailable,
    addresses,
    count_egress,
    kill_tcp_connections,
    lan,
    pids,
    tcp_rejected,
)
from tests.support.share import (
    PAIRVIEW,
    ShareProcess,
    pairview_environment,
    running_server,
    running_share,
)
from tests.support.timing import seconds, wait_for
from tests.support.xvfb import Display, xvfb

pytestmark = pytest.mark.e2e

# Records every change of the page's body data attributes, so a test can
# tell what the page went through between two looks at it.
RECORD_BODY_CHANGES = """() => {
  window.bodyChanges = [];
  new MutationObserver((records) => {
    for (const record of records) {
      const key = record.attributeName.replace(/^data-/, "");
      window.bodyChanges.push([key, document.body.getAttribute(record.attributeName)]);
    }
  }).observe(document.body, { attributes: true });
}"""


@dataclass(frozen=True)
class Network:
    lan: Lan
    egress: EgressCounter


@pytest.fixture(scope="module")
def display() -> Iterator[Display]:
    with xvfb(1920, 1080) as started:
        yield started


@pytest.fixture(scope="module")
def pattern(display: Display) -> Iterator[PatternApp]:
    with pattern_app(display.name) as app:
        yield app


@pytest.fixture(scope="module")
def network() -> Iterator[Network]:
    with contextlib.ExitStack() as stack:
        try:
            created = stack.enter_context(lan())
            egress = count_egress(created)
        except NetnsUnavailable as error:
            pytest.fail(f"the end-to-end tests need network namespaces (run as root): {error}")
        yield Network(created, egress)


@pytest.fixture(autouse=True)
def nothing_leaves(network: Network) -> Iterator[None]:
    """After every test, check that no packet was sent outside the two namespaces."""
    yield
    assert network.egress.outside() == {
        network.lan.host.name: 0,
        network.lan.guest.name: 0,
    }, "a process in the test's namespaces sent packets to an address outside them"


@pytest.fixture(scope="module")
def browser(network: Network, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    wrapper = chromium_wrapper(network.lan.guest, tmp_path_factory.mktemp("chromium"))
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(**launch_options(wrapper, [network.lan.host.address]))
        try:
            yield launched
        finally:
            launched.close()


GuestFactory = Callable[..., Page]


@pytest.fixture
def open_guest(browser: Browser) -> Iterator[GuestFactory]:
    """Open guest pages, each in a browser context of its own, as separate people would."""
    contexts = []
    errors: list[str] = []

    def open_page(width: int = 1280, height: int = 720) -> Page:
        context = browser.new_context(
            ignore_https_errors=True, viewport={"width": width, "height": height}
        )
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.set_default_timeout(seconds(15) * 1000)
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert errors == [], f"uncaught errors in guest pages: {errors}"


ShareFactory = Callable[..., ShareProcess]


@pytest.fixture
def start_share(network: Network, display: Display, tmp_path: Path) -> Iterator[ShareFactory]:
    """Start `pairview share` in the host namespace; every share is stopped after the test."""
    with contextlib.ExitStack() as stack:
        count = 0

        def start(args: Sequence[str] = (), env: dict[str, str] | None = None) -> ShareProcess:
            nonlocal count
            count += 1
            data_dir = tmp_path / f"share-{count}"
            return stack.enter_context(
                running_share(network.lan.host, display.name, data_dir, args, env)
            )

        yield start


def joined_peer_id(share: ShareProcess, name: str, start: int = 0) -> tuple[int, str]:
    """Wait for the share's "NAME joined (peer ID)" line; return its index and the peer id."""
    index, match = share.wait_for_indexed_line(
        rf"\b{re.escape(name)} joined \(peer ([A-Za-z0-9_-]+)\)", timeout=30, start=start
    )
    return index, match.group(1)


def watch(page: Page, link: str, name: str, pattern: PatternApp) -> None:
    """Join as `name` and wait until the page plays the host's current screen."""
    join(page, link, name)
    wait_for_state(page, "playing")
    wait_for_colours(page, pattern.expected_colours())


def server_port(link: str) -> int:
    port = urlsplit(link).port
    assert port is not None, f"the guest link {link} has no port"
    return port


def test_guest_sees_screen_and_its_changes(
    start_share: ShareFactory, open_guest: GuestFactory, pattern: PatternApp
) -> None:
    share = start_share()
    page = open_guest()
    sent = websocket_frames(page, "sent")

    watch(page, share.link, "Ana", pattern)
    width, height, _ = video_frame(page)
    assert (width, height) == (1920, 1080)
    assert body_data(page)["connectionState"] == "connected"
    # Chromium accepted the host's request to show frames without a jitter buffer delay.
    answer = next(json.loads(text) for text in sent if '"type":"answer"' in text.replace(" ", ""))
    assert PLAYOUT_DELAY_URI in answer["sdp"]

    rotated = pattern.rotate()
    wait_for_colours(page, rotated)

    assert "sharing monitor 1 (1920x1080) as VP8" in share.output
    # The capture thread sleeps until X reports drawing, instead of polling.
    assert "found by polling" not in share.output


def test_three_guests_and_one_leaves(
    start_share: ShareFactory, open_guest: GuestFactory, pattern: PatternApp
) -> None:
    share = start_share()
    names = ["Ana", "Ben", "Chloe"]
    pages = {name: open_guest() for name in names}

    for name, page in pages.items():
        join(page, share.link, name)
    for page in pages.values():
        wait_for_state(page, "playing")
        wait_for_colours(page, pattern.expected_colours())

    peer_ids = {}
    for name in names:
        joined_at, peer_id = joined_peer_id(share, name)
        peer_ids[name] = peer_id
        prefix = rf"{name} \(peer {peer_id}\): connection"
        connecting_at, _ = share.wait_for_indexed_line(
            rf"{prefix} new -> connecting$", timeout=10, start=joined_at
        )
        share.wait_for_line(rf"{prefix} connecting -> connected$", timeout=10, start=connecting_at)
    assert len(set(peer_ids.values())) == 3

    # Each page shows the security code that the host prints for its connection.
    codes = {}
    for name, page in pages.items():
        printed = share.wait_for_line(
            rf"{name} \(peer {peer_ids[name]}\): security code (\d{{3}} \d{{3}}) ", timeout=10
        ).group(1)

        def security_code(page: Page = page) -> str | None:
            return body_data(page).get("securityCode")

        shown = wait_for(security_code, 10, what=f"{name}'s page to show a security code")
        assert shown == printed, f"{name}: the page shows {shown}, the host printed {printed}"
        assert page.inner_text("#security-code") == f"Security code {printed}"
        codes[name] = printed
    # Every connection has certificates of its own, so its own code.
    assert len(set(codes.values())) == 3

    pages["Ben"].close()
    left_at, _ = share.wait_for_indexed_line(rf"\bBen left \(peer {peer_ids['Ben']}\)$", timeout=10)
    share.wait_for_line(rf"Ben \(peer {peer_ids['Ben']}\): connection connected -> closed", 10)

    # The two who stayed still receive: they see the colours drawn after Ben left.
    rotated = pattern.rotate()
    for name in ("Ana", "Chloe"):
        wait_for_colours(pages[name], rotated)
        assert body_data(pages[name])["state"] == "playing"
    later = "\n".join(share.lines[left_at + 1 :])
    assert "Ana left" not in later
    assert "Chloe left" not in later


def test_ctrl_c_ends_room_for_every_guest(
    start_share: ShareFactory, open_guest: GuestFactory, pattern: PatternApp
) -> None:
    share = start_share()
    pages = [open_guest(), open_guest()]
    for name, page in zip(["Ana", "Ben"], pages, strict=True):
        watch(page, share.link, name, pattern)

    share.interrupt()
    code = share.wait(timeout=20)

    assert code == 0, share.output
    closing = next(i for i, line in enumerate(share.lines) if "Closing the room" in line)
    departures = [i for i, line in enumerate(share.lines) if re.search(r" left \(peer ", line)]
    # The guests leave because the room closes, and the terminal prints that first.
    assert len(departures) == 2, share.output
    assert closing < min(departures), share.output
    assert any(line.endswith(" Room closed.") for line in share.lines), share.output
    for page in pages:
        wait_for_state(page, "ended", timeout=10)
        assert problem_code(page) == "room-closed"
        assert page.inner_text("#problem-title") == "The host ended the screen share"
        assert page.text_content("#status") == "The host ended the screen share"


def test_bad_links_show_plain_errors(start_share: ShareFactory, open_guest: GuestFactory) -> None:
    share = start_share()
    room_url, _, token = share.link.partition("#")
    origin = room_url.rsplit("/r/", 1)[0]
    wrong_token = secrets.token_urlsafe(32)
    cases = {
        "wrong token": f"{room_url}#{wrong_token}",
        "unknown room": f"{origin}/r/{secrets.token_urlsafe(16)}#{token}",
    }

    for case, link in cases.items():
        page = open_guest()
        join(page, link, "Ana")
        wait_for_state(page, "error", timeout=15)
        assert problem_code(page) == "room-not-found", case
        assert page.inner_text("#problem-title") == "Room not found", case

    page = open_guest()
    page.goto(room_url)
    wait_for_state(page, "error", timeout=15)
    assert problem_code(page) == "incomplete"
    assert page.is_hidden("#name-form")

    # None of these reached the host.
    assert " joined (peer " not in share.output


def test_expired_link_shows_link_expired(
    start_share: ShareFactory, open_guest: GuestFactory
) -> None:
    ttl = 3.0
    share = start_share(["--invite-ttl", f"{ttl:g}s"])
    # The room was created before its link was printed, so this is past the expiry.
    time.sleep(ttl + 0.5)

    page = open_guest()
    join(page, share.link, "Ana")

    wait_for_state(page, "error", timeout=15)
    assert problem_code(page) == "link-expired"
    assert page.inner_text("#problem-title") == "Link expired"
    assert " joined (peer " not in share.output


def test_killed_host_shows_host_left(
    start_share: ShareFactory, open_guest: GuestFactory, pattern: PatternApp
) -> None:
    # The embedded server dies with the host app, so only the page can notice.
    share = start_share()
    page = open_guest()
    watch(page, share.link, "Ana", pattern)

    share.kill()
    share.wait(timeout=10)

    data = wait_for_state(page, "host-left", timeout=60)
    assert data["signaling"] != "joined"
    assert page.inner_text("#status") == "The host is unreachable"
    assert page.is_visible("#waiting")


def test_killed_host_left_after_server_grace(
    network: Network,
    display: Display,
    tmp_path: Path,
    open_guest: GuestFactory,
    pattern: PatternApp,
) -> None:
    # A standalone server outlives the host app, and sends the guests
    # peer-left once the host has not come back within the reconnect grace.
    grace = {"PAIRVIEW_RECONNECT_GRACE": "2"}
    host = network.lan.host
    with running_server(host, tmp_path / "server", env=grace) as server:
        server_args = ["--server", server.url, "--cafile", str(server.cafile)]
        with running_share(host, display.name, tmp_path / "share", server_args) as share:
            page = open_guest()
            watch(page, share.link, "Ana", pattern)
            host_peer = server.process.wait_for_line(r"host ([A-Za-z0-9_-]+) joined", 10)[1]

            share.kill()
            share.wait(timeout=10)

            data = wait_for_state(page, "host-left", timeout=30)
            assert data["signaling"] == "joined"
            assert page.inner_text("#status") == "The host has left"
            server.process.wait_for_line(rf"host {host_peer} left \(did not reconnect\)", 5)


def test_letterboxed_in_square_window(
    start_share: ShareFactory, open_guest: GuestFactory, pattern: PatternApp
) -> None:
    share = start_share()
    page = open_guest(width=900, height=900)
    watch(page, share.link, "Ana", pattern)

    box = page.evaluate(
        """() => {
          const video = document.getElementById("screen");
          const rect = video.getBoundingClientRect();
          return {
            left: rect.left, top: rect.top, width: rect.width, height: rect.height,
            videoWidth: video.videoWidth, videoHeight: video.videoHeight,
            objectFit: getComputedStyle(video).objectFit,
            viewportWidth: window.innerWidth, viewportHeight: window.innerHeight,
          };
        }"""
    )
    assert (box["videoWidth"], box["videoHeight"]) == (1920, 1080)
    assert box["objectFit"] == "contain"
    # The element lies inside the window, so the window crops nothing of it.
    assert box["left"] >= 0
    assert box["top"] >= 0
    assert box["left"] + box["width"] <= box["viewportWidth"]
    assert box["top"] + box["height"] <= box["viewportHeight"]

    # With object-fit: contain the picture is scaled to fit and centred.
    scale = min(box["width"] / 1920, box["height"] / 1080)
    content_width, content_height = 1920 * scale, 1080 * scale
    content_left = box["left"] + (box["width"] - content_width) / 2
    content_top = box["top"] + (box["height"] - content_height) / 2
    assert content_width == pytest.approx(box["width"], abs=1)
    assert content_height < box["height"] - 100, "a square window should letterbox 16:9"

    # The screenshot shows all four quadrants up to the picture's edges, and
    # black bars above and below it.
    pixels = screenshot_pixels(page)
    expected = pattern.expected_colours()
    inset = 4
    probes = {
        "top left": (content_left + inset, content_top + inset),
        "top right": (content_left + content_width - inset, content_top + inset),
        "bottom left": (content_left + inset, content_top + content_height - inset),
        "bottom right": (
            content_left + content_width - inset,
            content_top + content_height - inset,
        ),
    }
    for quadrant, (x, y) in probes.items():
        seen = [int(v) for v in pixels[int(y), int(x)]]
        assert colour_matches(seen, expected[quadrant]), (quadrant, seen, expected[quadrant])
    for y in (content_top - inset, content_top + content_height + inset):
        seen = [int(v) for v in pixels[int(y), int(content_left + content_width / 2)]]
        assert colour_matches(seen, (0, 0, 0), tolerance=8), (y, seen)


def test_guest_rejoins_after_websocket_drop(
    network: Network, start_share: ShareFactory, open_guest: GuestFactory, pattern: PatternApp
) -> None:
    share = start_share()
    page = open_guest()
    watch(page, share.link, "Ana", pattern)
    _, peer_id = joined_peer_id(share, "Ana")
    page.evaluate(RECORD_BODY_CHANGES)
    before = len(share.lines)

    # Chromium's offline emulation leaves open WebSockets alone, so the
    # connection is reset inside the guest's namespace, as a network fault does.
    guest, host = network.lan.guest, network.lan.host
    kill_tcp_connections(guest, host.address, server_port(share.link))

    share.wait_for_line(rf"guest {peer_id} reconnected", timeout=20, start=before)
    wait_for(
        lambda: body_data(page).get("signaling") == "joined",
        timeout=20,
        what="the page to rejoin the room",
    )
    changes = page.evaluate("() => window.bodyChanges")
    assert ["signaling", "disconnected"] in changes
    assert all(key != "connectionState" for key, _ in changes), changes
    assert body_data(page)["peerId"] == peer_id

    rotated = pattern.rotate()
    wait_for_colours(page, rotated)
    after = "\n".join(share.lines[before:])
    assert "joined (peer" not in after
    assert "left (peer" not in after


def test_guest_rejoins_after_expired_link(
    network: Network, start_share: ShareFactory, open_guest: GuestFactory, pattern: PatternApp
) -> None:
    # A guest let in before the link expired stays a member: a dropped
    # WebSocket after the expiry rejoins instead of showing "Link expired".
    ttl = 8.0
    share = start_share(["--invite-ttl", f"{ttl:g}s"])
    printed = time.monotonic()
    page = open_guest()
    watch(page, share.link, "Ana", pattern)
    _, peer_id = joined_peer_id(share, "Ana")
    time.sleep(max(0.0, printed + ttl + 0.5 - time.monotonic()))
    before = len(share.lines)

    guest, host = network.lan.guest, network.lan.host
    kill_tcp_connections(guest, host.address, server_port(share.link))

    share.wait_for_line(rf"guest {peer_id} reconnected", timeout=20, start=before)
    wait_for(
        lambda: body_data(page).get("signaling") == "joined",
        timeout=20,
        what="the page to rejoin the room",
    )
    assert problem_code(page) is None
    rotated = pattern.rotate()
    wait_for_colours(page, rotated)


def test_guest_away_past_grace_leaves_and_returns(
    network: Network, start_share: ShareFactory, open_guest: GuestFactory, pattern: PatternApp
) -> None:
    # PAIRVIEW_RECONNECT_GRACE reaches the server embedded in the host app:
    # with 2 s instead of the default 20 s, the host hears within the wait
    # below that a guest cut off from the server has left.
    share = start_share(env={"PAIRVIEW_RECONNECT_GRACE": "2"})
    page = open_guest()
    watch(page, share.link, "Ana", pattern)
    _, peer_id = joined_peer_id(share, "Ana")
    before = len(share.lines)
    guest, host = network.lan.guest, network.lan.host
    port = server_port(share.link)

    with tcp_rejected(guest, host.address, port):
        kill_tcp_connections(guest, host.address, port)
        share.wait_for_line(rf"\bAna left \(peer {peer_id}\)$", timeout=10, start=before)
        assert body_data(page)["signaling"] != "joined"

    # Once the server can be reached again the guest comes back, as the same
    # peer, and gets a new connection to the host.
    rejoined_at, again = joined_peer_id(share, "Ana", start=before)
    assert again == peer_id
    share.wait_for_line(
        rf"Ana \(peer {peer_id}\): connection connecting -> connected$", 20, start=rejoined_at
    )
    wait_for_state(page, "playing", timeout=20)
    rotated = pattern.rotate()
    wait_for_colours(page, rotated)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--monitor", "7"], ["monitor 7", "monitors 1 to 1"]),
        (["--fps", "0"], ["--fps", "0"]),
        (["--max-bitrate", "fast"], ["--max-bitrate", "'fast'"]),
        (["--invite-ttl", "soon"], ["--invite-ttl", "'soon'"]),
    ],
    ids=["monitor", "fps", "max-bitrate", "invite-ttl"],
)
def test_bad_share_options_are_named(
    display: Display, tmp_path: Path, args: list[str], expected: list[str]
) -> None:
    try:
        result = subprocess.run(
            [PAIRVIEW, "share", "--data-dir", str(tmp_path), *args],
            env=pairview_environment(display.name),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=seconds(30),
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"pairview share {' '.join(args)} was still running after {seconds(30):g} s")

    assert result.returncode != 0
    for text in expected:
        assert text in result.stderr
    assert "Traceback" not in result.stderr
    assert "Value error" not in result.stderr
    assert result.stdout == ""


def test_traffic_stays_inside_namespaces(
    network: Network, start_share: ShareFactory, open_guest: GuestFactory, pattern: PatternApp
) -> None:
    host, guest = network.lan.host, network.lan.guest
    network.egress.reset()
    share = start_share()
    page = open_guest()
    frames = websocket_frames(page)
    watch(page, share.link, "Ana", pattern)
    wait_for_colours(page, pattern.rotate())

    # Each process runs in its namespace, whose only addresses are the test's own.
    assert share.pid in pids(host)
    chromium = [pid for pid in pids(guest) if _command(pid) == "chromium"]
    assert chromium, "no Chromium process in the guest namespace"
    for namespace in (host, guest):
        extra = {
            address
            for address in addresses(namespace)
            if address not in {namespace.address, "127.0.0.1", "::1"}
            and not address.startswith("fe80:")
        }
        assert extra == set(), namespace.name

    # The server hands out no ICE server, so the host offers only its own
    # address: no STUN server was asked for a reflexive one.
    messages = [json.loads(frame) for frame in frames]
    welcome = next(message for message in messages if message["type"] == "welcome")
    assert welcome["ice_servers"] == []
    offer = next(message for message in messages if message["type"] == "offer")
    candidates = [line for line in offer["sdp"].splitlines() if line.startswith("a=candidate:")]
    assert candidates
    for line in candidates:
        assert f" {host.address} " in line
        assert line.split()[7] == "host", line

    share.interrupt()
    assert share.wait(timeout=20) == 0
    assert network.egress.outside() == {host.name: 0, guest.name: 0}
    inside = network.egress.inside()
    assert inside[host.name] > 0
    assert inside[guest.name] > 0

    # The terminal shows no SDP, ICE credentials or tokens other than the link.
    output = share.output
    for secret in ("v=0", "a=candidate", "a=ice-pwd", "a=fingerprint", offer["sdp"][:40]):
        assert secret not in output
    invite_token = share.link.partition("#")[2]
    assert output.count(invite_token) == 1


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text(encoding="utf-8").strip()
    except OSError:
        return ""
