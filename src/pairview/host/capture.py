"""Screen capture on X11: mss for the pixels, XDamage to learn when they change.

Both objects own an X connection and must be used from one thread only,
the capture thread of `VideoPipeline`.
"""

from __future__ import annotations

import logging
import os
import select
from dataclasses import dataclass
from typing import Any

import mss

from pairview.errors import PairviewError

logger = logging.getLogger(__name__)


class CaptureError(PairviewError):
    """The screen cannot be captured: no display, or no such monitor."""


@dataclass(frozen=True, slots=True)
class Region:
    left: int
    top: int
    width: int
    height: int


def list_monitors(display: str | None = None) -> list[Region]:
    """Return the X screen's monitors as mss numbers them: 0 is all of them together."""
    with _open_mss(display) as screen:
        return [Region(m["left"], m["top"], m["width"], m["height"]) for m in screen.monitors]


def display_closed(error: BaseException) -> bool:
    """Tell whether `error` means that the X server closed the connection, as when it stops."""
    from Xlib.error import ConnectionClosedError

    return isinstance(error, ConnectionClosedError)


def display_name(display: str | None) -> str:
    """Return the X display to use: `display`, else DISPLAY, else an empty string."""
    return display or os.environ.get("DISPLAY", "")


def _open_mss(display: str | None) -> Any:
    name = display_name(display)
    if not name:
        raise CaptureError(
            "No X display to capture: DISPLAY is not set. Run it in your X session, "
            "or on a virtual display with `xvfb-run -a`."
        )
    try:
        return mss.MSS(display=name)
    except Exception as error:  # mss raises its own and ctypes errors alike
        raise CaptureError(f"Cannot open X display {name!r}: {error}") from None


def monitor_region(index: int, display: str | None = None) -> Region:
    """Return the region of monitor `index`, cut to even sizes for 4:2:0 video."""
    monitors = list_monitors(display)
    if not 0 <= index < len(monitors):
        raise CaptureError(
            f"No monitor {index}: this display has monitors 1 to {len(monitors) - 1} "
            "(0 means all of them together)."
        )
    region = monitors[index]
    return Region(region.left, region.top, region.width & ~1, region.height & ~1)


class ScreenCapture:
    """Grabs one region of the screen as BGRA bytes."""

    def __init__(self, region: Region, display: str | None = None) -> None:
        self.region = region
        self._screen = _open_mss(display)
        self._box = {
            "left": region.left,
            "top": region.top,
            "width": region.width,
            "height": region.height,
        }

    def grab(self) -> bytearray:
        """Return the region's pixels, 4 bytes a pixel in B, G, R, A order, rows top to bottom."""
        shot = self._screen.grab(self._box)
        raw: bytearray = shot.raw
        return raw

    def close(self) -> None:
        self._screen.close()


class DamageWatcher:
    """Wakes the capture thread when X reports that some pixels were drawn.

    With the DAMAGE extension the thread sleeps while the screen is still,
    and a change is picked up at once instead of at the next poll. Without
    it, `wait` reports a change every time and the caller compares pixels.
    """

    def __init__(self, display: str | None = None) -> None:
        self._display: Any = None
        self._damage: Any = None
        self._event_type = -1
        try:
            from Xlib import display as xdisplay
            from Xlib.ext import damage

            self._display = xdisplay.Display(display)
            if not self._display.has_extension("DAMAGE"):
                raise CaptureError("the X server has no DAMAGE extension")
            self._display.damage_query_version()
            root = self._display.screen().root
            self._damage = root.damage_create(damage.DamageReportNonEmpty)
            self._event_type = self._display.extension_event.DamageNotify
            self._display.flush()
        except Exception as error:
            logger.warning("screen changes are found by polling, not XDamage: %s", error)
            self.close()

    @property
    def available(self) -> bool:
        return self._damage is not None

    def fileno(self) -> int:
        return int(self._display.fileno()) if self._display is not None else -1

    def wait(self, timeout: float, wake_fd: int) -> bool:
        """Wait up to `timeout` seconds; return True if the screen was drawn on.

        Returns early, with False, when `wake_fd` becomes readable.
        """
        if self._display is None:
            readable, _, _ = select.select([wake_fd], [], [], max(0.0, timeout))
            return not readable
        if self._display.pending_events() == 0:
            readable, _, _ = select.select([self.fileno(), wake_fd], [], [], max(0.0, timeout))
            if self.fileno() not in readable:
                return False
        return self.take()

    def take(self) -> bool:
        """Drain queued events and re-arm; return True if any reported damage."""
        if self._display is None:
            return True
        damaged = False
        while self._display.pending_events():
            event = self._display.next_event()
            if event.type == self._event_type:
                damaged = True
        if damaged:
            self._display.damage_subtract(self._damage)
            self._display.flush()
        return damaged

    def close(self) -> None:
        if self._display is not None:
            try:
                if self._damage is not None:
                    self._display.damage_destroy(self._damage)
                self._display.close()
            except Exception:  # noqa: S110 - the connection may already be gone
                pass
        self._display = None
        self._damage = None
