"""Glass-to-glass latency, frame rate and CPU of screen sharing, against two references.

The benchmark shares an X screen (Xvfb) on which `bench.scene` stamps the
wall-clock time at 60 Hz, and watches it in headless Chromium on the
guest page. The page reads the stamp back from every frame it shows, so
the latency of a frame is the time Chromium expects to display it minus
the time drawn in it. Host and browser run on this machine and read the
same clock. Sender and guests sit in two network namespaces joined by a
veth pair, so the media goes through a real, if fast, network path.

Each screen size and guest count is measured for:

- Pairview: `pairview share` with its embedded server;
- plain aiortc (`bench.plain_sender`): aiortc encoding per guest with
  its defaults, on the same server and guest page;
- FFmpeg capturing the screen with x11grab and encoding VP8 with libvpx
  in realtime mode, with no network and no browser.

Run it as root (for the network namespaces) from the repository root:

    .venv/bin/python -m bench.glass_to_glass

It prints a table and writes it to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import itertools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from bench.processes import (
    ROOT,
    SENDERS,
    CpuMeter,
    OutputPump,
    chromium_wrapper,
    machine_facts,
    scene_running,
    sender_running,
    stop_process,
)
from bench.report import (
    COLUMNS,
    DETAIL_COLUMNS,
    EncoderResult,
    GuestFigures,
    SenderResult,
    comparisons,
    detail_rows,
    guest_figures,
    markdown_table,
    result_rows,
    rich_table,
    update_document,
)
from bench.stamp import StampLayout
from pairview.host.encoder import VP8_STATIC_THRESHOLD, default_thread_count
from pairview.settings import parse_bitrate
from tests.support.netns import Lan, lan
from tests.support.xvfb import Display, xvfb

PROBE = (Path(__file__).parent / "probe.js").read_text()
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PLAYING_TIMEOUT = 45.0
PAGE_TIMEOUT = 20.0
SCENES = ("still", "scroll")


@dataclasses.dataclass(frozen=True)
class Options:
    sizes: list[tuple[int, int]]
    guests: list[int]
    duration: float
    warmup: float
    fps: int
    bitrate: int
    scenes: list[str]
    skip_reference: bool
    ffmpeg_cpu_used: int
    output: Path | None
    append: bool


def parse_size(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)x(\d+)", text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"expected a size such as 1920x1080, got {text!r}")
    width, height = int(match[1]), int(match[2])
    if width % 2 or height % 2 or not (320 <= width <= 3840 and 240 <= height <= 2160):
        raise argparse.ArgumentTypeError(
            f"expected even sizes from 320x240 to 3840x2160, got {text!r}"
        )
    return width, height


def parse_list(convert: Callable[[str], Any]) -> Callable[[str], list[Any]]:
    def parse(text: str) -> list[Any]:
        return [convert(item) for item in text.split(",") if item.strip()]

    return parse


def bitrate_option(text: str) -> int:
    try:
        return parse_bitrate(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def guest_count(text: str) -> int:
    if not text.strip().isdigit() or not 1 <= int(text) <= 5:
        raise argparse.ArgumentTypeError(f"expected a guest count from 1 to 5, got {text!r}")
    return int(text)


def scene_name(text: str) -> str:
    if text.strip() not in SCENES:
        raise argparse.ArgumentTypeError(
            f"expected a scene out of {', '.join(SCENES)}, got {text!r}"
        )
    return text.strip()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench.glass_to_glass",
        description="Measure glass-to-glass latency, frame rate and host CPU of Pairview's "
        "screen sharing in headless Chromium, beside plain aiortc and FFmpeg.",
    )
    parser.add_argument(
        "--sizes",
        type=parse_list(parse_size),
        default=[(1280, 720), (1920, 1080)],
        help="comma-separated screen sizes (default: 1280x720,1920x1080)",
    )
    parser.add_argument(
        "--guests",
        type=parse_list(guest_count),
        default=[1, 3],
        help="comma-separated numbers of guest pages watching at once (default: 1,3)",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=10.0,
        help="seconds of each measuring window (default: 10)",
    )
    parser.add_argument(
        "--warmup",
        type=float,
        default=4.0,
        help="seconds between every guest playing and the window, for bitrates to settle "
        "(default: 4)",
    )
    parser.add_argument(
        "--fps", type=int, default=30, help="frame rate of every sender (default: 30)"
    )
    parser.add_argument(
        "--bitrate",
        type=bitrate_option,
        default=8_000_000,
        help="Pairview's --max-bitrate and FFmpeg's -b:v (default: 8M, Pairview's default); "
        "plain aiortc keeps its own limits",
    )
    parser.add_argument(
        "--scenes",
        type=parse_list(scene_name),
        default=["still", "scroll"],
        help="comma-separated scenes: still (only the stamp changes, as when typing) and "
        "scroll (a text pane over half the screen also scrolls, 120 pixels a second) "
        "(default: still,scroll)",
    )
    parser.add_argument(
        "--skip-reference",
        action="store_true",
        help="measure Pairview only, without plain aiortc and FFmpeg",
    )
    parser.add_argument(
        "--ffmpeg-cpu-used",
        type=int,
        default=16,
        help="libvpx speed for FFmpeg, -16 to 16, higher is faster (default: 16, as Pairview)",
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
    parser.add_argument(
        "--append",
        action="store_true",
        help="add this run after the runs already in the results block instead of replacing them",
    )
    return parser


def parse_options(argv: Sequence[str]) -> Options:
    """Parse the command line, or exit with a usage error naming the bad value."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.duration < 2 or args.warmup < 0:
        parser.error(
            f"--duration must be at least 2 s and --warmup at least 0 s, "
            f"got {args.duration} and {args.warmup}"
        )
    if not 1 <= args.fps <= 60:
        parser.error(f"--fps must be from 1 to 60, got {args.fps}")
    if not -16 <= args.ffmpeg_cpu_used <= 16:
        parser.error(f"--ffmpeg-cpu-used must be from -16 to 16, got {args.ffmpeg_cpu_used}")
    if not args.sizes or not args.guests or not args.scenes:
        parser.error("--sizes, --guests and --scenes need at least one value each")
    return Options(
        sizes=args.sizes,
        guests=args.guests,
        duration=args.duration,
        warmup=args.warmup,
        fps=args.fps,
        bitrate=args.bitrate,
        scenes=args.scenes,
        skip_reference=args.skip_reference,
        ffmpeg_cpu_used=args.ffmpeg_cpu_used,
        output=None if args.no_write else args.output,
        append=args.append,
    )


