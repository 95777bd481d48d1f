"""A data channel with backpressure, for transfers that send faster than SCTP can carry."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from aiortc import RTCDataChannel

# The sender waits while more than HIGH_WATER bytes wait in aiortc's queue,
# until "bufferedamountlow" reports that they fell to LOW_WATER.
HIGH_WATER = 1024 * 1024
LOW_WATER = 256 * 1024


class ChannelPipe:
    """One data channel: messages go to `on_message`, and `drain` waits for buffer room."""

    def __init__(self, channel: RTCDataChannel) -> None:
        self.channel = channel
        # The current owner of the channel sets these two callbacks.
        self.on_message: Callable[[str | bytes], None] = _ignore
        self.on_close: Callable[[], None] = _nothing
        self._open = asyncio.Event()
        self._room = asyncio.Event()
        self._closed = asyncio.Event()
        channel.bufferedAmountLowThreshold = LOW_WATER
        if channel.readyState == "open":
            self._open.set()
        channel.on("open", self._open.set)
        channel.on("message", lambda data: self.on_message(data))
        channel.on("bufferedamountlow", self._room.set)
        channel.on("close", self._handle_close)

    @property
    def is_open(self) -> bool:
        return self.channel.readyState == "open"

    async def wait_open(self) -> bool:
        """Wait until the channel opens or closes; return whether it is open."""
        opened = asyncio.ensure_future(self._open.wait())
        closed = asyncio.ensure_future(self._closed.wait())
        try:
            await asyncio.wait({opened, closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            opened.cancel()
            closed.cancel()
        return self.is_open

    def send(self, data: str | bytes) -> bool:
        """Send if the channel is open; return whether it was."""
        if not self.is_open:
            return False
        # A channel closing under us raises, and its close event follows.
        try:
            self.channel.send(data)
        except Exception:
            return False
        return True

    async def drain(self) -> None:
        """Wait while the channel's buffer is above HIGH_WATER, or until it closes."""
        while self.is_open and self.channel.bufferedAmount > HIGH_WATER:
            self._room.clear()
            room = asyncio.ensure_future(self._room.wait())
            closed = asyncio.ensure_future(self._closed.wait())
            try:
                await asyncio.wait({room, closed}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                room.cancel()
                closed.cancel()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.channel.close()

    def _handle_close(self) -> None:
        self._closed.set()
        self._room.set()
        self.on_close()


def _ignore(_data: str | bytes) -> None:
    pass


def _nothing() -> None:
    pass
