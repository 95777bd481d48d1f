"""Shutting the server down while it replies to a client's close frame.

The protocol is driven through a stand-in transport, so the moment between
the server's reply to the close and the loss of the connection can be held
open. With a real socket it usually passes within one turn of the event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import uvicorn
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.client import ClientProtocol
from websockets.exceptions import InvalidState
from websockets.frames import Close
from websockets.uri import parse_uri

from pairview.server.runner import WebSocketProtocol
from tests.support.timing import seconds


class StandInTransport(asyncio.Transport):
    """A transport that keeps what the server writes and whether it closed the connection."""

    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data

    def close(self) -> None:
        self.closing = True

    def is_closing(self) -> bool:
        return self.closing

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        addresses = {"sockname": ("127.0.0.1", 8443), "peername": ("127.0.0.1", 50000)}
        return addresses.get(name, default)


async def accept_until_closed(scope: Any, receive: Any, send: Any) -> None:
    """Accept a WebSocket and wait for it to end."""
    assert scope["type"] == "websocket"
    assert (await receive())["type"] == "websocket.connect"
    await send({"type": "websocket.accept"})
    while (await receive())["type"] != "websocket.disconnect":
        pass


async def closed_by_client(protocol_class: type[WebSocketsSansIOProtocol]) -> Any:
    """Open a connection and deliver the client's close, then return the protocol and transport."""
    config = uvicorn.Config(accept_until_closed, lifespan="off", log_config=None, ws=protocol_class)
    config.load()
    protocol = protocol_class(config, ServerState(), app_state={})
    transport = StandInTransport()
    protocol.connection_made(transport)

    client = ClientProtocol(parse_uri("ws://127.0.0.1:8443/ws"))
    client.send_request(client.connect())
    protocol.data_received(b"".join(client.data_to_send()))
    deadline = asyncio.get_running_loop().time() + seconds(10)
    while not protocol.handshake_complete:
        assert asyncio.get_running_loop().time() < deadline, "the server never accepted"
        await asyncio.sleep(0.01)
    client.receive_data(bytes(transport.written))
    assert client.handshake_exc is None

    accepted = len(transport.written)
    client.send_close(1000, "bye")
    protocol.data_received(b"".join(client.data_to_send()))
    # The server replied to the close and closed the transport, as uvicorn does.
    client.receive_data(bytes(transport.written[accepted:]))
    assert client.close_rcvd == Close(1000, "bye")
    assert transport.closing
    return protocol, transport


async def test_shutdown_during_client_close() -> None:
    protocol, transport = await closed_by_client(WebSocketProtocol)
    written = len(transport.written)

    protocol.shutdown()

    # Only the reply to the client's close went out, not a second close frame.
    assert len(transport.written) == written
    protocol.connection_lost(None)


async def test_uvicorn_protocol_raises_invalid_state() -> None:
    """Show the uvicorn bug that the subclass works around. This fails once uvicorn fixes it."""
    protocol, _transport = await closed_by_client(WebSocketsSansIOProtocol)
    with pytest.raises(InvalidState):
        protocol.shutdown()
    protocol.connection_lost(None)
