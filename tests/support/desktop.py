"""A desktop to share in tests: the pattern app of `apps/pattern.py` on an X display.

The app fills the screen with four coloured quadrants and moves every
colour one quadrant on at each rotation, so a test can compute exactly
what a guest must see and where.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from tests.support.timing import seconds

PATTERN_APP = Path(__file__).parent / "apps" / "pattern.py"

# The app's colours as RGB, in the order of apps/pattern.py's COLOURS.
COLOURS: list[tuple[int, int, int]] = [(230, 40, 40), (40, 200, 60), (40, 60, 220), (240, 220, 40)]

# Quadrants in the app's drawing order: top left, top right, bottom left, bottom right.
QUADRANTS = ("top left", "top right", "bottom left", "bottom right")


class PatternApp:
    """The running pattern app; `rotate` redraws and returns once X has the new pixels."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self._process = process
        self.rotations = 0

    def expected_colours(self) -> dict[str, tuple[int, int, int]]:
        """Return the colour each quadrant shows now."""
        return {
            quadrant: COLOURS[(index + self.rotations) % len(COLOURS)]
            for index, quadrant in enumerate(QUADRANTS)
        }

    def rotate(self) -> dict[str, tuple[int, int, int]]:
        """Move every colour one quadrant on; return the new colours once they are drawn."""
        assert self._process.stdin is not None
        self._process.stdin.write("rotate\n")
        self._process.stdin.flush()
        self.rotations += 1
        self._expect_line(f"drawn {self.rotations}")
        return self.expected_colours()

    def _expect_line(self, expected: str) -> None:
        assert self._process.stdout is not None
        line = _readline(self._process.stdout, seconds(15))
        assert line.strip() == expected, f"pattern app printed {line!r}, expected {expected!r}"


def _readline(stream: IO[str], timeout: float) -> str:
    """Read one line from a pipe, failing after `timeout` seconds instead of hanging."""
    result: list[str] = []
    reader = threading.Thread(target=lambda: result.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if not result:
        raise AssertionError(f"pattern app printed no line within {timeout:g} s")
    return result[0]


@contextlib.contextmanager
def pattern_app(display: str) -> Iterator[PatternApp]:
    """Start the pattern app on `display`; stop it, by its pid, on exit."""
    process = subprocess.Popen(
        [sys.executable, str(PATTERN_APP)],
        env={**os.environ, "DISPLAY": display},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        app = PatternApp(process)
        app._expect_line("drawn 0")
        yield app
    finally:
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        try:
            process.wait(timeout=seconds(5))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
