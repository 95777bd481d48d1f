"""Figures of the glass-to-glass benchmark: computed from what the probe recorded, and shown.

Everything here is free of I/O except `update_document`, which rewrites
the benchmark's block in docs/benchmarks.md.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

from bench.stamp import decode, unwrap

# A decoded stamp further than this from the display time is a false
# decode or a clock problem, not a latency.
MAX_PLAUSIBLE_LATENCY_MS = 5000.0


@dataclass
class GuestFigures:
    """Figures of one guest page over the measuring window."""

    latencies_ms: list[float] = field(default_factory=list)
    browser_ms: list[float] = field(default_factory=list)
    frames_read: int = 0
    unreadable: int = 0
    implausible: int = 0
    shown_fps: float | None = None
    received_fps: float | None = None
    decoded_fps: float | None = None
    received_mbits: float | None = None
    decode_ms: float | None = None
    jitter_buffer_ms: float | None = None
    # How far the system clock was ahead of Chromium's performance clock mapped
    # to wall-clock time; added to every display time.
    clock_skew_ms: float | None = None


@dataclass(frozen=True)
class CpuShares:
    """CPU use over a measuring window, each in percent of one core."""

    sender: float
    browser: float
    machine: float
    # The machine's CPU use outside this benchmark's own processes.
    other: float


@dataclass
class SenderResult:
    """One sender with some guests at one screen size."""

    size: str
    scene: str
    sender: str
    guests: int
    guest_figures: list[GuestFigures]
    cpu: CpuShares | None
    error: str | None = None

    @property
    def latencies_ms(self) -> list[float]:
        return [value for guest in self.guest_figures for value in guest.latencies_ms]

    def latency(self, quantile: float) -> float | None:
        return percentile(self.latencies_ms, quantile)

    def browser_latency(self) -> float | None:
        return percentile([v for g in self.guest_figures for v in g.browser_ms], 0.5)

    def mean(self, name: str) -> float | None:
        values = [getattr(guest, name) for guest in self.guest_figures]
        known = [value for value in values if value is not None]
        return statistics.fmean(known) if known else None

    @property
    def frames_read(self) -> int:
        return sum(guest.frames_read for guest in self.guest_figures)

    @property
    def unreadable(self) -> int:
        return sum(guest.unreadable + guest.implausible for guest in self.guest_figures)


@dataclass
class EncoderResult:
    """FFmpeg capturing and encoding the same screen, with no network and no browser."""

    size: str
    scene: str
    fps: float | None
    cpu: CpuShares | None
    error: str | None = None


def percentile(values: Sequence[float], quantile: float) -> float | None:
    """Return the `quantile` (0 to 1) of `values` by linear interpolation, or None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    position = quantile * (len(ordered) - 1)
    below = int(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def _rate(start: dict[str, Any], end: dict[str, Any], key: str) -> float | None:
    if key not in start or key not in end:
        return None
    seconds = (end["timestamp"] - start["timestamp"]) / 1000
    return (end[key] - start[key]) / seconds if seconds > 0 else None


def _per_item(start: dict[str, Any], end: dict[str, Any], total: str, count: str) -> float | None:
    if total not in start or total not in end:
        return None
    items = end[count] - start[count]
    return (end[total] - start[total]) / items * 1000 if items > 0 else None


def _matching_stats(
    started: list[dict[str, Any]], finished: list[dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Pick the inbound video stream present at both ends of the window."""
    by_id = {report["id"]: report for report in started}
    pairs = [(by_id[report["id"]], report) for report in finished if report["id"] in by_id]
    if not pairs:
        return None
    return max(pairs, key=lambda pair: pair[1].get("framesReceived", 0))


def guest_figures(started: dict[str, Any], finished: dict[str, Any]) -> GuestFigures:
    """Compute one guest's figures from the probe's start and finish records."""
    figures = GuestFigures()
    frames: list[dict[str, Any]] = finished["frames"]
    figures.frames_read = len(frames)
    # Chromium maps performance.now() to wall-clock time with an offset
    # taken once; Date.now() reads the system clock, as the scene does.
    # Their mean difference corrects the display times. Date.now() counts
    # whole milliseconds, truncated, so it reads half a millisecond low on average.
    skews = [frame["dateNow"] - frame["callback"] for frame in frames]
    skew = statistics.fmean(skews) + 0.5 if skews else 0.0
    figures.clock_skew_ms = skew if skews else None
    for frame in frames:
        ticks = decode(frame["levels"])
        if ticks is None:
            figures.unreadable += 1
            continue
        display_ms = frame["display"] + skew
        latency = display_ms - unwrap(ticks, display_ms / 1000) * 1000
        if not 0 <= latency <= MAX_PLAUSIBLE_LATENCY_MS:
            figures.implausible += 1
            continue
        figures.latencies_ms.append(latency)
        if frame["received"] is not None:
            figures.browser_ms.append(frame["display"] - frame["received"])

    if len(frames) >= 2:
        seconds = (frames[-1]["callback"] - frames[0]["callback"]) / 1000
        if seconds > 0:
            figures.shown_fps = (frames[-1]["presented"] - frames[0]["presented"]) / seconds

    pair = _matching_stats(started["stats"], finished["stats"])
    if pair is not None:
        first, last = pair
        figures.received_fps = _rate(first, last, "framesReceived")
        figures.decoded_fps = _rate(first, last, "framesDecoded")
        bytes_per_second = _rate(first, last, "bytesReceived")
        if bytes_per_second is not None:
            figures.received_mbits = bytes_per_second * 8 / 1e6
        figures.decode_ms = _per_item(first, last, "totalDecodeTime", "framesDecoded")
        figures.jitter_buffer_ms = _per_item(
            first, last, "jitterBufferDelay", "jitterBufferEmittedCount"
        )
    return figures


def _number(value: float | None, digits: int = 0) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _share(cpu: CpuShares | None, name: str) -> str:
    return "–" if cpu is None else f"{getattr(cpu, name):.0f}"


def result_rows(
    senders: Sequence[SenderResult], encoders: Sequence[EncoderResult]
) -> list[list[str]]:
    """Return the main table's rows, grouped by size and scene: senders first, then FFmpeg."""
    rows: list[list[str]] = []
    screens = list(
        dict.fromkeys([(r.size, r.scene) for r in senders] + [(r.size, r.scene) for r in encoders])
    )
    for size, scene in screens:
        for result in (r for r in senders if (r.size, r.scene) == (size, scene)):
            rows.append(
                [
                    size,
                    scene,
                    str(result.guests),
                    result.sender,
                    _number(result.latency(0.5)),
                    _number(result.latency(0.95)),
                    _number(result.mean("received_fps"), 1),
                    _number(result.mean("shown_fps"), 1),
                    _number(result.mean("received_mbits"), 1),
                    _share(result.cpu, "sender"),
                    _share(result.cpu, "browser"),
                    _share(result.cpu, "other"),
                    f"{result.unreadable}/{result.frames_read}",
                ]
            )
        for encoder in (r for r in encoders if (r.size, r.scene) == (size, scene)):
            rows.append(
                [
                    size,
                    scene,
                    "–",
                    "FFmpeg libvpx",
                    "–",
                    "–",
                    _number(encoder.fps, 1),
                    "–",
                    "–",
                    _share(encoder.cpu, "sender"),
                    "–",
                    _share(encoder.cpu, "other"),
                    "–",
                ]
            )
    return rows


COLUMNS = [
    "size",
    "scene",
    "guests",
    "sender",
    "median ms",
    "p95 ms",
    "fps received",
    "fps shown",
    "Mbit/s",
    "sender CPU %",
    "browser CPU %",
    "other CPU %",
    "unreadable",
]


def detail_rows(senders: Sequence[SenderResult]) -> list[list[str]]:
    """Return where the time goes in each run: before the browser has the frame, and after."""
    rows = []
    for result in senders:
        median = result.latency(0.5)
        browser = result.browser_latency()
        before = None if median is None or browser is None else median - browser
        skews = [g.clock_skew_ms for g in result.guest_figures if g.clock_skew_ms is not None]
        rows.append(
            [
                result.size,
                result.scene,
                str(result.guests),
                result.sender,
                _number(before),
                _number(browser),
                _number(result.mean("jitter_buffer_ms"), 1),
                _number(result.mean("decode_ms"), 1),
                _number(result.mean("decoded_fps"), 1),
                _share(result.cpu, "machine"),
                _number(max(skews, key=abs) if skews else None, 1),
            ]
        )
    return rows


DETAIL_COLUMNS = [
    "size",
    "scene",
    "guests",
    "sender",
    "stamp to received ms",
    "received to shown ms",
    "jitter buffer ms",
    "decode ms",
    "fps decoded",
    "machine CPU %",
    "clock correction ms",
]


TEXT_COLUMNS = frozenset({"size", "scene", "sender", "setting"})


def rich_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="left" if column in TEXT_COLUMNS else "right")
    for row in rows:
        table.add_row(*row)
    return table


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _ratio(numerator: float | None, denominator: float | None) -> str:
    if numerator is None or denominator is None or denominator <= 0:
        return "–"
    return f"{numerator / denominator:.2f}×"


def comparisons(senders: Sequence[SenderResult], encoders: Sequence[EncoderResult]) -> list[str]:
    """Return one line per screen and guest count, with Pairview's figures as ratios."""
    lines = []
    for pairview in (r for r in senders if r.sender == "Pairview" and r.error is None):
        same = (pairview.size, pairview.scene)
        plain = next(
            (
                r
                for r in senders
                if r.sender != "Pairview"
                and (r.size, r.scene) == same
                and r.guests == pairview.guests
                and r.error is None
            ),
            None,
        )
        encoder = next((r for r in encoders if (r.size, r.scene) == same and r.error is None), None)
        cpu = pairview.cpu.sender if pairview.cpu is not None else None
        guests = f"{pairview.guests} guest{'s' if pairview.guests > 1 else ''}"
        parts = []
        if plain is not None:
            parts.append(
                f"median latency {_ratio(pairview.latency(0.5), plain.latency(0.5))}, "
                f"frames shown {_ratio(pairview.mean('shown_fps'), plain.mean('shown_fps'))} "
                f"and sender CPU {_ratio(cpu, plain.cpu.sender if plain.cpu else None)} "
                "those of plain aiortc"
            )
        if encoder is not None:
            parts.append(
                f"sender CPU {_ratio(cpu, encoder.cpu.sender if encoder.cpu else None)} "
                "that of FFmpeg capturing and encoding alone"
            )
        if parts:
            lines.append(
                f"{pairview.size} {pairview.scene}, {guests}: Pairview's " + "; ".join(parts) + "."
            )
    return lines


def update_document(path: Path, name: str, run_text: str, append: bool) -> None:
    """Put `run_text` between the marks of benchmark `name` in `path`.

    With `append`, the run goes after the runs already there instead of
    replacing them. A document without the marks gets them, with the run,
    at its end.
    """
    begin, end = f"<!-- {name} results: begin -->", f"<!-- {name} results: end -->"
    document = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(begin) + r"\n(.*?)" + re.escape(end), re.DOTALL)
    match = pattern.search(document)
    if match is None:
        block = f"{begin}\n{run_text.strip()}\n{end}"
        document = document.rstrip("\n") + "\n\n" + block + "\n"
    else:
        earlier = match.group(1).strip()
        body = f"{earlier}\n\n{run_text.strip()}" if append and earlier else run_text.strip()
        block = f"{begin}\n{body}\n{end}"
        document = document[: match.start()] + block + document[match.end() :]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document)
