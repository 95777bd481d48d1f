"""The batched writer of usage events, so that recording never slows or breaks signaling.

`record` only appends to a bounded in-memory list. A background task
writes what has gathered every `flush_interval` seconds, or sooner when a
batch is full, in one INSERT. A database error is logged and counted, and
the batch is dropped: statistics may lose events during an outage, and
nothing else is held up.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import async_sessionmaker

from pairview.server.db import DATABASE_ERRORS
from pairview.server.usage.events import UsageRecord
from pairview.server.usage.models import UsageEvent

logger = logging.getLogger(__name__)

FLUSH_INTERVAL = 1.0
BATCH_SIZE = 500
MAX_PENDING = 20_000
# Repeated failures are logged at most this often, in seconds.
LOG_INTERVAL = 60.0


class UsageRecorder:
    def __init__(
        self,
        sessions: async_sessionmaker[Any],
        flush_interval: float = FLUSH_INTERVAL,
        batch_size: int = BATCH_SIZE,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self._sessions = sessions
        self._flush_interval = flush_interval
        self._batch_size = batch_size
        self._pending: deque[UsageRecord] = deque()
        self._max_pending = max_pending
        self._batch_full = asyncio.Event()
        self._last_logged = -LOG_INTERVAL
        self.recorded = 0
        self.written = 0
        self.dropped = 0
        self.write_errors = 0

    @property
    def pending(self) -> int:
        return len(self._pending)

    def record(self, event: UsageRecord) -> None:
        """Queue one event for writing; drop it, counted, when too many are waiting."""
        if len(self._pending) >= self._max_pending:
            self.dropped += 1
            self._log_problem("usage events are arriving faster than they can be written")
            return
        self._pending.append(event)
        self.recorded += 1
        if len(self._pending) >= self._batch_size:
            self._batch_full.set()

    async def run(self) -> None:
        """Write queued events in batches; runs for the server's lifetime."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._batch_full.wait(), self._flush_interval)
            self._batch_full.clear()
            await self.flush()

    async def flush(self) -> None:
        """Write every queued event now, one batch at a time, stopping at the first failure."""
        while self._pending:
            count = min(len(self._pending), self._batch_size)
            batch = [self._pending.popleft() for _ in range(count)]
            try:
                async with self._sessions.begin() as db:
                    await db.execute(insert(UsageEvent), [event.row() for event in batch])
            except DATABASE_ERRORS as error:
                self.write_errors += 1
                self.dropped += len(batch)
                self._log_problem(
                    f"writing {len(batch)} usage events failed ({type(error).__name__}); "
                    "they are dropped"
                )
                return
            self.written += len(batch)

    def _log_problem(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last_logged >= LOG_INTERVAL:
            self._last_logged = now
            logger.warning(
                "%s (so far: %d write errors, %d events dropped)",
                message,
                self.write_errors,
                self.dropped,
            )
