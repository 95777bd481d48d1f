"""The host's own sound for guests: its microphone, and on request its system audio.

Each source is read on a thread of its own in 20 ms frames. A mixer thread
adds the frames of the sources that are on, encodes the mix once with Opus
and hands the packets to every guest's track, as the video pipeline does
with video: one encoder however many guests listen.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import av
import numpy as np
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from pairview.host.audio.pulse import (
    CHANNELS,
    FRAME_BYTES,
    FRAME_SAMPLES,
    SAMPLE_RATE,
    TIME_BASE,
    AudioUnavailable,
    PulseStream,
    PyAVPulseSource,
    open_source,
)
from pairview.host.console import Command, Console
from pairview.host.output import ShareOutput

logger = logging.getLogger(__name__)

# PulseAudio names the monitor of the default output this way.
SYSTEM_AUDIO_SOURCE = "@DEFAULT_MONITOR@"
# Frames a source may run ahead of the mixer's clock before the oldest go.
MAX_QUEUED_FRAMES = 10
MAX_QUEUED_PACKETS = 25
OPUS_BITRATE = 64000
IDLE_INTERVAL = 0.25

PacketSink = Callable[[Any], None]


class _Source:
    """One PulseAudio source read on its own thread into a short queue of frames."""

    def __init__(self, device: str | None, description: str) -> None:
        self.device = device
        self.stream: PulseStream | PyAVPulseSource = open_source(device, description)
        self.frames: deque[bytes] = deque(maxlen=MAX_QUEUED_FRAMES)
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="pairview-audio-in", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            while not self._stopping:
                self.frames.append(self.stream.read(FRAME_BYTES))
        except (AudioUnavailable, StopIteration, av.FFmpegError) as error:
            if not self._stopping:
                logger.warning("audio source %s stopped: %s", self.device or "default", error)

    def stop(self) -> None:
        self._stopping = True
        self._thread.join(timeout=1)
        self.stream.close()


class HostAudio:
    """Captures, mixes and encodes the host's sound; `add_sink` receives the Opus packets."""

    def __init__(self, loop: asyncio.AbstractEventLoop, microphone: str | None) -> None:
        self._loop = loop
        self._microphone_device = microphone
        self._sinks: list[PacketSink] = []
        self._microphone: _Source | None = None
        self._system: _Source | None = None
        self.muted = False
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._encoder: Any = None
        self._pts = 0

    @property
    def microphone_on(self) -> bool:
        return self._microphone is not None

    @property
    def system_audio_on(self) -> bool:
        return self._system is not None

    def start(self) -> None:
        """Start the mixer, then open the microphone if one was chosen.

        Raises AudioUnavailable when the microphone cannot be opened; the
        mixer runs on, so that system audio can still be turned on.
        """
        self._thread = threading.Thread(target=self._mix, name="pairview-audio-mix", daemon=True)
        self._thread.start()
        if self._microphone_device not in (None, "none"):
            device = None if self._microphone_device == "default" else self._microphone_device
            self._microphone = _Source(device, "Pairview microphone")

    def register(self, console: Console, output: ShareOutput) -> None:
        """Add the console commands /mute, /unmute and /system-audio."""

        def mute(_arguments: list[str]) -> None:
            if self._microphone is None:
                output.warning("No microphone is open; start with --microphone SOURCE.")
                return
            self.muted = True
            output.notice("Your microphone is muted.")

        def unmute(_arguments: list[str]) -> None:
            if self._microphone is None:
                output.warning("No microphone is open; start with --microphone SOURCE.")
                return
            self.muted = False
            output.notice("Your microphone is on: guests hear you.")

        def system_audio(arguments: list[str]) -> None:
            if len(arguments) != 1 or arguments[0] not in ("on", "off"):
                output.warning("Usage: /system-audio on|off")
                return
            try:
                self.set_system_audio(arguments[0] == "on")
            except AudioUnavailable as error:
                output.warning(f"Cannot send system audio: {error}")
                return
            if self.system_audio_on:
                output.notice("Guests hear your system audio.")
            else:
                output.notice("Guests no longer hear your system audio.")

        console.add_command(Command("mute", "/mute", "mute your microphone", mute))
        console.add_command(Command("unmute", "/unmute", "unmute your microphone", unmute))
        console.add_command(
            Command(
                "system-audio",
                "/system-audio on|off",
                "send what your speakers play to the guests, or stop",
                system_audio,
            )
        )

    def set_system_audio(self, on: bool) -> None:
        """Start or stop sending what the host's speakers play; raises AudioUnavailable."""
        with self._lock:
            if on and self._system is None:
                self._system = _Source(SYSTEM_AUDIO_SOURCE, "Pairview system audio")
                return
            system, self._system = (self._system, None) if not on else (None, self._system)
        if system is not None:
            system.stop()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        for source in (self._microphone, self._system):
            if source is not None:
                source.stop()
        self._microphone = self._system = None

    def add_sink(self, sink: PacketSink) -> None:
        self._sinks.append(sink)

    def remove_sink(self, sink: PacketSink) -> None:
        with contextlib.suppress(ValueError):
            self._sinks.remove(sink)

    def _mix(self) -> None:
        # NOTE: the mixer keeps time with time.monotonic, not with the sound
        # card's clock. A source that runs slightly fast or slow fills or
        # drains its queue over minutes, which costs a dropped or a silent
        # frame now and then.
        interval = FRAME_SAMPLES / SAMPLE_RATE
        deadline = time.monotonic()
        while not self._stopping.is_set():
            deadline += interval
            delay = deadline - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -1:
                deadline = time.monotonic()  # the machine stalled: do not catch up
            with self._lock:
                sources = [s for s in (self._microphone, self._system) if s is not None]
                if self.muted and self._microphone is not None:
                    sources.remove(self._microphone)
                    self._microphone.frames.clear()
            if not sources:
                # Nothing to send: look again in a while instead of every frame.
                self._stopping.wait(IDLE_INTERVAL)
                deadline = time.monotonic()
                continue
            frames = [source.frames.popleft() for source in sources if source.frames]
            if not frames:
                continue
            for packet in self._encode(_mixed(frames)):
                self._loop.call_soon_threadsafe(self._fan_out, packet)

    def _encode(self, pcm: bytes) -> list[Any]:
        if self._encoder is None:
            encoder = av.CodecContext.create("libopus", "w")
            encoder.sample_rate = SAMPLE_RATE
            encoder.layout = "stereo"
            encoder.format = "s16"
            encoder.bit_rate = OPUS_BITRATE
            encoder.time_base = TIME_BASE
            self._encoder = encoder
        samples = np.frombuffer(pcm, dtype=np.int16).reshape(1, FRAME_SAMPLES * CHANNELS)
        frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="stereo")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._pts
        frame.time_base = TIME_BASE
        self._pts += FRAME_SAMPLES
        packets = list(self._encoder.encode(frame))
        for packet in packets:
            packet.time_base = TIME_BASE
        return packets

    def _fan_out(self, packet: Any) -> None:
        for sink in list(self._sinks):
            sink(packet)


def _mixed(frames: list[bytes]) -> bytes:
    if len(frames) == 1:
        return frames[0]
    total = np.sum([np.frombuffer(frame, dtype=np.int16).astype(np.int32) for frame in frames], 0)
    return bytes(np.clip(total, -32768, 32767).astype(np.int16).tobytes())


class EncodedAudioTrack(MediaStreamTrack):
    """One guest's copy of already-encoded Opus packets; aiortc's sender packs them as they are."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._queue: deque[Any] = deque(maxlen=MAX_QUEUED_PACKETS)
        self._ready = asyncio.Event()

    def push(self, packet: Any) -> None:
        self._queue.append(packet)
        self._ready.set()

    async def recv(self) -> Any:
        while not self._queue:
            if self.readyState != "live":
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        return self._queue.popleft()

    def stop(self) -> None:
        super().stop()
        self._ready.set()
