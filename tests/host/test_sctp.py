"""The host's SCTP transport on real aiortc connections over loopback.

Two aiortc peers connect on 127.0.0.1 with no ICE servers, both with
`HostSctpTransport`; one sends data channel messages and the other
acknowledges them.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from types import SimpleNamespace
from typing import Any, TypeVar

import pytest
from aiortc import RTCDataChannel, RTCPeerConnection
from aiortc.rtcsctptransport import (
    USERDATA_MAX_LENGTH,
    DataChunk,
    RTCSctpTransport,
    SackChunk,
    parse_packet,
    serialize_packet,
)

from pairview.host import sctp
from pairview.host.peer import GuestPeer
from pairview.protocol.signaling import PeerInfo
from tests.support.peers import negotiate, peers

TIMEOUT = 30.0
MESSAGE = 16 * 1024
# DATA chunk flags: unordered, first and last fragment of a message.
UNORDERED_WHOLE_MESSAGE = 0x07
# The payload protocol identifier of a binary WebRTC message.
BINARY = 53

pytestmark = pytest.mark.usefixtures("loopback_only")


@pytest.fixture(autouse=True)
def paired_sacks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Install the transport for the test only: `install` changes aiortc for the whole process."""
    from aiortc import rtcpeerconnection

    monkeypatch.setattr(rtcpeerconnection, "RTCSctpTransport", RTCSctpTransport)
    sctp.install()


ChunkType = TypeVar("ChunkType", DataChunk, SackChunk)
Pair = tuple[RTCPeerConnection, RTCDataChannel, RTCPeerConnection, asyncio.Queue[bytes]]


@asynccontextmanager
async def channel_pair() -> AsyncIterator[Pair]:
    """Yield the sender, its open channel, the receiver and the receiver's queue of messages."""
    async with peers(2) as (sender, receiver):
        channel = sender.createDataChannel("data")
        opened = asyncio.Event()
        channel.on("open", opened.set)
        messages: asyncio.Queue[bytes] = asyncio.Queue()
        receiver.on("datachannel", lambda remote: remote.on("message", messages.put_nowait))
        await negotiate(sender, receiver)
        async with asyncio.timeout(TIMEOUT):
            await opened.wait()
        yield sender, channel, receiver, messages


def transport(pc: RTCPeerConnection) -> sctp.HostSctpTransport:
    assert isinstance(pc.sctp, sctp.HostSctpTransport)
    return pc.sctp


async def send_all(channel: RTCDataChannel, payload: bytes) -> None:
    """Send `payload` in messages of MESSAGE bytes, keeping aiortc's buffer near 1 MiB."""
    drained = asyncio.Event()
    channel.bufferedAmountLowThreshold = 256 * 1024
    channel.on("bufferedamountlow", drained.set)
    for start in range(0, len(payload), MESSAGE):
        channel.send(payload[start : start + MESSAGE])
        if channel.bufferedAmount > 1024 * 1024:
            drained.clear()
            async with asyncio.timeout(TIMEOUT):
                await drained.wait()


async def receive(messages: asyncio.Queue[bytes], size: int) -> bytes:
    parts: list[bytes] = []
    async with asyncio.timeout(TIMEOUT):
        while sum(map(len, parts)) < size:
            parts.append(await messages.get())
    return b"".join(parts)


def count_data_packets(sctp_transport: RTCSctpTransport) -> list[int]:
    """Count the packets with DATA chunks that reach the transport, as a one-item list."""
    counted = [0]
    handle: Callable[[bytes], Awaitable[None]] = sctp_transport._handle_data

    async def counting(data: bytes) -> None:
        if any(isinstance(chunk, DataChunk) for chunk in parse_packet(data)[3]):
            counted[0] += 1
        await handle(data)

    sctp_transport._handle_data = counting  # type: ignore[method-assign]
    return counted


async def test_bulk_transfer_fewer_sacks_than_packets() -> None:
    payload = os.urandom(4 * 1024 * 1024)
    async with channel_pair() as (_sender, channel, receiver, messages):
        acknowledging = transport(receiver)
        packets = count_data_packets(acknowledging)
        sacks_before = acknowledging.sacks_sent
        sending = asyncio.ensure_future(send_all(channel, payload))
        received = await receive(messages, len(payload))
        await sending
        sacks = acknowledging.sacks_sent - sacks_before
    assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()
    # 4 MiB takes more than 3,000 packets of data, and aiortc alone sends a SACK for each.
    assert packets[0] > 2000
    assert packets[0] / 2 <= sacks < packets[0]


def data_packet(receiver: RTCSctpTransport, tsn: int, stream_id: int, flags: int = 0) -> bytes:
    """Build a packet with one unordered message of four bytes, as the remote end would."""
    chunk = DataChunk(flags=UNORDERED_WHOLE_MESSAGE | flags)
    chunk.tsn = tsn
    chunk.stream_id = stream_id
    chunk.protocol = BINARY
    chunk.user_data = tsn.to_bytes(4, "big")
    assert receiver._remote_port is not None
    return serialize_packet(
        receiver._remote_port, receiver._local_port, receiver._local_verification_tag, chunk
    )


