"""What the host app prints in its terminal: the link, who comes and goes, states."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table


class ShareOutput:
    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False, soft_wrap=True)

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
        self._line(f"[green]{escape(name)}[/green] joined (peer {peer_id})")

    def left(self, name: str, peer_id: str) -> None:
        self._line(f"{escape(name)} left (peer {peer_id})")

    def connection_state(self, name: str, peer_id: str, old: str, new: str) -> None:
        self._line(f"{escape(name)} (peer {peer_id}): connection {old} -> {new}")

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
        self._line(f"{escape(name)} (peer {peer_id}): connected {escape(description)}")

    def connection_lost(self, name: str, peer_id: str, reason: str) -> None:
        self._line(
            f"[yellow]{escape(name)} (peer {peer_id}): connection lost ({escape(reason)}); "
            "reconnecting[/yellow]"
        )
