"""Cost and quality of the host's VP8 encoder under different settings, on the benchmark's scenes.

The glass-to-glass benchmark measures the whole path; this one isolates
the encoder. It captures a few seconds of each scene of `bench.scene`
from Xvfb, then encodes the same frames with Pairview's `VideoEncoder`
under each setting. The rounds are interleaved, so that a burst of load
from elsewhere on the machine touches every setting alike. Over the
second half of the frames, once the encoder has settled after the first
keyframe, it reports per frame the CPU time of the whole process (every
encoder thread, and the BGRA to I420 conversion) and the wall time. Over
the same frames it reports the bitrate and the luma PSNR of the decoded
frames against the source.

Run it from the repository root:

    .venv/bin/python -m bench.encoder_settings
"""

from __future__ import annotations

import argparse
import itertools
import os
import shlex
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import mss
import numpy as np
from av.video.reformatter import VideoReformatter
from rich.console import Console
from rich.progress import Progress

from bench.glass_to_glass import parse_list, parse_size
from bench.processes import ROOT, machine_facts, scene_running
from bench.report import markdown_table, rich_table, update_document
from pairview.host.encoder import VP8_STATIC_THRESHOLD, VideoEncoder, default_thread_count
from tests.support.xvfb import xvfb

BITRATE = 8_000_000
FPS = 30


@dataclass(frozen=True)
class Setting:
    static_threshold: int
    threads: int

    @property
    def label(self) -> str:
        return f"static-thresh {self.static_threshold}, {self.threads} thread(s)"


@dataclass
class Figures:
    cpu_ms: list[float] = field(default_factory=list)
    wall_ms: list[float] = field(default_factory=list)
    mbits: float = 0.0
    psnr: float = 0.0


def capture(width: int, height: int, scene: str, count: int) -> list[bytearray]:
    """Grab `count` frames of `scene` at the frame rate the host app uses."""
    frames = []
    with (
        xvfb(width, height) as display,
        scene_running(display, scene),
        mss.MSS(display=display.name) as screen,
    ):
        monitor = screen.monitors[1]
        began = time.monotonic()
        for index in range(count):
            time.sleep(max(0.0, began + index / FPS - time.monotonic()))
            frames.append(bytearray(screen.grab(monitor).raw))
    return frames


def luma_planes(frames: list[bytearray], width: int, height: int) -> list[np.ndarray[Any, Any]]:
    """Convert frames to I420 as the encoder does, and keep their luma for PSNR."""
    reformatter = VideoReformatter()
    planes = []
    for pixels in frames:
        frame = av.VideoFrame(width, height, "bgra")
        frame.planes[0].update(bytes(pixels))
        converted = reformatter.reformat(frame, format="yuv420p")
        planes.append(_luma(converted, width, height))
    return planes


def _luma(frame: av.VideoFrame, width: int, height: int) -> np.ndarray[Any, Any]:
    plane = frame.planes[0]
    rows = np.frombuffer(memoryview(plane), dtype=np.uint8).reshape(height, plane.line_size)
    return rows[:, :width].astype(np.float32)


def psnr(decoded: np.ndarray[Any, Any], source: np.ndarray[Any, Any]) -> float:
    error = float(np.mean((decoded - source) ** 2))
    return 99.0 if error == 0 else 10 * float(np.log10(255**2 / error))


