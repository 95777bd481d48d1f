"""Painting on an X display's root window, for tests that need pixels to change."""

from __future__ import annotations

from typing import Any

from Xlib import X
from Xlib import display as xdisplay


class Painter:
    def __init__(self, display: str) -> None:
        self._display: Any = xdisplay.Display(display)
        screen = self._display.screen()
        self._root = screen.root
        self._colormap = screen.default_colormap
        self._gc = self._root.create_gc(
            foreground=screen.black_pixel, subwindow_mode=X.IncludeInferiors
        )

    def fill(self, x: int, y: int, width: int, height: int, rgb: tuple[int, int, int]) -> None:
        """Fill a rectangle with a colour and wait until the server has drawn it."""
        red, green, blue = (channel * 257 for channel in rgb)
        pixel = self._colormap.alloc_color(red, green, blue).pixel
        self._gc.change(foreground=pixel)
        self._root.fill_rectangle(self._gc, x, y, width, height)
        self._display.sync()

    def close(self) -> None:
        self._display.close()
