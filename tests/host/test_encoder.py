"""The host's video encoder, round-tripped through a real decoder."""

from __future__ import annotations

import os
from typing import Any

import av
import numpy as np
import pytest

from pairview.host.encoder import Codec, VideoEncoder, default_thread_count

WIDTH, HEIGHT = 320, 240


def video_luma(grey: int) -> float:
    """Return the luma of an 8-bit grey level in limited-range video (BT.601), 16 to 235."""
    return 16 + grey * 219 / 255


def bgra_frame(grey: int, box: tuple[int, int, int, int] | None = None) -> bytearray:
    """Return a grey BGRA frame, with an optional white (x, y, width, height) box."""
    pixels = np.full((HEIGHT, WIDTH, 4), grey, dtype=np.uint8)
    pixels[..., 3] = 255
    if box is not None:
        x, y, width, height = box
        pixels[y : y + height, x : x + width, :3] = 255
    return bytearray(pixels.tobytes())


def decode_luma(codec: Codec, packets: list[av.Packet[Any]]) -> list[np.ndarray]:
    decoder = av.CodecContext.create("vp8" if codec == "vp8" else "h264", "r")
    frames = []
    for packet in packets:
        for frame in decoder.decode(packet):
            plane = frame.planes[0]
            rows = np.frombuffer(memoryview(plane), dtype=np.uint8)
            frames.append(rows.reshape(HEIGHT, plane.line_size)[:, :WIDTH].copy())
    return frames


@pytest.mark.parametrize("codec", ["vp8", "h264"])
def test_small_change_reaches_decoder(codec: Codec) -> None:
    encoder = VideoEncoder(codec, WIDTH, HEIGHT, fps=30, bitrate=2_000_000)
    packets: list[av.Packet[Any]] = []
    still = bgra_frame(40)
    for index in range(5):
        packets += encoder.encode(still, pts=index * 3000, keyframe=index == 0)
    changed = bgra_frame(40, box=(128, 96, 32, 32))
    for index in range(5, 8):
        packets += encoder.encode(changed, pts=index * 3000, keyframe=False)
    encoder.close()

    frames = decode_luma(codec, packets)
    assert len(frames) == 8
    before, after = frames[4], frames[-1]
    assert abs(float(before[96:128, 128:160].mean()) - video_luma(40)) < 8
    assert abs(float(after[100:124, 132:156].mean()) - video_luma(255)) < 12
    assert abs(float(after[:64, :64].mean()) - float(before[:64, :64].mean())) < 4


@pytest.mark.parametrize(
    ("codec", "cpus", "size", "expected"),
    [
        ("vp8", 2, (1920, 1080), 1),
        ("vp8", 4, (1920, 1080), 2),
        ("vp8", 16, (1920, 1080), 4),
        ("vp8", 8, (640, 480), 1),
        ("h264", 2, (1920, 1080), 2),
        ("h264", 16, (1280, 720), 4),
    ],
)
def test_default_thread_count(
    monkeypatch: pytest.MonkeyPatch,
    codec: Codec,
    cpus: int,
    size: tuple[int, int],
    expected: int,
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: cpus)
    assert default_thread_count(codec, *size) == expected
