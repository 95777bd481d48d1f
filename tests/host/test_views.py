"""The `/hide` and `/show` commands, typed into the host's real console."""

from __future__ import annotations

import io

import pytest
from rich.console import Console as RichConsole

from pairview.host.console import Console
from pairview.host.output import ShareOutput
from pairview.host.views import ScreenViews


class Room:
    """The guests present, and the visibility changes applied to their connections."""

    def __init__(self) -> None:
        self.guests = {"p-ana": "Ana", "p-bo": "Bo Li", "p-ana2": "ana"}
        self.applied: list[tuple[str, bool]] = []

    def apply(self, peer_id: str, visible: bool) -> None:
        self.applied.append((peer_id, visible))


@pytest.fixture
def text() -> io.StringIO:
    return io.StringIO()


@pytest.fixture
def room() -> Room:
    return Room()


@pytest.fixture
def views(room: Room) -> ScreenViews:
    return ScreenViews(
        ShareOutput(RichConsole(file=io.StringIO())), lambda: room.guests, room.apply
    )


@pytest.fixture
def console(text: io.StringIO, room: Room) -> tuple[Console, ScreenViews]:
    output = ShareOutput(RichConsole(file=text, width=200, highlight=False))
    views = ScreenViews(output, lambda: room.guests, room.apply)
    console = Console(output)
    views.register(console)
    return console, views


async def test_hide_and_show_by_peer_id(console: tuple[Console, ScreenViews], room: Room) -> None:
    typed, views = console
    await typed.handle_line("/hide p-ana")
    assert room.applied == [("p-ana", False)]
    assert not views.visible("p-ana")
    assert views.visible("p-bo")

    await typed.handle_line("/show p-ana")
    assert room.applied[-1] == ("p-ana", True)
    assert views.visible("p-ana")


async def test_name_with_spaces_needs_no_quotes(
    console: tuple[Console, ScreenViews], room: Room, text: io.StringIO
) -> None:
    typed, _ = console
    await typed.handle_line("/hide Bo Li")
    assert room.applied == [("p-bo", False)]
    assert "Bo Li (peer p-bo) no longer sees your screen." in text.getvalue()


async def test_ambiguous_name_lists_peer_ids(
    console: tuple[Console, ScreenViews], room: Room, text: io.StringIO
) -> None:
    typed, _ = console
    await typed.handle_line("/hide ANA")
    assert room.applied == []
    assert "2 guests are named 'ANA'; use a peer id instead: p-ana, p-ana2." in text.getvalue()


async def test_unknown_name_and_missing_argument(
    console: tuple[Console, ScreenViews], room: Room, text: io.StringIO
) -> None:
    typed, _ = console
    await typed.handle_line("/hide nobody")
    await typed.handle_line("/show")
    assert room.applied == []
    output = text.getvalue()
    assert "No guest named 'nobody'. Guests: Ana (peer p-ana), Bo Li (peer p-bo)" in output
    assert "Usage: /show NAME|all (a guest's name or peer id)" in output


async def test_hide_all_then_repeat(
    console: tuple[Console, ScreenViews], room: Room, text: io.StringIO
) -> None:
    typed, views = console
    await typed.handle_line("/hide all")
    await typed.handle_line("/hide Bo Li")
    assert sorted(room.applied) == [("p-ana", False), ("p-ana2", False), ("p-bo", False)]
    assert "Bo Li (peer p-bo) already cannot see your screen." in text.getvalue()
    assert not any(views.visible(peer_id) for peer_id in room.guests)


def test_choice_kept_until_guest_leaves(views: ScreenViews, room: Room) -> None:
    views.set_visible("p-bo", False)
    # A replaced connection reads the choice again and still gets no frames.
    assert not views.visible("p-bo")

    views.forget("p-bo")
    assert views.visible("p-bo")
    assert room.applied == [("p-bo", False)]
