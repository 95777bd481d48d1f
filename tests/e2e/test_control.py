"""Remote control end to end: Chromium guests drive a real X application through `pairview share`.

One Xvfb screen, one recording app, one `pairview share` and one Chromium
serve the whole module; each test joins guests of its own, with names of
its own, and the host grants and revokes through its terminal.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.control_apps import Recorder, recorder
from tests.support.control_session import (
    Guest,
    ShareProcess,
    buttons_down,
    join,
    keys_down,
    launch_in_guest,
    press_local_keys,
    share,
)
from tests.support.netns import Lan, NetnsUnavailable, lan
from tests.support.timing import seconds, wait_for
from tests.support.xdraw import Painter
from tests.support.xvfb import Display, xvfb

pytestmark = pytest.mark.e2e

WIDTH, HEIGHT = 1280, 720
TEXT = "Hello, World! @#[]"
KEYSYM = {"Control_L": 0xFFE3, "Alt_L": 0xFFE9, "Shift_L": 0xFFE1, "Escape": 0xFF1B}


@pytest.fixture(scope="module")
def display() -> Iterator[Display]:
    with xvfb(WIDTH, HEIGHT) as running:
        yield running


@pytest.fixture(scope="module")
def net() -> Iterator[Lan]:
    try:
        with lan() as created:
            yield created
    except NetnsUnavailable as error:
        pytest.skip(str(error))


@pytest.fixture(scope="module")
def app(display: Display) -> Iterator[Recorder]:
    with recorder(display.name) as running:
        yield running


@pytest.fixture(scope="module")
def host(
    net: Lan, display: Display, app: Recorder, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ShareProcess]:
    with share(net, display.name, tmp_path_factory.mktemp("share")) as running:
        yield running


@pytest.fixture(scope="module")
def browser(net: Lan, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = launch_in_guest(playwright, net, tmp_path_factory.mktemp("chromium"))
        yield launched
        launched.close()


@pytest.fixture
def guests(host: ShareProcess, browser: Any, app: Recorder) -> Iterator[list[Guest]]:
    """Guests a test joins; they leave, with every grant revoked, when it ends."""
    app.quiet(0.2)
    joined: list[Guest] = []
    yield joined
    host.type("/revoke all")
    for guest in joined:
        guest.close()


def grant(host: ShareProcess, guest: Guest, what: str = "") -> None:
    host.type(f"/grant {guest.name} {what}".strip())
    guest.wait_for_control(what or "pointer keyboard")


def set_layout(display: Display, layout: str) -> None:
    subprocess.run(["setxkbmap", "-display", display.name, layout], check=True)


def click(guest: Guest, x: int, y: int) -> None:
    guest.page.mouse.click(*guest.page_point(x, y))


def focus_video(guest: Guest) -> None:
    """Focus the stage for typing without clicking on the host's screen."""
    guest.page.focus("#stage")


