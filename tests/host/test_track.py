"""One guest's encoded video track: hiding the screen stops its frames, showing resumes them."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from pairview.host.pipeline import VideoPipeline
from pairview.host.track import EncodedVideoTrack


class FakePipeline:
    """The parts of `VideoPipeline` that a track uses: its sinks and keyframe requests."""

    def __init__(self) -> None:
        self.sinks: list[Any] = []
        self.keyframe_requests = 0

    def add_sink(self, sink: Any) -> None:
        self.sinks.append(sink)

    def remove_sink(self, sink: Any) -> None:
        self.sinks.remove(sink)

    def request_keyframe(self) -> None:
        self.keyframe_requests += 1

    def encode(self, name: str, keyframe: bool) -> None:
        for sink in self.sinks:
            sink([name], keyframe)


@pytest.fixture
def pipeline() -> FakePipeline:
    return FakePipeline()


@pytest.fixture
def track(pipeline: FakePipeline) -> EncodedVideoTrack:
    return EncodedVideoTrack(cast(VideoPipeline, pipeline))


async def next_packet(track: EncodedVideoTrack) -> Any:
    return await asyncio.wait_for(track.recv(), 1)


async def nothing_to_send(track: EncodedVideoTrack) -> bool:
    try:
        await asyncio.wait_for(track.recv(), 0.2)
    except TimeoutError:
        return True
    return False


async def test_visible_track_sends_from_keyframe(
    pipeline: FakePipeline, track: EncodedVideoTrack
) -> None:
    pipeline.encode("delta-before", keyframe=False)
    pipeline.encode("key", keyframe=True)
    pipeline.encode("delta", keyframe=False)

    assert track.visible
    assert await next_packet(track) == "key"
    assert await next_packet(track) == "delta"


async def test_hidden_track_sends_nothing(pipeline: FakePipeline, track: EncodedVideoTrack) -> None:
    pipeline.encode("key", keyframe=True)
    track.set_visible(False)
    pipeline.encode("key-while-hidden", keyframe=True)
    pipeline.encode("delta-while-hidden", keyframe=False)

    assert not track.visible
    # Packets queued before hiding are dropped too, not sent late.
    assert await nothing_to_send(track)


async def test_shown_again_resumes_at_new_keyframe(
    pipeline: FakePipeline, track: EncodedVideoTrack
) -> None:
    track.set_visible(False)
    requests_before = pipeline.keyframe_requests

    track.set_visible(True)
    pipeline.encode("delta", keyframe=False)
    pipeline.encode("key", keyframe=True)

    assert pipeline.keyframe_requests == requests_before + 1
    assert await next_packet(track) == "key"


async def test_repeated_visibility_changes_nothing(
    pipeline: FakePipeline, track: EncodedVideoTrack
) -> None:
    pipeline.encode("key", keyframe=True)
    track.set_visible(True)

    assert pipeline.keyframe_requests == 0
    assert await next_packet(track) == "key"
