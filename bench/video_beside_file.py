"""The screen's video while the host sends a file to a guest over a slow link.

`pairview share` runs in one network namespace and headless Chromium in
another, joined by a veth link whose host side `tc` shapes to `--rate`
with a token bucket that queues at most 200 ms. The shared X screen
scrolls text (`bench.scene --scene scroll`), so the video keeps coming.
Each round first watches the video for `--watch` seconds with no file
(the reference), then sends a random file of `--size-mb` with `/send`,
which the guest accepts, and watches until the guest has it.

The page's `getStats` is read once a second: frames decoded, freezes,
and the round trip of the ICE pair in use. Without a limit on what the
host queues for its socket, the file's data fills that queue and the
video and audio wait behind it (docs/benchmarks.md).

Run as root from the repository root:
`.venv/bin/python -m bench.video_beside_file`. It prints the figures and
writes them to docs/benchmarks.md, between two marker comments.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.file_transfer import BOUNDED_WAITS, MB, WATCH_TRANSFERS
from bench.report import update_document

DOCUMENT = Path(__file__).parents[1] / "docs" / "benchmarks.md"
NAME = "video beside a file"
TRANSFER_TIMEOUT = 300.0
SETTLE_SECONDS = 8.0

# The guest page's connection to the host, which `join` keeps in window.pairviewConnections.
READ_STATS = """async () => {
  const peer = window.pairviewConnections[0];
  if (!peer) return null;
  const read = {at: performance.now(), roundTrip: null};
  (await peer.getStats()).forEach((report) => {
    if (report.type === 'inbound-rtp' && report.kind === 'video') {
      read.frames = report.framesDecoded ?? 0;
      read.freezes = report.freezeCount ?? 0;
    }
    if (report.type === 'candidate-pair' && report.nominated && report.state === 'succeeded') {
      read.roundTrip = report.currentRoundTripTime ?? null;
    }
  });
  return read;
}"""


@dataclass
class Phase:
    """The video over some seconds: frames in all and each second, freezes and round trips."""

    seconds: float = 0.0
    frames: int = 0
    freezes: int = 0
    per_second: list[float] = field(default_factory=list)
    round_trips: list[float] = field(default_factory=list)

    @property
    def frame_rate(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0

    @property
    def slowest_second(self) -> float:
        return min(self.per_second, default=0.0)

    @property
    def highest_round_trip(self) -> float:
        return max(self.round_trips, default=0.0)


def read_stats(page: Any) -> dict[str, Any]:
    stats: dict[str, Any] | None = page.evaluate(READ_STATS)
    if stats is None or "frames" not in stats:
        raise RuntimeError("video statistics missing in the guest page: no video arrived yet")
    return stats


def watch(page: Any, seconds: float, done: Any = None) -> Phase:
    """Read the page's statistics every second for `seconds`, or until `done()` is true."""
    phase = Phase()
    first = previous = read_stats(page)
    started = time.monotonic()
    while time.monotonic() - started < seconds and not (done is not None and done()):
        time.sleep(1.0)
        current = read_stats(page)
        elapsed = (current["at"] - previous["at"]) / 1000
        if elapsed > 0:
            phase.per_second.append((current["frames"] - previous["frames"]) / elapsed)
        if current["roundTrip"] is not None:
            phase.round_trips.append(current["roundTrip"])
        previous = current
    phase.seconds = (previous["at"] - first["at"]) / 1000
    phase.frames = previous["frames"] - first["frames"]
    phase.freezes = previous["freezes"] - first["freezes"]
    return phase


def transfer_done(page: Any, name: str) -> bool:
    done: bool = page.evaluate(
        """(name) => {
          const times = window.benchTimes[name];
          return Boolean(times && (times.complete || times.failed || times.cancelled));
        }""",
        name,
    )
    return done


def send_round(host: Any, guest: Any, folder: Path, size: int, number: int) -> tuple[Phase, float]:
    """Send one file to the guest while watching its video; return the watch and the MB/s."""
    name = f"beside-{number}.bin"
    source = folder / name
    source.write_bytes(os.urandom(size))
    host.type(f"/send {source} {guest.name}")
    accept = f'.transfer[data-direction="in"][data-name="{name}"] button[data-action="accept"]'
    guest.page.wait_for_selector(accept, timeout=60_000)
    started = time.monotonic()
    with guest.page.expect_download(timeout=TRANSFER_TIMEOUT * 1000) as download:
        guest.page.click(accept)
        phase = watch(guest.page, TRANSFER_TIMEOUT, lambda: transfer_done(guest.page, name))
    seconds = time.monotonic() - started
    times = guest.page.evaluate("(name) => window.benchTimes[name]", name)
    if "complete" not in times:
        raise RuntimeError(f"the transfer of {name} failed: {times}")
    download.value.delete()
    source.unlink()
    return phase, size / seconds / MB


