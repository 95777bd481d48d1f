"""The host sending a file from disk over a real aiortc connection on loopback.

The guest's end is a Python receiver built on the protocol's state machine,
so these tests reach the host's reading, flow control and cancelling
without a browser.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import io
import json
import os
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiortc import RTCDataChannel
from rich.console import Console

from pairview.host import files as files_module
from pairview.host.files import READ_AHEAD, READ_BLOCK, FileTransfers
from pairview.host.output import ShareOutput
from pairview.protocol.transfer import (
    WINDOW,
    Cancelled,
    Ended,
    IncomingTransfer,
    parse_offer,
)
from tests.support.peers import negotiate, peers

TIMEOUT = 60.0
MIB = 1024 * 1024


pytestmark = pytest.mark.usefixtures("loopback_only")


@dataclass
class Receiver:
    """The guest's end of one transfer: accepts, keeps and acknowledges bytes as a page does."""

    channel: RTCDataChannel
    on_chunk: Callable[[Receiver], None] = lambda receiver: None
    data: bytearray = field(default_factory=bytearray)
    incoming: IncomingTransfer | None = None
    # The cancel the host sent, as JSON, to check its fields.
    cancel: dict[str, object] | None = None
    done: asyncio.Future[str] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def __post_init__(self) -> None:
        self.channel.on("message", self.message)

    def message(self, data: str | bytes) -> None:
        if self.incoming is None:
            assert isinstance(data, str)
            self.incoming = IncomingTransfer(parse_offer(data))
            self.channel.send(self.incoming.accept().model_dump_json())
            return
        if isinstance(data, bytes):
            assert self.incoming.receive_data(data) is None
            self.data += data
            self.on_chunk(self)
            ack = self.incoming.progress_due()
            if ack is not None:
                self.channel.send(ack.model_dump_json())
            return
        event = self.incoming.receive(data)
        if isinstance(event, Cancelled):
            self.cancel = json.loads(data)
        if isinstance(event, Ended):
            self.channel.send(self.incoming.complete().model_dump_json())
            self.settle("complete")
        elif isinstance(event, Cancelled):
            self.settle(f"cancelled: {event.reason}")

    def settle(self, outcome: str) -> None:
        if not self.done.done():
            self.done.set_result(outcome)


@dataclass
class Room:
    files: FileTransfers
    terminal: io.StringIO
    receivers: asyncio.Queue[Receiver]


@pytest.fixture
async def room(tmp_path: Path) -> AsyncIterator[Room]:
    terminal = io.StringIO()
    files = FileTransfers(
        ShareOutput(Console(file=terminal, width=200)), tmp_path / "downloads", 10**9, "Host"
    )
    receivers: asyncio.Queue[Receiver] = asyncio.Queue()
    async with peers(2) as (host, guest):
        guest.on("datachannel", lambda channel: receivers.put_nowait(Receiver(channel)))

        # The control channel puts SCTP into the offer, as the host's first channel does.
        control = host.createDataChannel("control")
        opened = asyncio.Event()
        control.on("open", opened.set)
        await negotiate(host, guest)
        async with asyncio.timeout(TIMEOUT):
            await opened.wait()
            # The guest's own end of the control channel.
            (await receivers.get()).settle("control")

        files.add_guest("g1", "Guest", lambda: host.createDataChannel("file"))
        try:
            yield Room(files, terminal, receivers)
        finally:
            await files.close()


def random_file(path: Path, size: int) -> str:
    data = os.urandom(size)
    path.write_bytes(data)
    return hashlib.sha256(data).hexdigest()


async def send(
    room: Room, path: Path, on_chunk: Callable[[Receiver], None] | None = None
) -> tuple[str, str]:
    """Send `path` to the guest; return how the guest's end settled, and its bytes' SHA-256."""
    guest = room.files.guest("g1")
    assert guest is not None
    room.files.send_file(path, guest)
    async with asyncio.timeout(TIMEOUT):
        receiver = await room.receivers.get()
        if on_chunk is not None:
            receiver.on_chunk = on_chunk
        outcome = await receiver.done
    return outcome, hashlib.sha256(receiver.data).hexdigest()


async def wait_until_idle(room: Room) -> None:
    """Wait for the host's transfer tasks to end, and fail if one crashed."""
    tasks = set(room.files._tasks)
    if tasks:
        await asyncio.wait(tasks, timeout=TIMEOUT)
    for task in tasks:
        assert task.done()
        assert not task.cancelled()
        assert task.exception() is None


async def test_file_larger_than_the_window_arrives_whole(room: Room, tmp_path: Path) -> None:
    source = tmp_path / "large.bin"
    size = WINDOW + 3 * MIB + 12345
    expected = random_file(source, size)

    assert await send(room, source) == ("complete", expected)

    await wait_until_idle(room)
    assert "Sent 'large.bin' to Guest (peer g1)" in room.terminal.getvalue()
    assert "failed" not in room.terminal.getvalue()


def cut_short(path: Path) -> None:
    with path.open("r+b") as file:
        file.truncate(MIB)


def grow(path: Path) -> None:
    with path.open("ab") as file:
        file.write(b"more")


