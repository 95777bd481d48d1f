"""PulseAudio streams through libpulse-simple, which PipeWire's pulse server serves too.

PyAV reads PulseAudio sources itself when its FFmpeg was built with the
"pulse" input device. The wheels on PyPI are built without it, so sources
fall back to libpulse-simple, which playback always uses.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from collections import deque
from collections.abc import Iterator
from fractions import Fraction
from typing import Any

import av

from pairview.errors import PairviewError

logger = logging.getLogger(__name__)

SAMPLE_RATE = 48000
CHANNELS = 2
FRAME_SAMPLES = 960  # 20 ms, the Opus frame that WebRTC uses
FRAME_BYTES = FRAME_SAMPLES * CHANNELS * 2
TIME_BASE = Fraction(1, SAMPLE_RATE)

_PA_SAMPLE_S16LE = 3
_PA_STREAM_PLAYBACK = 1
_PA_STREAM_RECORD = 2
_UNSET = 0xFFFFFFFF


class AudioUnavailable(PairviewError):
    """No PulseAudio server, device or library: audio works without this part."""


class _SampleSpec(ctypes.Structure):
    _fields_ = [("format", ctypes.c_int), ("rate", ctypes.c_uint32), ("channels", ctypes.c_uint8)]


class _BufferAttr(ctypes.Structure):
    _fields_ = [
        ("maxlength", ctypes.c_uint32),
        ("tlength", ctypes.c_uint32),
        ("prebuf", ctypes.c_uint32),
        ("minreq", ctypes.c_uint32),
        ("fragsize", ctypes.c_uint32),
    ]


_library: Any = None
_strerror: Any = None


def _simple() -> Any:
    global _library, _strerror
    if _library is None:
        path = ctypes.util.find_library("pulse-simple") or "libpulse-simple.so.0"
        try:
            library = ctypes.CDLL(path)
            errors = ctypes.CDLL(ctypes.util.find_library("pulse") or "libpulse.so.0")
        except OSError as error:
            raise AudioUnavailable(f"libpulse-simple is not installed ({error})") from None
        library.pa_simple_new.restype = ctypes.c_void_p
        library.pa_simple_new.argtypes = [
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.c_int,
            ctypes.c_char_p,
            ctypes.c_char_p,
            ctypes.POINTER(_SampleSpec),
            ctypes.c_void_p,
            ctypes.POINTER(_BufferAttr),
            ctypes.POINTER(ctypes.c_int),
        ]
        library.pa_simple_read.argtypes = [
            ctypes.c_void_p,
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.POINTER(ctypes.c_int),
        ]
        library.pa_simple_write.argtypes = library.pa_simple_read.argtypes
        library.pa_simple_free.argtypes = [ctypes.c_void_p]
        errors.pa_strerror.restype = ctypes.c_char_p
        errors.pa_strerror.argtypes = [ctypes.c_int]
        _strerror = errors.pa_strerror
        _library = library
    return _library


class PulseStream:
    """One blocking PulseAudio stream of 48 kHz stereo s16 samples."""

    def __init__(self, record: bool, device: str | None, description: str) -> None:
        library = _simple()
        spec = _SampleSpec(_PA_SAMPLE_S16LE, SAMPLE_RATE, CHANNELS)
        if record:
            # Small fragments: the server hands over every 20 ms, not every few seconds.
            attr = _BufferAttr(_UNSET, _UNSET, _UNSET, _UNSET, FRAME_BYTES)
        else:
            attr = _BufferAttr(_UNSET, FRAME_BYTES * 5, _UNSET, _UNSET, _UNSET)
        error = ctypes.c_int(0)
        handle = library.pa_simple_new(
            None,
            b"Pairview",
            _PA_STREAM_RECORD if record else _PA_STREAM_PLAYBACK,
            device.encode() if device else None,
            description.encode(),
            ctypes.byref(spec),
            None,
            ctypes.byref(attr),
            ctypes.byref(error),
        )
        if not handle:
            what = f"PulseAudio device {device!r}" if device else "the default PulseAudio device"
            reason = _strerror(error.value).decode(errors="replace")
            raise AudioUnavailable(f"cannot open {what}: {reason}")
        self._library = library
        self._handle: int | None = handle

    def read(self, size: int = FRAME_BYTES) -> bytes:
        buffer = ctypes.create_string_buffer(size)
        self._check(self._library.pa_simple_read(self._handle, buffer, size, self._error()))
        return buffer.raw

    def write(self, data: bytes) -> None:
        self._check(self._library.pa_simple_write(self._handle, data, len(data), self._error()))

    def close(self) -> None:
        handle, self._handle = self._handle, None
        if handle:
            self._library.pa_simple_free(handle)

    def _error(self) -> Any:
        self._last_error = ctypes.c_int(0)
        return ctypes.byref(self._last_error)

    def _check(self, result: int) -> None:
        if self._handle is None:
            raise AudioUnavailable("the PulseAudio stream is closed")
        if result < 0:
            reason = _strerror(self._last_error.value).decode(errors="replace")
            raise AudioUnavailable(f"PulseAudio stream failed: {reason}")


class PyAVPulseSource:
    """A PulseAudio source read by FFmpeg's "pulse" input device, in 20 ms frames."""

    def __init__(self, device: str | None) -> None:
        try:
            self._container: Any = av.open(
                device or "default",
                format="pulse",
                options={"sample_rate": str(SAMPLE_RATE), "channels": str(CHANNELS)},
            )
        except av.FFmpegError as error:
            raise AudioUnavailable(f"cannot open PulseAudio source {device!r}: {error}") from None
        self._resampler = av.AudioResampler(
            format="s16", layout="stereo", rate=SAMPLE_RATE, frame_size=FRAME_SAMPLES
        )
        self._frames: Iterator[Any] = self._container.decode(audio=0)
        self._pending: deque[bytes] = deque()

    def read(self, size: int = FRAME_BYTES) -> bytes:
        while not self._pending:
            frame = next(self._frames)
            for resampled in self._resampler.resample(frame):
                self._pending.append(bytes(resampled.to_ndarray().tobytes()))
        return self._pending.popleft()

    def close(self) -> None:
        self._container.close()


def open_source(device: str | None, description: str) -> PulseStream | PyAVPulseSource:
    """Open a PulseAudio source for recording: through PyAV when it can, else libpulse-simple."""
    if "pulse" in av.formats_available:
        # NOTE: untested here: the PyAV wheels on PyPI lack FFmpeg's "pulse" device.
        return PyAVPulseSource(device)
    return PulseStream(record=True, device=device, description=description)
