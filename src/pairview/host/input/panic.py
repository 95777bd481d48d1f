"""The panic shortcut on X11: a passive key grab of Ctrl+Alt+Shift+Escape on the root window.

The grab reports the combination however the host's keyboard is focused.
XTEST input goes through the same grab, so the injector refuses to press
Escape while Ctrl, Alt and Shift are all down (see `XTestInjector`): only
the host's own keyboard can complete the shortcut.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import threading
from collections.abc import Callable
from typing import Any

from pairview.host.capture import display_closed
from pairview.host.input.base import InputUnavailable
from pairview.host.input.xtest import LOCK_MASK, PANIC_KEYSYM, PANIC_MODIFIERS

logger = logging.getLogger(__name__)

NUM_LOCK_KEYSYM = 0xFF7F


class XPanicShortcut:
    """Calls back when the host presses Ctrl+Alt+Shift+Escape on its own keyboard."""

    description = "Ctrl+Alt+Shift+Escape"

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
        self._root = self._display.screen().root
        self._keycode = int(self._display.keysym_to_keycode(PANIC_KEYSYM))
        self._wake_read, self._wake_write = os.pipe()
        self._thread: threading.Thread | None = None
        self._stopping = False

    def start(self, on_press: Callable[[], None]) -> None:
        """Grab the combination, or raise InputUnavailable if another client grabbed it first."""
        from Xlib import X
        from Xlib.error import CatchError

        if self._keycode == 0:
            raise InputUnavailable("The host's keymap has no Escape key for the panic shortcut.")
        catch = CatchError()
        # Grab with every state of Caps Lock and Num Lock, which the host may have on.
        for extra in self._lock_masks():
            self._root.grab_key(
                self._keycode,
                PANIC_MODIFIERS | extra,
                False,
                X.GrabModeAsync,
                X.GrabModeAsync,
                onerror=catch,
            )
        self._display.sync()
        if catch.get_error() is not None:
            raise InputUnavailable(
                f"Another program already uses {self.description}; the panic shortcut is off."
            )
        self._thread = threading.Thread(
            target=self._run, args=(on_press,), name="pairview-panic", daemon=True
        )
        self._thread.start()

    def _lock_masks(self) -> list[int]:
        num_lock = 0
        keycodes = set()
        for keycode, _index in self._display.keysym_to_keycodes(NUM_LOCK_KEYSYM):
            keycodes.add(keycode)
        for index, modifier_keycodes in enumerate(self._display.get_modifier_mapping()):
            if keycodes & set(modifier_keycodes):
                num_lock = 1 << index
        masks = {0, LOCK_MASK, num_lock, LOCK_MASK | num_lock}
        return sorted(masks)

    def _run(self, on_press: Callable[[], None]) -> None:
        from Xlib import X

        fileno = self._display.fileno()
        while not self._stopping:
            if self._display.pending_events() == 0:
                readable, _, _ = select.select([fileno, self._wake_read], [], [], 1.0)
                if self._wake_read in readable or fileno not in readable:
                    continue
            try:
                event = self._display.next_event()
            except Exception as error:
                if self._stopping:
                    return
                if display_closed(error):
                    logger.warning("the panic shortcut stopped listening: the X display closed")
                else:
                    logger.exception("the panic shortcut stopped listening")
                return
            if event.type == X.KeyPress and event.detail == self._keycode:
                on_press()

    def close(self) -> None:
        self._stopping = True
        with contextlib.suppress(OSError):
            os.write(self._wake_write, b"\0")
        if self._thread is not None:
            self._thread.join(timeout=5)
        with contextlib.suppress(Exception):
            self._display.close()
        os.close(self._wake_read)
        os.close(self._wake_write)
