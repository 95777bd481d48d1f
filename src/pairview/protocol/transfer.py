"""File transfer over a data channel of its own, one channel per file.

The sender opens a channel labelled `file` and sends `file-offer` first,
with the protocol version, the file's name, size and type and the
participant it is for. The receiver answers `file-accept` or
`file-decline`. The file then follows as binary messages of at most
`MAX_CHUNK` bytes, and `file-end` carries the SHA-256 of all of them. The
receiver checks size and hash and answers `file-complete`, or
`file-cancel` with the reason. Either side may send `file-cancel` at any
time, and a channel that closes before `file-complete` cancels the transfer.

A reason in `file-decline` or `file-cancel` is a clause that starts in
lower case and has no full stop, such as "the file changed while it was
being sent", because each side shows it after a colon or turns it into a
sentence of its own. An empty reason means that someone chose to decline or
cancel and gave no reason. The side that shows a reason names who acted,
because it has the other end's role: the offer and the target name it, and
in a `file-cancel` that the host sends, `by` tells a cancel of the host's
own from one that it passes on from the guest at the other end.

Flow control works at two levels. The sender keeps the channel's
bufferedAmount low, so that no more than a few chunks wait in the SCTP
stack. The receiver acknowledges what it has with `file-progress` at least
every `PROGRESS_INTERVAL` bytes, and the sender never has more than its
window unacknowledged (`WINDOW` for the host, 8 MiB for the page). This
bounds the memory of a host that passes a file from one guest to another,
and gives the sender the receiver's progress.

`OutgoingTransfer` and `IncomingTransfer` are the two ends' state
machines, free of I/O: they check every message and say what to send.
The web client mirrors them in `web/static/js/files.js`.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from pairview.errors import PairviewError

TRANSFER_VERSION = 1
CHANNEL_LABEL = "file"
# 64 KiB is the max-message-size that aiortc assumes of a peer that states
# none, and Chromium accepts messages of this size too.
MAX_CHUNK = 64 * 1024
PROGRESS_INTERVAL = 1024 * 1024
# NOTE: aiortc 1.16 ignores the receiver's advertised SCTP window, and Chromium
# advertises 5 MiB, less than this window. A 4 MiB window stalled 20 MB
# transfers for seconds on retransmission timeouts. To Chromium, 16 MiB moved
# 0.90 of a plain channel's throughput where 8 MiB moved 0.79 (20 transfers
# each, one run after the other). Other browsers have not been tried with it.
WINDOW = 16 * 1024 * 1024
MAX_TEXT_MESSAGE_BYTES = 8 * 1024
MAX_FILE_NAME = 1024
# JavaScript numbers hold integers exactly up to 2**53 - 1.
MAX_SAFE_SIZE = 2**53 - 1

TransferId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{8,64}$")]
PeerId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
Reason = Annotated[str, Field(max_length=300)]


def new_transfer_id() -> str:
    return secrets.token_urlsafe(12)


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class FilePeer(_Message):
    id: PeerId
    name: str = Field(min_length=1, max_length=64)
    role: Literal["host", "guest"]


class FileOffer(_Message):
    type: Literal["file-offer"] = "file-offer"
    version: int
    id: TransferId
    # The sender's name for the file, as it is: receivers make it safe to save.
    name: str = Field(min_length=1, max_length=MAX_FILE_NAME)
    size: int = Field(ge=0, le=MAX_SAFE_SIZE)
    mime: str = Field(default="", max_length=255)
    # The participant the file is for: "host", or a guest's peer id.
    to: PeerId
    # Who sends the file. The host sets it, whatever a guest put there.
    sender: FilePeer | None = None


class FileAccept(_Message):
    type: Literal["file-accept"] = "file-accept"


class FileDecline(_Message):
    type: Literal["file-decline"] = "file-decline"
    reason: Reason = ""


class FileProgress(_Message):
    """The number of bytes of the file that the receiver has."""

    type: Literal["file-progress"] = "file-progress"
    received: int = Field(ge=0, le=MAX_SAFE_SIZE)


class FileEnd(_Message):
    type: Literal["file-end"] = "file-end"
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")


class FileComplete(_Message):
    """The receiver got every byte, the hash matched and the file is kept."""

    type: Literal["file-complete"] = "file-complete"


CancelledBy = Literal["sender", "receiver", "host"]


class FileCancel(_Message):
    type: Literal["file-cancel"] = "file-cancel"
    reason: Reason = ""
    # Who cancelled. The host sets it in every cancel it sends, and ignores it
    # in cancels from guests, whose role it has. "sender" and "receiver" name
    # the guest at the other end of a file that the host passes between guests.
    by: CancelledBy | None = None


class FileVersionError(_Message):
    type: Literal["version-error"] = "version-error"
    expected: int
    received: int


TransferMessage = Annotated[
    FileOffer
    | FileAccept
    | FileDecline
    | FileProgress
    | FileEnd
    | FileComplete
    | FileCancel
    | FileVersionError,
    Field(discriminator="type"),
]
transfer_message_adapter: TypeAdapter[TransferMessage] = TypeAdapter(TransferMessage)


class TransferError(PairviewError):
    """A transfer message broke the protocol; the text names what was wrong."""


class VersionMismatch(TransferError):
    def __init__(self, received: int) -> None:
        super().__init__(
            f"the sender speaks file transfer version {received}, this side {TRANSFER_VERSION}"
        )
        self.received = received


class State(StrEnum):
    OFFERED = "offered"
    TRANSFERRING = "transferring"
    ENDED = "ended"
    COMPLETE = "complete"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    FAILED = "failed"


FINISHED = frozenset({State.COMPLETE, State.DECLINED, State.CANCELLED, State.FAILED})


def parse_message(data: str) -> TransferMessage:
    """Read one text message of a transfer channel, or raise TransferError."""
    if len(data) > MAX_TEXT_MESSAGE_BYTES:
        raise TransferError(
            f"a text message of {len(data)} characters; the limit is {MAX_TEXT_MESSAGE_BYTES}"
        )
    try:
        return transfer_message_adapter.validate_json(data)
    except ValidationError as error:
        fields = sorted(
            {".".join(str(part) for part in item["loc"]) or "type" for item in error.errors()}
        )
        raise TransferError(f"an invalid message (fields: {', '.join(fields)})") from None


def parse_offer(data: str | bytes) -> FileOffer:
    """Read the first message of a transfer channel, which must be a current `file-offer`."""
    if isinstance(data, bytes):
        raise TransferError("binary data before the file offer")
    message = parse_message(data)
    if isinstance(message, FileVersionError):
        raise TransferError("a version error before the file offer")
    if not isinstance(message, FileOffer):
        raise TransferError(f"a {message.type!r} message before the file offer")
    if message.version != TRANSFER_VERSION:
        raise VersionMismatch(message.version)
    return message


# Events the state machines report to their owner.


@dataclass(frozen=True, slots=True)
class Accepted:
    pass


@dataclass(frozen=True, slots=True)
class Declined:
    # Empty when the receiver gave no reason.
    reason: str


@dataclass(frozen=True, slots=True)
class Progressed:
    received: int


@dataclass(frozen=True, slots=True)
class Ended:
    """Every byte arrived and the hash matched; the owner keeps the file, then completes."""

    sha256: str


@dataclass(frozen=True, slots=True)
class Completed:
    pass


@dataclass(frozen=True, slots=True)
class Cancelled:
    # Empty when the other side gave no reason.
    reason: str
    by_peer: bool


@dataclass(frozen=True, slots=True)
class Failed:
    reason: str


Event = Accepted | Declined | Progressed | Ended | Completed | Cancelled | Failed


class _Transfer:
    def __init__(self, offer: FileOffer) -> None:
        self.offer = offer
        self.state = State.OFFERED
        self.reason = ""
        self._hash = hashlib.sha256()

    @property
    def finished(self) -> bool:
        return self.state in FINISHED

    def cancel(self, reason: str, by: CancelledBy | None = None) -> FileCancel | None:
        """Cancel on this side; return the message for the peer, or None if already over."""
        if self.finished:
            return None
        self.state = State.CANCELLED
        self.reason = reason
        return FileCancel(reason=reason[:300], by=by)

    def channel_closed(self) -> Event | None:
        """Cancel the transfer, unless it was over, because its channel closed."""
        if self.finished:
            return None
        self.state = State.CANCELLED
        self.reason = "the connection closed"
        return Cancelled(self.reason, by_peer=True)

    def _fail(self, reason: str) -> Failed:
        self.state = State.FAILED
        self.reason = reason
        return Failed(reason)

    def _cancelled(self, message: FileCancel) -> Cancelled:
        self.state = State.CANCELLED
        self.reason = message.reason
        return Cancelled(self.reason, by_peer=True)


class OutgoingTransfer(_Transfer):
    """The sending end: offer, then chunks while `can_send`, then `end`."""

    def __init__(self, offer: FileOffer) -> None:
        super().__init__(offer)
        self.sent = 0
        self.acknowledged = 0

    @property
    def can_send(self) -> bool:
        """Whether a chunk may go now: accepted, bytes left, and the window open."""
        return (
            self.state is State.TRANSFERRING
            and self.sent < self.offer.size
            and self.sent - self.acknowledged < WINDOW
        )

    @property
    def all_sent(self) -> bool:
        return self.state is State.TRANSFERRING and self.sent == self.offer.size

    def chunk(self, data: bytes) -> bytes:
        """Account for the next chunk of the file and return it for sending."""
        if not self.can_send:
            raise TransferError(f"cannot send a chunk while the transfer is {self.state.value}")
        if not 0 < len(data) <= MAX_CHUNK:
            raise TransferError(f"a chunk of {len(data)} bytes; expected 1 to {MAX_CHUNK}")
        if self.sent + len(data) > self.offer.size:
            raise TransferError(
                f"{self.sent + len(data)} bytes read from a file offered with {self.offer.size}"
            )
        self.sent += len(data)
        self._hash.update(data)
        return data

    def end(self) -> FileEnd:
        if not self.all_sent:
            raise TransferError(
                f"cannot end after {self.sent} of {self.offer.size} bytes "
                f"while the transfer is {self.state.value}"
            )
        self.state = State.ENDED
        return FileEnd(sha256=self._hash.hexdigest())

    def receive(self, data: str | bytes) -> Event | None:
        """Handle a message from the receiver; a protocol error fails the transfer."""
        if self.finished:
            return None
        if isinstance(data, bytes):
            return self._fail("the receiver sent binary data")
        try:
            message = parse_message(data)
        except TransferError as error:
            return self._fail(f"the receiver sent {error}")
        match message:
            case FileAccept() if self.state is State.OFFERED:
                self.state = State.TRANSFERRING
                return Accepted()
            case FileDecline() if self.state is State.OFFERED:
                self.state = State.DECLINED
                self.reason = message.reason
                return Declined(self.reason)
            case FileProgress() if self.state in (State.TRANSFERRING, State.ENDED):
                if not self.acknowledged <= message.received <= self.sent:
                    return self._fail(
                        f"the receiver acknowledged {message.received} bytes "
                        f"after {self.acknowledged}, with {self.sent} sent"
                    )
                self.acknowledged = message.received
                return Progressed(message.received)
            case FileComplete() if self.state is State.ENDED:
                self.state = State.COMPLETE
                self.acknowledged = self.sent
                return Completed()
            case FileCancel():
                return self._cancelled(message)
            case FileVersionError():
                return self._fail(
                    f"the receiver speaks file transfer version {message.expected}, "
                    f"this side {TRANSFER_VERSION}"
                )
            case _:
                return self._fail(
                    f"the receiver sent {message.type!r} while the transfer is {self.state.value}"
                )


class IncomingTransfer(_Transfer):
    """The receiving end: accept or decline, then chunks, then the hash check."""

    def __init__(self, offer: FileOffer) -> None:
        super().__init__(offer)
        self.received = 0
        self._reported = 0

    def accept(self) -> FileAccept:
        if self.state is not State.OFFERED:
            raise TransferError(f"cannot accept a transfer that is {self.state.value}")
        self.state = State.TRANSFERRING
        return FileAccept()

    def decline(self, reason: str) -> FileDecline:
        if self.state is not State.OFFERED:
            raise TransferError(f"cannot decline a transfer that is {self.state.value}")
        self.state = State.DECLINED
        self.reason = reason
        return FileDecline(reason=reason[:300])

    def receive_data(self, data: bytes) -> Event | None:
        """Check and count a chunk; the owner stores `data` unless this returns Failed."""
        if self.finished:
            return None
        if self.state is not State.TRANSFERRING:
            return self._fail(f"the sender sent file data while the transfer is {self.state.value}")
        if not 0 < len(data) <= MAX_CHUNK:
            return self._fail(f"the sender sent a chunk of {len(data)} bytes")
        if self.received + len(data) > self.offer.size:
            return self._fail(f"the sender sent more than the {self.offer.size} bytes it offered")
        self.received += len(data)
        self._hash.update(data)
        return None

    def progress_due(self) -> FileProgress | None:
        """Return an acknowledgement when enough arrived since the last one."""
        if self.received - self._reported >= PROGRESS_INTERVAL or (
            self.received == self.offer.size and self.received > self._reported
        ):
            self._reported = self.received
            return FileProgress(received=self.received)
        return None

    def receive(self, data: str) -> Event | None:
        """Handle a text message from the sender."""
        if self.finished:
            return None
        try:
            message = parse_message(data)
        except TransferError as error:
            return self._fail(f"the sender sent {error}")
        match message:
            case FileEnd() if self.state is State.TRANSFERRING:
                if self.received != self.offer.size:
                    return self._fail(
                        f"the file ended after {self.received} of {self.offer.size} bytes"
                    )
                digest = self._hash.hexdigest()
                if digest != message.sha256:
                    return self._fail("the SHA-256 of the received bytes does not match")
                self.state = State.ENDED
                return Ended(digest)
            case FileCancel():
                return self._cancelled(message)
            case _:
                return self._fail(
                    f"the sender sent {message.type!r} while the transfer is {self.state.value}"
                )

    def complete(self) -> FileComplete:
        if self.state is not State.ENDED:
            raise TransferError(f"cannot complete a transfer that is {self.state.value}")
        self.state = State.COMPLETE
        return FileComplete()

    def fail(self, reason: str, by: CancelledBy | None = None) -> FileCancel | None:
        """Give up on this side, for example when the file cannot be written."""
        message = self.cancel(reason, by)
        if message is not None:
            self.state = State.FAILED
        return message
