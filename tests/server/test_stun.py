"""The built-in STUN server: Binding requests answered, everything else ignored."""

from __future__ import annotations

import asyncio
import binascii
import socket
import struct

import pytest
from aioice import stun as aioice_stun

from pairview.errors import PairviewError
from pairview.server.stun import (
    FINGERPRINT_XOR,
    StunServerProtocol,
    binding_response,
    parse_binding_request,
    start_stun_server,
)
from tests.support.timing import seconds


def binding_request(fingerprint: bool = True) -> bytes:
    """Encode a Binding request the way aioice, a real ICE client, does."""
    message = aioice_stun.Message(
        message_method=aioice_stun.Method.BINDING, message_class=aioice_stun.Class.REQUEST
    )
    if fingerprint:
        message.add_fingerprint()
    return bytes(message)


def with_length(data: bytes, length: int) -> bytes:
    return data[:2] + struct.pack("!H", length) + data[4:]


def test_well_formed_request_parsed() -> None:
    request = binding_request()

    assert parse_binding_request(request) == request[8:20]


def test_request_without_fingerprint_parsed() -> None:
    request = binding_request(fingerprint=False)

    assert parse_binding_request(request) == request[8:20]


@pytest.mark.parametrize(
    "mangle",
    [
        lambda data: data[:19],
        lambda data: b"\x01\x01" + data[2:],  # a success response, not a request
        lambda data: b"\x00\x03" + data[2:],  # an Allocate request
        lambda data: b"\x40\x01" + data[2:],  # top bits set: ChannelData
        lambda data: data[:4] + b"\x00\x00\x00\x00" + data[8:],  # no magic cookie
        lambda data: with_length(data, len(data) - 20 + 4),  # length beyond the datagram
        lambda data: with_length(data, 2),  # length not a multiple of 4
        lambda data: data[:-1] + bytes([data[-1] ^ 1]),  # wrong fingerprint
        lambda data: data + bytes(4),  # trailing bytes after the fingerprint
        lambda data: with_length(data + b"\x80\x22\x00\x40", len(data) - 20 + 4),  # cut value
        lambda data: data + bytes(600),  # far bigger than any Binding request
    ],
    ids=[
        "short",
        "response",
        "allocate",
        "channel-data",
        "no-cookie",
        "long-length",
        "unaligned",
        "bad-fingerprint",
        "trailing",
        "truncated-attribute",
        "oversized",
    ],
)
def test_malformed_request_ignored(mangle: object) -> None:
    assert callable(mangle)
    assert parse_binding_request(mangle(binding_request())) is None


@pytest.mark.parametrize("address", [("198.51.100.7", 40000), ("2001:db8::7", 1)])
def test_response_decoded_by_real_client(address: tuple[str, int]) -> None:
    request = binding_request()
    transaction_id = request[8:20]

    response = aioice_stun.parse_message(binding_response(transaction_id, address))

    assert response.message_method == aioice_stun.Method.BINDING
    assert response.message_class == aioice_stun.Class.RESPONSE
    assert response.transaction_id == transaction_id
    assert response.attributes["XOR-MAPPED-ADDRESS"] == address
    assert "FINGERPRINT" in response.attributes


def test_response_fingerprint_is_crc_of_message() -> None:
    response = binding_response(bytes(12), ("198.51.100.7", 40000))
    expected = (binascii.crc32(response[:-8]) ^ FINGERPRINT_XOR) & 0xFFFFFFFF

    assert struct.unpack("!HHI", response[-8:]) == (0x8028, 4, expected)
    assert len(response) == 40


class FakeTransport(asyncio.DatagramTransport):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[bytes, object]] = []

    def sendto(self, data: bytes, addr: object = None) -> None:  # type: ignore[override]
        self.sent.append((data, addr))


def test_replies_rate_limited_per_source() -> None:
    protocol = StunServerProtocol(rate=0.001, burst=5)
    transport = FakeTransport()
    protocol.connection_made(transport)

    for _ in range(30):
        protocol.datagram_received(binding_request(), ("198.51.100.7", 4000))
    protocol.datagram_received(binding_request(), ("198.51.100.8", 4000))

    assert len(transport.sent) == 6
    assert protocol.stats.answered == 6
    assert protocol.stats.rate_limited == 25
    assert transport.sent[-1][1] == ("198.51.100.8", 4000)


def test_mapped_ipv4_source_reported_as_ipv4() -> None:
    protocol = StunServerProtocol()
    transport = FakeTransport()
    protocol.connection_made(transport)

    protocol.datagram_received(binding_request(), ("::ffff:198.51.100.7", 4000, 0, 0))
    response = aioice_stun.parse_message(transport.sent[0][0])

    assert response.attributes["XOR-MAPPED-ADDRESS"] == ("198.51.100.7", 4000)


async def test_server_answers_over_udp() -> None:
    server = await start_stun_server("127.0.0.1", 0)
    loop = asyncio.get_running_loop()
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.setblocking(False)
    client.bind(("127.0.0.1", 0))
    source = client.getsockname()
    try:
        request = binding_request()
        await loop.sock_sendto(client, request, server.address)
        data = await asyncio.wait_for(loop.sock_recv(client, 2048), seconds(5))
    finally:
        client.close()
        server.close()

    response = aioice_stun.parse_message(data)
    assert response.transaction_id == request[8:20]
    assert response.attributes["XOR-MAPPED-ADDRESS"] == source


async def test_server_silent_on_garbage() -> None:
    server = await start_stun_server("127.0.0.1", 0)
    loop = asyncio.get_running_loop()
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.setblocking(False)
    client.bind(("127.0.0.1", 0))
    try:
        await loop.sock_sendto(client, b"\x00\x01\x00\x00garbage-garbage!", server.address)
        await loop.sock_sendto(client, binding_request(), server.address)
        # The one reply is the one for the well-formed request.
        first = await asyncio.wait_for(loop.sock_recv(client, 2048), seconds(5))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(loop.sock_recv(client, 2048), seconds(0.5))
    finally:
        client.close()
        server.close()

    assert aioice_stun.parse_message(first).message_class == aioice_stun.Class.RESPONSE
    assert server.protocol.stats.ignored == 1
    assert server.protocol.stats.answered == 1


async def test_busy_port_named_in_error() -> None:
    server = await start_stun_server("127.0.0.1", 0)
    try:
        with pytest.raises(PairviewError, match=f"UDP 127.0.0.1 port {server.address[1]}"):
            await start_stun_server("127.0.0.1", server.address[1])
    finally:
        server.close()
