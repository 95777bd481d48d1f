"""The interface of a platform's input injection; X11 implements it with XTEST.

The host app decides who may inject what (see `pairview.host.remote`);
an injector only turns permitted events into the platform's own input.
Positions are in the platform's screen pixels, keys are named in the
browser's words (KeyboardEvent.key values such as "Enter" or "ShiftLeft"),
and characters are plain strings, typed with whatever modifiers the host's
own keyboard layout needs for them.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum, IntEnum
from typing import Protocol

from pairview.errors import PairviewError


class InputUnavailable(PairviewError):
    """This host cannot inject input: no display, or no XTEST extension."""


class MouseButton(IntEnum):
    """Mouse buttons, numbered as MouseEvent.button numbers them."""

    MAIN = 0
    MIDDLE = 1
    SECONDARY = 2
    BACK = 3
    FORWARD = 4


class Injected(Enum):
    """Outcome of one key event."""

    DONE = "done"
    # The host's keymap has no such key and no spare keycode was left to bind it to.
    UNMAPPED = "unmapped"
    # The event would complete the host's panic shortcut, which only the
    # host's own keyboard may press.
    RESERVED = "reserved"


class InputInjector(Protocol):
    """Turns permitted remote input into the host's own input events.

    Methods are called from one thread at a time, in the order the events
    happened.
    """

    @property
    def screen_size(self) -> tuple[int, int]:
        """The whole screen's width and height in pixels."""
        ...

    def move(self, x: int, y: int) -> None:
        """Move the pointer to (x, y) in screen pixels."""

    def press_button(self, button: MouseButton) -> None: ...

    def release_button(self, button: MouseButton) -> None: ...

    def scroll(self, dx: int, dy: int) -> None:
        """Scroll by wheel notches; positive `dy` scrolls down, positive `dx` right."""

    def press_key(self, name: str) -> Injected:
        """Press and hold the named key, such as "Enter", "ShiftLeft" or "F5"."""
        ...

    def release_key(self, name: str) -> None: ...

    def type_character(self, character: str) -> Injected:
        """Press and release whatever key, with whatever level, produces `character`."""
        ...

    def pointer_position(self) -> tuple[int, int] | None:
        """Return where the host's pointer is now, or None if it is on another screen."""
        ...

    def maintain(self) -> None:
        """Do periodic housekeeping, such as unbinding keys bound for a while."""

    def close(self) -> None:
        """Release everything still held and close the connection to the platform."""


class PanicShortcut(Protocol):
    """A key combination on the host's own keyboard that takes back every grant."""

    @property
    def description(self) -> str:
        """The combination in words, such as "Ctrl+Alt+Shift+Escape"."""
        ...

    def start(self, on_press: Callable[[], None]) -> None:
        """Start listening; `on_press` is called from another thread."""

    def close(self) -> None: ...
