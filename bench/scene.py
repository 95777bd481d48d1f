"""The X program that the benchmark shares: a page of text with the time stamped on it.

It covers the screen with one window showing lines of text, and redraws
the time stamp of `bench.stamp` in its top left corner at a steady rate
(60 Hz by default). With `--scene scroll`, a large pane of text also
scrolls up by a few pixels every frame, as a document does when read, so
that the encoders have real motion to code and not only the stamp.

It prints "ready" once the window is on screen and exits when its
standard input closes or on SIGTERM, printing "drawn N frames in S s".

Run it as `python -m bench.scene` with DISPLAY set.
"""

from __future__ import annotations

import argparse
import random
import signal
import sys
import threading
import time
from typing import Any

from Xlib import X, display
from Xlib.error import ConnectionClosedError

from bench.stamp import CELL_COUNT, StampLayout, encode, ticks_at

FONT = "9x15"
LINE_HEIGHT = 18
# fmt: off
WORDS = (
    "share", "screen", "guest", "host", "frame", "encoder", "packet", "latency", "keyframe",
    "bitrate", "window", "pixel", "cursor", "remote", "peer", "candidate", "offer", "answer",
    "track", "sender", "receiver", "codec", "motion", "the", "a", "of", "to", "and", "in", "is",
    "it", "that", "for", "on", "with", "as", "at", "by",
)
# fmt: on


def _text_line(generator: random.Random, characters: int) -> str:
    words: list[str] = []
    length = 0
    while length < characters:
        word = generator.choice(WORDS)
        words.append(word)
        length += len(word) + 1
    return " ".join(words)[:characters]


class Scene:
    def __init__(self, scroll: bool, scroll_speed: int) -> None:
        self._display: Any = display.Display()
        screen = self._display.screen()
        self.width: int = screen.width_in_pixels
        self.height: int = screen.height_in_pixels
        self._scroll = scroll
        self._scroll_speed = scroll_speed
        self._offset = 0
        self._random = random.Random(7)
        self.layout = StampLayout()

        self._window = screen.root.create_window(
            0,
            0,
            self.width,
            self.height,
            0,
            screen.root_depth,
            X.InputOutput,
            X.CopyFromParent,
            background_pixel=screen.white_pixel,
            override_redirect=True,
            event_mask=X.ExposureMask | X.StructureNotifyMask,
        )
        font = self._display.open_font(FONT)
        if font is None:
            raise SystemExit(
                f"the X core font {FONT!r} is missing; "
                "install xfonts-base (scripts/setup --dev does)"
            )
        self._text = self._window.create_gc(
            foreground=screen.black_pixel, background=screen.white_pixel, font=font
        )
        self._white = self._window.create_gc(foreground=screen.white_pixel)
        self._black = self._window.create_gc(foreground=screen.black_pixel)
        self._copy = self._window.create_gc(graphics_exposures=False)

        # The scrolling pane: most of the screen right of the stamp.
        self._pane = (
            self.width * 3 // 10,
            self.height // 10,
            self.width * 65 // 100,
            self.height * 8 // 10,
        )
        self._period = 0
        self._source: Any = None
        if scroll:
            self._source = self._render_pane(screen)

    def _render_pane(self, screen: Any) -> Any:
        # The pane scrolls through a tall pixmap whose last pane-height of
        # rows repeats its first, so the scroll wraps around without a seam.
        _, _, width, height = self._pane
        lines = height // LINE_HEIGHT + 40
        self._period = lines * LINE_HEIGHT
        pixmap = self._window.create_pixmap(width, self._period + height, screen.root_depth)
        pixmap.fill_rectangle(self._white, 0, 0, width, self._period + height)
        characters = max(10, width // 9 - 2)
        texts = [_text_line(self._random, characters) for _ in range(lines)]
        for row in range((self._period + height) // LINE_HEIGHT + 1):
            y = row * LINE_HEIGHT + 13
            pixmap.draw_text(self._text, 4, y, texts[row % lines].encode())
        return pixmap

    def show(self) -> None:
        """Map the window, wait until it is visible, and draw the page of text."""
        self._window.map()
        self._display.sync()
        while True:
            event = self._display.next_event()
            if event.type == X.MapNotify:
                break
        characters = self.width // 9
        for row in range(self.height // LINE_HEIGHT):
            line = _text_line(self._random, characters)
            self._window.draw_text(self._text, 0, row * LINE_HEIGHT + 13, line.encode())
        margin = 16
        self._window.fill_rectangle(
            self._white,
            self.layout.left - margin,
            self.layout.top - margin,
            self.layout.width + 2 * margin,
            self.layout.height + 2 * margin,
        )
        self._display.sync()

    def draw(self) -> None:
        """Draw one frame: move the pane on, then stamp the time."""
        if self._scroll:
            x, y, width, height = self._pane
            self._offset = (self._offset + self._scroll_speed) % self._period
            self._window.copy_area(self._copy, self._source, 0, self._offset, width, height, x, y)

        white: list[tuple[int, int, int, int]] = []
        black: list[tuple[int, int, int, int]] = []
        cells = encode(ticks_at(time.time()))
        for index in range(CELL_COUNT):
            (white if cells[index] else black).append(self.layout.cell_box(index))
        self._window.poly_fill_rectangle(self._white, white)
        self._window.poly_fill_rectangle(self._black, black)
        # A round trip: the pixels are in the frame buffer once sync returns.
        self._display.sync()

    def close(self) -> None:
        self._display.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=60.0, help="frames drawn per second")
    parser.add_argument(
        "--scene",
        choices=["still", "scroll"],
        default="scroll",
        help="still: only the stamp changes; scroll: a text pane scrolls as well",
    )
    parser.add_argument(
        "--scroll-speed", type=int, default=2, help="pixels the pane moves up every frame"
    )
    args = parser.parse_args()
    if args.rate <= 0:
        parser.error(f"--rate must be positive, got {args.rate}")

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def wait_for_end_of_input() -> None:
        sys.stdin.read()
        stop.set()

    threading.Thread(target=wait_for_end_of_input, daemon=True).start()

    scene = Scene(args.scene == "scroll", args.scroll_speed)
    scene.show()
    print(f"ready {scene.width}x{scene.height}", flush=True)

    # Draw on an absolute schedule, so that a late frame does not shift the next.
    interval = 1.0 / args.rate
    began = time.perf_counter()
    frames = 0
    try:
        while not stop.is_set():
            scene.draw()
            frames += 1
            delay = began + frames * interval - time.perf_counter()
            if delay > 0:
                stop.wait(delay)
    except ConnectionClosedError:
        # The X server went away first, as it does when the benchmark ends.
        pass
    else:
        scene.close()
    elapsed = time.perf_counter() - began
    print(f"drawn {frames} frames in {elapsed:.1f} s", flush=True)


if __name__ == "__main__":
    main()
