"""Join time and recovery time across NATs, next to a plain aiortc pair.

Run as root from the repository root: `.venv/bin/python -m bench.network`.
It builds the same namespaces as the network tests (a public segment with
coturn and `pairview server`, sites behind NAT routers), shares the
pattern app with `pairview share` and measures in headless Chromium:

- join time: from opening the guest link to the first frame playing, with
  host and guest on one LAN (direct) and behind symmetric NATs (relayed);
- recovery time: from moving the guest to another network to the picture
  playing on the new connection, without anyone clicking.

The reference, measured in the same run and topology, is a plain aiortc
pair with no Pairview around it: seconds from the offer arriving to the
first decoded frame. The results go to their own section of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from tests.support.internet import (
    CHROMIUM_ARGS,
    PATTERN_COLOURS,
    READ_TOP_LEFT,
    TURN_SECRET,
    Internet,
    chromium_wrapper,
    close_to,
    internet,
    pattern_app,
    rotate,
    share,
)
from tests.support.topology import Nat, Node

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Network: join and recovery"


def wait(check: Callable[[], object], timeout: float, interval: float = 0.02) -> float:
    """Poll `check` until true; return the monotonic time it first was."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return time.monotonic()
        time.sleep(interval)
    raise TimeoutError(f"condition not met within {timeout} s")


def data(page: Page, key: str) -> str | None:
    value: str | None = page.evaluate(f"() => document.body.dataset.{key} ?? null")
    return value


def has_data(page: Page, key: str, value: str | None) -> bool:
    """Whether the page's body has `key` set, to `value` when one is given."""
    found = data(page, key)
    return found is not None and (value is None or found == value)


def changed(page: Page, key: str, before: str | None) -> bool:
    return data(page, key) not in (None, before)


def shows(page: Page, colour: tuple[int, int, int]) -> bool:
    return close_to(page.evaluate(READ_TOP_LEFT), colour)


def join_times(world: Internet, host: Node, guest: Node, runs: int) -> tuple[list[float], str]:
    """Seconds from opening the link to the first frame, for `runs` fresh page loads."""
    times: list[float] = []
    kinds: set[str] = set()
    wrapper = chromium_wrapper(world.workdir, guest)
    with share(world, host) as room, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(wrapper), args=CHROMIUM_ARGS)
        try:
            for _ in range(runs):
                context = browser.new_context(ignore_https_errors=True)
                context.add_init_script("localStorage.setItem('pairview.name', 'Bench')")
                page = context.new_page()
                started = time.monotonic()
                page.goto(room.link)
                page.click("button[type=submit]")
                playing = wait(functools.partial(has_data, page, "state", "playing"), 60)
                times.append(playing - started)
                wait(functools.partial(has_data, page, "connectionType", None), 30)
                kinds.add(str(data(page, "connectionType")))
                context.close()
                time.sleep(1.0)
        finally:
            browser.close()
    return times, ",".join(sorted(kinds))


def recovery_times(
    world: Internet, pattern: subprocess.Popen[str], runs: int
) -> tuple[list[float], str]:
    """Seconds from moving the guest to another network to the picture on the new connection."""
    office = world.net.add_site("rec-office", Nat.CONE)
    sites = [world.net.add_site("rec-a", Nat.CONE), world.net.add_site("rec-b", Nat.CONE)]
    host = world.net.add_host("rec-host", office)
    guest = world.net.add_host("rec-guest", sites[0])
    times: list[float] = []
    kinds: set[str] = set()
    wrapper = chromium_wrapper(world.workdir, guest)
    with share(world, host) as room, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(wrapper), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(ignore_https_errors=True).new_page()
            page.goto(room.link)
            page.fill("#name-input", "Bench")
            page.click("button[type=submit]")
            wait(lambda: data(page, "connectionType"), 60)
            for run in range(runs):
                before = data(page, "connectionId")
                rotations = rotate(pattern)
                colour = PATTERN_COLOURS[rotations % 4]
                wait(functools.partial(shows, page, colour), 30)
                moved = time.monotonic()
                world.net.move(guest, sites[(run + 1) % 2])
                wait(functools.partial(changed, page, "connectionId", before), 60)
                rotations = rotate(pattern)
                colour = PATTERN_COLOURS[rotations % 4]
                back = wait(functools.partial(shows, page, colour), 30)
                times.append(back - moved)
                kinds.add(str(data(page, "connectionType")))
                time.sleep(2.0)
        finally:
            browser.close()
    return times, ",".join(sorted(kinds))


