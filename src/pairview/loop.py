"""The event loop of `pairview share`, chosen by a setting.

aiortc does its SCTP, DTLS and ICE work in Python on the event loop's
thread, and with many small datagrams the loop's own overhead counts:
on uvloop, a file moves about twice as fast as on asyncio's loop (see
docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any, TypeVar

from pairview.settings import EventLoop

logger = logging.getLogger(__name__)

T = TypeVar("T")


def run_loop(main: Coroutine[Any, Any, T], event_loop: EventLoop) -> T:
    """Run `main` to completion on a new loop of the kind `event_loop` names.

    uvloop is missing on platforms it does not support; asyncio's loop then
    takes its place, with a warning.
    """
    if event_loop == "uvloop":
        try:
            import uvloop
        except ImportError:
            logger.warning("uvloop is not installed; running on asyncio's event loop")
        else:
            return uvloop.run(main)
    return asyncio.run(main)
