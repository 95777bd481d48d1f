"""A STUN Binding server (RFC 5389), so that a small deployment needs no other service.

It answers one thing: a well-formed Binding request gets a Binding success
response with XOR-MAPPED-ADDRESS and FINGERPRINT. Everything else is
dropped without an answer, error responses included, so the server tells
a scanner nothing. The reply never grows with the request and carries no
bytes of it except the transaction id. Replies are rate limited per source
address and in total, so the server is a poor amplifier for reflection
attacks with spoofed source addresses: at most 52 bytes (IPv6) for every
request of at least 20 bytes, and at most `rate` replies a second to any
one address.
"""

from __future__ import annotations

import asyncio
import binascii
import ipaddress
import logging
import socket
import struct
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import cast

from pairview.errors import PairviewError
from pairview.server.limits import TokenBucket

logger = logging.getLogger(__name__)

MAGIC_COOKIE = 0x2112A442
HEADER_LENGTH = 20
BINDING_REQUEST = 0x0001
BINDING_SUCCESS = 0x0101
XOR_MAPPED_ADDRESS = 0x0020
FINGERPRINT = 0x8028
FINGERPRINT_XOR = 0x5354554E
# Requests bigger than this are not Binding requests any client sends.
MAX_REQUEST_LENGTH = 548

Address = tuple[str, int]


def _fingerprint(message: bytes) -> int:
    return (binascii.crc32(message) ^ FINGERPRINT_XOR) & 0xFFFFFFFF


def parse_binding_request(data: bytes) -> bytes | None:
    """Return the transaction id of a well-formed Binding request, else None.

    Well-formed means: a 20-byte header with the top two bits zero, the
    Binding method in the request class, the magic cookie, a length that
    matches the datagram and is a multiple of 4, attributes that fill the
    body exactly, and a correct FINGERPRINT if one is present, as the last
    attribute.
    """
    if not HEADER_LENGTH <= len(data) <= MAX_REQUEST_LENGTH:
        return None
    message_type, length, cookie = struct.unpack_from("!HHI", data)
    if message_type != BINDING_REQUEST or cookie != MAGIC_COOKIE:
        return None
    if length % 4 or HEADER_LENGTH + length != len(data):
        return None

    offset = HEADER_LENGTH
    while offset < len(data):
        if offset + 4 > len(data):
            return None
        kind, value_length = struct.unpack_from("!HH", data, offset)
        end = offset + 4 + value_length
        padded_end = end + (-value_length % 4)
        if padded_end > len(data):
            return None
        if kind == FINGERPRINT:
            if value_length != 4 or padded_end != len(data):
                return None
            (received,) = struct.unpack_from("!I", data, offset + 4)
            if received != _fingerprint(data[:offset]):
                return None
        offset = padded_end
    return data[8:20]


def binding_response(transaction_id: bytes, address: Address) -> bytes:
    """Build a Binding success response telling the client its address and port."""
    host, port = address
    ip = ipaddress.ip_address(host.split("%")[0])
    # IPv4 addresses are XORed with the cookie, IPv6 with cookie and transaction id.
    if isinstance(ip, ipaddress.IPv4Address):
        family = 0x01
        xor_key = struct.pack("!I", MAGIC_COOKIE)
    else:
        family = 0x02
        xor_key = struct.pack("!I", MAGIC_COOKIE) + transaction_id
    xored = bytes(a ^ b for a, b in zip(ip.packed, xor_key, strict=True))
    value = struct.pack("!BBH", 0, family, port ^ (MAGIC_COOKIE >> 16)) + xored
    mapped = struct.pack("!HH", XOR_MAPPED_ADDRESS, len(value)) + value

    # The header's length counts the FINGERPRINT attribute, which the CRC covers.
    length = len(mapped) + 8
    header = struct.pack("!HHI", BINDING_SUCCESS, length, MAGIC_COOKIE) + transaction_id
    body = header + mapped
    return body + struct.pack("!HHI", FINGERPRINT, 4, _fingerprint(body))


def _mapped_address(address: Address) -> Address:
    """Undo the IPv4-mapped IPv6 form that a dual-stack socket reports."""
    host, port = address[0], address[1]
    ip = ipaddress.ip_address(host.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped), port
    return host, port


@dataclass
class StunStats:
    """Counters for the operator."""

    answered: int = 0
    ignored: int = 0
    rate_limited: int = 0


class StunServerProtocol(asyncio.DatagramProtocol):
    """Answers Binding requests on one UDP socket."""

    # Buckets for this many source addresses are kept; the oldest go first.
    MAX_TRACKED_SOURCES = 10_000

    def __init__(self, rate: float = 10.0, burst: int = 20, total_rate: float = 2000.0) -> None:
        self.stats = StunStats()
        self._rate = rate
        self._burst = burst
        self._total = TokenBucket(total_rate, int(total_rate), time.monotonic())
        self._sources: OrderedDict[str, TokenBucket] = OrderedDict()
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # The selector event loop's UDP transport does not subclass DatagramTransport.
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | int, ...]) -> None:
        transaction_id = parse_binding_request(data)
        if transaction_id is None:
            self.stats.ignored += 1
            return
        source = _mapped_address((str(addr[0]), int(addr[1])))
        if not self._allow(source[0]):
            self.stats.rate_limited += 1
            return
        assert self._transport is not None
        self._transport.sendto(binding_response(transaction_id, source), addr)
        self.stats.answered += 1

    def error_received(self, exc: Exception) -> None:
        # An ICMP error for an earlier reply; nothing to do but note it.
        logger.debug("STUN socket error: %s", exc)

    def _allow(self, host: str) -> bool:
        now = time.monotonic()
        bucket = self._sources.get(host)
        if bucket is None:
            bucket = TokenBucket(self._rate, self._burst, now)
            self._sources[host] = bucket
            if len(self._sources) > self.MAX_TRACKED_SOURCES:
                self._sources.popitem(last=False)
        else:
            self._sources.move_to_end(host)
        return bucket.take(now) and self._total.take(now)


@dataclass
class StunServer:
    transport: asyncio.DatagramTransport
    protocol: StunServerProtocol

    @property
    def address(self) -> Address:
        sockname = self.transport.get_extra_info("sockname")
        return str(sockname[0]), int(sockname[1])

    def close(self) -> None:
        self.transport.close()


async def start_stun_server(host: str, port: int) -> StunServer:
    """Listen for STUN on UDP `host`:`port`, or raise PairviewError naming both."""
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        transport, protocol = await loop.create_datagram_endpoint(
            StunServerProtocol, local_addr=(host, port), family=family
        )
    except OSError as error:
        raise PairviewError(
            f"Cannot listen for STUN on UDP {host} port {port}: {error.strerror}. "
            "Choose another with --stun-port, or turn the STUN server off with --stun-port off."
        ) from None
    server = StunServer(transport, protocol)
    logger.info("STUN server listening on UDP %s port %d", *server.address)
    return server
