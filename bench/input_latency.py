"""Remote input latency: from the browser's input event to the X event an application sees.

A Chromium guest, in a network namespace of its own, clicks and types on
the video of a `pairview share` running in the host namespace on Xvfb. The
page records each event's time (performance.timeOrigin + event.timeStamp),
and the recording app of tests/support/apps/recorder.py the time at which
Tk handed it the X event, both from this machine's clock. The reference is
the same app receiving clicks that this process injects with XTEST
directly, measured in the same run: the part of the latency that no remote
control can avoid.

Run as root from the repository root: `.venv/bin/python -m bench.input_latency`.
It prints the figures and writes them to docs/benchmarks.md, in a section
of its own between two marker comments.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.support.control_apps import Recorder, recorder
from tests.support.control_session import join, launch_in_guest, share
from tests.support.netns import lan
from tests.support.xvfb import xvfb

WIDTH, HEIGHT = 1280, 720
DOCUMENT = Path(__file__).parents[1] / "docs" / "benchmarks.md"
START = "<!-- input-latency:start -->"
END = "<!-- input-latency:end -->"
# Records when each input event reached the page, in epoch milliseconds.
DISPATCH_HOOK = """
window.pairviewDispatch = [];
for (const type of ["mousedown", "keydown"]) {
  window.addEventListener(type, (event) => {
    window.pairviewDispatch.push({type, time: performance.timeOrigin + event.timeStamp});
  }, true);
}
"""


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def summary(values: list[float]) -> tuple[float, float]:
    return statistics.median(values), percentile(values, 0.95)


def measure_reference(display: str, app: Recorder, count: int) -> list[float]:
    """Clicks injected by this process with XTEST: latency from injection to the app."""
    from Xlib import X
    from Xlib import display as xdisplay
    from Xlib.ext import xtest

    connection = xdisplay.Display(display)
    latencies = []
    try:
        for _ in range(count):
            x, y = random.randrange(50, WIDTH - 50), random.randrange(50, HEIGHT - 50)
            xtest.fake_input(connection, X.MotionNotify, x=x, y=y)
            sent = time.time()
            xtest.fake_input(connection, X.ButtonPress, 1)
            xtest.fake_input(connection, X.ButtonRelease, 1)
            connection.flush()
            press = app.events("press", 1)[0]
            latencies.append((press["time"] - sent) * 1000)
            time.sleep(0.05)
    finally:
        connection.close()
    return latencies


def measure_clicks(guest: Any, app: Recorder, count: int) -> list[float]:
    latencies = []
    for _ in range(count):
        x, y = random.randrange(50, WIDTH - 50), random.randrange(50, HEIGHT - 50)
        guest.page.mouse.move(*guest.page_point(x, y))
        time.sleep(0.05)
        guest.page.evaluate("() => { window.pairviewDispatch = []; }")
        guest.page.mouse.down()
        guest.page.mouse.up()
        press = app.events("press", 1)[0]
        dispatched = guest.page.evaluate("() => window.pairviewDispatch")
        latencies.append(press["time"] * 1000 - dispatched[0]["time"])
        time.sleep(0.1)
    return latencies


def measure_keys(guest: Any, app: Recorder, count: int) -> list[float]:
    guest.page.focus("#stage")
    latencies = []
    for index in range(count):
        character = "abcdefghijklmnopqrstuvwxyz"[index % 26]
        guest.page.evaluate("() => { window.pairviewDispatch = []; }")
        guest.page.keyboard.press(character)
        event = app.events("key", 1)[0]
        dispatched = guest.page.evaluate("() => window.pairviewDispatch")
        latencies.append(event["time"] * 1000 - dispatched[0]["time"])
        time.sleep(0.1)
    return latencies


def run(count: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    with (
        xvfb(WIDTH, HEIGHT) as display,
        lan() as net,
        recorder(display.name) as app,
        tempfile.TemporaryDirectory() as directory,
        share(net, display.name, Path(directory), "--allow-control") as host,
        sync_playwright() as playwright,
    ):
        browser = launch_in_guest(playwright, net, Path(directory))
        try:
            reference = measure_reference(display.name, app, count)
            guest = join(browser, host.link, "Bench", init_script=DISPATCH_HOOK)
            guest.wait_for_control("pointer keyboard")
            app.quiet(0.5)
            clicks = measure_clicks(guest, app, count)
            keys = measure_keys(guest, app, count)
        finally:
            browser.close()
    return {"reference": reference, "clicks": clicks, "keys": keys}


def report(results: dict[str, list[float]], count: int) -> str:
    reference_median, reference_p95 = summary(results["reference"])
    rows = [
        ("local XTEST click (reference)", results["reference"]),
        ("guest click, browser to app", results["clicks"]),
        ("guest key press, browser to app", results["keys"]),
    ]
    lines = [
        "## Remote input latency",
        "",
        f"Measured by `bench/input_latency.py` on a machine with {os.cpu_count()} cores "
        f"({platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}), {count} events each, "
        f"on {time.strftime('%Y-%m-%d')}. A Chromium guest in one network namespace "
        "clicks and types on the video of `pairview share` in another, over a veth "
        "link; a Tk application on Xvfb records when each event reaches it. The "
        "reference is the same application receiving clicks injected locally with "
        "XTEST in the same run.",
        "",
        "| input | median (ms) | p95 (ms) | median / reference |",
        "|---|---|---|---|",
    ]
    for label, values in rows:
        median, p95 = summary(values)
        ratio = median / reference_median if reference_median > 0 else float("nan")
        lines.append(f"| {label} | {median:.2f} | {p95:.2f} | {ratio:.1f}× |")
    lines += [
        "",
        f"Reference: median {reference_median:.2f} ms, p95 {reference_p95:.2f} ms.",
    ]
    return "\n".join(lines)


def write_section(text: str) -> None:
    block = f"{START}\n{text}\n{END}\n"
    if DOCUMENT.exists():
        current = DOCUMENT.read_text(encoding="utf-8")
        if START in current and END in current:
            before, _, rest = current.partition(START)
            _, _, after = rest.partition(END)
            updated = before + block.rstrip("\n") + after
        else:
            updated = current.rstrip("\n") + "\n\n" + block
    else:
        DOCUMENT.parent.mkdir(parents=True, exist_ok=True)
        updated = "# Benchmarks\n\n" + block
    DOCUMENT.write_text(updated, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=60, help="events of each kind (default 60)")
    parser.add_argument(
        "--no-write", action="store_true", help="print the figures without updating the docs"
    )
    args = parser.parse_args()
    if args.count < 5:
        parser.error(f"--count must be at least 5, got {args.count}")
    results = run(args.count)
    text = report(results, args.count)
    print(text)
    if not args.no_write:
        write_section(text)
        print(f"\nWritten to {DOCUMENT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