# measuring


@dataclasses.dataclass(frozen=True)
class Screen:
    """The shared X display and the scene drawn on it."""

    display: Display
    scene: str

    @property
    def size(self) -> str:
        return f"{self.display.width}x{self.display.height}"


class Bench:
    def __init__(self, options: Options, console: Console, progress: Progress) -> None:
        self.options = options
        self.console = console
        self.progress = progress
        self.layout = StampLayout()
        self.step = progress.add_task("starting", total=None)

    def say(self, text: str) -> None:
        self.progress.update(self.step, description=text)

    def wait(self, seconds: float, what: str) -> None:
        task = self.progress.add_task(what, total=seconds)
        began = time.monotonic()
        while (elapsed := time.monotonic() - began) < seconds:
            self.progress.update(task, completed=elapsed)
            time.sleep(min(0.25, seconds - elapsed))
        self.progress.remove_task(task)

    def measure_sender(
        self, kind: str, guests: int, net: Lan, screen: Screen, browser: Any, data_dir: Path
    ) -> SenderResult:
        name = SENDERS[kind]
        label = f"{screen.size} {screen.scene}, {guests} guest(s), {name}"
        self.say(f"{label}: starting")
        layout = {
            **self.layout.to_json(),
            "screenWidth": screen.display.width,
            "screenHeight": screen.display.height,
        }
        contexts: list[Any] = []
        try:
            with sender_running(
                kind, net, screen.display, self.options.fps, self.options.bitrate, data_dir
            ) as (process, link):
                pages = []
                for number in range(guests):
                    context = browser.new_context(
                        ignore_https_errors=True, viewport={"width": 960, "height": 600}
                    )
                    contexts.append(context)
                    context.add_init_script(script=PROBE)
                    page = context.new_page()
                    self._join(page, link, f"Guest {number + 1}")
                    pages.append(page)

                self.say(f"{label}: waiting for video")
                self._wait_playing(pages, process)
                self.say(f"{label}: measuring")
                self.wait(self.options.warmup, "warm-up")

                meter = CpuMeter(process.pid)
                started = [
                    page.evaluate("l => window.benchProbe.start(l)", layout) for page in pages
                ]
                self.wait(self.options.duration, "measuring")
                finished = [page.evaluate("() => window.benchProbe.finish()") for page in pages]
                cpu = meter.finish()
        except Exception as error:
            # Playwright appends its call log, so keep the first line, which names the failure.
            reason = str(error).strip().split("\n")[0]
            self.console.print(f"[red]{label} failed:[/red] {reason}")
            return SenderResult(screen.size, screen.scene, name, guests, [], None, error=reason)
        finally:
            for context in contexts:
                with contextlib.suppress(Exception):
                    context.close()

        figures: list[GuestFigures] = [
            guest_figures(start, finish) for start, finish in zip(started, finished, strict=True)
        ]
        return SenderResult(screen.size, screen.scene, name, guests, figures, cpu)

    @staticmethod
    def _join(page: Any, link: str, name: str) -> None:
        """Open the guest link and join under `name`."""
        page.goto(link)
        try:
            page.wait_for_selector("#name-input", state="visible", timeout=PAGE_TIMEOUT * 1000)
        except Exception as error:
            state = page.evaluate("() => document.body.dataset.state")
            raise RuntimeError(f"the guest page showed no name form (state {state!r})") from error
        page.fill("#name-input", name)
        page.click("button[type=submit]")

    @staticmethod
    def _wait_playing(pages: list[Any], process: subprocess.Popen[str]) -> None:
        deadline = time.monotonic() + PLAYING_TIMEOUT
        states: list[str | None] = []
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"the sender exited with status {process.returncode}")
            states = [page.evaluate("() => document.body.dataset.state") for page in pages]
            if all(state == "playing" for state in states):
                return
            time.sleep(0.25)
        raise RuntimeError(f"guests not playing after {PLAYING_TIMEOUT:g} s: {states}")

    def measure_ffmpeg(self, screen: Screen) -> EncoderResult:
        self.say(f"{screen.size} {screen.scene}, FFmpeg x11grab + libvpx")
        # The encoder settings that FFmpeg shares with Pairview's VideoEncoder.
        threads = default_thread_count("vp8", screen.display.width, screen.display.height)
        argv = [
            "ffmpeg", "-hide_banner", "-loglevel", "error", "-nostats", "-progress", "pipe:1",
            "-f", "x11grab", "-draw_mouse", "0", "-framerate", str(self.options.fps),
            "-video_size", screen.size, "-i", f"{screen.display.name}+0,0",
            "-c:v", "libvpx", "-deadline", "realtime",
            "-cpu-used", str(self.options.ffmpeg_cpu_used),
            "-b:v", str(self.options.bitrate), "-qmin", "4", "-qmax", "48",
            "-lag-in-frames", "0", "-error-resilient", "1",
            "-static-thresh", str(VP8_STATIC_THRESHOLD),
            "-g", "100000", "-threads", str(threads),
            "-f", "null", "-",
        ]  # fmt: skip
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        counts: list[tuple[float, int]] = []
        frame = re.compile(r"^frame=(\d+)$")

        def count(line: str) -> None:
            # FFmpeg reports progress twice a second: note when each count arrived.
            match = frame.match(line)
            if match:
                counts.append((time.monotonic(), int(match[1])))

        pump = OutputPump(process, count)
        try:
            self.wait(self.options.warmup, "warm-up")
            meter = CpuMeter(process.pid)
            began = time.monotonic()
            self.wait(self.options.duration, "measuring")
            ended = time.monotonic()
            cpu = meter.finish()
        except psutil.Error as error:
            return EncoderResult(
                screen.size, screen.scene, None, None, error=f"{error}\n{pump.tail()}"
            )
        finally:
            stop_process(process)
        window = [(at, frames) for at, frames in counts if began <= at <= ended]
        fps = None
        if len(window) >= 2 and window[-1][0] > window[0][0]:
            fps = (window[-1][1] - window[0][1]) / (window[-1][0] - window[0][0])
        return EncoderResult(screen.size, screen.scene, fps, cpu)