def record_sent(sctp_transport: RTCSctpTransport, kind: type[ChunkType]) -> list[ChunkType]:
    """Record the chunks of `kind` that the transport would send, and send nothing."""
    recorded: list[ChunkType] = []

    async def record(chunk: object) -> None:
        if isinstance(chunk, kind):
            recorded.append(chunk)

    sctp_transport._send_chunk = record  # type: ignore[method-assign]
    return recorded


async def loop_turns(count: int = 5) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


async def test_sack_every_second_packet_and_at_gaps() -> None:
    async with channel_pair() as (_sender, channel, receiver, messages):
        acknowledging = transport(receiver)
        sacks = record_sent(acknowledging, SackChunk)
        assert acknowledging._last_received_tsn is not None
        first = acknowledging._last_received_tsn + 1
        assert channel.id is not None
        # Five packets handled back to back, as when they arrived together.
        for offset in range(5):
            await acknowledging._handle_data(data_packet(acknowledging, first + offset, channel.id))
        assert [sack.cumulative_tsn for sack in sacks] == [first + 1, first + 3]
        await loop_turns()
        assert [sack.cumulative_tsn for sack in sacks] == [first + 1, first + 3, first + 4]

        # A packet after a gap is acknowledged at once, with the gap in it.
        await acknowledging._handle_data(data_packet(acknowledging, first + 6, channel.id))
        assert len(sacks) == 4
        assert sacks[-1].cumulative_tsn == first + 4
        assert sacks[-1].gaps == [(2, 2)]
        await loop_turns()
        assert len(sacks) == 4

        # The packet that fills the gap is acknowledged at once too.
        await acknowledging._handle_data(data_packet(acknowledging, first + 5, channel.id))
        assert len(sacks) == 5
        assert sacks[-1].cumulative_tsn == first + 6
        assert sacks[-1].gaps == []

        # So is a packet whose sender requests a SACK with the I bit.
        await acknowledging._handle_data(
            data_packet(acknowledging, first + 7, channel.id, flags=sctp.SACK_IMMEDIATELY)
        )
        assert len(sacks) == 6
        assert sacks[-1].cumulative_tsn == first + 7
    delivered = [messages.get_nowait() for _ in range(messages.qsize())]
    assert len(delivered) == 8


async def test_lone_messages_acknowledged_without_timer() -> None:
    async with channel_pair() as (sender, channel, receiver, messages):
        await asyncio.sleep(0.2)
        # Two in a row: a count of packets alone would acknowledge every second one.
        for text in (b"first", b"second"):
            sacks_before = transport(receiver).sacks_sent
            channel.send(text)
            async with asyncio.timeout(TIMEOUT):
                assert await messages.get() == text
            # aiortc retransmits after one second at the earliest, so before
            # that only a SACK can empty the sender's queue of sent chunks.
            await asyncio.sleep(0.5)
            assert sender.sctp is not None
            assert not sender.sctp._sent_queue
            assert transport(receiver).sacks_sent == sacks_before + 1


async def test_lost_packets_resent_in_order() -> None:
    payload = os.urandom(2 * 1024 * 1024)
    async with channel_pair() as (_sender, channel, receiver, messages):
        acknowledging = transport(receiver)
        handle = acknowledging._handle_data
        seen = [0]

        async def lossy(data: bytes) -> None:
            seen[0] += 1
            if seen[0] % 37 == 0:
                return
            await handle(data)

        acknowledging._handle_data = lossy  # type: ignore[method-assign]
        sending = asyncio.ensure_future(send_all(channel, payload))
        received = await receive(messages, len(payload))
        await sending
    assert seen[0] > 1500
    assert received == payload


class ScanCountingQueue(deque[DataChunk]):
    """A sender's queue of chunks in flight that counts how often it is searched."""

    scans = 0

    def __iter__(self) -> Iterator[DataChunk]:
        self.scans += 1
        return super().__iter__()


def gap_sack(cumulative_tsn: int, gap_end: int) -> SackChunk:
    """A SACK for everything up to `cumulative_tsn` and the TSNs 2 to `gap_end` after it."""
    sack = SackChunk()
    sack.cumulative_tsn = cumulative_tsn
    sack.advertised_rwnd = 1024 * 1024
    sack.gaps = [(2, gap_end)]
    return sack


