"""A guest made of aiortc, for network tests: joins a room and reports on stdout.

Run it inside a guest namespace:

    python -m tests.support.network_guest --url https://198.51.100.1:8800 \\
        --room ROOM --token TOKEN --cafile cert.pem

It answers the host's offers, counts the video frames it decodes and
answers the host's pings, like the web page. Like the page, it asks the
host for a new connection when the pings stop. Every event is one JSON
object per line on standard output:

- {"event": "joined", "peer_id": ...}
- {"event": "connected", "connection_id": ..., "connection_type": ..., "pair": {...}}
- {"event": "frame", "connection_id": ..., "count": N} for the first frame
  of each connection and every 15th after it
- {"event": "lost", "connection_id": ...}
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import ssl
import sys
import time
from typing import Any

from aiortc import RTCConfiguration, RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from pairview.host.ice import classify, local_networks, plan_ice_servers, selected_pair
from pairview.host.share import rtc_ice_servers, websocket_url
from pairview.host.signaling import JoinParams, SignalingClient
from pairview.protocol.control import Ping, Pong, control_message_adapter
from pairview.protocol.signaling import (
    Answer,
    IceServerInfo,
    IceServers,
    Offer,
    Reconnect,
    Role,
    ServerMessage,
    Welcome,
)

LOSS_TIMEOUT = 2.5
LOST_REPEAT = 3.0
FRAME_REPORT_EVERY = 15


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, "t": time.monotonic(), **fields}), flush=True)


class Guest:
    def __init__(self, args: argparse.Namespace) -> None:
        context = ssl.create_default_context(cafile=args.cafile) if args.cafile else None
        params = JoinParams(
            url=websocket_url(args.url),
            room=args.room,
            token=args.token,
            role=Role.GUEST,
            name=args.name,
        )
        self.signaling = SignalingClient(params, self.handle, self.status, context)
        self.ice_servers: list[IceServerInfo] = []
        self.pc: RTCPeerConnection | None = None
        self.connection_id: str | None = None
        self.host_id: str | None = None
        self.created_at = time.monotonic()
        self.last_ping: float | None = None
        self.lost_asked = 0.0
        self.lost_since: float | None = None
        self.tasks: set[asyncio.Task[Any]] = set()

    def status(self, text: str) -> None:
        emit("status", text=text)

    def spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def handle(self, message: ServerMessage) -> None:
        if isinstance(message, Welcome):
            self.ice_servers = message.ice_servers
            emit("joined", peer_id=message.peer_id)
            hosts = [peer for peer in message.peers if peer.role is Role.HOST]
            if hosts:
                self.host_id = hosts[0].peer_id
            if self.pc is not None and not self.healthy():
                await self.ask_reconnect()
        elif isinstance(message, IceServers):
            self.ice_servers = message.ice_servers
        elif isinstance(message, Offer):
            await self.answer(message)

    def healthy(self) -> bool:
        if self.pc is None or self.pc.connectionState in ("failed", "closed"):
            return False
        if self.last_ping is None:
            return time.monotonic() - self.created_at < 10
        return time.monotonic() - self.last_ping < LOSS_TIMEOUT

    async def answer(self, offer: Offer) -> None:
        if offer.connection_id == self.connection_id:
            return
        old = self.pc
        if old is not None:
            self.spawn(old.close())
        self.host_id = offer.from_
        self.connection_id = offer.connection_id
        self.created_at = time.monotonic()
        self.last_ping = None
        plan = await plan_ice_servers(self.ice_servers)
        servers = plan.servers if plan.servers else rtc_ice_servers(self.ice_servers)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=servers))
        self.pc = pc
        connection_id = offer.connection_id

        @pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "video":
                self.spawn(self.count_frames(track, connection_id))

        @pc.on("datachannel")
        def on_datachannel(channel: RTCDataChannel) -> None:
            if channel.label != "control":
                return

            def on_message(data: str | bytes) -> None:
                if pc is not self.pc or isinstance(data, bytes):
                    return
                self.last_ping = time.monotonic()
                message = control_message_adapter.validate_json(data)
                if isinstance(message, Ping):
                    channel.send(Pong(sequence=message.sequence).model_dump_json())

            channel.on("message", on_message)

        @pc.on("connectionstatechange")
        def on_state() -> None:
            emit("state", connection_id=connection_id, state=pc.connectionState)
            if pc.connectionState == "connected" and pc is self.pc:
                pair = selected_pair(pc)
                if pair is not None:
                    kind = classify(pair, local_networks())
                    emit(
                        "connected",
                        connection_id=connection_id,
                        connection_type=kind.value,
                        pair=dataclasses.asdict(pair),
                    )

        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer.sdp, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        assert offer.from_ is not None
        await self.signaling.send(
            Answer(
                type="answer",
                to=offer.from_,
                connection_id=connection_id,
                sdp=pc.localDescription.sdp,
            )
        )

    async def count_frames(self, track: MediaStreamTrack, connection_id: str) -> None:
        count = 0
        with contextlib.suppress(MediaStreamError):
            while True:
                await track.recv()
                count += 1
                if count == 1 or count % FRAME_REPORT_EVERY == 0:
                    emit("frame", connection_id=connection_id, count=count)

    async def ask_reconnect(self) -> None:
        if self.host_id is None:
            return
        await self.signaling.send(
            Reconnect(type="reconnect", to=self.host_id, connection_id=self.connection_id)
        )

    async def watch(self) -> None:
        """Notice lost connections like the web page: no ping for three seconds."""
        while True:
            await asyncio.sleep(0.5)
            if self.pc is None or self.healthy():
                self.lost_since = None
                continue
            now = time.monotonic()
            first = self.lost_since is None
            if first:
                self.lost_since = now
            if now - self.lost_asked < LOST_REPEAT:
                continue
            self.lost_asked = now
            emit("lost", connection_id=self.connection_id)
            if first:
                self.signaling.reconnect_now()
            else:
                self.spawn(self.signaling.check())
            await self.ask_reconnect()

    async def run(self) -> None:
        watcher = asyncio.create_task(self.watch())
        try:
            await self.signaling.run()
        finally:
            watcher.cancel()
            if self.pc is not None:
                await self.pc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="An aiortc guest for network tests.")
    parser.add_argument("--url", required=True, help="the Pairview server's base URL")
    parser.add_argument("--room", required=True, help="room id")
    parser.add_argument("--token", required=True, help="the room's invite token")
    parser.add_argument("--cafile", help="CA certificate to trust for the server")
    parser.add_argument("--name", default="Robot", help="display name")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(Guest(args).run())
    sys.exit(0)


if __name__ == "__main__":
    main()
