"""The host app's signaling client against the real server, restarts included."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pairview.host.signaling import JoinParams, SignalingClient, SignalingClosed
from pairview.protocol.signaling import Bye, PeerJoined, Role, ServerMessage, Welcome
from pairview.server.runner import RunningServer, start_server
from pairview.settings import ServerSettings
from tests.server.wsclient import create_room, peer, ws_url
from tests.support.timing import seconds


class Recorder:
    def __init__(self) -> None:
        self.messages: list[ServerMessage] = []
        self.statuses: list[str] = []
        self.arrived = asyncio.Event()

    async def on_message(self, message: ServerMessage) -> None:
        self.messages.append(message)
        self.arrived.set()

    def on_status(self, text: str) -> None:
        self.statuses.append(text)

    async def wait_for(self, kind: type[Any], count: int = 1, timeout: float = 10) -> list[Any]:
        async def loop() -> list[Any]:
            while True:
                found = [m for m in self.messages if isinstance(m, kind)]
                if len(found) >= count:
                    return found
                self.arrived.clear()
                await self.arrived.wait()

        return await asyncio.wait_for(loop(), seconds(timeout))


def host_client(
    server: RunningServer, room: dict[str, Any], recorder: Recorder, token: str | None = None
) -> SignalingClient:
    params = JoinParams(
        url=ws_url(server),
        room=room["room_id"],
        token=token or room["host_token"],
        role=Role.HOST,
        name="Host",
    )
    return SignalingClient(params, recorder.on_message, recorder.on_status)


async def test_client_survives_server_restart(server_settings: ServerSettings) -> None:
    server = await start_server(server_settings, access_log=False)
    room = await create_room(server)
    recorder = Recorder()
    client = host_client(server, room, recorder)
    task = asyncio.create_task(client.run())
    try:
        first = (await recorder.wait_for(Welcome))[0]
        async with peer(server) as guest:
            guest_welcome = await guest.join(room)
        await recorder.wait_for(PeerJoined)

        # The same data directory and port: rooms and the resume key survive.
        await server.stop()
        restarted_settings = server_settings.model_copy(update={"port": server.port})
        server = await start_server(restarted_settings, access_log=False)
        second = (await recorder.wait_for(Welcome, count=2, timeout=30))[1]
        async with peer(server) as guest_again:
            resumed = await guest_again.join(room, resume=guest_welcome["resume"])
    finally:
        await client.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await server.stop()

    assert second.peer_id == first.peer_id
    assert resumed["peer_id"] == guest_welcome["peer_id"]
    assert "reconnected to the signaling server" in recorder.statuses
    assert any("retrying" in status for status in recorder.statuses)


async def test_refused_join_raises(server: RunningServer) -> None:
    room = await create_room(server)
    recorder = Recorder()
    client = host_client(server, room, recorder, token="not-the-token")

    with pytest.raises(SignalingClosed, match="No room matches this link"):
        await asyncio.wait_for(client.run(), seconds(10))


async def test_messages_sent_offline_flushed_after_join(server: RunningServer) -> None:
    room = await create_room(server)
    recorder = Recorder()
    client = host_client(server, room, recorder)
    async with peer(server) as guest:
        guest_id = (await guest.join(room))["peer_id"]
        await client.send(Bye(type="bye", to=guest_id, reason="test"))
        task = asyncio.create_task(client.run())
        try:
            relayed = await guest.receive_type("bye")
        finally:
            await client.close()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    assert relayed["reason"] == "test"
    assert relayed["from"] == client.peer_id
