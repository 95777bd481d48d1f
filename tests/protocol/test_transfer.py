"""The file transfer state machines, driven message by message without a channel."""

from __future__ import annotations

import hashlib
import json

import pytest

from pairview.protocol.transfer import (
    MAX_CHUNK,
    PROGRESS_INTERVAL,
    TRANSFER_VERSION,
    WINDOW,
    Accepted,
    Cancelled,
    Completed,
    Declined,
    Ended,
    Failed,
    FileEnd,
    FileOffer,
    FileProgress,
    IncomingTransfer,
    OutgoingTransfer,
    Progressed,
    State,
    TransferError,
    VersionMismatch,
    parse_offer,
)


def offer(size: int) -> FileOffer:
    return FileOffer(version=TRANSFER_VERSION, id="abcdefgh12", name="a.bin", size=size, to="host")


def pair(size: int) -> tuple[OutgoingTransfer, IncomingTransfer]:
    sender = OutgoingTransfer(offer(size))
    receiver = IncomingTransfer(parse_offer(sender.offer.model_dump_json()))
    return sender, receiver


def test_transfer_round_trip() -> None:
    data = bytes(range(256)) * 1000
    sender, receiver = pair(len(data))

    assert sender.receive(receiver.accept().model_dump_json()) == Accepted()
    acks = []
    offset = 0
    while sender.can_send:
        chunk = sender.chunk(data[offset : offset + MAX_CHUNK])
        offset += len(chunk)
        assert receiver.receive_data(chunk) is None
        ack = receiver.progress_due()
        if ack is not None:
            acks.append(ack.received)
            assert sender.receive(ack.model_dump_json()) == Progressed(ack.received)
    assert sender.all_sent
    assert acks[-1] == len(data)

    end = sender.end()
    assert end.sha256 == hashlib.sha256(data).hexdigest()
    assert receiver.receive(end.model_dump_json()) == Ended(end.sha256)
    assert sender.receive(receiver.complete().model_dump_json()) == Completed()
    assert sender.state is State.COMPLETE
    assert receiver.state is State.COMPLETE


def test_empty_file_needs_no_chunk() -> None:
    sender, receiver = pair(0)
    sender.receive(receiver.accept().model_dump_json())
    assert not sender.can_send
    end = sender.end()
    assert receiver.receive(end.model_dump_json()) == Ended(hashlib.sha256().hexdigest())


def test_window_stops_sender_until_acknowledged() -> None:
    sender, receiver = pair(WINDOW * 2)
    sender.receive(receiver.accept().model_dump_json())
    while sender.can_send:
        sender.chunk(b"x" * MAX_CHUNK)
    assert sender.sent == WINDOW
    with pytest.raises(TransferError, match="cannot send a chunk"):
        sender.chunk(b"x")
    sender.receive(FileProgress(received=PROGRESS_INTERVAL).model_dump_json())
    assert sender.can_send


def test_wrong_hash_fails_receiver() -> None:
    sender, receiver = pair(3)
    sender.receive(receiver.accept().model_dump_json())
    receiver.receive_data(sender.chunk(b"abc"))
    forged = FileEnd(sha256="0" * 64).model_dump_json()
    assert receiver.receive(forged) == Failed("the SHA-256 of the received bytes does not match")
    assert receiver.state is State.FAILED


@pytest.mark.parametrize(
    ("chunks", "problem"),
    [
        ([b"abcd"], "more than the 3 bytes it offered"),
        ([b""], "a chunk of 0 bytes"),
        ([b"x" * (MAX_CHUNK + 1)], f"a chunk of {MAX_CHUNK + 1} bytes"),
    ],
    ids=["oversized file", "empty chunk", "oversized chunk"],
)
def test_bad_chunks_fail(chunks: list[bytes], problem: str) -> None:
    _, receiver = pair(3)
    receiver.accept()
    event = None
    for chunk in chunks:
        event = receiver.receive_data(chunk)
    assert isinstance(event, Failed)
    assert problem in event.reason