async def test_sent_queue_searched_only_after_loss() -> None:
    async with channel_pair() as (sender, channel, _receiver, _messages):
        sending = transport(sender)
        # Nothing leaves from here on, so no SACK comes back but those made below.
        sent = record_sent(sending, DataChunk)
        queue = ScanCountingQueue(sending._sent_queue)
        sending._sent_queue = queue
        transmits = [0]
        transmit = sending._transmit

        async def counting() -> None:
            transmits[0] += 1
            await transmit()

        sending._transmit = counting  # type: ignore[method-assign]
        # A congestion window wide enough for every chunk below.
        sending._cwnd = 64 * USERDATA_MAX_LENGTH

        for _ in range(12):
            channel.send(b"x" * 1000)
        await loop_turns(20)
        assert len(sent) == 12
        assert transmits[0] >= 12
        assert queue.scans == 0
        first = sent[0].tsn

        # Three SACKs report the second chunk missing. The third marks it,
        # and the chunk is sent again at once.
        for gap_end in (3, 4, 5):
            await sending._receive_sack_chunk(gap_sack(first, gap_end))
        assert queue.scans > 0
        assert [chunk.tsn for chunk in sent[12:]] == [first + 1]

        # With nothing marked, the search stops again.
        scans, transmits[0] = queue.scans, 0
        for _ in range(4):
            channel.send(b"y" * 1000)
        await loop_turns(20)
        assert transmits[0] >= 1
        assert queue.scans == scans

        # The retransmission timer marks every chunk in flight, and the
        # earliest ones go again, as far as the reduced window allows.
        count = len(sent)
        sending._t3_cancel()
        sending._t3_expired()
        await loop_turns(20)
        assert len(sent) > count
        assert sent[count].tsn == first + 1
        assert all(chunk._sent_count > 1 for chunk in sent[count:])
        assert queue.scans > scans


async def test_guest_peer_uses_host_transport(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aiortc import rtcpeerconnection

    # Undo the fixture's installation: the host's peer installs it itself.
    monkeypatch.setattr(rtcpeerconnection, "RTCSctpTransport", RTCSctpTransport)

    async def send(_message: object) -> None:
        pass

    guest = PeerInfo(peer_id="guest-1", role="guest", name="Guest")
    peer = GuestPeer(guest, "Host", [], "vp8", None, send, None)  # type: ignore[arg-type]
    try:
        peer.pc.createDataChannel("control")
        await peer.pc.setLocalDescription(await peer.pc.createOffer())
        assert isinstance(peer.pc.sctp, sctp.HostSctpTransport)
    finally:
        await peer.pc.close()


class SlowUplink:
    """A UDP transport stand-in that sends at `rate` bytes a second and queues the rest.

    It stands for the event loop's own queue of datagrams when the socket is full.
    """

    def __init__(self, inner: asyncio.DatagramTransport, rate: float) -> None:
        self.inner = inner
        self.rate = rate
        self.queue: deque[tuple[bytes, Any]] = deque()
        self.queued = 0
        self.max_queued = 0
        self._pump = asyncio.ensure_future(self._run())

    def sendto(self, data: bytes, addr: Any = None) -> None:
        self.queue.append((data, addr))
        self.queued += len(data)
        self.max_queued = max(self.max_queued, self.queued)

    def get_write_buffer_size(self) -> int:
        return self.queued

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    async def _run(self) -> None:
        interval = 0.005
        while True:
            await asyncio.sleep(interval)
            budget = self.rate * interval
            while self.queue and budget > 0:
                data, addr = self.queue.popleft()
                self.queued -= len(data)
                budget -= len(data)
                self.inner.sendto(data, addr)

    def stop(self) -> None:
        """Stop sending what is queued; the connection stays open."""
        self._pump.cancel()

    def close(self) -> None:
        self.stop()
        self.inner.close()


def slow_uplink(pc: RTCPeerConnection, rate: float) -> SlowUplink:
    """Put a SlowUplink under the ICE pair that `pc` sends on."""
    assert pc.sctp is not None
    connection = pc.sctp.transport.transport._connection
    protocol = connection._nominated[1].protocol
    uplink = SlowUplink(protocol.transport, rate)
    protocol.transport = uplink  # type: ignore[assignment]  # a stand-in with the same calls
    return uplink


async def test_slow_uplink_keeps_local_queue_short() -> None:
    payload = os.urandom(2 * 1024 * 1024)
    async with channel_pair() as (sender, channel, _receiver, messages):
        uplink = slow_uplink(sender, rate=1_000_000)
        try:
            sending = asyncio.ensure_future(send_all(channel, payload))
            received = await receive(messages, len(payload))
            await sending
        finally:
            uplink.stop()
    assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()
    # The backlog check comes before each burst of at most four chunks.
    assert uplink.max_queued <= sctp.LOCAL_BACKLOG + 4 * (USERDATA_MAX_LENGTH + 100)
    assert transport(sender).backlog_waits > 0


def test_backlog_without_ice_pair_is_zero() -> None:
    # Before ICE nominates a pair, and where aioice's state is not as expected.
    for connection in (SimpleNamespace(_nominated={}), None, SimpleNamespace()):
        dtls = SimpleNamespace(transport=SimpleNamespace(_connection=connection))
        assert sctp.datagram_backlog(dtls) == 0  # type: ignore[arg-type]
