"""The input recording app of `apps/recorder.py`, run on a test's X display."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.support.timing import seconds

RECORDER = Path(__file__).parent / "apps" / "recorder.py"


class Recorder:
    """Reads the recording app's events as they arrive."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self._events: queue.Queue[dict[str, Any]] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with contextlib.suppress(ValueError):
                self._events.put(json.loads(line))

    def next(self, timeout: float = 5) -> dict[str, Any]:
        """Return the next event, or fail after `timeout` (scaled) seconds."""
        try:
            return self._events.get(timeout=seconds(timeout))
        except queue.Empty:
            raise AssertionError(
                f"the recording app saw no event within {seconds(timeout)} s"
            ) from None

    def events(self, kind: str, count: int, timeout: float = 10) -> list[dict[str, Any]]:
        """Return the next `count` events of one kind, skipping others."""
        deadline = time.monotonic() + seconds(timeout)
        found: list[dict[str, Any]] = []
        while len(found) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"got {len(found)} of {count} {kind!r} events: {found}")
            event = self.next(left / seconds(1))
            if event["event"] == kind:
                found.append(event)
        return found

    def text(self, length: int, timeout: float = 10) -> str:
        """Return the text of the next key events, until `length` characters arrived."""
        typed = ""
        deadline = time.monotonic() + seconds(timeout)
        while len(typed) < length:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"typed so far: {typed!r}")
            event = self.next(left / seconds(1))
            if event["event"] == "key":
                typed += event["char"]
        return typed

    def quiet(self, wait: float = 1.0) -> list[dict[str, Any]]:
        """Return every event that arrives within `wait` (scaled) seconds."""
        time.sleep(seconds(wait))
        seen = []
        while True:
            try:
                seen.append(self._events.get_nowait())
            except queue.Empty:
                return seen


@contextlib.contextmanager
def recorder(display: str) -> Iterator[Recorder]:
    """Start the recording app on `display` and wait until it has the keyboard focus."""
    env = dict(os.environ, DISPLAY=display, PYTHONUNBUFFERED="1")
    process = subprocess.Popen(
        [sys.executable, str(RECORDER)], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        app = Recorder(process)
        first = app.next(15)
        assert first == {"event": "ready"}, first
        yield app
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