def plain_pair(world: Internet, offerer: Node, answerer: Node) -> float:
    """Seconds from offer to first frame for a plain aiortc pair between two namespaces."""
    script = [sys.executable, "-m", "bench.plain_pair"]
    relay = world.net.public.address
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    offer = subprocess.Popen(
        offerer.command([*script, "offer", relay, TURN_SECRET]),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    answer = subprocess.Popen(
        answerer.command([*script, "answer", relay, TURN_SECRET]),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert offer.stdin is not None
    assert offer.stdout is not None
    assert answer.stdin is not None
    assert answer.stdout is not None
    answer.stdin.write(offer.stdout.readline())
    answer.stdin.flush()
    offer.stdin.write(answer.stdout.readline())
    offer.stdin.flush()
    result = answer.stdout.readline()
    offer.stdin.write("done\n")
    offer.stdin.close()
    answer.stdin.close()
    answer.wait(timeout=30)
    offer.wait(timeout=30)
    offer.stdout.close()
    answer.stdout.close()
    seconds: float = json.loads(result)["first_frame"]
    return seconds


def summary(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} s (min {min(values):.2f}, max {max(values):.2f})"


def write_section(text: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    path.parent.mkdir(exist_ok=True)
    existing = path.read_text() if path.exists() else "# Benchmarks\n"
    start = existing.find(SECTION)
    if start == -1:
        updated = existing.rstrip("\n") + "\n\n" + text
    else:
        end = existing.find("\n## ", start + len(SECTION))
        updated = existing[:start] + text + (existing[end + 1 :] if end != -1 else "")
    path.write_text(updated)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=3, help="measurements per case (default: 3)")
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory() as workdir,
        internet(Path(workdir)) as world,
        pattern_app(world.display) as pattern,
    ):
        lan = world.net.add_site("lan", Nat.CONE)
        lan_host = world.net.add_host("lan-host", lan)
        lan_guest = world.net.add_host("lan-guest", lan)
        strict_a = world.net.add_site("sym-a", Nat.SYMMETRIC)
        strict_b = world.net.add_site("sym-b", Nat.SYMMETRIC)
        sym_host = world.net.add_host("sym-host", strict_a)
        sym_guest = world.net.add_host("sym-guest", strict_b)

        direct, direct_kind = join_times(world, lan_host, lan_guest, args.runs)
        relayed, relayed_kind = join_times(world, sym_host, sym_guest, args.runs)
        recovery, recovery_kind = recovery_times(world, pattern, args.runs)
        plain_direct = [plain_pair(world, lan_host, lan_guest) for _ in range(args.runs)]
        plain_relayed = [plain_pair(world, sym_host, sym_guest) for _ in range(args.runs)]

    rows = [
        ("join, one LAN", direct_kind, summary(direct), summary(plain_direct)),
        ("join, symmetric NATs", relayed_kind, summary(relayed), summary(plain_relayed)),
        ("recovery after address change", recovery_kind, summary(recovery), "n/a"),
    ]
    lines = [
        SECTION,
        "",
        f"`python -m bench.network --runs {args.runs}` as root on {platform.machine()}, "
        f"{os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}. Headless Chromium guest, "
        "`pairview share` at 1280x720 and 15 fps, coturn and the server on a namespace "
        "segment with no delay added. Join: link opened to first frame playing. "
        "Recovery: guest moved to another router (new address) to the picture playing on "
        "the new connection. Reference: a plain aiortc pair (no Pairview), offer to first "
        "decoded frame, same namespaces. Median of the runs.",
        "",
        "| case | connection | Pairview | plain aiortc pair |",
        "|---|---|---|---|",
        *[f"| {case} | {kind} | {ours} | {plain} |" for case, kind, ours, plain in rows],
        "",
    ]
    text = "\n".join(lines)
    print(text)
    write_section(text)


if __name__ == "__main__":
    main()
