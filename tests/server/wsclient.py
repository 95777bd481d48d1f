"""A small signaling client for tests, on the real websockets library."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from pairview.server.runner import RunningServer
from tests.support.timing import seconds


def ws_url(server: RunningServer) -> str:
    return server.local_url.replace("http://", "ws://") + "/ws"


async def create_room(server: RunningServer, **body: Any) -> dict[str, Any]:
    async with httpx.AsyncClient() as client:
        response = await client.post(f"{server.local_url}/api/rooms", json=body or None)
    assert response.status_code == 201, response.text
    room: dict[str, Any] = response.json()
    return room


class Peer:
    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection

    async def send(self, message: dict[str, Any] | str) -> None:
        await self.connection.send(message if isinstance(message, str) else json.dumps(message))

    async def receive(self, timeout: float = 5) -> dict[str, Any]:
        text = await asyncio.wait_for(self.connection.recv(), seconds(timeout))
        message: dict[str, Any] = json.loads(text)
        return message

    async def receive_type(self, kind: str, timeout: float = 5) -> dict[str, Any]:
        """Receive messages until one of `kind` arrives, failing on timeout."""
        while True:
            message = await self.receive(timeout)
            if message["type"] == kind:
                return message

    async def join(
        self, room: dict[str, Any], role: str = "guest", name: str = "Alice", **extra: Any
    ) -> dict[str, Any]:
        token = room["host_token"] if role == "host" else room["invite_token"]
        await self.send(
            {
                "type": "join",
                "version": 1,
                "room": room["room_id"],
                "token": token,
                "role": role,
                "name": name,
                **extra,
            }
        )
        return await self.receive()

    async def closed_with(self, timeout: float = 5) -> int | None:
        """Wait for the server to close the connection and return its close code."""
        try:
            while True:
                await asyncio.wait_for(self.connection.recv(), seconds(timeout))
        except Exception:
            pass
        return self.connection.close_code


@asynccontextmanager
async def peer(server: RunningServer, **kwargs: Any) -> AsyncIterator[Peer]:
    async with connect(ws_url(server), **kwargs) as connection:
        yield Peer(connection)
