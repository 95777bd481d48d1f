"""What the host's terminal prints about guests' connections while the room closes."""

from __future__ import annotations

import asyncio
import io
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from rich.console import Console

from pairview.host.capture import Region
from pairview.host.output import ShareOutput
from pairview.host.pipeline import PipelineConfig
from pairview.host.share import RoomTicket, Share
from pairview.settings import ShareSettings


class ClosingPeer:
    """A guest's connection that drops while the room closes it, as a slow guest's can."""

    def __init__(self, share: Share, peer_id: str, name: str) -> None:
        self.guest = SimpleNamespace(peer_id=peer_id, name=name)
        self._share = share
        self.goodbyes = 0

    def send_goodbye(self) -> None:
        self.goodbyes += 1

    async def close(self) -> None:
        # The supervisor finds the connection unhealthy in the middle of closing.
        self._share.connection_lost(self, "no pongs")  # type: ignore[arg-type]


def make_share(terminal: io.StringIO) -> Share:
    ticket = RoomTicket(
        server_url="http://127.0.0.1:1",
        room_id="room",
        host_token="token",
        guest_url="http://127.0.0.1:1/r/room",
        invite_expires_at=datetime.now(UTC),
    )
    config = PipelineConfig(Region(0, 0, 64, 48), "vp8", 15, 1_000_000)
    output = ShareOutput(Console(file=terminal, width=200))
    return Share(ShareSettings(), ticket, config, output)


async def test_loss_while_open_is_reported() -> None:
    terminal = io.StringIO()
    share = make_share(terminal)
    peer = ClosingPeer(share, "p1", "Ana")
    share.peers["p1"] = peer  # type: ignore[assignment]

    share.connection_lost(peer, "no pongs")  # type: ignore[arg-type]

    assert "Ana (peer p1): connection lost (no pongs); reconnecting" in terminal.getvalue()


async def test_loss_while_closing_not_reported() -> None:
    terminal = io.StringIO()
    share = make_share(terminal)
    peer = ClosingPeer(share, "p1", "Ana")
    share.peers["p1"] = peer  # type: ignore[assignment]
    finished: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    finished.set_result(None)

    await share._end(finished)  # type: ignore[arg-type]

    printed = terminal.getvalue()
    assert peer.goodbyes == 1
    assert "Room closed." in printed
    assert "reconnecting" not in printed
