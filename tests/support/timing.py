"""Every test timeout is a multiple of one constant, scaled on slow machines.

Set PAIRVIEW_TEST_TIMEOUT_SCALE=3 to give every wait three times as long.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

SCALE = float(os.environ.get("PAIRVIEW_TEST_TIMEOUT_SCALE", "1"))

T = TypeVar("T")


def seconds(base: float) -> float:
    """Return `base` seconds multiplied by the timeout scale."""
    return base * SCALE


def wait_for(
    check: Callable[[], T | None], timeout: float, interval: float = 0.1, what: str = "condition"
) -> T:
    """Call `check` until it returns neither None nor False; fail after `timeout` seconds."""
    deadline = time.monotonic() + seconds(timeout)
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last is not None and last is not False:
            return last
        time.sleep(interval)
    raise AssertionError(
        f"timed out after {seconds(timeout):g} s waiting for {what}; last value {last!r}"
    )