@pytest.mark.parametrize("change", [cut_short, grow], ids=["cut-short", "grown"])
async def test_file_changed_while_sent_is_cancelled(
    room: Room, tmp_path: Path, change: Callable[[Path], None]
) -> None:
    source = tmp_path / "changing.bin"
    # Larger than the window and the blocks read ahead: the host reads again
    # after the guest's first chunk, and then finds the file changed.
    random_file(source, WINDOW + 4 * MIB)

    def change_once(receiver: Receiver) -> None:
        if len(receiver.data) <= 64 * 1024:
            change(source)

    outcome, _ = await send(room, source, change_once)

    assert outcome == "cancelled: the file changed while it was being sent"
    await wait_until_idle(room)
    assert "the file changed while it was being sent" in room.terminal.getvalue()


async def test_read_error_cancels_with_reason(
    room: Room, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "unreadable.bin"
    random_file(source, 3 * READ_BLOCK)
    blocks = 0

    def failing_read(descriptor: int, offset: int, length: int, size: int) -> bytes:
        nonlocal blocks
        blocks += 1
        if offset >= READ_BLOCK:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        return os.pread(descriptor, length, offset)

    monkeypatch.setattr(files_module, "_read_block", failing_read)
    outcome, _ = await send(room, source)

    reason = f"the file could not be read: {os.strerror(errno.EIO)}"
    assert outcome == f"cancelled: {reason}"
    assert blocks == 3
    await wait_until_idle(room)
    assert reason in room.terminal.getvalue()


async def test_reads_run_side_by_side(
    room: Room, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first two reads both start before either ends: one read at a time breaks the barrier."""
    source = tmp_path / "ahead.bin"
    expected = random_file(source, (READ_AHEAD + 2) * READ_BLOCK)
    together = threading.Barrier(2, timeout=10)
    read_block = files_module._read_block

    def meeting_read(descriptor: int, offset: int, length: int, size: int) -> bytes:
        if offset < 2 * READ_BLOCK:
            together.wait()
        return read_block(descriptor, offset, length, size)

    monkeypatch.setattr(files_module, "_read_block", meeting_read)

    assert await send(room, source) == ("complete", expected)
    assert not together.broken


async def test_host_cancels_halfway(room: Room, tmp_path: Path) -> None:
    source = tmp_path / "cancelled.bin"
    random_file(source, WINDOW + 4 * MIB)
    cancelled = False

    def cancel_after_two_mib(receiver: Receiver) -> None:
        nonlocal cancelled
        if len(receiver.data) >= 2 * MIB and not cancelled:
            cancelled = True
            room.files._cmd_cancel(["all"])

    receiver: Receiver | None = None

    def keep_receiver(current: Receiver) -> None:
        nonlocal receiver
        receiver = current
        cancel_after_two_mib(current)

    outcome, _ = await send(room, source, keep_receiver)

    # The page shows "Cancelled by the host." from `by`, so the reason stays empty.
    assert outcome == "cancelled: "
    assert receiver is not None
    assert receiver.cancel == {"type": "file-cancel", "reason": "", "by": "host"}
    await wait_until_idle(room)
    lines = room.terminal.getvalue().splitlines()
    [line] = [line for line in lines if "'cancelled.bin'" in line and "Cancelled" in line]
    assert line.endswith("Cancelled 'cancelled.bin' to Guest (peer g1).")


@pytest.mark.parametrize(
    ("reason", "shown"),
    [
        ("", "cancelled 'stopped.bin'."),
        ("no room left", "cancelled 'stopped.bin': no room left."),
        ("Stop!", "cancelled 'stopped.bin': Stop!"),
    ],
    ids=["none", "clause", "exclamation"],
)
async def test_guest_cancel_reason_ends_in_one_stop(
    room: Room, tmp_path: Path, reason: str, shown: str
) -> None:
    """The terminal shows the guest's reason, if any, after a colon, ending in one stop."""
    source = tmp_path / "stopped.bin"
    random_file(source, 4 * MIB)

    def cancel_after_one_mib(receiver: Receiver) -> None:
        if len(receiver.data) >= MIB and not receiver.done.done():
            assert receiver.incoming is not None
            message = receiver.incoming.cancel(reason)
            assert message is not None
            receiver.channel.send(message.model_dump_json())
            receiver.settle("cancelled by the guest")

    outcome, _ = await send(room, source, cancel_after_one_mib)

    assert outcome == "cancelled by the guest"
    await wait_until_idle(room)
    lines = room.terminal.getvalue().splitlines()
    [line] = [line for line in lines if "cancelled 'stopped.bin'" in line]
    assert line.endswith(f"Guest (peer g1) {shown}")


async def test_send_over_limit_sizes_differ(tmp_path: Path) -> None:
    """/send of a file over the limit gives both sizes, in bytes where they round alike."""
    terminal = io.StringIO()
    files = FileTransfers(
        ShareOutput(Console(file=terminal, width=300)), tmp_path / "downloads", 5_000_000, "Host"
    )
    just_over = tmp_path / "just-over.bin"
    far_over = tmp_path / "far-over.bin"
    for path, size in ((just_over, 5_000_001), (far_over, 6_000_000)):
        with path.open("wb") as file:
            file.truncate(size)

    files._cmd_send([str(just_over)])
    files._cmd_send([str(far_over)])

    first, second = terminal.getvalue().splitlines()
    assert first.endswith(
        f"Cannot send {str(just_over)!r}: it is 5,000,001 bytes, "
        "and the limit (--max-file-size) is 5,000,000 bytes."
    )
    assert second.endswith(
        f"Cannot send {str(far_over)!r}: it is 6.0 MB, and the limit (--max-file-size) is 5.0 MB."
    )
