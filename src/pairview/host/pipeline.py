"""The capture thread: grab the screen when it changes, encode once, fan out.

Every guest's video track receives the same encoded packets, so a second
or third guest costs no extra encoding. A still screen costs almost
nothing: with XDamage the thread sleeps until X reports drawing, and a
frame whose pixels equal the previous one is not encoded at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import select
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import av

from pairview.host.capture import (
    DamageWatcher,
    Region,
    ScreenCapture,
    display_closed,
    display_name,
)
from pairview.host.encoder import Codec, VideoEncoder

logger = logging.getLogger(__name__)

# An unchanged screen is still encoded this often, so that a guest who
# lost the last frame sees the picture settle without asking.
REFRESH_INTERVAL = 1.0
# Keyframes are large: however many guests ask, make at most one this often.
MIN_KEYFRAME_INTERVAL = 0.25
BITRATE_WINDOW = 3.0


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    region: Region
    codec: Codec
    fps: int
    bitrate: int
    display: str | None = None


@dataclass
class PipelineStats:
    grabbed: int = 0
    encoded: int = 0
    skipped_unchanged: int = 0
    keyframes: int = 0
    encode_seconds: float = 0.0
    encoded_bytes: int = 0
    # The encoded bitrate over the last `BITRATE_WINDOW` seconds, in bit/s.
    sent_bitrate: float = 0.0


PacketSink = Callable[[list["av.Packet[Any]"], bool], None]


class VideoPipeline:
    """Runs capture and encoding on a thread of its own and hands packets to the event loop."""

    def __init__(self, config: PipelineConfig, loop: asyncio.AbstractEventLoop) -> None:
        self.config = config
        self._loop = loop
        self._sinks: list[PacketSink] = []
        self._lock = threading.Lock()
        self._keyframe_requested = False
        self._bitrate = config.bitrate
        self._stopping = False
        self._wake_read, self._wake_write = os.pipe()
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self.stats = PipelineStats()
        self._recent: deque[tuple[float, int]] = deque()

    def start(self) -> None:
        """Start the thread and wait until it has opened the display and encoder."""
        self._thread = threading.Thread(target=self._run, name="pairview-capture", daemon=True)
        self._thread.start()
        self._started.wait(timeout=10)
        if self._error is not None:
            raise self._error

    def stop(self) -> None:
        self._stopping = True
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=5)
        os.close(self._wake_read)
        os.close(self._wake_write)

    def add_sink(self, sink: PacketSink) -> None:
        """Send packets to `sink` on the event loop, starting with a keyframe."""
        with self._lock:
            self._sinks.append(sink)
        self.request_keyframe()

    def remove_sink(self, sink: PacketSink) -> None:
        with self._lock:
            if sink in self._sinks:
                self._sinks.remove(sink)

    def request_keyframe(self) -> None:
        """Ask for the next frame to be a keyframe; safe from any thread."""
        self._keyframe_requested = True
        self._wake()

    def set_bitrate(self, bitrate: int) -> None:
        self._bitrate = bitrate
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_write, b"\0")

    def _drain_wake(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.read(self._wake_read, 4096)

    def _run(self) -> None:
        try:
            config = self.config
            capture = ScreenCapture(config.region, config.display)
            damage = DamageWatcher(config.display)
            encoder = VideoEncoder(
                config.codec, config.region.width, config.region.height, config.fps, self._bitrate
            )
        except BaseException as error:
            self._error = error
            self._started.set()
            return
        os.set_blocking(self._wake_read, False)
        self._started.set()
        try:
            self._loop_frames(capture, damage, encoder)
        except Exception as error:
            if display_closed(error):
                display = display_name(self.config.display)
                logger.warning("screen capture stopped: the X display %s closed", display)
            else:
                logger.exception("screen capture stopped after an error")
        finally:
            encoder.close()
            damage.close()
            capture.close()

    def _loop_frames(
        self, capture: ScreenCapture, damage: DamageWatcher, encoder: VideoEncoder
    ) -> None:
        interval = 1.0 / self.config.fps
        start = time.monotonic()
        last_attempt = last_encode = last_keyframe = -REFRESH_INTERVAL
        previous: bytearray | None = None
        dirty = True

        while not self._stopping:
            with self._lock:
                watched = bool(self._sinks)
            if not watched:
                # Nobody watches: capture nothing until a guest's track arrives.
                previous, dirty = None, True
                damage.wait(REFRESH_INTERVAL, self._wake_read)
                self._drain_wake()
                continue

            now = time.monotonic()
            keyframe = self._keyframe_requested
            refresh = now >= last_encode + REFRESH_INTERVAL
            if not (dirty or keyframe or refresh):
                # Sleep until X reports drawing, a keyframe is asked for, or a refresh is due.
                if damage.wait(last_encode + REFRESH_INTERVAL - now, self._wake_read):
                    dirty = True
                self._drain_wake()
                continue

            earliest = last_attempt + interval
            if keyframe:
                earliest = max(earliest, last_keyframe + MIN_KEYFRAME_INTERVAL)
            if now < earliest:
                # The frame rate allows no frame yet; wait, but wake for stop().
                select.select([self._wake_read], [], [], earliest - now)
                self._drain_wake()
                continue

            # Re-arm damage before grabbing, so drawing after the grab is seen.
            damage.take()
            dirty = not damage.available
            last_attempt = now
            if self._bitrate != encoder.bitrate:
                encoder.set_bitrate(self._bitrate)
                keyframe = True

            pixels = capture.grab()
            self.stats.grabbed += 1
            if pixels == previous and not keyframe and not refresh:
                self.stats.skipped_unchanged += 1
                continue

            if keyframe:
                self._keyframe_requested = False
                last_keyframe = now
            pts = round((now - start) * 90_000)
            began = time.perf_counter()
            packets = encoder.encode(pixels, pts, keyframe)
            self.stats.encode_seconds += time.perf_counter() - began
            self.stats.encoded += 1
            last_encode = now
            previous = pixels
            self._account(packets, now)
            if packets:
                is_key = any(packet.is_keyframe for packet in packets)
                self.stats.keyframes += is_key
                self._loop.call_soon_threadsafe(self._publish, packets, is_key)

    def _account(self, packets: list[av.Packet[Any]], now: float) -> None:
        size = sum(packet.size for packet in packets)
        self.stats.encoded_bytes += size
        # A window of whole seconds: one large keyframe must not read as a
        # sustained rate.
        self._recent.append((now, size))
        while self._recent and self._recent[0][0] < now - BITRATE_WINDOW:
            self._recent.popleft()
        self.stats.sent_bitrate = sum(size for _, size in self._recent) * 8 / BITRATE_WINDOW

    def _publish(self, packets: list[av.Packet[Any]], keyframe: bool) -> None:
        with self._lock:
            sinks = list(self._sinks)
        for sink in sinks:
            sink(packets, keyframe)
