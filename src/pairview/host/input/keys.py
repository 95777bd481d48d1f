"""Turning a guest's key events into what the host injects, independent of the platform.

A key that produces a character (KeyboardEvent.key is one character) is
typed: the host presses and releases whatever key of its own layout makes
that character, so text comes out the same whatever the two layouts are.
Other keys (Enter, arrows, modifiers) are pressed and held until the guest
releases them, named after KeyboardEvent.key, and modifiers after the side
the guest pressed (KeyboardEvent.code, such as "ShiftLeft").
"""

from __future__ import annotations

import string
import unicodedata
from dataclasses import dataclass, field

# KeyboardEvent.code values of the UI Events code specification that a
# guest's keyboard may send; any other code is dropped.
KNOWN_CODES: frozenset[str] = frozenset(
    [f"Key{letter}" for letter in string.ascii_uppercase]
    + [f"Digit{digit}" for digit in range(10)]
    + [f"Numpad{digit}" for digit in range(10)]
    + [f"F{number}" for number in range(1, 25)]
    + [
        "Backquote",
        "Backslash",
        "BracketLeft",
        "BracketRight",
        "Comma",
        "Equal",
        "IntlBackslash",
        "IntlRo",
        "IntlYen",
        "Minus",
        "Period",
        "Quote",
        "Semicolon",
        "Slash",
        "AltLeft",
        "AltRight",
        "Backspace",
        "CapsLock",
        "ContextMenu",
        "ControlLeft",
        "ControlRight",
        "Enter",
        "MetaLeft",
        "MetaRight",
        "OSLeft",
        "OSRight",
        "ShiftLeft",
        "ShiftRight",
        "Space",
        "Tab",
        "Convert",
        "KanaMode",
        "Lang1",
        "Lang2",
        "Lang3",
        "Lang4",
        "Lang5",
        "NonConvert",
        "Delete",
        "End",
        "Help",
        "Home",
        "Insert",
        "PageDown",
        "PageUp",
        "ArrowDown",
        "ArrowLeft",
        "ArrowRight",
        "ArrowUp",
        "NumLock",
        "NumpadAdd",
        "NumpadBackspace",
        "NumpadClear",
        "NumpadComma",
        "NumpadDecimal",
        "NumpadDivide",
        "NumpadEnter",
        "NumpadEqual",
        "NumpadMultiply",
        "NumpadParenLeft",
        "NumpadParenRight",
        "NumpadSubtract",
        "Escape",
        "Fn",
        "PrintScreen",
        "ScrollLock",
        "Pause",
        "AudioVolumeDown",
        "AudioVolumeMute",
        "AudioVolumeUp",
        "MediaPlayPause",
        "MediaStop",
        "MediaTrackNext",
        "MediaTrackPrevious",
    ]
)

# Modifier keys, named by side: the KeyboardEvent.code of each, mapped to
# the name the injector presses.
MODIFIER_CODES: dict[str, str] = {
    "ShiftLeft": "ShiftLeft",
    "ShiftRight": "ShiftRight",
    "ControlLeft": "ControlLeft",
    "ControlRight": "ControlRight",
    "AltLeft": "AltLeft",
    "AltRight": "AltRight",
    "MetaLeft": "MetaLeft",
    "MetaRight": "MetaRight",
    "OSLeft": "MetaLeft",
    "OSRight": "MetaRight",
}
# The left-side name for a modifier whose KeyboardEvent.code did not say the side.
MODIFIER_VALUES: dict[str, str] = {
    "Shift": "ShiftLeft",
    "Control": "ControlLeft",
    "Alt": "AltLeft",
    "Meta": "MetaLeft",
    "OS": "MetaLeft",
}
# Modifiers that turn a character key into a shortcut, such as Ctrl+C.
SHORTCUT_MODIFIERS = frozenset(
    {"ControlLeft", "ControlRight", "AltLeft", "AltRight", "MetaLeft", "MetaRight"}
)

