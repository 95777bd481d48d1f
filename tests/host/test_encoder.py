"""The host's video encoder, round-tripped through a real decoder."""

from __future__ import annotations

import os
from fractions import Fraction
from typing import Any, cast

import av
import numpy as np
import pytest
from av.video.codeccontext import VideoCodecContext

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


DECODERS = {"vp8": "libvpx", "h264": "h264"}


def bgra(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    pixels = np.zeros((height, width, 4), np.uint8)
    pixels[:, :, 0], pixels[:, :, 1], pixels[:, :, 2] = rgb[2], rgb[1], rgb[0]
    pixels[:, : width // 2, :3] = 255  # left half white
    return pixels.tobytes()


@pytest.mark.parametrize("codec", ["vp8", "h264"])
@pytest.mark.parametrize(("width", "height"), [(1280, 720), (1002, 600)])
def test_round_trip_keeps_colours(codec: Codec, width: int, height: int) -> None:
    encoder = VideoEncoder(codec, width, height, fps=30, bitrate=4_000_000)
    decoder = cast(VideoCodecContext, av.CodecContext.create(DECODERS[codec], "r"))
    frames = []
    for index in range(5):
        for packet in encoder.encode(
            bgra(width, height, (200, 30, 40)), pts=index * 3000, keyframe=index == 0
        ):
            frames.extend(decoder.decode(packet))

    assert frames
    picture = frames[-1].to_ndarray(format="rgb24")
    assert picture.shape == (height, width, 3)
    right = picture[height // 2, width * 3 // 4].astype(int)
    left = picture[height // 2, width // 4].astype(int)
    assert np.abs(right - (200, 30, 40)).max() < 20
    assert left.min() > 235


@pytest.mark.parametrize("codec", ["vp8", "h264"])
def test_keyframe_on_request_only(codec: Codec) -> None:
    encoder = VideoEncoder(codec, 640, 360, fps=30, bitrate=2_000_000)
    picture = bgra(640, 360, (10, 200, 10))

    kinds = []
    for index in range(6):
        packets = encoder.encode(picture, pts=index * 3000, keyframe=index in (0, 4))
        kinds.append(any(packet.is_keyframe for packet in packets))

    assert kinds == [True, False, False, False, True, False]


def test_packets_carry_rtp_clock() -> None:
    encoder = VideoEncoder("vp8", 320, 240, fps=30, bitrate=1_000_000)

    packets = encoder.encode(bgra(320, 240, (0, 0, 0)), pts=90_000, keyframe=True)

    assert packets[0].pts == 90_000
    assert packets[0].time_base == Fraction(1, 90_000)


def test_set_bitrate_reopens_with_keyframe() -> None:
    encoder = VideoEncoder("vp8", 320, 240, fps=30, bitrate=1_000_000)
    encoder.encode(bgra(320, 240, (0, 0, 0)), pts=0, keyframe=True)

    encoder.set_bitrate(500_000)
    packets = encoder.encode(bgra(320, 240, (0, 0, 0)), pts=3000, keyframe=False)

    assert encoder.bitrate == 500_000
    assert any(packet.is_keyframe for packet in packets)
