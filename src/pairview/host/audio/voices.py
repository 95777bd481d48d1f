"""Guests' voices: passed on to the other guests as Opus packets, and played on the host.

A guest's microphone arrives at the host on the audio transceiver that also
carries the host's sound. The host does not decode it to pass it on: it
copies every Opus payload from the receiver into relay tracks, one per
listening guest, and aiortc's sender packs those packets as they are.

Renegotiating each time someone joins would interrupt everyone, so each
guest's connection carries `RELAY_SLOTS` audio transceivers from the start,
and the host assigns the other guests' voices to them. The roster on the
chat channel gives each page the media ID that carries each voice.

The host hears guests through aiortc's decoder: each guest's frames go to a
PulseAudio playback stream of their own, which the sound server mixes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import av
from aiortc import RTCRtpReceiver
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from pairview.host.audio.pulse import TIME_BASE, AudioUnavailable, PulseStream

logger = logging.getLogger(__name__)

# Other guests whose voices reach one guest: a room of up to this many + 2.
# NOTE: in a larger room each guest hears the host and the first six other
# guests to join; the later ones are not relayed to it, and nothing says so.
RELAY_SLOTS = 6
MAX_QUEUED_PACKETS = 25
# A gap in a slot's timestamps when its voice changes, so the page's jitter
# buffer starts afresh instead of stretching the last sound.
SWITCH_GAP = 48000
PLAYBACK_QUEUE_FRAMES = 25


class RelayTrack(MediaStreamTrack):
    """An audio slot towards one guest: Opus packets of whichever voice is assigned to it."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._queue: deque[Any] = deque(maxlen=MAX_QUEUED_PACKETS)
        self._ready = asyncio.Event()
        self._source: str | None = None
        self._origin = 0
        self._base = 0
        self._last = -SWITCH_GAP

    def assign(self, source: str | None) -> None:
        if source != self._source:
            self._source = source
            self._queue.clear()
            self._origin = -1

    def push(self, source: str, payload: bytes, timestamp: int) -> None:
        if source != self._source:
            return
        if self._origin < 0:
            self._origin = timestamp
            self._base = self._last + SWITCH_GAP
        offset = (timestamp - self._origin) & 0xFFFFFFFF
        if offset >= 1 << 31:
            return  # older than the first packet of this voice: arrived out of order
        packet = av.Packet(payload)
        packet.pts = self._base + offset
        packet.time_base = TIME_BASE
        self._last = packet.pts
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


@dataclass
class _Listener:
    slots: list[tuple[str, RelayTrack]]
    assigned: dict[str, int] = field(default_factory=dict)


class VoiceRelay:
    """Assigns voices to slots and copies each guest's Opus packets to its listeners."""

    def __init__(self, on_change: Callable[[], None]) -> None:
        self._listeners: dict[str, _Listener] = {}
        self._order: list[str] = []
        self._on_change = on_change

    def add_guest(self, peer_id: str, slots: list[tuple[str, RelayTrack]]) -> None:
        """Register the (media ID, track) slots of a guest's new connection."""
        self._listeners[peer_id] = _Listener(slots)
        if peer_id not in self._order:
            self._order.append(peer_id)
        self._assign()

    def remove_guest(self, peer_id: str) -> None:
        self._listeners.pop(peer_id, None)
        with contextlib.suppress(ValueError):
            self._order.remove(peer_id)
        self._assign()

    def mids(self, listener: str) -> dict[str, str]:
        """Return the media ID carrying each other guest's voice to `listener`."""
        entry = self._listeners.get(listener)
        if entry is None:
            return {}
        return {source: entry.slots[index][0] for source, index in entry.assigned.items()}

    def forward(self, source: str, payload: bytes, timestamp: int) -> None:
        for listener_id, listener in self._listeners.items():
            index = listener.assigned.get(source)
            if index is not None and listener_id != source:
                listener.slots[index][1].push(source, payload, timestamp)

    def tap(self, peer_id: str, receiver: RTCRtpReceiver) -> None:
        """Copy every RTP payload that `receiver` gets from `peer_id` to the listeners."""
        # NOTE: aiortc 1.16 has no public hook for received RTP packets, so the
        # receiver's private handler is wrapped, as peer.py does for RTCP.
        original: Callable[..., Awaitable[None]] = receiver._handle_rtp_packet

        async def handle_rtp(packet: Any, arrival_time_ms: int) -> None:
            if packet.payload:
                self.forward(peer_id, bytes(packet.payload), packet.timestamp)
            await original(packet, arrival_time_ms)

        receiver._handle_rtp_packet = handle_rtp  # type: ignore[method-assign]

    def _assign(self) -> None:
        changed = False
        for listener_id, listener in self._listeners.items():
            sources = [peer for peer in self._order if peer != listener_id]
            for source in list(listener.assigned):
                if source not in sources:
                    listener.slots[listener.assigned.pop(source)][1].assign(None)
                    changed = True
            free = [i for i in range(len(listener.slots)) if i not in listener.assigned.values()]
            for source in sources:
                if source not in listener.assigned and free:
                    index = free.pop(0)
                    listener.assigned[source] = index
                    listener.slots[index][1].assign(source)
                    changed = True
        if changed:
            self._on_change()


class GuestPlayback:
    """Plays one guest's decoded voice on the host through PulseAudio, on a thread."""

    def __init__(self, name: str, sink: str | None) -> None:
        self._name = name
        self._sink = sink
        self._frames: queue.Queue[bytes | None] = queue.Queue(maxsize=PLAYBACK_QUEUE_FRAMES)
        self._thread = threading.Thread(target=self._run, name="pairview-audio-out", daemon=True)
        self._thread.start()

    def push(self, frame: Any) -> None:
        data = bytes(frame.to_ndarray().tobytes())
        with contextlib.suppress(queue.Full):
            self._frames.put_nowait(data)

    def close(self) -> None:
        with contextlib.suppress(queue.Full):
            self._frames.put_nowait(None)

    def _run(self) -> None:
        try:
            stream = PulseStream(record=False, device=self._sink, description=self._name)
        except AudioUnavailable as error:
            logger.warning("cannot play %s's voice: %s", self._name, error)
            while self._frames.get() is not None:
                pass
            return
        try:
            while (data := self._frames.get()) is not None:
                stream.write(data)
        except AudioUnavailable as error:
            logger.warning("playing %s's voice stopped: %s", self._name, error)
        finally:
            stream.close()


async def consume(
    track: MediaStreamTrack, open_playback: Callable[[], GuestPlayback | None]
) -> None:
    """Read a guest's decoded audio until it ends, playing it from the first frame on.

    The playback opens only when a frame arrives, so that a guest who never
    turns on a microphone costs no sound server stream.
    """
    playback: GuestPlayback | None = None
    opened = False
    try:
        while True:
            frame = await track.recv()
            if not opened:
                playback = open_playback()
                opened = True
            if playback is not None:
                playback.push(frame)
    except MediaStreamError:
        pass
    finally:
        if playback is not None:
            playback.close()