def encode_round(
    setting: Setting,
    frames: list[bytearray],
    sources: list[np.ndarray[Any, Any]],
    width: int,
    height: int,
    figures: Figures,
) -> None:
    """Encode every frame once with `setting`, adding to `figures`."""
    encoder = VideoEncoder(
        "vp8",
        width,
        height,
        FPS,
        BITRATE,
        threads=setting.threads,
        static_threshold=setting.static_threshold,
    )
    decoder = av.CodecContext.create("vp8", "r")
    settled = len(frames) // 2
    cpu = wall = 0.0
    sizes: list[int] = []
    quality: list[float] = []
    for index, pixels in enumerate(frames):
        cpu_before, wall_before = time.process_time(), time.perf_counter()
        packets = encoder.encode(pixels, index * 90_000 // FPS, keyframe=index == 0)
        if index >= settled:
            cpu += time.process_time() - cpu_before
            wall += time.perf_counter() - wall_before
            sizes.append(sum(packet.size for packet in packets))
        for packet in packets:
            for decoded in decoder.decode(packet):
                if index >= settled:
                    quality.append(psnr(_luma(decoded, width, height), sources[index]))
    encoder.close()

    counted = len(frames) - settled
    figures.cpu_ms.append(1000 * cpu / counted)
    figures.wall_ms.append(1000 * wall / counted)
    figures.mbits = statistics.fmean(sizes) * 8 * FPS / 1e6
    figures.psnr = statistics.fmean(quality)


def parse_options(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.encoder_settings",
        description="Measure the host's VP8 encoder under several static thresholds and "
        "thread counts on the benchmark's scenes.",
    )
    parser.add_argument(
        "--sizes",
        type=parse_list(parse_size),
        default=[(1920, 1080)],
        help="comma-separated screen sizes (default: 1920x1080)",
    )
    parser.add_argument(
        "--frames", type=int, default=150, help="frames captured of each scene (default: 150)"
    )
    parser.add_argument(
        "--rounds", type=int, default=2, help="times each setting encodes the frames (default: 2)"
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=ROOT / "docs" / "benchmarks.md",
        help="Markdown file whose results block is rewritten (default: docs/benchmarks.md)",
    )
    parser.add_argument(
        "--no-write", action="store_true", help="print the results without writing a file"
    )
    options = parser.parse_args(argv)
    if options.frames < 10 or options.rounds < 1:
        parser.error(
            f"--frames must be at least 10 and --rounds at least 1, "
            f"got {options.frames} and {options.rounds}"
        )
    return options


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(sys.argv[1:] if argv is None else argv)
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)
    load = os.getloadavg()
    console.print(f"Load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")

    rows: list[list[str]] = []
    with Progress(console=console, transient=True) as progress:
        for (width, height), scene in itertools.product(options.sizes, ("still", "scroll")):
            task = progress.add_task(f"{width}x{height} {scene}: capturing", total=None)
            frames = capture(width, height, scene, options.frames)
            sources = luma_planes(frames, width, height)
            default = default_thread_count("vp8", width, height)
            settings = [
                Setting(threshold, threads)
                for threshold in sorted({1, VP8_STATIC_THRESHOLD, 1000})
                for threads in sorted({1, 2, default})
            ]
            results = {setting: Figures() for setting in settings}
            progress.update(task, description=f"{width}x{height} {scene}: encoding")
            for _ in range(options.rounds):
                for setting in settings:
                    encode_round(setting, frames, sources, width, height, results[setting])
            progress.remove_task(task)
            for setting, figures in results.items():
                chosen = setting == Setting(VP8_STATIC_THRESHOLD, default)
                rows.append(
                    [
                        f"{width}x{height}",
                        scene,
                        setting.label + (" (Pairview)" if chosen else ""),
                        f"{statistics.median(figures.cpu_ms):.1f}",
                        f"{statistics.median(figures.wall_ms):.1f}",
                        f"{figures.mbits:.2f}",
                        f"{figures.psnr:.1f}",
                    ]
                )

    columns = ["size", "scene", "setting", "CPU ms", "wall ms", "Mbit/s", "PSNR dB"]
    console.print(rich_table("VP8 encoder settings", columns, rows))
    if not options.no_write:
        facts = machine_facts()
        command = " ".join(
            [".venv/bin/python -m bench.encoder_settings", *map(shlex.quote, sys.argv[1:])]
        )
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        text = "\n".join(
            [
                f"### Run of {stamp}",
                "",
                f"Command: `{command}`",
                "",
                f"Machine: {facts['cores']} cores, {facts['cpu']}; load average at start "
                f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}. PyAV {facts['pyav']}. "
                f"{options.frames} frames a scene at {FPS} fps, {BITRATE / 1e6:g} Mbit/s, "
                f"{options.rounds} rounds; CPU and wall time are medians of the rounds.",
                "",
                markdown_table(columns, rows),
            ]
        )
        update_document(options.output, "encoder settings", text, append=False)
        console.print(f"Written to {options.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