# Keys that produce no character, by KeyboardEvent.key, besides the modifiers above.
NAMED_KEYS: frozenset[str] = frozenset(
    [f"F{number}" for number in range(1, 25)]
    + [
        "Enter",
        "Tab",
        "Backspace",
        "Escape",
        "Delete",
        "Insert",
        "Home",
        "End",
        "PageUp",
        "PageDown",
        "ArrowUp",
        "ArrowDown",
        "ArrowLeft",
        "ArrowRight",
        "Clear",
        "CapsLock",
        "NumLock",
        "ScrollLock",
        "Pause",
        "PrintScreen",
        "ContextMenu",
        "AltGraph",
        "AudioVolumeMute",
        "AudioVolumeDown",
        "AudioVolumeUp",
        "MediaPlayPause",
        "MediaTrackNext",
        "MediaTrackPrevious",
        "MediaStop",
    ]
)

# Characters that the physical key of each code produces on a US layout, for shortcuts
# typed on a layout whose letters the host may not have (Ctrl+C on a
# Cyrillic layout sends "с", which is no shortcut on a Latin host).
US_CHARACTERS: dict[str, str] = {
    **{f"Key{letter}": letter.lower() for letter in string.ascii_uppercase},
    **{f"Digit{digit}": str(digit) for digit in range(10)},
    "Backquote": "`",
    "Minus": "-",
    "Equal": "=",
    "BracketLeft": "[",
    "BracketRight": "]",
    "Backslash": "\\",
    "Semicolon": ";",
    "Quote": "'",
    "Comma": ",",
    "Period": ".",
    "Slash": "/",
    "Space": " ",
}


@dataclass(frozen=True, slots=True)
class Press:
    name: str


@dataclass(frozen=True, slots=True)
class Release:
    name: str


@dataclass(frozen=True, slots=True)
class Type:
    character: str


@dataclass(frozen=True, slots=True)
class Ignore:
    """Nothing to inject, and nothing wrong either: a dead key or an auto-repeat."""

    why: str


@dataclass(frozen=True, slots=True)
class Reject:
    """Input that no honest page sends: counted and logged, never injected."""

    why: str


KeyAction = Press | Release | Type | Ignore | Reject


def is_character(value: str) -> bool:
    """Return whether a KeyboardEvent.key value is one printable character."""
    return len(value) == 1 and not unicodedata.category(value).startswith("C")


@dataclass
class GuestKeyboard:
    """The keys one guest holds down on the host, and the rules for its next key event."""

    held: dict[str, str] = field(default_factory=dict)

    def handle(self, code: str, key: str, down: bool, repeat: bool = False) -> KeyAction:
        if code not in KNOWN_CODES:
            return Reject("unknown key code")
        if not down:
            name = self.held.pop(code, None)
            return Release(name) if name is not None else Ignore("key not held")
        if key == "Dead":
            # The browser sends the composed character with the next key.
            return Ignore("dead key")
        name = self._named(code, key)
        if name is not None:
            if code in self.held:
                # The host's own auto-repeat repeats a held key.
                return Ignore("auto-repeat")
            self.held[code] = name
            return Press(name)
        if is_character(key):
            return Type(self._character(code, key))
        return Reject("unknown key")

    def release_all(self) -> list[str]:
        """Forget every held key and return their names, to be released."""
        names = list(self.held.values())
        self.held.clear()
        return names

    @staticmethod
    def _named(code: str, key: str) -> str | None:
        if key in MODIFIER_VALUES:
            return MODIFIER_CODES.get(code, MODIFIER_VALUES[key])
        if key in NAMED_KEYS:
            return key
        return None

    def _character(self, code: str, key: str) -> str:
        # NOTE: browsers on Windows report AltGr as ControlLeft plus AltRight, so
        # a character typed with AltGr there arrives as a Ctrl+Alt shortcut.
        shortcut = any(name in SHORTCUT_MODIFIERS for name in self.held.values())
        if shortcut and not key.isascii() and code in US_CHARACTERS:
            return US_CHARACTERS[code]
        return key
