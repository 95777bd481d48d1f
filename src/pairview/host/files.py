"""File transfers on the host: sending, receiving, and passing files between guests.

Every guest's page is connected to the host alone, so a file from one guest
to another goes through the host: the host reads each chunk from the
sender's channel and writes it to the receiver's at once, stores nothing on
disk, and passes the receiver's acknowledgements back, so that the
sender's window bounds what the host holds in memory. The host checks the
SHA-256 on the way as well. Files for the host are saved in the downloads
folder once the host has accepted them in its terminal; see `downloads.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import mimetypes
import os
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from aiortc import RTCDataChannel
from pydantic import BaseModel

from pairview.host.channel import ChannelPipe
from pairview.host.console import Command, Console, Question
from pairview.host.downloads import PendingFile, SaveError
from pairview.host.output import ShareOutput, printable, size_text, size_texts, with_reason
from pairview.protocol.transfer import (
    CHANNEL_LABEL,
    MAX_CHUNK,
    TRANSFER_VERSION,
    Accepted,
    Cancelled,
    CancelledBy,
    Completed,
    Declined,
    Ended,
    Event,
    Failed,
    FileCancel,
    FileOffer,
    FilePeer,
    FileProgress,
    FileVersionError,
    IncomingTransfer,
    OutgoingTransfer,
    Progressed,
    TransferError,
    VersionMismatch,
    new_transfer_id,
    parse_offer,
)

logger = logging.getLogger(__name__)

HOST_ID = "host"
OPEN_TIMEOUT = 20.0
READ_BLOCK = 1024 * 1024
# Blocks a sent file is read ahead of the sending, each in a worker thread.
READ_AHEAD = 4
# Transfers that one guest may have going through the host at once.
MAX_TRANSFERS_PER_GUEST = 8
OpenChannel = Callable[[], RTCDataChannel]


@dataclass
class _Guest:
    peer_id: str
    name: str
    open_channel: OpenChannel

    @property
    def label(self) -> str:
        return f"{printable(self.name)} (peer {self.peer_id})"

    @property
    def peer(self) -> FilePeer:
        return FilePeer(id=self.peer_id, name=self.name, role="guest")


class _Transfer:
    """The base of every kind of transfer: a row in `/files` and a target of `/cancel`."""

    number: int
    name: str
    size: int
    peers: tuple[str, ...]

    def describe(self) -> tuple[str, str, str]:
        raise NotImplementedError

    def cancel(self, reason: str) -> None:
        """Cancel as the host; an empty `reason` means the host gave none."""
        raise NotImplementedError

    def participant_left(self, peer_id: str) -> None:
        self.cancel("the guest left the room")


class FileTransfers:
    def __init__(
        self,
        output: ShareOutput,
        downloads_dir: Path,
        max_size: int,
        host_name: str,
    ) -> None:
        self._output = output
        self.downloads_dir = downloads_dir
        self.max_size = max_size
        self._host = FilePeer(id=HOST_ID, name=host_name, role="host")
        self._guests: dict[str, _Guest] = {}
        self._transfers: dict[int, _Transfer] = {}
        self._next_number = 1
        self._console: Console | None = None
        self._tasks: set[asyncio.Future[None]] = set()

    def register(self, console: Console) -> None:
        self._console = console
        console.add_command(
            Command(
                "send",
                "/send PATH [NAME|all]",
                "send a file to a guest, or to every guest (the default)",
                self._cmd_send,
            )
        )
        console.add_command(
            Command("files", "/files", "list file transfers in progress", self._cmd_files)
        )
        console.add_command(
            Command("cancel", "/cancel NUMBER|all", "cancel a file transfer", self._cmd_cancel)
        )

    async def close(self) -> None:
        """Cancel every transfer; partial files are removed."""
        for transfer in list(self._transfers.values()):
            transfer.cancel("the room ended")
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # Guests

    def add_guest(self, peer_id: str, name: str, open_channel: OpenChannel) -> None:
        self._guests[peer_id] = _Guest(peer_id, name, open_channel)

    def remove_guest(self, peer_id: str) -> None:
        self._guests.pop(peer_id, None)
        for transfer in list(self._transfers.values()):
            if peer_id in transfer.peers:
                transfer.participant_left(peer_id)

    def guest(self, peer_id: str) -> _Guest | None:
        return self._guests.get(peer_id)

    def incoming_channel(self, peer_id: str, channel: RTCDataChannel) -> None:
        """Read a `file` channel that a guest opened: its first message is the offer."""
        guest = self._guests.get(peer_id)
        if guest is None or channel.label != CHANNEL_LABEL:
            with contextlib.suppress(Exception):
                channel.close()
            return
        _OfferReader(self, guest, channel)

    def offered(self, guest: _Guest, pipe: ChannelPipe, offer: FileOffer) -> None:
        """Route a guest's offer: to the host, to another guest, or declined."""
        incoming = IncomingTransfer(offer)
        running = sum(guest.peer_id in t.peers for t in self._transfers.values())
        if running >= MAX_TRANSFERS_PER_GUEST:
            reason = f"you have {running} transfers going; wait until one ends"
            pipe.send(incoming.decline(reason).model_dump_json())
            pipe.close()
            logger.warning(
                "peer %s: file offer declined: %d transfers going", guest.peer_id, running
            )
            return
        if offer.size > self.max_size:
            size, limit = size_texts(offer.size, self.max_size)
            reason = f"the file is {size}; this room takes files up to {limit}"
            pipe.send(incoming.decline(reason).model_dump_json())
            pipe.close()
            self._output.warning(
                with_reason(f"Declined {printable(offer.name)!r} from {guest.label}", reason)
            )
            return
        if offer.to == HOST_ID:
            self._add(_Receive(self, guest, pipe, incoming))
            return
        target = self._guests.get(offer.to)
        if target is None or target is guest:
            pipe.send(incoming.decline("that participant is not in the room").model_dump_json())
            pipe.close()
            return
        self._add(_Relay(self, guest, pipe, incoming, target))

    def _add(self, transfer: _Transfer) -> None:
        transfer.number = self._next_number
        self._next_number += 1
        self._transfers[transfer.number] = transfer

    def finished(self, transfer: _Transfer) -> None:
        self._transfers.pop(transfer.number, None)

    def keep(self, task: asyncio.Future[None]) -> None:
        """Hold a reference to a transfer's task until it ends, and log a crash."""
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Future[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("file transfer failed", exc_info=task.exception())

    def ask(self, text: str, on_answer: Callable[[bool], None]) -> Question | None:
        if self._console is None or self._console.closed:
            return None
        return self._console.ask(text, on_answer)

    def withdraw(self, question: Question | None) -> None:
        if question is not None and self._console is not None:
            self._console.withdraw(question)

    @property
    def output(self) -> ShareOutput:
        return self._output

    @property
    def host(self) -> FilePeer:
        return self._host

    # Sending from the host

    def send_file(self, path: Path, guest: _Guest) -> None:
        """Offer a file on disk to one guest, and send it once accepted."""
        transfer = _Send(self, path, guest)
        self._add(transfer)
        self.keep(asyncio.ensure_future(transfer.run()))

    def _cmd_send(self, arguments: list[str]) -> None:
        if not 1 <= len(arguments) <= 2:
            self._output.warning("Usage: /send PATH [NAME|all]")
            return
        path = Path(arguments[0]).expanduser()
        problem = _readable_problem(path, self.max_size)
        if problem is not None:
            self._output.warning(problem)
            return
        query = arguments[1] if len(arguments) == 2 else "all"
        if query == "all":
            targets = list(self._guests.values())
            if not targets:
                self._output.info("No guests yet.")
        else:
            found = [
                guest
                for guest in self._guests.values()
                if query in (guest.peer_id, guest.name) or guest.name.casefold() == query.casefold()
            ]
            if len(found) != 1:
                everyone = ", ".join(guest.label for guest in self._guests.values())
                what = "No guest" if not found else f"{len(found)} guests are"
                self._output.warning(
                    f"{what} named {query!r}; use a peer id. Guests: {everyone or 'none'}."
                )
                return
            targets = found
        for guest in targets:
            self.send_file(path, guest)

    def _cmd_files(self, _arguments: list[str]) -> None:
        if not self._transfers:
            self._output.info("No file transfers in progress.")
            return
        rows = [(str(number), *t.describe()) for number, t in self._transfers.items()]
        self._output.table(("number", "file", "between", "progress"), rows)

    def _cmd_cancel(self, arguments: list[str]) -> None:
        if len(arguments) != 1:
            self._output.warning("Usage: /cancel NUMBER|all (/files lists the numbers)")
            return
        if arguments[0] == "all":
            chosen = list(self._transfers.values())
        else:
            try:
                chosen = [self._transfers[int(arguments[0])]]
            except (ValueError, KeyError):
                self._output.warning(
                    f"No transfer numbered {arguments[0]!r}; /files lists the numbers."
                )
                return
        for transfer in chosen:
            transfer.cancel("")


def _readable_problem(path: Path, max_size: int) -> str | None:
    try:
        size = path.stat().st_size
    except OSError as error:
        return f"Cannot send {str(path)!r}: {error.strerror}."
    if not path.is_file():
        return f"Cannot send {str(path)!r}: not a regular file."
    if not os.access(path, os.R_OK):
        return f"Cannot send {str(path)!r}: permission denied."
    if size > max_size:
        size_shown, limit_shown = size_texts(size, max_size)
        return (
            f"Cannot send {str(path)!r}: it is {size_shown}, and the limit "
            f"(--max-file-size) is {limit_shown}."
        )
    return None


class _OfferReader:
    """Reads the first message of a channel that a guest opened, which must be an offer."""

    def __init__(self, files: FileTransfers, guest: _Guest, channel: RTCDataChannel) -> None:
        self._files = files
        self._guest = guest
        self._pipe = ChannelPipe(channel)
        self._pipe.on_message = self._message

    def _message(self, data: str | bytes) -> None:
        pipe = self._pipe
        pipe.on_message = _ignore
        try:
            offer = parse_offer(data)
        except VersionMismatch as error:
            reply = FileVersionError(expected=TRANSFER_VERSION, received=error.received)
            pipe.send(reply.model_dump_json())
            logger.warning("peer %s: file offer rejected: %s", self._guest.peer_id, error)
            pipe.close()
            return
        except TransferError as error:
            logger.warning("peer %s: file channel closed: %s", self._guest.peer_id, error)
            pipe.close()
            return
        self._files.offered(self._guest, pipe, offer)


def _ignore(_data: str | bytes) -> None:
    pass


async def _opened(pipe: ChannelPipe) -> bool:
    """Wait up to OPEN_TIMEOUT for a channel that this side created to open."""
    try:
        async with asyncio.timeout(OPEN_TIMEOUT):
            return await pipe.wait_open()
    except TimeoutError:
        return False


class _Endpoint(_Transfer):
    """Shared by the three kinds of transfer: sending messages and ending once."""

    def __init__(self, files: FileTransfers, name: str, size: int, peers: tuple[str, ...]) -> None:
        self._files = files
        self.name = name
        self.size = size
        self.peers = peers
        self.number = 0
        self._over = False

    @property
    def output(self) -> ShareOutput:
        return self._files.output

    @staticmethod
    def _send(pipe: ChannelPipe, message: BaseModel | None) -> None:
        if message is not None:
            pipe.send(message.model_dump_json())

    def _end(self, *pipes: ChannelPipe) -> None:
        if self._over:
            return
        self._over = True
        self._files.finished(self)
        for pipe in pipes:
            pipe.on_message = _ignore
            pipe.on_close = _nothing
            pipe.close()


def _nothing() -> None:
    pass


class _Receive(_Endpoint):
    """A guest's file for the host: asked in the terminal, saved in the downloads folder."""

    def __init__(
        self, files: FileTransfers, guest: _Guest, pipe: ChannelPipe, incoming: IncomingTransfer
    ) -> None:
        offer = incoming.offer
        super().__init__(files, offer.name, offer.size, (guest.peer_id,))
        self._guest = guest
        self._pipe = pipe
        self._incoming = incoming
        self._pending: PendingFile | None = None
        self._saving = False
        self._key = f"receive-{offer.id}"
        pipe.on_message = self._message
        pipe.on_close = self._closed
        self._question = files.ask(
            f"{guest.label} sends you {printable(offer.name)!r} ({size_text(offer.size)}). "
            "Accept? Type y or n.",
            self._answer,
        )
        if self._question is None:
            self.output.warning(
                f"{guest.label} offered {printable(offer.name)!r}, but this terminal cannot "
                "answer: standard input is closed."
            )
            self._send(pipe, incoming.decline("the host cannot accept files now"))
            self._finish()

    def describe(self) -> tuple[str, str, str]:
        if self._pending is None:
            progress = "waiting for your answer"
        else:
            progress = f"{size_text(self._incoming.received)} of {size_text(self.size)}"
        return (printable(self.name), f"from {self._guest.label}", progress)

    def cancel(self, reason: str) -> None:
        if self._saving:
            return
        message = self._incoming.cancel(reason, by="host")
        if message is not None:
            self._send(self._pipe, message)
            self.output.warning(
                with_reason(f"Cancelled {printable(self.name)!r} from {self._guest.label}", reason)
            )
        self._finish()

    def _answer(self, accept: bool) -> None:
        self._question = None
        if self._incoming.finished:
            return
        if not accept:
            # The page names the host as the one who declined.
            self._send(self._pipe, self._incoming.decline(""))
            self.output.info(f"Declined {printable(self.name)!r} from {self._guest.label}.")
            self._finish()
            return
        try:
            self._pending = PendingFile(self._files.downloads_dir, self.name)
        except SaveError as error:
            self.output.error(str(error))
            self._send(self._pipe, self._incoming.decline("the host cannot save files now"))
            self._finish()
            return
        self._send(self._pipe, self._incoming.accept())
        self.output.progress_start(
            self._key, f"{self._pending.name} from {self._guest.name}", self.size
        )

    def _message(self, data: str | bytes) -> None:
        incoming = self._incoming
        if isinstance(data, str):
            event = incoming.receive(data)
        else:
            event = incoming.receive_data(data)
            if event is None and self._pending is not None and not incoming.finished:
                try:
                    self._pending.write(data)
                except SaveError as error:
                    self._fail(str(error))
                    return
                ack = incoming.progress_due()
                if ack is not None:
                    self._send(self._pipe, ack)
                    self.output.progress_update(self._key, incoming.received)
        if event is not None:
            self._event(event)

    def _event(self, event: Event) -> None:
        match event:
            case Ended():
                self._saving = True
                task = asyncio.ensure_future(self._save())
                self._files.keep(task)
            case Cancelled(reason):
                self.output.warning(
                    with_reason(f"{self._guest.label} cancelled {printable(self.name)!r}", reason)
                )
                self._finish()
            case Failed(reason):
                self._fail(reason)
            case _:
                pass

    async def _save(self) -> None:
        pending = self._pending
        assert pending is not None
        try:
            path = await asyncio.to_thread(pending.finish)
        except SaveError as error:
            self._saving = False
            self._fail(str(error))
            return
        self._pending = None
        self._send(self._pipe, self._incoming.complete())
        self.output.notice(
            f"Saved {printable(self.name)!r} from {self._guest.label} as {path}: "
            f"{size_text(self.size)}, SHA-256 verified."
        )
        self._finish()

    def _fail(self, reason: str) -> None:
        self._send(self._pipe, self._incoming.fail(reason, by="host"))
        self.output.error(
            f"Receiving {printable(self.name)!r} from {self._guest.label} failed: {reason}."
        )
        self._finish()

    def _closed(self) -> None:
        if self._saving:
            return
        if self._incoming.channel_closed() is not None:
            self.output.warning(
                f"Receiving {printable(self.name)!r} from {self._guest.label} stopped: "
                "the connection closed."
            )
            self._finish()

    def _finish(self) -> None:
        self._files.withdraw(self._question)
        self._question = None
        if self._pending is not None:
            self._pending.discard()
            self._pending = None
        self.output.progress_stop(self._key)
        # The last message must leave before the channel closes.
        asyncio.get_running_loop().call_later(1.0, self._end, self._pipe)
        self._files.finished(self)


class _Send(_Endpoint):
    """A file from the host's disk to one guest."""

    def __init__(self, files: FileTransfers, path: Path, guest: _Guest) -> None:
        size = path.stat().st_size
        super().__init__(files, path.name, size, (guest.peer_id,))
        self._path = path
        self._guest = guest
        mime = mimetypes.guess_type(path.name)[0] or ""
        offer = FileOffer(
            version=TRANSFER_VERSION,
            id=new_transfer_id(),
            name=path.name,
            size=size,
            mime=mime,
            to=guest.peer_id,
            sender=files.host,
        )
        self._outgoing = OutgoingTransfer(offer)
        self._key = f"send-{offer.id}"
        self._wake = asyncio.Event()
        self._pipe: ChannelPipe | None = None

    def describe(self) -> tuple[str, str, str]:
        outgoing = self._outgoing
        if outgoing.state.value == "offered":
            progress = "waiting for the guest to accept"
        else:
            progress = f"{size_text(outgoing.acknowledged)} of {size_text(self.size)}"
        return (printable(self.name), f"to {self._guest.label}", progress)

    def cancel(self, reason: str) -> None:
        message = self._outgoing.cancel(reason, by="host")
        if message is not None and self._pipe is not None:
            self._send(self._pipe, message)
        if message is not None:
            self.output.warning(
                with_reason(f"Cancelled {printable(self.name)!r} to {self._guest.label}", reason)
            )
        self._wake.set()

    async def run(self) -> None:
        try:
            await self._run()
        finally:
            self.output.progress_stop(self._key)
            if self._pipe is not None:
                # The last message must leave before the channel closes.
                await asyncio.sleep(0.5)
                self._end(self._pipe)
            else:
                self._files.finished(self)

    async def _run(self) -> None:
        outgoing = self._outgoing
        try:
            channel = self._guest.open_channel()
        except Exception as error:
            self.output.error(f"Cannot send to {self._guest.label}: {error}")
            return
        pipe = self._pipe = ChannelPipe(channel)
        pipe.on_message = self._message
        pipe.on_close = self._closed
        if not await _opened(pipe):
            self.output.error(f"Cannot send to {self._guest.label}: the channel did not open.")
            return
        pipe.send(outgoing.offer.model_dump_json())
        self.output.info(
            f"Offered {printable(self.name)!r} ({size_text(self.size)}) to {self._guest.label}."
        )
        while outgoing.state.value == "offered":
            await self._wait()
        if outgoing.state.value != "transferring":
            return

        self.output.progress_start(self._key, f"{self.name} to {self._guest.name}", self.size)
        with self._path.open("rb") as file:
            await self._stream(file, pipe)
        while not outgoing.finished:
            await self._wait()

    async def _stream(self, file: BinaryIO, pipe: ChannelPipe) -> None:
        outgoing = self._outgoing
        blocks = _ReadAhead(file, self.size)
        try:
            while not outgoing.finished:
                if outgoing.all_sent:
                    pipe.send(outgoing.end().model_dump_json())
                    return
                if not outgoing.can_send:
                    await self._wait()
                    continue
                try:
                    block = await blocks.next()
                except FileChangedError:
                    self.cancel("the file changed while it was being sent")
                    return
                except OSError as error:
                    self.cancel(f"the file could not be read: {error.strerror}")
                    return
                for start in range(0, len(block), MAX_CHUNK):
                    # The window may close in the middle of a block.
                    while not outgoing.finished and not outgoing.can_send:
                        await self._wait()
                    if outgoing.finished:
                        return
                    pipe.send(outgoing.chunk(block[start : start + MAX_CHUNK]))
                await pipe.drain()
                while not outgoing.finished and not outgoing.can_send and not outgoing.all_sent:
                    await self._wait()
        finally:
            # The caller closes the file next, so the reads still running end first.
            await blocks.close()

    async def _wait(self) -> None:
        self._wake.clear()
        await self._wake.wait()

    def _message(self, data: str | bytes) -> None:
        event = self._outgoing.receive(data)
        match event:
            case Progressed(received):
                self.output.progress_update(self._key, received)
            case Completed():
                self.output.notice(
                    f"Sent {printable(self.name)!r} to {self._guest.label}: "
                    f"{size_text(self.size)}, SHA-256 verified by the receiver."
                )
            case Declined(reason):
                self.output.info(
                    with_reason(f"{self._guest.label} declined {printable(self.name)!r}", reason)
                )
            case Cancelled(reason):
                self.output.warning(
                    with_reason(f"{self._guest.label} cancelled {printable(self.name)!r}", reason)
                )
            case Failed(reason):
                self._send_cancel(reason)
                self.output.error(
                    f"Sending {printable(self.name)!r} to {self._guest.label} failed: {reason}."
                )
            case _:
                pass
        self._wake.set()

    def _send_cancel(self, reason: str) -> None:
        if self._pipe is not None:
            self._send(self._pipe, FileCancel(reason=reason[:300], by="host"))

    def _closed(self) -> None:
        event = self._outgoing.channel_closed()
        if event is not None:
            self.output.warning(
                f"Sending {printable(self.name)!r} to {self._guest.label} stopped: "
                "the connection closed."
            )
        self._wake.set()


class FileChangedError(Exception):
    """A file being sent is no longer the size it had when it was offered."""


def _read_block(descriptor: int, offset: int, length: int, size: int) -> bytes:
    """Read `length` bytes at `offset` of a file offered with `size` bytes."""
    block = os.pread(descriptor, length, offset)
    if len(block) != length:
        raise FileChangedError
    if offset + length == size and os.fstat(descriptor).st_size != size:
        raise FileChangedError
    return block


class _ReadAhead:
    """A file's blocks in order, read by worker threads up to READ_AHEAD blocks ahead.

    Each read names its offset, so several run side by side, and one that
    finishes late does not delay the start of the ones after it. A likely
    cause of late reads is the thread waiting for the GIL while the event
    loop is busy.
    """

    def __init__(self, file: BinaryIO, size: int) -> None:
        self._descriptor = file.fileno()
        self._size = size
        self._offset = 0
        self._reads: deque[asyncio.Future[bytes]] = deque()
        self._refill()

    def _refill(self) -> None:
        while len(self._reads) < READ_AHEAD and self._offset < self._size:
            length = min(READ_BLOCK, self._size - self._offset)
            read = asyncio.to_thread(
                _read_block, self._descriptor, self._offset, length, self._size
            )
            self._reads.append(asyncio.ensure_future(read))
            self._offset += length

    async def next(self) -> bytes:
        """Return the next block. Raise FileChangedError or OSError if it cannot be read."""
        block = await self._reads.popleft()
        self._refill()
        return block

    async def close(self) -> None:
        """Wait for the reads still running, whatever their outcome."""
        while self._reads:
            with contextlib.suppress(Exception):
                await self._reads.popleft()


class _Relay(_Endpoint):
    """A file from one guest to another, passed through the host chunk by chunk."""

    def __init__(
        self,
        files: FileTransfers,
        source: _Guest,
        pipe: ChannelPipe,
        incoming: IncomingTransfer,
        target: _Guest,
    ) -> None:
        offer = incoming.offer
        super().__init__(files, offer.name, offer.size, (source.peer_id, target.peer_id))
        self._source = source
        self._target = target
        self._incoming = incoming
        self._in = pipe
        pipe.on_message = self._from_source
        pipe.on_close = lambda: self._stop("the sender's connection closed", notify_source=False)
        relayed = offer.model_copy(update={"sender": source.peer, "to": target.peer_id})
        self._outgoing = OutgoingTransfer(relayed)
        self._out: ChannelPipe | None = None
        self._closing = False
        task = asyncio.ensure_future(self._open())
        files.keep(task)

    def describe(self) -> tuple[str, str, str]:
        between = f"{self._source.label} to {self._target.label}"
        progress = f"{size_text(self._outgoing.acknowledged)} of {size_text(self.size)}"
        return (printable(self.name), between, progress)

    def cancel(self, reason: str) -> None:
        self._stop(reason)

    def participant_left(self, peer_id: str) -> None:
        role = "sender" if peer_id == self._source.peer_id else "receiver"
        self._stop(f"the {role} left the room")

    async def _open(self) -> None:
        try:
            channel = self._target.open_channel()
        except Exception:
            self._stop("the receiver cannot be reached")
            return
        out = self._out = ChannelPipe(channel)
        out.on_message = self._from_target
        out.on_close = lambda: self._stop("the receiver's connection closed", notify_target=False)
        if not await _opened(out):
            self._stop("the receiver cannot be reached")
            return
        out.send(self._outgoing.offer.model_dump_json())
        self.output.info(
            f"Passing {printable(self.name)!r} ({size_text(self.size)}) from "
            f"{self._source.label} to {self._target.label}."
        )

    def _from_source(self, data: str | bytes) -> None:
        if isinstance(data, str):
            event = self._incoming.receive(data)
        else:
            event = self._incoming.receive_data(data)
            if event is None and self._out is not None:
                try:
                    self._out.send(self._outgoing.chunk(data))
                except TransferError as error:
                    self._stop(f"the sender ignored the window: {error}")
                    return
        match event:
            case Ended():
                if self._out is not None:
                    self._out.send(self._outgoing.end().model_dump_json())
            case Cancelled(reason):
                self._stop(reason, by="sender")
            case Failed(reason):
                self._stop(reason)
            case _:
                pass

    def _from_target(self, data: str | bytes) -> None:
        event = self._outgoing.receive(data)
        match event:
            case Accepted():
                self._send(self._in, self._incoming.accept())
            case Declined(reason):
                self._send(self._in, self._incoming.decline(reason))
                self.output.info(
                    with_reason(
                        f"{self._target.label} declined {printable(self.name)!r} "
                        f"from {self._source.label}",
                        reason,
                    )
                )
                self._close_later()
            case Progressed(received):
                self._send(self._in, FileProgress(received=received))
            case Completed():
                self._send(self._in, self._incoming.complete())
                self.output.info(
                    f"Passed {printable(self.name)!r} ({size_text(self.size)}) from "
                    f"{self._source.label} to {self._target.label}."
                )
                self._close_later()
            case Cancelled(reason):
                self._stop(reason, by="receiver")
            case Failed(reason):
                self._stop(reason)
            case _:
                pass

    def _stop(
        self,
        reason: str,
        by: CancelledBy = "host",
        notify_source: bool = True,
        notify_target: bool = True,
    ) -> None:
        """End the transfer for both guests, telling each, except the one who cancelled."""
        if self._closing:
            return
        to_source = self._incoming.cancel(reason, by)
        to_target = self._outgoing.cancel(reason, by)
        if notify_source and by != "sender":
            self._send(self._in, to_source)
        if notify_target and by != "receiver" and self._out is not None:
            self._send(self._out, to_target)
        name = printable(self.name)
        source = self._source.label
        target = self._target.label
        match by:
            case "sender":
                text = f"{source} cancelled sending {name!r} to {target}"
            case "receiver":
                text = f"{target} cancelled receiving {name!r} from {source}"
            case "host":
                text = f"Stopped passing {name!r} from {source} to {target}"
        self.output.warning(with_reason(text, reason))
        self._close_later()

    def _close_later(self) -> None:
        self._closing = True
        pipes = [self._in] + ([self._out] if self._out is not None else [])
        self._files.finished(self)
        asyncio.get_running_loop().call_later(1.0, self._end, *pipes)