def run(
    rate: str, size: int, watch_seconds: float, rounds: int
) -> list[tuple[Phase, Phase, float]]:
    from playwright.sync_api import sync_playwright

    from bench.processes import scene_running
    from tests.support.control_session import join, launch_in_guest, share
    from tests.support.netns import lan
    from tests.support.xvfb import xvfb

    results: list[tuple[Phase, Phase, float]] = []
    with (
        tempfile.TemporaryDirectory() as directory,
        lan() as net,
        xvfb(1280, 720) as display,
        scene_running(display, "scroll"),
    ):
        folder = Path(directory)
        shape = ["tc", "qdisc", "add", "dev", "pv0", "root", "tbf", "rate", rate]
        subprocess.run(net.host.command([*shape, "burst", "64kb", "latency", "200ms"]), check=True)
        options = ("--downloads-dir", str(folder / "downloads"), "--microphone", "none")
        with (
            share(net, display.name, folder / "share", *options, "--speaker", "none") as host,
            sync_playwright() as playwright,
        ):
            browser = launch_in_guest(playwright, net, folder)
            try:
                init = BOUNDED_WAITS + WATCH_TRANSFERS
                guest = join(browser, host.link, "Watcher", init_script=init)
                # The video starts with a keyframe and a rising bitrate: let it settle first.
                time.sleep(SETTLE_SECONDS)
                for number in range(rounds):
                    reference = watch(guest.page, watch_seconds)
                    during, rate_mb = send_round(host, guest, folder, size, number)
                    results.append((reference, during, rate_mb))
                    print(f"round {number + 1}: {describe(reference)}", flush=True)
                    print(f"round {number + 1}, file: {describe(during)}, {rate_mb:.2f} MB/s")
                guest.close()
            finally:
                browser.close()
    return results


def describe(phase: Phase) -> str:
    per_second = ", ".join(f"{value:.0f}" for value in phase.per_second)
    return (
        f"{phase.frame_rate:.1f} frames/s (each second: {per_second}), "
        f"highest round trip {phase.highest_round_trip * 1000:.0f} ms, {phase.freezes} freezes"
    )


def report(
    results: list[tuple[Phase, Phase, float]], rate: str, size: int, load: tuple[float, float]
) -> str:
    references = [reference for reference, _, _ in results]
    durings = [during for _, during, _ in results]
    rates = [rate_mb for _, _, rate_mb in results]

    def row(label: str, phases: list[Phase]) -> str:
        frame_rate = statistics.median(phase.frame_rate for phase in phases)
        slowest = min(phase.slowest_second for phase in phases)
        round_trip = max(phase.highest_round_trip for phase in phases) * 1000
        freezes = sum(phase.freezes for phase in phases)
        return f"| {label} | {frame_rate:.1f} | {slowest:.0f} | {round_trip:.0f} | {freezes} |"

    lines = [
        "## Video beside a file on a slow link",
        "",
        f"Measured by `bench/video_beside_file.py` on a machine with {os.cpu_count()} cores "
        f"(Linux {platform.release()}, Python {platform.python_version()}) on "
        f"{time.strftime('%Y-%m-%d', time.gmtime())}, {len(results)} rounds. The host's side "
        f"of the link is shaped to {rate} with a token bucket that queues at most 200 ms. "
        "`pairview share` sends, at up to 15 frames a second, a screen that scrolls text. Each "
        f"round watches a Chromium guest's video for a while with no file (the reference), "
        f"then while the host sends it a {size // MB} MB file. The load average was "
        f"{load[0]:.1f} when the run began and {load[1]:.1f} when it ended.",
        "",
        "| video | frames/s (median of rounds) | slowest second (frames) "
        "| highest round trip (ms) | freezes |",
        "|---|---|---|---|---|",
        row("no file", references),
        row("while the file is sent", durings),
        "",
        f"The file moved {statistics.median(rates):.2f} MB/s (median of rounds), "
        f"{', '.join(f'{value:.2f}' for value in rates)} in the order measured.",
    ]
    return "\n".join(lines)


def rate_value(text: str) -> str:
    """Return `text` if it is a `tc` rate such as 16mbit or 800kbit."""
    if not re.fullmatch(r"[1-9][0-9]*(kbit|mbit)", text):
        raise argparse.ArgumentTypeError(f"expected a rate such as 16mbit or 800kbit, got {text!r}")
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--rate",
        type=rate_value,
        default="16mbit",
        help="the host's uplink to the guest, as tc writes it (default 16mbit)",
    )
    parser.add_argument("--size-mb", type=int, default=20, help="file size in MB (default 20)")
    parser.add_argument(
        "--watch",
        type=float,
        default=10.0,
        help="seconds to watch the video with no file before each transfer (default 10)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="rounds to measure (default 3)")
    parser.add_argument(
        "--no-write", action="store_true", help="print the figures without updating the docs"
    )
    args = parser.parse_args()

    if not 1 <= args.size_mb <= 500:
        parser.error(f"--size-mb must be between 1 and 500, got {args.size_mb}")
    if not 2 <= args.watch <= 600:
        parser.error(f"--watch must be between 2 and 600 seconds, got {args.watch}")
    if not 1 <= args.rounds <= 50:
        parser.error(f"--rounds must be between 1 and 50, got {args.rounds}")

    load_before = os.getloadavg()[0]
    results = run(args.rate, args.size_mb * MB, args.watch, args.rounds)
    text = report(results, args.rate, args.size_mb * MB, (load_before, os.getloadavg()[0]))
    print(text)
    if not args.no_write:
        update_document(DOCUMENT, NAME, text, append=False)
        print(f"\nWritten to {DOCUMENT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
