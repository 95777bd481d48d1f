"""The capture thread on a real X server: it encodes when the screen changes, and only then."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from pairview.host.capture import CaptureError, Region, monitor_region
from pairview.host.pipeline import (
    MIN_KEYFRAME_INTERVAL,
    REFRESH_INTERVAL,
    PipelineConfig,
    VideoPipeline,
)
from tests.support.timing import seconds
from tests.support.xdraw import Painter
from tests.support.xvfb import Display, xvfb


@pytest.fixture(scope="module")
def display() -> Iterator[Display]:
    with xvfb(640, 480) as running:
        yield running


@pytest.fixture
def painter(display: Display) -> Iterator[Painter]:
    painter = Painter(display.name)
    painter.fill(0, 0, 640, 480, (0, 0, 0))
    yield painter
    painter.close()


class Sink:
    def __init__(self) -> None:
        self.frames: list[bool] = []
        self.changed = asyncio.Event()

    def __call__(self, packets: list[Any], keyframe: bool) -> None:
        self.frames.append(keyframe)
        self.changed.set()

    async def wait_for_frames(self, count: int, timeout: float = 5) -> None:
        async def loop() -> None:
            while len(self.frames) < count:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(loop(), seconds(timeout))


@pytest.fixture
async def pipeline(display: Display, painter: Painter) -> AsyncIterator[VideoPipeline]:
    config = PipelineConfig(
        Region(0, 0, 640, 480), "vp8", fps=30, bitrate=1_000_000, display=display.name
    )
    running = VideoPipeline(config, asyncio.get_running_loop())
    await asyncio.to_thread(running.start)
    yield running
    await asyncio.to_thread(running.stop)


async def test_nothing_captured_without_viewers(pipeline: VideoPipeline, painter: Painter) -> None:
    painter.fill(0, 0, 100, 100, (255, 0, 0))
    await asyncio.sleep(seconds(0.5))

    assert pipeline.stats.grabbed == 0
    assert pipeline.stats.encoded == 0


async def test_first_frame_for_new_sink_is_keyframe(pipeline: VideoPipeline) -> None:
    sink = Sink()
    pipeline.add_sink(sink)

    await sink.wait_for_frames(1)

    assert sink.frames[0] is True


async def test_still_screen_is_not_encoded_every_frame(pipeline: VideoPipeline) -> None:
    sink = Sink()
    pipeline.add_sink(sink)
    await sink.wait_for_frames(1)
    encoded_before = pipeline.stats.encoded

    # Two refresh periods of a still screen: 30 fps would mean about 60 frames.
    await asyncio.sleep(2 * REFRESH_INTERVAL + 0.2)

    assert pipeline.stats.encoded - encoded_before <= 3


async def test_drawing_is_encoded_promptly(pipeline: VideoPipeline, painter: Painter) -> None:
    sink = Sink()
    pipeline.add_sink(sink)
    await sink.wait_for_frames(1)
    count = len(sink.frames)

    for step in range(5):
        painter.fill(step * 20, 0, 20, 20, (255, 255, 255))
        await sink.wait_for_frames(count + step + 1, timeout=REFRESH_INTERVAL * 0.8)

    assert sink.frames[count:] == [False] * 5


async def test_redraw_of_same_pixels_skipped(pipeline: VideoPipeline, painter: Painter) -> None:
    sink = Sink()
    pipeline.add_sink(sink)
    await sink.wait_for_frames(1)
    skipped_before = pipeline.stats.skipped_unchanged

    for _ in range(5):
        painter.fill(0, 0, 640, 480, (0, 0, 0))
        await asyncio.sleep(0.1)

    assert pipeline.stats.skipped_unchanged > skipped_before


async def test_keyframe_requests_coalesced(pipeline: VideoPipeline) -> None:
    sink = Sink()
    pipeline.add_sink(sink)
    await sink.wait_for_frames(1)
    keyframes_before = pipeline.stats.keyframes

    for _ in range(20):
        pipeline.request_keyframe()
    await asyncio.sleep(3 * MIN_KEYFRAME_INTERVAL)

    assert pipeline.stats.keyframes - keyframes_before == 1


async def test_removed_sink_gets_nothing(pipeline: VideoPipeline, painter: Painter) -> None:
    sink = Sink()
    pipeline.add_sink(sink)
    await sink.wait_for_frames(1)
    pipeline.remove_sink(sink)
    count = len(sink.frames)

    painter.fill(0, 0, 50, 50, (0, 255, 0))
    await asyncio.sleep(0.3)

    assert len(sink.frames) == count


def test_monitor_out_of_range_named(display: Display) -> None:
    with pytest.raises(CaptureError, match=r"No monitor 7: this display has monitors 1 to 1"):
        monitor_region(7, display.name)


def test_monitor_region_matches_screen(display: Display) -> None:
    assert monitor_region(1, display.name) == Region(0, 0, 640, 480)


def test_unset_display_explained(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    with pytest.raises(CaptureError, match=r"DISPLAY is not set\. .*xvfb-run -a"):
        monitor_region(1)


def test_missing_display_named() -> None:
    with pytest.raises(CaptureError, match=":99999"):
        monitor_region(1, ":99999")


class RecordingHandler(logging.Handler):
    """A log handler that keeps records and signals the first one, from any thread."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []
        self.arrived = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.arrived.set()


async def test_stopped_display_ends_capture_without_traceback() -> None:
    """An X server that stops, as xvfb-run's does on Ctrl-C, is a warning, not a traceback."""
    handler = RecordingHandler()
    logging.getLogger("pairview.host.pipeline").addHandler(handler)
    try:
        with xvfb(320, 240) as own:
            config = PipelineConfig(
                Region(0, 0, 320, 240), "vp8", fps=30, bitrate=500_000, display=own.name
            )
            running = VideoPipeline(config, asyncio.get_running_loop())
            await asyncio.to_thread(running.start)
        await asyncio.to_thread(handler.arrived.wait, seconds(10))
        await asyncio.to_thread(running.stop)
    finally:
        logging.getLogger("pairview.host.pipeline").removeHandler(handler)
    [record] = handler.records
    assert record.levelno == logging.WARNING
    assert record.getMessage() == f"screen capture stopped: the X display {own.name} closed"
    assert record.exc_info is None
