"""Input injection on X11 through the XTEST extension (python-xlib).

Characters are typed with the host's own keymap: the injector finds a
keycode whose level 1, 2, 3 or 4 holds the character's keysym, and sets
Shift and the level 3 modifier (AltGr) to exactly what that level needs
for the one key press, whatever modifiers are held at the time. A keysym
missing from the keymap is bound to a spare keycode (one with no keysym at
all) for as long as it is in use, and unbound again after a short idle
time or when the injector closes.
"""

from __future__ import annotations

import logging
import time
import unicodedata
from dataclasses import dataclass
from typing import Any

from pairview.host.input.base import Injected, InputUnavailable, MouseButton
from pairview.host.input.keys import MODIFIER_CODES, NAMED_KEYS

logger = logging.getLogger(__name__)

NO_SYMBOL = 0
KEYSYM_SHIFT_L = 0xFFE1
KEYSYM_SHIFT_R = 0xFFE2
KEYSYM_ISO_LEVEL3_SHIFT = 0xFE03
KEYSYM_ESCAPE = 0xFF1B

# X modifier masks (X11 protocol, section "Keyboards").
SHIFT_MASK = 1 << 0
LOCK_MASK = 1 << 1
CONTROL_MASK = 1 << 2
MOD1_MASK = 1 << 3
MOD5_MASK = 1 << 7
MODIFIER_MASKS = [1 << index for index in range(8)]

# Columns of the core keyboard mapping that XKB fills for group 1 of a key:
# column -> (Shift needed, level 3 needed). Columns 2, 3 and 6 repeat group
# 1 or hold group 2, which the core protocol cannot select.
LEVEL_COLUMNS: dict[int, tuple[bool, bool]] = {
    0: (False, False),
    1: (True, False),
    4: (False, True),
    5: (True, True),
}

# X keysyms of the keys named in `keys.NAMED_KEYS` and `keys.MODIFIER_CODES`
# (X11 keysymdef.h).
NAMED_KEYSYMS: dict[str, int] = {
    "Enter": 0xFF0D,
    "Tab": 0xFF09,
    "Backspace": 0xFF08,
    "Escape": KEYSYM_ESCAPE,
    "Delete": 0xFFFF,
    "Insert": 0xFF63,
    "Home": 0xFF50,
    "End": 0xFF57,
    "PageUp": 0xFF55,
    "PageDown": 0xFF56,
    "ArrowLeft": 0xFF51,
    "ArrowUp": 0xFF52,
    "ArrowRight": 0xFF53,
    "ArrowDown": 0xFF54,
    "Clear": 0xFF0B,
    "CapsLock": 0xFFE5,
    "NumLock": 0xFF7F,
    "ScrollLock": 0xFF14,
    "Pause": 0xFF13,
    "PrintScreen": 0xFF61,
    "ContextMenu": 0xFF67,
    "AltGraph": KEYSYM_ISO_LEVEL3_SHIFT,
    "ShiftLeft": KEYSYM_SHIFT_L,
    "ShiftRight": KEYSYM_SHIFT_R,
    "ControlLeft": 0xFFE3,
    "ControlRight": 0xFFE4,
    "AltLeft": 0xFFE9,
    "AltRight": 0xFFEA,
    "MetaLeft": 0xFFEB,
    "MetaRight": 0xFFEC,
    "AudioVolumeMute": 0x1008FF12,
    "AudioVolumeDown": 0x1008FF11,
    "AudioVolumeUp": 0x1008FF13,
    "MediaPlayPause": 0x1008FF14,
    "MediaStop": 0x1008FF15,
    "MediaTrackPrevious": 0x1008FF16,
    "MediaTrackNext": 0x1008FF17,
    **{f"F{number}": 0xFFBD + number for number in range(1, 25)},
}
MODIFIER_KEYSYMS = frozenset(
    NAMED_KEYSYMS[name] for name in {*MODIFIER_CODES.values(), "AltGraph", "CapsLock", "NumLock"}
)

# Characters whose keysym is not their Unicode code point plus 0x01000000,
# because X had a keysym for them before Unicode keysyms existed.
LEGACY_KEYSYMS: dict[str, int] = {"€": 0x20AC}

