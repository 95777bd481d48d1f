"""A video track that hands already-encoded packets to one guest's RTP sender.

aiortc's RTCRtpSender packetizes an `av.Packet` as it is instead of
encoding a frame, so every guest's sender shares the one encoder of
`VideoPipeline`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from pairview.host.pipeline import VideoPipeline

logger = logging.getLogger(__name__)

# Packets waiting for a guest's sender. Past this, the guest is too slow to
# catch up frame by frame: drop them all and start again at a keyframe.
MAX_QUEUED_PACKETS = 30


class EncodedVideoTrack(MediaStreamTrack):
    kind = "video"

    def __init__(self, pipeline: VideoPipeline) -> None:
        super().__init__()
        self._pipeline = pipeline
        self._queue: deque[av.Packet[Any]] = deque()
        self._ready = asyncio.Event()
        self._waiting_for_keyframe = True
        self._visible = True
        self.dropped = 0
        pipeline.add_sink(self._push)

    @property
    def visible(self) -> bool:
        """Whether the guest may see the screen; a hidden track sends no frame."""
        return self._visible

    def set_visible(self, visible: bool) -> None:
        """Stop or resume sending frames; resuming starts at a fresh keyframe."""
        if visible == self._visible:
            return
        self._visible = visible
        self._queue.clear()
        self._waiting_for_keyframe = True
        if visible:
            self._pipeline.request_keyframe()

    def _push(self, packets: list[av.Packet[Any]], keyframe: bool) -> None:
        if not self._visible:
            return
        if self._waiting_for_keyframe and not keyframe:
            return
        if len(self._queue) + len(packets) > MAX_QUEUED_PACKETS:
            self.dropped += len(self._queue)
            self._queue.clear()
            self._waiting_for_keyframe = True
            self._pipeline.request_keyframe()
            if not keyframe:
                return
        self._waiting_for_keyframe = False
        self._queue.extend(packets)
        self._ready.set()

    async def recv(self) -> Any:
        while not self._queue:
            if self.readyState != "live":
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        return self._queue.popleft()

    def stop(self) -> None:
        if self.readyState == "live":
            self._pipeline.remove_sink(self._push)
        super().stop()
        self._ready.set()
