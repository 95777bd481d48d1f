"""The encoder's packets decode back to the pictures that went in."""

from __future__ import annotations

from typing import cast

import av
import numpy as np
import pytest
from av.video.codeccontext import VideoCodecContext

from pairview.host.encoder import Codec, VideoEncoder

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
    assert packets[0].time_base == encoder_time_base()


def encoder_time_base() -> object:
    from fractions import Fraction

    return Fraction(1, 90_000)


def test_set_bitrate_reopens_with_keyframe() -> None:
    encoder = VideoEncoder("vp8", 320, 240, fps=30, bitrate=1_000_000)
    encoder.encode(bgra(320, 240, (0, 0, 0)), pts=0, keyframe=True)

    encoder.set_bitrate(500_000)
    packets = encoder.encode(bgra(320, 240, (0, 0, 0)), pts=3000, keyframe=False)

    assert encoder.bitrate == 500_000
    assert any(packet.is_keyframe for packet in packets)
