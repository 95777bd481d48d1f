"""Video encoding with PyAV, tuned for screen content.

aiortc encodes each sender's frames itself, with bitrates capped by module
constants (VP8 at 1.5 Mbit/s in aiortc 1.16) that blur text at 1080p. The
host app instead encodes once, with its own limits, and hands the packets
to every guest's sender.
"""

from __future__ import annotations

import logging
import os
from fractions import Fraction
from typing import Any, Literal, cast

import av
import numpy as np
from av.video.codeccontext import VideoCodecContext
from av.video.reformatter import VideoReformatter

logger = logging.getLogger(__name__)

Codec = Literal["vp8", "h264"]
TIME_BASE = Fraction(1, 90_000)


# VP8's encode breakout: a macroblock whose prediction already matches the
# new frame within this sum of squared luma errors is skipped. At 1, a still
# 1080p screen went on being re-coded at about 1.5 Mbit/s for 0.9 dB more
# luma PSNR. At 300 it took an eighth of that bitrate and less CPU time
# (bench/encoder_settings.py, docs/benchmarks.md).
VP8_STATIC_THRESHOLD = 300


def default_thread_count(codec: Codec, width: int, height: int) -> int:
    """Return how many threads encode a frame of this size."""
    cpus = os.cpu_count() or 1
    if width * height < 1280 * 720:
        return 1
    if codec == "vp8":
        # libvpx's VP8 threads wait for the macroblock row above by spinning
        # (vp8/common/threading.h). On two cores with the other one busy, as
        # a shared desktop's often is, a second thread took 1.2 to 5 times
        # the CPU time and mostly made frames slower (bench/encoder_settings.py).
        # So VP8 leaves half the cores to the rest of the machine.
        return max(1, min(cpus // 2, 4))
    return max(1, min(cpus, 4))


class VideoEncoder:
    """Encodes BGRA frames of one size into VP8 or H.264 packets."""

    def __init__(
        self,
        codec: Codec,
        width: int,
        height: int,
        fps: int,
        bitrate: int,
        *,
        threads: int | None = None,
        static_threshold: int = VP8_STATIC_THRESHOLD,
    ) -> None:
        self.codec_name: Codec = codec
        self.width = width
        self.height = height
        self.fps = fps
        self.bitrate = bitrate
        self.threads = threads or default_thread_count(codec, width, height)
        self.static_threshold = static_threshold
        self._reformatter = VideoReformatter()
        self._context = self._open(bitrate)

    def _open(self, bitrate: int) -> VideoCodecContext:
        name = "libvpx" if self.codec_name == "vp8" else "libx264"
        context = cast(VideoCodecContext, av.CodecContext.create(name, "w"))
        context.width = self.width
        context.height = self.height
        context.pix_fmt = "yuv420p"
        context.time_base = TIME_BASE
        context.framerate = Fraction(self.fps, 1)
        context.bit_rate = bitrate
        context.thread_count = self.threads
        # Keyframes only on request: a new guest or a lost packet asks for one.
        context.gop_size = 100_000
        if self.codec_name == "vp8":
            context.qmin = 4
            context.qmax = 48
            context.options = {
                "deadline": "realtime",
                # The fastest speed. Text stays sharp at the bitrates the
                # host app uses (bench/encoder_settings.py measures the PSNR).
                "cpu-used": "16",
                "lag-in-frames": "0",
                "error-resilient": "1",
                "static-thresh": str(self.static_threshold),
                "screen-content-mode": "1",
                # Rate control over a 1 s buffer; overshoot kept small so
                # that a burst of scrolling does not flood the network.
                "bufsize": str(bitrate),
                "maxrate": str(bitrate),
                "undershoot-pct": "100",
                "overshoot-pct": "15",
                "max-intra-rate": "300",
            }
        else:
            context.profile = "Baseline"
            context.options = {
                "preset": "ultrafast",
                "tune": "zerolatency",
                "bufsize": str(bitrate),
                "maxrate": str(bitrate),
                "level": "4.1",
            }
        context.open()
        return context

    def set_bitrate(self, bitrate: int) -> None:
        """Reopen the encoder at a new bitrate; the next frame becomes a keyframe."""
        if bitrate == self.bitrate:
            return
        logger.info("video bitrate %d -> %d bit/s", self.bitrate, bitrate)
        self.bitrate = bitrate
        # PyAV frees the old encoder when its last reference goes.
        self._context = self._open(bitrate)

    def encode(self, bgra: bytes | bytearray, pts: int, keyframe: bool) -> list[av.Packet[Any]]:
        """Encode one frame; `pts` counts ticks of 1/90000 s, as RTP video clocks do."""
        frame = av.VideoFrame(self.width, self.height, "bgra")
        plane = frame.planes[0]
        if plane.line_size == self.width * 4:
            # PyAV reads any buffer, although its stub declares bytes. A bytes()
            # copy first would cost another 8 MB and 1 to 2 ms a frame at 1080p.
            plane.update(bgra)  # type: ignore[arg-type]
        else:
            # Rows of the frame are padded: copy row by row through numpy.
            rows = np.frombuffer(bgra, dtype=np.uint8).reshape(self.height, self.width * 4)
            padded = np.frombuffer(memoryview(plane), dtype=np.uint8).reshape(
                self.height, plane.line_size
            )
            padded[:, : self.width * 4] = rows
        frame = self._reformatter.reformat(frame, format="yuv420p")
        frame.pts = pts
        frame.time_base = TIME_BASE
        if keyframe:
            frame.pict_type = av.video.frame.PictureType.I
        packets: list[av.Packet[Any]] = list(self._context.encode(frame))
        for packet in packets:
            packet.time_base = TIME_BASE
        return packets

    def close(self) -> None:
        """Flush the encoder; packets still inside it are dropped."""
        self._context.encode(None)
