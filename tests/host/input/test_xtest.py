"""The XTEST injector on a real X server, with a real Tk application receiving the input."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from pairview.host.input.base import Injected, MouseButton
from pairview.host.input.xtest import (
    KeyboardMap,
    XTestInjector,
    assert_named_keys_covered,
    character_keysym,
)
from tests.support.control_apps import Recorder, recorder
from tests.support.xvfb import Display, xvfb

TEXT = "Hello, World! @#[]"


@pytest.fixture(scope="module")
def display() -> Iterator[Display]:
    with xvfb(800, 600) as running:
        yield running


@pytest.fixture
def app(display: Display) -> Iterator[Recorder]:
    with recorder(display.name) as running:
        yield running


@pytest.fixture
def injector(display: Display) -> Iterator[XTestInjector]:
    opened = XTestInjector(display.name)
    yield opened
    opened.close()


def set_layout(display: Display, layout: str) -> None:
    subprocess.run(["setxkbmap", "-display", display.name, layout], check=True)


def keys_down(display: Display) -> list[int]:
    from Xlib import display as xdisplay

    connection = xdisplay.Display(display.name)
    try:
        bitmap = connection.query_keymap()
    finally:
        connection.close()
    return [
        index * 8 + bit for index, byte in enumerate(bitmap) for bit in range(8) if byte >> bit & 1
    ]


def test_named_keys_have_keysyms() -> None:
    assert_named_keys_covered()


def test_character_keysyms() -> None:
    assert character_keysym("a") == 0x61
    assert character_keysym("ê") == 0xEA
    assert character_keysym("€") == 0x20AC
    assert character_keysym("с") == 0x01000441


def test_keyboard_map_prefers_fewest_modifiers() -> None:
    keymap = KeyboardMap(8, [[0x71, 0x51, 0x71, 0x51, 0x40, 0x7D9], [0x40, 0x40], [0, 0, 0]])
    assert keymap.find(0x40).keycode == 9  # type: ignore[union-attr]
    level3 = keymap.find(0x7D9)
    assert level3 is not None
    assert (level3.keycode, level3.shift, level3.level3) == (8, True, True)
    assert keymap.find(0x51) is not None
    assert keymap.find(0x1234) is None
    assert keymap.spare() == [10]


def test_click_lands_on_point(app: Recorder, injector: XTestInjector) -> None:
    injector.move(123, 456)
    injector.press_button(MouseButton.MAIN)
    injector.release_button(MouseButton.MAIN)
    press, release = app.events("press", 1)[0], app.events("release", 1)[0]
    assert (press["button"], press["x"], press["y"]) == (1, 123, 456)
    assert (release["button"], release["x"], release["y"]) == (1, 123, 456)


def test_scroll_sends_wheel_buttons(app: Recorder, injector: XTestInjector) -> None:
    injector.move(10, 10)
    injector.scroll(0, 2)
    injector.scroll(0, -1)
    buttons = [event["button"] for event in app.events("press", 3)]
    assert buttons == [5, 5, 4]


@pytest.mark.parametrize("layout", ["us", "de", "fr"])
def test_text_arrives_exactly(
    display: Display, app: Recorder, injector: XTestInjector, layout: str
) -> None:
    set_layout(display, layout)
    try:
        for character in TEXT + "ê€":
            assert injector.type_character(character) is Injected.DONE
        assert app.text(len(TEXT) + 2) == TEXT + "ê€"
    finally:
        set_layout(display, "us")
    assert keys_down(display) == []


def test_held_modifiers_do_not_change_text(
    display: Display, app: Recorder, injector: XTestInjector
) -> None:
    set_layout(display, "de")
    try:
        # A German guest holds AltGr for "@", a US guest Shift for "!".
        assert injector.press_key("AltGraph") is Injected.DONE
        assert injector.type_character("@") is Injected.DONE
        assert injector.type_character("a") is Injected.DONE
        injector.release_key("AltGraph")
        assert injector.press_key("ShiftLeft") is Injected.DONE
        assert injector.type_character("!") is Injected.DONE
        assert injector.type_character("z") is Injected.DONE
        injector.release_key("ShiftLeft")
        assert app.text(4) == "@a!z"
    finally:
        set_layout(display, "us")
    assert keys_down(display) == []


def test_panic_keys_are_not_injected(
    display: Display, app: Recorder, injector: XTestInjector
) -> None:
    for name in ("ControlLeft", "AltLeft", "ShiftLeft"):
        assert injector.press_key(name) is Injected.DONE
    assert injector.press_key("Escape") is Injected.RESERVED
    for name in ("ControlLeft", "AltLeft", "ShiftLeft"):
        injector.release_key(name)
    assert injector.press_key("Escape") is Injected.DONE
    injector.release_key("Escape")
    keysyms = [event["keysym"] for event in app.quiet(1) if event["event"] == "key"]
    # Only the Escape pressed without the panic modifiers arrived.
    assert keysyms.count("Escape") == 1
    assert keysyms[-1] == "Escape"
    assert keys_down(display) == []


def test_spare_binding_is_restored(display: Display, injector: XTestInjector) -> None:
    from Xlib import display as xdisplay

    spare_before = injector._keymap.spare()
    assert injector.type_character("ж") is Injected.DONE
    connection = xdisplay.Display(display.name)
    try:
        assert connection.keysym_to_keycode(character_keysym("ж")) != 0
    finally:
        connection.close()
    injector.close()
    connection = xdisplay.Display(display.name)
    try:
        assert connection.keysym_to_keycode(character_keysym("ж")) == 0
        info = connection.display.info
        rows = connection.get_keyboard_mapping(
            info.min_keycode, info.max_keycode - info.min_keycode + 1
        )
        spare_after = KeyboardMap(info.min_keycode, [list(row) for row in rows]).spare()
    finally:
        connection.close()
    assert spare_after == spare_before