BUTTONS: dict[MouseButton, int] = {
    MouseButton.MAIN: 1,
    MouseButton.MIDDLE: 2,
    MouseButton.SECONDARY: 3,
    MouseButton.BACK: 8,
    MouseButton.FORWARD: 9,
}
WHEEL_UP, WHEEL_DOWN, WHEEL_LEFT, WHEEL_RIGHT = 4, 5, 6, 7

# A bound spare keycode stays bound this long after its last use: a client
# that reads the key event after the keysym was unbound would see nothing.
BINDING_IDLE_SECONDS = 2.0

# The panic shortcut: Ctrl+Alt+Shift+Escape (Alt is Mod1 in every usual keymap).
PANIC_KEYSYM = KEYSYM_ESCAPE
PANIC_MODIFIERS = SHIFT_MASK | CONTROL_MASK | MOD1_MASK


def assert_named_keys_covered() -> None:
    """Fail loudly if a key name of `keys` has no X keysym; used by the tests."""
    missing = (NAMED_KEYS | set(MODIFIER_CODES.values())) - set(NAMED_KEYSYMS)
    if missing:
        raise AssertionError(f"no X keysym for {sorted(missing)}")


def character_keysym(character: str) -> int:
    """Return the X keysym that produces `character`."""
    point = ord(character)
    if 0x20 <= point <= 0x7E or 0xA0 <= point <= 0xFF:
        # Latin-1 keysyms equal their code points.
        return point
    return LEGACY_KEYSYMS.get(character, 0x01000000 + point)


@dataclass(frozen=True, slots=True)
class KeyLocation:
    keycode: int
    shift: bool
    level3: bool


class KeyboardMap:
    """The core keyboard mapping: for each keycode, its keysyms by column."""

    def __init__(self, min_keycode: int, rows: list[list[int]]) -> None:
        self.min_keycode = min_keycode
        self.rows = rows

    def keysyms(self, keycode: int) -> list[int]:
        index = keycode - self.min_keycode
        return self.rows[index] if 0 <= index < len(self.rows) else []

    def find(self, keysym: int) -> KeyLocation | None:
        """Return the key and level that produce `keysym` with the fewest modifiers."""
        best: tuple[int, KeyLocation] | None = None
        for index, row in enumerate(self.rows):
            for column, (shift, level3) in LEVEL_COLUMNS.items():
                if column < len(row) and row[column] == keysym:
                    cost = int(shift) + 2 * int(level3)
                    if best is None or cost < best[0]:
                        best = (cost, KeyLocation(self.min_keycode + index, shift, level3))
        return best[1] if best is not None else None

    def keycodes(self, keysym: int) -> list[int]:
        """Return every keycode whose first column is `keysym`."""
        return [
            self.min_keycode + index for index, row in enumerate(self.rows) if row[:1] == [keysym]
        ]

    def spare(self) -> list[int]:
        """Return keycodes with no keysym at all, highest first."""
        free = [
            self.min_keycode + index
            for index, row in enumerate(self.rows)
            if all(keysym == NO_SYMBOL for keysym in row)
        ]
        return sorted(free, reverse=True)


@dataclass
class _Binding:
    keysym: int
    last_used: float


