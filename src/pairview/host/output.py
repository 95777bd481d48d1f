"""What the host app prints in its terminal: the link, who comes and goes, states.

Text that comes from guests (names, chat, file names) passes through
`printable` as well as rich's markup escaping, so that no control character
reaches the terminal.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Off a terminal, where a bar cannot be redrawn, a transfer's progress is a
# line at each quarter of it. The transfer's own message reports the end.
PROGRESS_LINES = 4


def printable(text: str) -> str:
    """Replace control characters, other than tab and line feed, with U+FFFD."""
    return _CONTROL.sub("\ufffd", text)


def sentence(text: str) -> str:
    """Return `text` made printable, ending in one full stop unless it ends in . ! or ?."""
    text = printable(text).rstrip()
    return text if text.endswith((".", "!", "?")) else f"{text}."


def with_reason(text: str, reason: str) -> str:
    """Return `text` as a sentence, followed by `reason` after a colon unless it is empty."""
    return f"{text}: {sentence(reason)}" if reason else f"{text}."


def size_text(size: float) -> str:
    """Format a byte count as "20.0 MB" (decimal units, as file managers show)."""
    for unit in ("bytes", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def size_texts(size: int, limit: int) -> tuple[str, str]:
    """Format a size and the limit it is compared with so that unequal values read differently.

    Where both round to the same text, such as "5.0 MB", both are given in
    bytes with thousands separators: "5,000,001 bytes" and "5,000,000 bytes".
    """
    rounded = size_text(size), size_text(limit)
    if rounded[0] != rounded[1] or size == limit:
        return rounded
    return f"{size:,} bytes", f"{limit:,} bytes"


@dataclass
class _ProgressLines:
    """A transfer's progress off a terminal: its description, size and the quarters printed."""

    description: str
    total: int
    quarters_printed: int = 0


class ShareOutput:
    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False, soft_wrap=True)
        self._progress: Progress | None = None
        self._tasks: dict[str, TaskID] = {}
        self._lines: dict[str, _ProgressLines] = {}

    def _line(self, text: str, style: str = "") -> None:
        stamp = datetime.now().strftime("%H:%M:%S")
        self.console.print(f"[dim]{stamp}[/dim] {text}", style=style or None)
        sys.stdout.flush()

    def link(self, url: str) -> None:
        """Print the guest link alone on its line, never wrapped, so it can be copied whole."""
        self.console.print()
        self.console.print(url, markup=False, soft_wrap=True, style="bold")
        self.console.print()
        sys.stdout.flush()

    def info(self, text: str) -> None:
        self._line(escape(text))

    def warning(self, text: str) -> None:
        self._line(f"[yellow]{escape(text)}[/yellow]")

    def error(self, text: str) -> None:
        self._line(f"[red]{escape(text)}[/red]")

    def joined(self, name: str, peer_id: str) -> None:
        self._line(f"[green]{escape(printable(name))}[/green] joined (peer {peer_id})")

    def left(self, name: str, peer_id: str) -> None:
        self._line(f"{escape(printable(name))} left (peer {peer_id})")

    def connection_state(self, name: str, peer_id: str, old: str, new: str) -> None:
        self._line(f"{escape(printable(name))} (peer {peer_id}): connection {old} -> {new}")

    def question(self, text: str) -> None:
        self._line(f"[bold cyan]{escape(text)}[/bold cyan]")

    def notice(self, text: str) -> None:
        """A change the host should not miss, such as a guest taking control."""
        self._line(f"[bold]{escape(text)}[/bold]")

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
        table = Table(*headers, box=box.SIMPLE, show_edge=False, pad_edge=False)
        for row in rows:
            table.add_row(*(escape(cell) for cell in row))
        self.console.print(table)
        sys.stdout.flush()

    def connection_type(self, name: str, peer_id: str, description: str) -> None:
        self._line(f"{escape(printable(name))} (peer {peer_id}): connected {escape(description)}")

    def security_code(self, name: str, peer_id: str, code: str) -> None:
        """Print the code that the guest's page shows for the same connection."""
        self._line(
            f"{escape(printable(name))} (peer {peer_id}): security code [bold]{code}[/bold] "
            "(the guest's page shows the same code unless someone is in the middle)"
        )

    def connection_lost(self, name: str, peer_id: str, reason: str) -> None:
        self._line(
            f"[yellow]{escape(name)} (peer {peer_id}): connection lost ({escape(reason)}); "
            "reconnecting[/yellow]"
        )

    def chat(self, name: str, role: str, text: str, stamp: datetime) -> None:
        """Print a chat message with its sender and time; a multi-line text is indented."""
        who = f"{escape(printable(name))}{' (host)' if role == 'host' else ''}"
        body = escape(printable(text)).replace("\n", "\n         ")
        self.console.print(
            f"[dim]{stamp.strftime('%H:%M:%S')}[/dim] [bold magenta]{who}:[/] {body}"
        )
        sys.stdout.flush()

    def progress_start(self, key: str, description: str, total: int) -> None:
        """Show a progress bar for a transfer until `progress_stop`, or lines off a terminal."""
        if not self.console.is_terminal:
            self._lines[key] = _ProgressLines(printable(description), total)
            return
        if self._progress is None:
            self._progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
            self._progress.start()
        self._tasks[key] = self._progress.add_task(escape(printable(description)), total=total)

    def progress_update(self, key: str, completed: int) -> None:
        lines = self._lines.get(key)
        if lines is not None:
            self._progress_line(lines, completed)
            return
        task = self._tasks.get(key)
        if task is not None and self._progress is not None:
            self._progress.update(task, completed=completed)

    def _progress_line(self, lines: _ProgressLines, completed: int) -> None:
        if lines.total <= 0:
            return
        quarter = min(completed * PROGRESS_LINES // lines.total, PROGRESS_LINES - 1)
        if quarter <= lines.quarters_printed:
            return
        lines.quarters_printed = quarter
        self.info(
            f"{lines.description}: {size_text(completed)} of {size_text(lines.total)} "
            f"({completed * 100 // lines.total}%)"
        )

    def progress_stop(self, key: str) -> None:
        if self._lines.pop(key, None) is not None:
            return
        task = self._tasks.pop(key, None)
        if task is None or self._progress is None:
            return
        self._progress.remove_task(task)
        if not self._tasks:
            self._progress.stop()
            self._progress = None
