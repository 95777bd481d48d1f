"""Turning guests' key events into presses, releases and typed characters."""

from __future__ import annotations

from pairview.host.input.keys import GuestKeyboard, Ignore, Press, Reject, Release, Type


def test_characters_are_typed_not_held() -> None:
    keyboard = GuestKeyboard()
    assert keyboard.handle("KeyQ", "@", down=True) == Type("@")
    assert keyboard.handle("KeyE", "ê", down=True) == Type("ê")
    assert keyboard.held == {}
    assert keyboard.handle("KeyQ", "q", down=False) == Ignore("key not held")


def test_named_keys_are_held_until_released() -> None:
    keyboard = GuestKeyboard()
    assert keyboard.handle("ShiftRight", "Shift", down=True) == Press("ShiftRight")
    assert keyboard.handle("Enter", "Enter", down=True) == Press("Enter")
    assert keyboard.handle("Enter", "Enter", down=True, repeat=True) == Ignore("auto-repeat")
    # The key value on release may differ from the press; the code decides.
    assert keyboard.handle("ShiftRight", "Unidentified", down=False) == Release("ShiftRight")
    assert sorted(keyboard.release_all()) == ["Enter"]
    assert keyboard.held == {}


def test_dead_key_waits_for_composed_character() -> None:
    keyboard = GuestKeyboard()
    assert keyboard.handle("BracketLeft", "Dead", down=True) == Ignore("dead key")
    assert keyboard.handle("KeyE", "ê", down=True) == Type("ê")


def test_unknown_codes_and_keys_rejected() -> None:
    keyboard = GuestKeyboard()
    assert keyboard.handle("NotAKey", "a", down=True) == Reject("unknown key code")
    assert keyboard.handle("KeyA", "Unidentified", down=True) == Reject("unknown key")
    assert keyboard.handle("KeyA", "\x07", down=True) == Reject("unknown key")
    assert keyboard.handle("KeyA", "ab", down=True) == Reject("unknown key")
    assert keyboard.held == {}


def test_shortcut_on_non_latin_layout_uses_physical_key() -> None:
    keyboard = GuestKeyboard()
    # Cyrillic "с" without a modifier is text ...
    assert keyboard.handle("KeyC", "с", down=True) == Type("с")
    # ... but with Ctrl held it is the copy shortcut of the key's US letter.
    keyboard.handle("ControlLeft", "Control", down=True)
    assert keyboard.handle("KeyC", "с", down=True) == Type("c")
    # A Latin key keeps the guest's layout: AZERTY's "z" sits on KeyW.
    assert keyboard.handle("KeyW", "z", down=True) == Type("z")