@pytest.mark.parametrize(
    ("viewport", "scale"),
    [((900, 900), 1), ((1300, 500), 2), ((640, 800), 1)],
    ids=["square", "wide-scale-2", "tall"],
)
def test_clicks_land_on_screen_points(
    host: ShareProcess,
    browser: Any,
    app: Recorder,
    guests: list[Guest],
    viewport: tuple[int, int],
    scale: float,
) -> None:
    guest = join(browser, host.link, f"Clicker{viewport[0]}", viewport, scale)
    guests.append(guest)
    grant(host, guest, "pointer")

    points = [(100, 80), (WIDTH // 2, HEIGHT // 2), (1180, 650)]
    for x, y in points:
        click(guest, x, y)
    presses = app.events("press", 3)

    for (x, y), press in zip(points, presses, strict=True):
        assert press["button"] == 1
        assert abs(press["x"] - x) <= 2, (press, x, y)
        assert abs(press["y"] - y) <= 2, (press, x, y)


@pytest.mark.parametrize("layout", ["us", "de"])
def test_typed_text_arrives_exactly(
    host: ShareProcess,
    browser: Any,
    display: Display,
    app: Recorder,
    guests: list[Guest],
    layout: str,
) -> None:
    guest = join(browser, host.link, f"Typist-{layout}")
    guests.append(guest)
    grant(host, guest, "keyboard")
    set_layout(display, layout)
    try:
        focus_video(guest)
        guest.page.keyboard.type(TEXT, delay=20)
        assert app.text(len(TEXT)) == TEXT
    finally:
        set_layout(display, "us")
    assert keys_down(display.name) == []


def test_german_guest_types_on_us_host(
    host: ShareProcess, browser: Any, app: Recorder, guests: list[Guest]
) -> None:
    guest = join(browser, host.link, "Greta")
    guests.append(guest)
    grant(host, guest, "keyboard")
    focus_video(guest)
    cdp = guest.context.new_cdp_session(guest.page)

    def key(kind: str, code: str, value: str, text: str = "") -> None:
        event = {"type": kind, "code": code, "key": value}
        if text:
            event["text"] = text
        cdp.send("Input.dispatchKeyEvent", event)

    # What a German keyboard sends for AltGr+Q, dead circumflex then E, and Shift+7.
    key("rawKeyDown", "AltRight", "AltGraph")
    key("keyDown", "KeyQ", "@", "@")
    key("keyUp", "KeyQ", "@")
    key("keyUp", "AltRight", "AltGraph")
    key("rawKeyDown", "Backquote", "Dead")
    key("keyUp", "Backquote", "Dead")
    key("keyDown", "KeyE", "ê", "ê")
    key("keyUp", "KeyE", "e")
    key("rawKeyDown", "ShiftLeft", "Shift")
    key("keyDown", "Digit7", "/", "/")
    key("keyUp", "Digit7", "/")
    key("keyUp", "ShiftLeft", "Shift")

    assert app.text(3) == "@ê/"


def test_without_grant_nothing_arrives(
    host: ShareProcess, browser: Any, display: Display, app: Recorder, guests: list[Guest]
) -> None:
    guest = join(browser, host.link, "Mallory")
    guests.append(guest)
    mark = host.mark()

    click(guest, 300, 300)
    focus_video(guest)
    guest.page.keyboard.type("abc")
    # A page that ignores its own missing grant sends input anyway.
    guest.send_raw(json.dumps({"type": "button", "button": 0, "down": True, "x": 0.5, "y": 0.5}))
    guest.send_raw(json.dumps({"type": "button", "button": 0, "down": False, "x": 0.5, "y": 0.5}))
    guest.send_raw(json.dumps({"type": "key", "code": "KeyA", "key": "a", "down": True}))
    guest.send_raw(json.dumps({"type": "wheel", "dx": 0, "dy": 3, "x": 0.5, "y": 0.5}))

    host.wait_for_line(r"rejected input \(no (pointer|keyboard) grant\)", after=mark)
    assert app.quiet(1.5) == []
    assert guest.state()["control"] == "none"


def test_revoke_stops_input_and_releases_held(
    host: ShareProcess, browser: Any, display: Display, app: Recorder, guests: list[Guest]
) -> None:
    guest = join(browser, host.link, "Revoked")
    guests.append(guest)
    grant(host, guest)
    focus_video(guest)

    guest.page.mouse.move(*guest.page_point(400, 300))
    guest.page.mouse.down()
    guest.page.keyboard.down("Shift")
    guest.page.keyboard.down("Control")
    guest.page.keyboard.down("ArrowLeft")
    wait_for(lambda: len(keys_down(display.name)) >= 3, 5, what="three keys held on the host")
    assert buttons_down(display.name) != 0

    host.type("/revoke Revoked")
    guest.wait_for_control("none")
    assert "took back control" in guest.state()["controlText"]
    wait_for(lambda: keys_down(display.name) == [], 5, what="no key held on the host")
    assert buttons_down(display.name) == 0

    app.quiet(0.5)
    guest.page.keyboard.up("ArrowLeft")
    guest.page.mouse.up()
    click(guest, 200, 200)
    guest.page.keyboard.type("x")
    assert [event for event in app.quiet(1.5) if event["event"] in ("press", "key")] == []


def test_disconnect_releases_held(
    host: ShareProcess, browser: Any, display: Display, guests: list[Guest]
) -> None:
    guest = join(browser, host.link, "Leaver")
    grant(host, guest)
    focus_video(guest)
    guest.page.mouse.move(*guest.page_point(500, 300))
    guest.page.mouse.down(button="right")
    guest.page.keyboard.down("Shift")
    wait_for(lambda: keys_down(display.name) != [], 5, what="a key held on the host")

    mark = host.mark()
    guest.close()
    host.wait_for_line(r"Leaver left", after=mark)
    wait_for(lambda: keys_down(display.name) == [], 5, what="no key held on the host")
    assert buttons_down(display.name) == 0


def test_two_guests_click_at_own_positions(
    host: ShareProcess, browser: Any, app: Recorder, guests: list[Guest]
) -> None:
    alice = join(browser, host.link, "Alice")
    bob = join(browser, host.link, "Bob", viewport=(800, 600))
    guests.extend([alice, bob])
    grant(host, alice, "pointer")
    grant(host, bob, "pointer")
    a_point, b_point = (200, 150), (1000, 600)
    at = {"Alice": a_point, "Bob": b_point}
    alice.page.mouse.move(*alice.page_point(*a_point))
    bob.page.mouse.move(*bob.page_point(*b_point))
    expected = []
    for turn in range(4):
        # The other guest moves the host's pointer away; then this guest presses
        # where its own mouse already is, with no move of its own in between.
        guest, other = (alice, bob) if turn % 2 == 0 else (bob, alice)
        x, y = at[other.name]
        at[other.name] = (x + 7 * (1 if turn < 2 else -1), y)
        other.page.mouse.move(*other.page_point(*at[other.name]))
        time.sleep(seconds(0.3))
        guest.page.mouse.down()
        guest.page.mouse.up()
        expected.append(at[guest.name])
        time.sleep(seconds(0.3))

    presses = app.events("press", 4)
    for point, press in zip(expected, presses, strict=True):
        assert abs(press["x"] - point[0]) <= 2, (press, point)
        assert abs(press["y"] - point[1]) <= 2, (press, point)

    # Bob sees Alice's cursor, labelled with her name, where she points.
    def alice_on_bobs_page() -> dict[str, Any] | None:
        result: dict[str, Any] | None = bob.page.evaluate(
            """() => {
              const cursors = [...document.querySelectorAll('.cursor')];
              const found = cursors.find((c) => c.textContent === 'Alice' && !c.hidden);
              return found ? {x: Number(found.dataset.x), y: Number(found.dataset.y)} : null;
            }"""
        )
        return result

    seen = wait_for(alice_on_bobs_page, 5, what="Alice's cursor on Bob's page")
    assert abs(seen["x"] * WIDTH - at["Alice"][0]) <= 2
    assert abs(seen["y"] * HEIGHT - at["Alice"][1]) <= 2


def test_host_pointer_shown_to_guests(
    host: ShareProcess, browser: Any, display: Display, guests: list[Guest]
) -> None:
    from Xlib import display as xdisplay

    guest = join(browser, host.link, "Watcher")
    guests.append(guest)
    connection = xdisplay.Display(display.name)
    try:
        connection.screen().root.warp_pointer(640, 100)
        connection.sync()
    finally:
        connection.close()

    def host_cursor() -> dict[str, Any] | None:
        result: dict[str, Any] | None = guest.page.evaluate(
            """() => {
              const found = document.querySelector('.cursor[data-role="host"]');
              return found && !found.hidden
                ? {x: Number(found.dataset.x), y: Number(found.dataset.y), label: found.textContent}
                : null;
            }"""
        )
        return result if result and abs(result["y"] * HEIGHT - 100) <= 2 else None

    seen = wait_for(host_cursor, 5, what="the host's pointer on the guest's page")
    assert abs(seen["x"] * WIDTH - 640) <= 2
    assert seen["label"] == "Host (host)"


def test_malformed_messages_change_nothing(
    host: ShareProcess, browser: Any, display: Display, app: Recorder, guests: list[Guest]
) -> None:
    guest = join(browser, host.link, "Fuzzer")
    guests.append(guest)
    grant(host, guest)
    mark = host.mark()

    bad = [
        "not json",
        "[]",
        '{"type": "teleport"}',
        '{"type": "button", "button": 0, "down": true, "x": 50, "y": 0.5}',
        '{"type": "button", "button": 0, "down": true, "x": NaN, "y": 0.5}',
        '{"type": "button", "button": 0, "down": true, "x": 1e308, "y": 0.5}',
        '{"type": "button", "button": 9, "down": true, "x": 0.5, "y": 0.5}',
        '{"type": "button", "button": 0, "down": "yes", "x": 0.5, "y": 0.5}',
        '{"type": "wheel", "dx": 0, "dy": 1000, "x": 0.5, "y": 0.5}',
        '{"type": "key", "code": "NotAKey", "key": "a", "down": true}',
        '{"type": "key", "code": "KeyA", "key": "\\u0007", "down": true}',
        '{"type": "key", "code": "KeyA", "key": "Unidentified", "down": true}',
        '{"type": "key", "code": "KeyA", "key": "a", "down": true, "extra": 1}',
        '{"type": "pointer-move", "x": "0.5", "y": 0.5}',
        '{"type": "cursors", "cursors": []}',
        '{"type": "control-state", "pointer": true, "keyboard": true, '
        '"pending": false, "reason": "granted"}',
        json.dumps({"type": "key", "code": "KeyA", "key": "a" * 20000, "down": True}),
    ]
    for data in bad:
        guest.send_raw(data)
    guest.page.evaluate(
        "() => window.pairviewChannels.filter((c) => c.label === 'control')"
        ".at(-1).send(new Uint8Array([1, 2, 3]))"
    )

    assert app.quiet(1.5) == []
    assert keys_down(display.name) == []
    output = host.output_since(mark)
    assert "invalid control message" in output
    assert "unknown key code" in output
    assert "aaaa" not in output
    assert host.process.poll() is None

    # The session carries on: the same guest still clicks, and an
    # out-of-range position within the drag margin is clamped to the screen.
    assert guest.state()["state"] == "playing"
    click(guest, 640, 360)
    press = app.events("press", 1)[0]
    assert (abs(press["x"] - 640), abs(press["y"] - 360)) <= (2, 2)
    guest.send_raw(json.dumps({"type": "button", "button": 0, "down": True, "x": 1.5, "y": -0.5}))
    guest.send_raw(json.dumps({"type": "button", "button": 0, "down": False, "x": 1.5, "y": -0.5}))
    clamped = app.events("press", 1)[0]
    assert (clamped["x"], clamped["y"]) == (WIDTH - 1, 0)


def test_input_rate_is_bounded(
    host: ShareProcess, browser: Any, app: Recorder, guests: list[Guest]
) -> None:
    guest = join(browser, host.link, "Flooder")
    guests.append(guest)
    grant(host, guest, "keyboard")
    mark = host.mark()
    sent = 1500
    guest.page.evaluate(
        """(count) => {
          const channel = window.pairviewChannels.filter((c) => c.label === 'control').at(-1);
          const text = JSON.stringify({type: 'key', code: 'KeyX', key: 'x', down: true});
          for (let i = 0; i < count; i++) channel.send(text);
        }""",
        sent,
    )
    host.wait_for_line(r"rejected input \(rate limit exceeded\)", after=mark)
    typed = [event for event in app.quiet(4) if event["event"] == "key"]
    assert 0 < len(typed) < sent


def test_request_answered_in_terminal(
    host: ShareProcess, browser: Any, app: Recorder, guests: list[Guest]
) -> None:
    guest = join(browser, host.link, "Asker")
    guests.append(guest)
    mark = host.mark()

    guest.page.click("#control-button")
    host.wait_for_line(r"Asker \(peer \S+\) asks to control your pointer and keyboard", after=mark)
    guest.wait_for_control("pending")
    host.type("n")
    guest.wait_for_control("none")
    assert "declined" in guest.state()["controlText"]

    mark = host.mark()
    guest.page.click("#control-button")
    host.wait_for_line(r"Asker \(peer \S+\) asks to control", after=mark)
    host.type("y")
    guest.wait_for_control("pointer keyboard")
    click(guest, 321, 123)
    press = app.events("press", 1)[0]
    assert (abs(press["x"] - 321), abs(press["y"] - 123)) <= (2, 2)


def test_panic_shortcut_revokes_everyone(
    host: ShareProcess, browser: Any, display: Display, app: Recorder, guests: list[Guest]
) -> None:
    first = join(browser, host.link, "Panic-One")
    second = join(browser, host.link, "Panic-Two")
    guests.extend([first, second])
    grant(host, first)
    grant(host, second)
    mark = host.mark()

    # The guest's own Ctrl+Alt+Shift+Escape neither revokes nor reaches the app as Escape.
    focus_video(first)
    first.page.keyboard.press("Control+Alt+Shift+Escape")
    time.sleep(seconds(1))
    assert first.state()["control"] == "pointer keyboard"
    assert "Panic shortcut" not in host.output_since(mark)
    keysyms = [event["keysym"] for event in app.quiet(0.5) if event["event"] == "key"]
    assert "Escape" not in keysyms
    assert keys_down(display.name) == []

    press_local_keys(
        display.name,
        [KEYSYM["Control_L"], KEYSYM["Alt_L"], KEYSYM["Shift_L"], KEYSYM["Escape"]],
    )
    host.wait_for_line(r"Panic shortcut", after=mark)
    first.wait_for_control("none")
    second.wait_for_control("none")
    assert "took back control" in second.state()["controlText"]

    app.quiet(0.5)
    click(first, 100, 100)
    click(second, 200, 200)
    assert [event for event in app.quiet(1.5) if event["event"] == "press"] == []


def test_allow_control_grants_every_guest(
    net: Lan,
    display: Display,
    app: Recorder,
    host: ShareProcess,
    browser: Any,
    tmp_path: Path,
) -> None:
    # A second host app on the same screen, started to let everyone in.
    with share(net, display.name, tmp_path, "--allow-control") as allowing:
        allowing.wait_for_line(r"Every guest may control")
        guest = join(browser, allowing.link, "Welcome")
        try:
            guest.wait_for_control("pointer keyboard")
            app.quiet(0.3)
            click(guest, 700, 500)
            press = app.events("press", 1)[0]
            assert (abs(press["x"] - 700), abs(press["y"] - 500)) <= (2, 2)
        finally:
            guest.close()


SHOWN_FRAMES = "() => document.getElementById('screen').getVideoPlaybackQuality().totalVideoFrames"


def frames_shown(guest: Guest) -> int:
    count: int = guest.page.evaluate(SHOWN_FRAMES)
    return count


def test_hidden_guest_gets_no_frames(
    display: Display, host: ShareProcess, browser: Any, guests: list[Guest]
) -> None:
    watching = join(browser, host.link, "Watching")
    guests.append(watching)
    hidden = join(browser, host.link, "Hidden")
    guests.append(hidden)
    painter = Painter(display.name)

    def change_screen(rounds: int) -> None:
        for round_number in range(rounds):
            shade = 40 + 20 * (round_number % 8)
            painter.fill(0, HEIGHT - 40, 40, 40, (shade, 0, 255 - shade))
            time.sleep(0.1)

    try:
        mark = host.mark()
        host.type("/hide Hidden")
        host.wait_for_line(r"\bHidden \(peer \S+\) no longer sees your screen", after=mark)
        wait_for(lambda: hidden.state().get("view") == "hidden", 10, what="the page to say hidden")
        assert hidden.page.is_visible("#hidden-notice")
        assert hidden.state()["state"] == "hidden"
        # Frames already on their way when the host stopped may still arrive.
        time.sleep(seconds(1))

        watching_before, hidden_before = frames_shown(watching), frames_shown(hidden)
        change_screen(20)
        wait_for(
            lambda: frames_shown(watching) >= watching_before + 5,
            10,
            what="the other guest to keep getting frames",
        )
        assert frames_shown(hidden) == hidden_before

        mark = host.mark()
        host.type("/show Hidden")
        host.wait_for_line(r"\bHidden \(peer \S+\) sees your screen again", after=mark)
        wait_for(lambda: hidden.state().get("view") == "visible", 10, what="the page to show")
        assert not hidden.page.is_visible("#hidden-notice")
        assert hidden.state()["state"] == "playing"

        def resumed() -> bool:
            change_screen(3)
            return frames_shown(hidden) >= hidden_before + 3

        wait_for(resumed, 15, what="frames for the guest shown the screen again")
    finally:
        painter.close()


def test_page_shows_host_connection_class(host: ShareProcess, browser: Any) -> None:
    """The page shows the host's classification of the connection.

    Chromium hides its address behind an mDNS name, so the page's own
    statistics showed this guest on the host's network as "through NAT".
    """
    guest = join(browser, host.link, "Neighbour")
    try:
        host.wait_for_line(r"\bNeighbour \(peer \S+\): connected directly")

        def shown() -> dict[str, Any] | None:
            state = guest.state()
            return state if state.get("connectionType") else None

        state = wait_for(shown, 15, what="the page to show how it is connected")
    finally:
        guest.close()
    assert state["connectionType"] == "direct"
    assert state["statusText"] == "Connected directly"
