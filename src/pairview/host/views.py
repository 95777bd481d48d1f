"""Which guests see the host's screen: the `/hide` and `/show` commands.

Every guest sees the screen from the moment it joins. Hiding is enforced
by the host app, which stops sending that guest video frames; the choice
is kept per peer id, so it holds when the guest's connection is replaced,
and is forgotten when the guest leaves the room.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from pairview.host.console import Command, Console
from pairview.host.grants import match_guests
from pairview.host.output import ShareOutput, printable

# Returns the guests present now, peer id to display name.
GuestNames = Callable[[], Mapping[str, str]]
# Starts or stops sending frames to one guest's current connection.
ApplyVisible = Callable[[str, bool], None]


class ScreenViews:
    def __init__(self, output: ShareOutput, guests: GuestNames, apply: ApplyVisible) -> None:
        self._output = output
        self._guests = guests
        self._apply = apply
        self._hidden: set[str] = set()

    def register(self, console: Console) -> None:
        console.add_command(
            Command(
                "hide",
                "/hide NAME|all",
                "stop showing your screen to a guest, or to every guest here now",
                self._cmd_hide,
            )
        )
        console.add_command(
            Command(
                "show",
                "/show NAME|all",
                "show your screen again to a guest, or to every guest here",
                self._cmd_show,
            )
        )

    def visible(self, peer_id: str) -> bool:
        """Return whether the guest may see the screen, which a new connection starts from."""
        return peer_id not in self._hidden

    def set_visible(self, peer_id: str, visible: bool) -> None:
        """Show the screen to a guest or hide it, on this and every later connection."""
        if visible:
            self._hidden.discard(peer_id)
        else:
            self._hidden.add(peer_id)
        self._apply(peer_id, visible)

    def forget(self, peer_id: str) -> None:
        """Drop the choice for a guest who left the room."""
        self._hidden.discard(peer_id)

    def _cmd_hide(self, arguments: list[str]) -> None:
        guests = self._guests()
        for peer_id in self._targets(arguments, "/hide", guests):
            name = printable(guests[peer_id])
            if not self.visible(peer_id):
                self._output.info(f"{name} (peer {peer_id}) already cannot see your screen.")
                continue
            self.set_visible(peer_id, False)
            self._output.notice(f"{name} (peer {peer_id}) no longer sees your screen.")

    def _cmd_show(self, arguments: list[str]) -> None:
        guests = self._guests()
        for peer_id in self._targets(arguments, "/show", guests):
            name = printable(guests[peer_id])
            if self.visible(peer_id):
                self._output.info(f"{name} (peer {peer_id}) already sees your screen.")
                continue
            self.set_visible(peer_id, True)
            self._output.notice(f"{name} (peer {peer_id}) sees your screen again.")

    def _targets(self, arguments: list[str], usage: str, guests: Mapping[str, str]) -> list[str]:
        """Return the peer ids that the command's arguments name; print why if none."""
        if not arguments:
            self._output.warning(f"Usage: {usage} NAME|all (a guest's name or peer id)")
            return []
        # The rest of the line is the name, so names with spaces need no quotes.
        query = " ".join(arguments)
        if query == "all":
            if not guests:
                self._output.info("No guest is here.")
            return list(guests)
        found = match_guests(query, guests)
        if len(found) == 1:
            return found
        if not found:
            everyone = ", ".join(
                f"{printable(name)} (peer {peer_id})" for peer_id, name in guests.items()
            )
            self._output.warning(f"No guest named {query!r}. Guests: {everyone or 'none'}.")
        else:
            self._output.warning(
                f"{len(found)} guests are named {query!r}; "
                f"use a peer id instead: {', '.join(found)}."
            )
        return []
