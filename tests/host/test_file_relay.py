"""The host passing a file between two guests: the messages each guest gets, and the terminal.

Stand-in channels take the place of the guests' data channels. They are
open from the start, keep every text message the host sends and let the
test deliver what a guest's page would send.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from aiortc import RTCDataChannel
from rich.console import Console

from pairview.host.files import FileTransfers
from pairview.host.output import ShareOutput
from pairview.protocol.transfer import TRANSFER_VERSION, FileOffer


class StandInChannel:
    """An open data channel that keeps what the host sends and delivers what the test sends."""

    label = "file"
    bufferedAmount = 0
    bufferedAmountLowThreshold = 0

    def __init__(self) -> None:
        self.readyState = "open"
        self.sent: list[dict[str, Any]] = []
        self.handlers: dict[str, Callable[..., None]] = {}

    def on(self, event: str, handler: Callable[..., None]) -> None:
        self.handlers[event] = handler

    def send(self, data: str | bytes) -> None:
        if isinstance(data, str):
            self.sent.append(json.loads(data))

    def close(self) -> None:
        self.readyState = "closed"

    def deliver(self, message: dict[str, Any]) -> None:
        self.handlers["message"](json.dumps(message))

    def types(self) -> list[str]:
        return [message["type"] for message in self.sent]


class Room:
    """Ana and Bo in a room; Ana offers a file to Bo through the host."""

    def __init__(self, downloads: Path, max_size: int = 10**9) -> None:
        self.terminal = io.StringIO()
        output = ShareOutput(Console(file=self.terminal, width=300))
        self.files = FileTransfers(output, downloads, max_size, "Host")
        self.ana = StandInChannel()
        self.bo = StandInChannel()
        self.files.add_guest("ana", "Ana", lambda: cast(RTCDataChannel, StandInChannel()))
        self.files.add_guest("bo", "Bo", lambda: cast(RTCDataChannel, self.bo))

    async def offer(self, size: int = 3000) -> None:
        """Send Ana's offer and wait until the host has passed it to Bo."""
        self.files.incoming_channel("ana", cast(RTCDataChannel, self.ana))
        offer = FileOffer(
            version=TRANSFER_VERSION, id="transfer-1", name="c.bin", size=size, to="bo"
        )
        self.ana.deliver(offer.model_dump(exclude_none=True))
        for _ in range(20):
            if self.bo.sent or self.ana.sent:
                return
            await asyncio.sleep(0)
        raise AssertionError("the host neither passed the offer on nor answered it")

    async def start(self) -> None:
        """Offer the file and let Bo accept it."""
        await self.offer()
        assert self.bo.types() == ["file-offer"]
        self.bo.deliver({"type": "file-accept"})
        assert self.ana.sent == [{"type": "file-accept"}]

    def lines(self) -> list[str]:
        return self.terminal.getvalue().splitlines()

    async def close(self) -> None:
        await self.files.close()


async def test_host_cancel_names_host(tmp_path: Path) -> None:
    room = Room(tmp_path)
    await room.start()

    room.files._cmd_cancel(["all"])

    cancel = {"type": "file-cancel", "reason": "", "by": "host"}
    assert room.ana.sent[-1] == cancel
    assert room.bo.sent[-1] == cancel
    assert room.lines()[-1].endswith("Stopped passing 'c.bin' from Ana (peer ana) to Bo (peer bo).")
    await room.close()


async def test_receiver_cancel_names_receiver(tmp_path: Path) -> None:
    room = Room(tmp_path)
    await room.start()

    room.bo.deliver({"type": "file-cancel", "reason": ""})

    assert room.ana.sent[-1] == {"type": "file-cancel", "reason": "", "by": "receiver"}
    assert room.bo.types() == ["file-offer"]
    assert room.lines()[-1].endswith(
        "Bo (peer bo) cancelled receiving 'c.bin' from Ana (peer ana)."
    )
    await room.close()


async def test_sender_cancel_keeps_reason(tmp_path: Path) -> None:
    room = Room(tmp_path)
    await room.start()
    reason = "the file changed while it was being sent"

    room.ana.deliver({"type": "file-cancel", "reason": reason})

    assert room.bo.sent[-1] == {"type": "file-cancel", "reason": reason, "by": "sender"}
    assert room.ana.types() == ["file-accept"]
    assert room.lines()[-1].endswith(
        f"Ana (peer ana) cancelled sending 'c.bin' to Bo (peer bo): {reason}."
    )
    await room.close()


async def test_receiver_leaving_names_receiver(tmp_path: Path) -> None:
    room = Room(tmp_path)
    await room.start()

    room.files.remove_guest("bo")

    reason = "the receiver left the room"
    assert room.ana.sent[-1] == {"type": "file-cancel", "reason": reason, "by": "host"}
    assert room.lines()[-1].endswith(
        f"Stopped passing 'c.bin' from Ana (peer ana) to Bo (peer bo): {reason}."
    )
    await room.close()


async def test_plain_decline_passes_empty_reason(tmp_path: Path) -> None:
    room = Room(tmp_path)
    await room.offer()

    room.bo.deliver({"type": "file-decline", "reason": ""})

    # Ana's page then shows "Bo declined the file."
    assert room.ana.sent == [{"type": "file-decline", "reason": ""}]
    assert room.lines()[-1].endswith("Bo (peer bo) declined 'c.bin' from Ana (peer ana).")
    await room.close()


async def test_oversized_offer_sizes_differ(tmp_path: Path) -> None:
    room = Room(tmp_path, max_size=5_000_000)

    await room.offer(size=5_000_001)

    reason = "the file is 5,000,001 bytes; this room takes files up to 5,000,000 bytes"
    assert room.ana.sent == [{"type": "file-decline", "reason": reason}]
    assert room.bo.sent == []
    assert room.lines()[-1].endswith(f"Declined 'c.bin' from Ana (peer ana): {reason}.")
    await room.close()