# the run


def run(
    options: Options, console: Console
) -> tuple[list[SenderResult], list[EncoderResult], dict[str, str]]:
    from playwright.sync_api import sync_playwright

    senders: list[SenderResult] = []
    encoders: list[EncoderResult] = []
    kinds = ["pairview"] if options.skip_reference else ["pairview", "aiortc"]
    per_screen = len(options.guests) * len(kinds) + (not options.skip_reference)
    steps = len(options.sizes) * len(options.scenes) * per_screen
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn())
    with (
        Progress(*columns, console=console, transient=True) as progress,
        tempfile.TemporaryDirectory(prefix="pairview-bench-") as temporary,
        lan() as net,
        sync_playwright() as playwright,
    ):
        overall = progress.add_task("all runs", total=steps)
        bench = Bench(options, console, progress)
        browser = playwright.chromium.launch(
            executable_path=str(chromium_wrapper(Path(temporary), net)), args=CHROMIUM_ARGS
        )
        facts = machine_facts(browser.version)
        try:
            for (width, height), scene in itertools.product(options.sizes, options.scenes):
                with xvfb(width, height) as display, scene_running(display, scene):
                    screen = Screen(display, scene)
                    for guests, kind in itertools.product(options.guests, kinds):
                        data_dir = Path(tempfile.mkdtemp(dir=temporary))
                        senders.append(
                            bench.measure_sender(kind, guests, net, screen, browser, data_dir)
                        )
                        progress.advance(overall)
                    if not options.skip_reference:
                        encoders.append(bench.measure_ffmpeg(screen))
                        progress.advance(overall)
        finally:
            browser.close()
    return senders, encoders, facts


