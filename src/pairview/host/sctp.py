"""aiortc's SCTP transport, made cheaper for bulk data and gentler on slow links.

aiortc sends a SACK for every SCTP packet that carries data. Each SACK is a
datagram that the receiver builds, encrypts and sends, and that the sender
decrypts and handles. When a browser sends a file to the host, both ends of a
two-core machine are busy with SCTP, so those SACKs slow the transfer down
(docs/benchmarks.md has the figures).

RFC 4960 (section 6.2) recommends a SACK for at least every second packet
with data, sent within 200 ms. `HostSctpTransport` sends one after
every second such packet, and one at once when a packet arrives out of order,
fills a gap, arrives twice or requests it with the I bit of RFC 7053, so that
the sender learns of a loss and of its repair without delay. A lone packet
gets its SACK as soon as the event loop has handled the datagrams that
arrived with it, without a timer.

When the host sends, aiortc looks through every chunk in flight for one to
retransmit each time it may send, that is after every SACK. A fast
connection to a browser that drops nothing lets the window grow to
megabytes, thousands of chunks: while the host sent a file to Chromium,
py-spy put about a sixth of its event loop's samples in that search. Chunks
are marked for retransmission only by a SACK that reports a gap and by the
retransmission timer, so `HostSctpTransport` searches only after one of
those, until a search finds no marked chunk.

When the UDP socket's buffer is full, which happens on a link slower than
the host, the event loop keeps further datagrams in a queue of its own.
Without a limit, a window of megabytes then waits in that queue, and the
video and audio packets behind it arrive seconds late: 3 s on a 16 Mbit/s
link to Chromium. `HostSctpTransport` sends no chunk while more than
LOCAL_BACKLOG bytes wait there, and looks again after each SACK and every
BACKLOG_RECHECK seconds while it waits.

`install()` makes every peer connection of this process use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Coroutine
from typing import Any

from aiortc import rtcpeerconnection
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcsctptransport import USERDATA_MAX_LENGTH, DataChunk, RTCSctpTransport, SackChunk

PACKETS_PER_SACK = 2
# New chunks wait while this many bytes of datagrams wait in the process.
LOCAL_BACKLOG = 64 * 1024
BACKLOG_RECHECK = 0.005
# The I bit of a DATA chunk's flags: the sender requests a SACK at once (RFC 7053).
SACK_IMMEDIATELY = 0x08


class HostSctpTransport(RTCSctpTransport):
    """aiortc's SCTP transport with fewer SACKs, fewer searches and a short local queue."""

    def __init__(self, transport: RTCDtlsTransport, port: int = 5000) -> None:
        super().__init__(transport, port)
        self.sacks_sent = 0
        self._holding = False
        self._unacknowledged = 0
        self._immediate = False
        self._flush_scheduled = False
        self._tasks: set[asyncio.Task[None]] = set()
        # While False, no chunk in flight is marked for retransmission.
        self._marks_possible = False
        self._recheck: asyncio.TimerHandle | None = None
        self.backlog_waits = 0

    async def _handle_data(self, data: bytes) -> None:
        # aiortc's handler ends with a SACK for every packet, so it is held back
        # here and sent below when one is due.
        had_gaps = bool(self._sack_misordered)
        self._holding = True
        try:
            await super()._handle_data(data)
        finally:
            self._holding = False
        if not self._sack_needed:
            return
        self._unacknowledged += 1
        # Out of order: a gap or a duplicate now, or a gap that this packet filled.
        out_of_order = had_gaps or bool(self._sack_misordered or self._sack_duplicates)
        if out_of_order or self._immediate or self._unacknowledged >= PACKETS_PER_SACK:
            await self._send_sack()
        elif not self._flush_scheduled:
            # The flush runs once the loop has handled the datagrams already queued.
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    async def _receive_data_chunk(self, chunk: DataChunk) -> None:
        if chunk.flags & SACK_IMMEDIATELY:
            self._immediate = True
        await super()._receive_data_chunk(chunk)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._sack_needed:
            self._start(self._send_pending_sack())

    async def _send_pending_sack(self) -> None:
        # The association may have closed since the packet arrived, and then no SACK is due.
        with contextlib.suppress(ConnectionError):
            if self._sack_needed:
                await self._send_sack()

    async def _receive_sack_chunk(self, chunk: SackChunk) -> None:
        if chunk.gaps:
            # aiortc marks a chunk that three SACKs with gaps reported missing.
            self._marks_possible = True
        await super()._receive_sack_chunk(chunk)

    def _t3_expired(self) -> None:
        # aiortc marks every chunk in flight when the timer expires.
        self._marks_possible = True
        super()._t3_expired()

    async def _transmit(self) -> None:
        pending = (
            self._outbound_queue or self._marks_possible or self._forward_tsn_chunk is not None
        )
        if pending and self._backlogged():
            return
        if self._marks_possible:
            await super()._transmit()
            # A full congestion window can leave marked chunks for the next call.
            self._marks_possible = any(chunk._retransmit for chunk in self._sent_queue)
            return
        # No chunk to retransmit: what is left of aiortc's method sends a
        # pending FORWARD TSN chunk and then new chunks, as far as the
        # congestion window and the burst limit allow.
        if self._forward_tsn_chunk is not None:
            await self._send_chunk(self._forward_tsn_chunk)
            self._forward_tsn_chunk = None
            if not self._t3_handle:
                self._t3_start()
        burst_chunks = 4 if self._fast_recovery_exit is None else 2
        limit = min(self._flight_size + burst_chunks * USERDATA_MAX_LENGTH, self._cwnd)
        while self._outbound_queue and self._flight_size < limit:
            chunk = self._outbound_queue.popleft()
            self._sent_queue.append(chunk)
            self._flight_size_increase(chunk)
            chunk._sent_count += 1
            chunk._sent_time = time.time()
            await self._send_chunk(chunk)
            if not self._t3_handle:
                self._t3_start()

    def _backlogged(self) -> bool:
        """Return whether too many datagrams wait in this process, and if so look again later."""
        if datagram_backlog(self.transport) <= LOCAL_BACKLOG:
            return False
        self.backlog_waits += 1
        if self._recheck is None:
            loop = asyncio.get_running_loop()
            self._recheck = loop.call_later(BACKLOG_RECHECK, self._transmit_again)
        return True

    def _transmit_again(self) -> None:
        self._recheck = None
        if self._association_state == self.State.ESTABLISHED:
            self._start(self._transmit_quietly())

    def _start(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` as a task that this transport keeps until it ends."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _transmit_quietly(self) -> None:
        # The connection may have closed since the check was scheduled.
        with contextlib.suppress(ConnectionError):
            await self._transmit()

    async def _send_sack(self) -> None:
        if self._holding:
            return
        self._unacknowledged = 0
        self._immediate = False
        self.sacks_sent += 1
        await super()._send_sack()


def datagram_backlog(dtls: RTCDtlsTransport) -> int:
    """Return the bytes of datagrams that wait in this process to leave on the ICE pair in use.

    For a relayed pair, the bytes that wait for the connection to the TURN server.
    """
    # NOTE: this reads private state of aiortc's ICE transport and of aioice
    # (tested with aioice 0.13), and returns 0 where that state has changed.
    connection = getattr(dtls.transport, "_connection", None)
    nominated = getattr(connection, "_nominated", None)
    pair = nominated.get(1) if isinstance(nominated, dict) else None
    transport = getattr(getattr(pair, "protocol", None), "transport", None)
    relay = getattr(transport, "_TurnTransport__inner_protocol", None)
    if relay is not None:
        transport = getattr(relay, "transport", None)
    size = getattr(transport, "get_write_buffer_size", None)
    return int(size()) if callable(size) else 0


def install() -> None:
    """Make peer connections created from now on in this process use `HostSctpTransport`."""
    # NOTE: this replaces the name that aiortc's RTCPeerConnection builds its
    # SCTP transport from, and the class reads private state of aiortc's
    # transport and sends new chunks as aiortc's `_transmit` does (tested
    # with aiortc 1.16): an upgrade of aiortc must run tests/host/test_sctp.py.
    rtcpeerconnection.RTCSctpTransport = HostSctpTransport  # type: ignore[attr-defined]