def test_short_file_fails_at_end() -> None:
    _, receiver = pair(10)
    receiver.accept()
    receiver.receive_data(b"12345")
    event = receiver.receive(FileEnd(sha256="0" * 64).model_dump_json())
    assert event == Failed("the file ended after 5 of 10 bytes")


def test_data_before_accept_fails() -> None:
    _, receiver = pair(3)
    event = receiver.receive_data(b"abc")
    assert isinstance(event, Failed)
    assert "while the transfer is offered" in event.reason


def test_decline_and_cancel_reach_sender() -> None:
    sender, receiver = pair(3)
    decline = receiver.decline("No thanks.")
    assert sender.receive(decline.model_dump_json()) == Declined("No thanks.")
    assert sender.finished

    sender, receiver = pair(3)
    sender.receive(receiver.accept().model_dump_json())
    cancel = sender.cancel("stop")
    assert cancel is not None
    assert receiver.receive(cancel.model_dump_json()) == Cancelled("stop", by_peer=True)
    assert sender.cancel("again") is None


def test_closed_channel_cancels_unfinished_transfer() -> None:
    sender, receiver = pair(3)
    assert receiver.channel_closed() == Cancelled("the connection closed", by_peer=True)
    sender.receive(IncomingTransfer(offer(3)).accept().model_dump_json())
    sender.chunk(b"abc")
    sender.end()
    sender.receive('{"type": "file-complete"}')
    assert sender.channel_closed() is None


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ('{"type": "file-progress", "received": 9}', "acknowledged 9 bytes"),
        ('{"type": "file-complete"}', "'file-complete' while the transfer is transferring"),
        ("not json", "invalid message"),
        (b"\x00", "binary data"),
        ('{"type": "version-error", "expected": 9, "received": 1}', "version 9"),
    ],
)
def test_sender_rejects_bad_replies(message: str | bytes, problem: str) -> None:
    sender, receiver = pair(10)
    sender.receive(receiver.accept().model_dump_json())
    sender.chunk(b"12345")
    event = sender.receive(message)
    assert isinstance(event, Failed)
    assert problem in event.reason


def test_offer_checks() -> None:
    good = json.loads(offer(5).model_dump_json())
    with pytest.raises(VersionMismatch) as raised:
        parse_offer(json.dumps({**good, "version": TRANSFER_VERSION + 1}))
    assert raised.value.received == TRANSFER_VERSION + 1
    for bad, field in [
        ({**good, "size": -1}, "size"),
        ({**good, "size": 2**53}, "size"),
        ({**good, "name": ""}, "name"),
        ({**good, "id": "x"}, "id"),
        ({**good, "to": "../x"}, "to"),
        ({**good, "extra": 1}, "extra"),
    ]:
        with pytest.raises(TransferError, match=field):
            parse_offer(json.dumps(bad))
    with pytest.raises(TransferError, match="'file-accept' message before the file offer"):
        parse_offer('{"type": "file-accept"}')
    with pytest.raises(TransferError, match="binary data before the file offer"):
        parse_offer(b"{}")
    with pytest.raises(TransferError, match="limit is"):
        parse_offer("x" * 100_000)


def test_cancel_without_reason_stays_empty() -> None:
    """An empty reason reaches the other side empty, so that it can show who cancelled alone."""
    sender, receiver = pair(10)
    sender.receive(receiver.accept().model_dump_json())
    message = receiver.cancel("")
    assert message is not None
    assert sender.receive(message.model_dump_json()) == Cancelled("", by_peer=True)
    assert sender.reason == ""


def test_decline_without_reason_stays_empty() -> None:
    sender, receiver = pair(10)
    assert sender.receive(receiver.decline("").model_dump_json()) == Declined("")
    assert sender.state is State.DECLINED


def test_cancel_names_who_cancelled() -> None:
    sender, receiver = pair(10)
    sender.receive(receiver.accept().model_dump_json())
    message = sender.cancel("the room ended", by="host")
    assert message is not None
    assert json.loads(message.model_dump_json()) == {
        "type": "file-cancel",
        "reason": "the room ended",
        "by": "host",
    }
    assert receiver.receive(message.model_dump_json()) == Cancelled("the room ended", by_peer=True)