def run_text(
    options: Options,
    command: str,
    load: tuple[float, float, float],
    facts: dict[str, str],
    senders: list[SenderResult],
    encoders: list[EncoderResult],
) -> str:
    """Return the Markdown record of one run."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"### Run of {stamp}",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {facts['cores']} cores, {facts['cpu']}; load average at start "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}. Chromium {facts['chromium']}, "
        f"aiortc {facts['aiortc']}, PyAV {facts['pyav']}, FFmpeg {facts['ffmpeg']}. "
        f"Scenes: {', '.join(options.scenes)}; {options.fps} fps, VP8, bitrate "
        f"{options.bitrate / 1e6:g} Mbit/s "
        f"(Pairview and FFmpeg), {options.duration:g} s windows after {options.warmup:g} s "
        "of warm-up.",
        "",
        markdown_table(COLUMNS, result_rows(senders, encoders)),
        "",
        markdown_table(DETAIL_COLUMNS, detail_rows(senders)),
        "",
    ]
    lines += [f"- {sentence}" for sentence in comparisons(senders, encoders)]
    failures = [r for r in senders if r.error] + [r for r in encoders if r.error]
    for failure in failures:
        lines.append(f"- Failed: {failure.size} {failure.scene}: {failure.error}")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_options(sys.argv[1:] if argv is None else argv)
    console = Console()
    if not console.is_terminal:
        # Keep the tables whole when the output goes to a file or a pipe.
        console = Console(width=200)
    if os.geteuid() != 0:
        console.print("[red]The benchmark needs root, to create network namespaces.[/red]")
        return 2
    for tool in ("Xvfb", "ffmpeg", "ip"):
        if shutil.which(tool) is None:
            console.print(f"[red]{tool} is not installed; run scripts/setup --dev as root.[/red]")
            return 2
    load = os.getloadavg()
    command = " ".join(
        [".venv/bin/python -m bench.glass_to_glass", *map(shlex.quote, sys.argv[1:])]
    )
    console.print(f"Load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")

    senders, encoders, facts = run(options, console)

    console.print(rich_table("Glass to glass", COLUMNS, result_rows(senders, encoders)))
    console.print(rich_table("Where the time goes", DETAIL_COLUMNS, detail_rows(senders)))
    for sentence in comparisons(senders, encoders):
        console.print(sentence)
    text = run_text(options, command, load, facts, senders, encoders)
    if options.output is not None:
        update_document(options.output, "glass-to-glass", text, options.append)
        console.print(f"Written to {options.output}")
    console.print(json.dumps(facts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