class XTestInjector:
    """Injects input into one X display; used from one thread only."""

    def __init__(self, display: str | None = None) -> None:
        try:
            from Xlib import display as xdisplay
            from Xlib.error import DisplayError
        except ImportError as error:  # pragma: no cover - python-xlib is a dependency
            raise InputUnavailable(f"python-xlib is not installed: {error}") from None
        try:
            self._display: Any = xdisplay.Display(display)
        except (DisplayError, OSError) as error:
            raise InputUnavailable(f"Cannot open X display {display or ''!r}: {error}") from None
        if not self._display.has_extension("XTEST"):
            self._display.close()
            raise InputUnavailable("The X server has no XTEST extension to inject input with.")
        screen = self._display.screen()
        self._root = screen.root
        self._size = (int(screen.width_in_pixels), int(screen.height_in_pixels))
        self._bindings: dict[int, _Binding] = {}
        self._held_keys: dict[str, int] = {}
        self._held_buttons: set[int] = set()
        self._closed = False
        self._display.set_error_handler(_log_x_error)
        self._keymap = self._load_keymap()
        self._level3_mask = self._find_level3_mask()

    @property
    def screen_size(self) -> tuple[int, int]:
        return self._size

    # Pointer

    def move(self, x: int, y: int) -> None:
        from Xlib import X
        from Xlib.ext import xtest

        xtest.fake_input(self._display, X.MotionNotify, detail=0, root=self._root, x=x, y=y)
        self._display.flush()

    def press_button(self, button: MouseButton) -> None:
        self._button(BUTTONS[button], press=True)
        self._held_buttons.add(BUTTONS[button])
        self._display.flush()

    def release_button(self, button: MouseButton) -> None:
        self._button(BUTTONS[button], press=False)
        self._held_buttons.discard(BUTTONS[button])
        self._display.flush()

    def scroll(self, dx: int, dy: int) -> None:
        vertical = WHEEL_DOWN if dy > 0 else WHEEL_UP
        horizontal = WHEEL_RIGHT if dx > 0 else WHEEL_LEFT
        for number, count in ((vertical, abs(dy)), (horizontal, abs(dx))):
            for _ in range(count):
                self._button(number, press=True)
                self._button(number, press=False)
        self._display.flush()

    def pointer_position(self) -> tuple[int, int] | None:
        reply = self._root.query_pointer()
        if not reply.same_screen:
            return None
        return int(reply.root_x), int(reply.root_y)

    # Keyboard

    def press_key(self, name: str) -> Injected:
        keysym = NAMED_KEYSYMS.get(name)
        if keysym is None:
            return Injected.UNMAPPED
        self._take_mapping_changes()
        if keysym == PANIC_KEYSYM and self._completes_panic():
            return Injected.RESERVED
        keycodes = self._keymap.keycodes(keysym)
        if keycodes:
            keycode = keycodes[0]
        elif keysym in MODIFIER_KEYSYMS:
            # A modifier bound to a spare keycode would modify nothing.
            return Injected.UNMAPPED
        else:
            found = self._bind(keysym)
            if found is None:
                return Injected.UNMAPPED
            keycode = found
        self._key(keycode, press=True)
        self._held_keys[name] = keycode
        self._display.flush()
        return Injected.DONE

    def release_key(self, name: str) -> None:
        keycode = self._held_keys.pop(name, None)
        if keycode is None:
            return
        self._key(keycode, press=False)
        self._display.flush()

    def type_character(self, character: str) -> Injected:
        keysym = character_keysym(character)
        self._take_mapping_changes()
        location = self._keymap.find(keysym)
        if location is None:
            keycode = self._bind(keysym)
            if keycode is None:
                return Injected.UNMAPPED
            location = KeyLocation(keycode, shift=False, level3=False)
        elif location.keycode in self._bindings:
            self._bindings[location.keycode].last_used = time.monotonic()

        mask = int(self._root.query_pointer().mask)
        shift = location.shift
        if mask & LOCK_MASK and not location.level3 and _is_cased(character):
            # Caps Lock swaps the two levels of a letter; Shift swaps them back.
            shift = not shift
        undo = self._set_modifiers(mask, shift, location.level3)
        self._key(location.keycode, press=True)
        self._key(location.keycode, press=False)
        for keycode, pressed in reversed(undo):
            self._key(keycode, press=not pressed)
        self._display.flush()
        return Injected.DONE

    def maintain(self) -> None:
        """Unbind spare keycodes unused for a while, and read keymap changes."""
        now = time.monotonic()
        idle = [
            keycode
            for keycode, binding in self._bindings.items()
            if now - binding.last_used > BINDING_IDLE_SECONDS
        ]
        for keycode in idle:
            self._unbind(keycode)
        if idle:
            self._display.sync()
        self._take_mapping_changes()

    def release_all(self) -> None:
        """Release every key and button this injector holds down."""
        for name in list(self._held_keys):
            self.release_key(name)
        for number in list(self._held_buttons):
            self._button(number, press=False)
        self._held_buttons.clear()
        self._display.flush()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.release_all()
            for keycode in list(self._bindings):
                self._unbind(keycode)
            self._display.sync()
        finally:
            self._display.close()

    # Internals

    def _button(self, number: int, press: bool) -> None:
        from Xlib import X
        from Xlib.ext import xtest

        kind = X.ButtonPress if press else X.ButtonRelease
        xtest.fake_input(self._display, kind, number)

    def _key(self, keycode: int, press: bool) -> None:
        from Xlib import X
        from Xlib.ext import xtest

        kind = X.KeyPress if press else X.KeyRelease
        xtest.fake_input(self._display, kind, keycode)

    def _load_keymap(self) -> KeyboardMap:
        info = self._display.display.info
        first, last = int(info.min_keycode), int(info.max_keycode)
        rows = self._display.get_keyboard_mapping(first, last - first + 1)
        return KeyboardMap(first, [list(row) for row in rows])

    def _find_level3_mask(self) -> int:
        level3 = set(self._keymap.keycodes(KEYSYM_ISO_LEVEL3_SHIFT))
        for index, keycodes in enumerate(self._display.get_modifier_mapping()):
            if level3 & set(keycodes):
                return MODIFIER_MASKS[index]
        return MOD5_MASK

    def _take_mapping_changes(self) -> None:
        """Reload the keymap if any client, `setxkbmap` for one, changed it."""
        from Xlib import X

        changed = False
        while self._display.pending_events():
            event = self._display.next_event()
            if event.type == X.MappingNotify:
                changed = True
        if changed:
            self._keymap = self._load_keymap()
            self._level3_mask = self._find_level3_mask()

    def _completes_panic(self) -> bool:
        mask = int(self._root.query_pointer().mask)
        return mask & PANIC_MODIFIERS == PANIC_MODIFIERS

    def _set_modifiers(self, mask: int, shift: bool, level3: bool) -> list[tuple[int, bool]]:
        """Make Shift and level 3 match what a key needs; return the key events to undo.

        NOTE: XTEST cannot release a modifier that the host holds on its own
        keyboard, so a character typed by a guest meanwhile may come out shifted.
        """
        done: list[tuple[int, bool]] = []
        wanted = (
            (SHIFT_MASK, shift, [KEYSYM_SHIFT_L, KEYSYM_SHIFT_R]),
            (self._level3_mask, level3, [KEYSYM_ISO_LEVEL3_SHIFT]),
        )
        for modifier, needed, keysyms in wanted:
            active = bool(mask & modifier)
            if needed and not active:
                keycodes = self._keymap.keycodes(keysyms[0])
                if keycodes:
                    self._key(keycodes[0], press=True)
                    done.append((keycodes[0], True))
            elif active and not needed:
                down = self._keys_down()
                for keysym in keysyms:
                    for keycode in self._keymap.keycodes(keysym):
                        if keycode in down:
                            self._key(keycode, press=False)
                            done.append((keycode, False))
        return done

    def _keys_down(self) -> set[int]:
        bitmap = self._display.query_keymap()
        return {
            index * 8 + bit
            for index, byte in enumerate(bitmap)
            for bit in range(8)
            if byte & (1 << bit)
        }

    def _bind(self, keysym: int) -> int | None:
        """Bind `keysym` to a spare keycode, reusing the least recently used binding if needed."""
        for keycode, binding in self._bindings.items():
            if binding.keysym == keysym:
                binding.last_used = time.monotonic()
                return keycode
        free = [code for code in self._keymap.spare() if code not in self._bindings]
        if free:
            keycode = free[0]
        elif self._bindings:
            keycode = min(self._bindings, key=lambda code: self._bindings[code].last_used)
            # NOTE: a client still reading the previous key event of this
            # keycode may now translate it to the new keysym.
            del self._bindings[keycode]
        else:
            logger.warning("no spare keycode to bind a keysym missing from the host's keymap")
            return None
        self._display.change_keyboard_mapping(keycode, [(keysym, keysym)])
        self._display.sync()
        self._keymap.rows[keycode - self._keymap.min_keycode] = [keysym, keysym] + [NO_SYMBOL] * (
            len(self._keymap.rows[0]) - 2
        )
        self._bindings[keycode] = _Binding(keysym, time.monotonic())
        return keycode

    def _unbind(self, keycode: int) -> None:
        self._bindings.pop(keycode, None)
        width = len(self._keymap.rows[0])
        self._display.change_keyboard_mapping(keycode, [(NO_SYMBOL,) * width])
        self._keymap.rows[keycode - self._keymap.min_keycode] = [NO_SYMBOL] * width


def _log_x_error(error: Exception, request: object = None) -> None:
    logger.error("X server reported an error for an input request: %s", error)


def _is_cased(character: str) -> bool:
    return character.lower() != character.upper() and unicodedata.category(character)[0] == "L"
