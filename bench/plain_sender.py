"""The benchmark's reference sender: screen sharing as plain aiortc does it.

A MediaStreamTrack grabs the screen with mss at a fixed frame rate and
hands raw frames to aiortc. aiortc encodes them per RTCRtpSender with its
own VP8 defaults: a bitrate between 0.25 and 1.5 Mbit/s in aiortc 1.16,
steered by the guest's REMB. Every guest gets its own peer connection
with its own screen track, and so its own grab, conversion and encoder.

NOTE: sharing one track through aiortc's MediaRelay instead crashed the
process (SIGSEGV) with three guests in aiortc 1.16 and PyAV 18. Every
sender converts the same BGRA frame to I420 on its own encoder thread,
and PyAV's per-frame converter is likely not safe to use from several
threads at once.

Only the signaling is Pairview's: an embedded Pairview server, a room,
and the host side of the signaling protocol, so that the same guest page
and the same probe measure both senders.

Run it as `python -m bench.plain_sender --bind ADDRESS` with DISPLAY set;
it prints the guest link and shares until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import secrets
import signal
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import mss
import numpy as np
from aiortc import (
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.sdp import candidate_from_sdp

from pairview.host.rooms import create_room
from pairview.host.share import websocket_url
from pairview.host.signaling import JoinParams, SignalingClient
from pairview.protocol.signaling import (
    Answer,
    Bye,
    Candidate,
    Offer,
    PeerJoined,
    PeerLeft,
    Role,
    ServerMessage,
    Welcome,
)
from pairview.server.api import guest_url
from pairview.server.runner import start_server
from pairview.settings import ServerSettings

logger = logging.getLogger("bench.plain_sender")

VIDEO_CLOCK_RATE = 90_000


class ScreenTrack(VideoStreamTrack):
    """Grabs the whole first monitor with mss, `fps` times a second."""

    def __init__(self, fps: int) -> None:
        super().__init__()
        self._fps = fps
        self._screen: Any = mss.MSS()
        self._monitor = self._screen.monitors[1]
        self._frames = 0
        self._began: float | None = None

    async def recv(self) -> av.VideoFrame:
        # Pace on an absolute schedule, as aiortc's own VideoStreamTrack does.
        if self._began is None:
            self._began = time.monotonic()
        due = self._began + self._frames / self._fps
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        pts = round(self._frames * VIDEO_CLOCK_RATE / self._fps)
        self._frames += 1

        shot = self._screen.grab(self._monitor)
        pixels = np.frombuffer(shot.raw, dtype=np.uint8).reshape(shot.height, shot.width, 4)
        frame = av.VideoFrame.from_ndarray(pixels, format="bgra")
        frame.pts = pts
        frame.time_base = Fraction(1, VIDEO_CLOCK_RATE)
        return frame


class PlainHost:
    """The host side of the signaling protocol, with one plain peer connection per guest."""

    def __init__(self, fps: int) -> None:
        self._fps = fps
        self._peers: dict[str, tuple[str, RTCPeerConnection]] = {}
        self.signaling: SignalingClient | None = None

    async def handle(self, message: ServerMessage) -> None:
        match message:
            case Welcome():
                for peer in message.peers:
                    if peer.role is Role.GUEST:
                        await self._offer(peer.peer_id)
            case PeerJoined() if message.peer.role is Role.GUEST:
                await self._offer(message.peer.peer_id)
            case Answer():
                entry = self._peers.get(message.from_ or "")
                if entry is not None and entry[0] == message.connection_id:
                    await entry[1].setRemoteDescription(
                        RTCSessionDescription(sdp=message.sdp, type="answer")
                    )
            case Candidate():
                await self._add_candidate(message)
            case PeerLeft() | Bye():
                peer_id = message.peer_id if isinstance(message, PeerLeft) else message.from_
                entry = self._peers.pop(peer_id or "", None)
                if entry is not None:
                    await entry[1].close()
            case _:
                pass

    async def _offer(self, peer_id: str) -> None:
        assert self.signaling is not None
        if peer_id in self._peers:
            return
        # An explicit, empty ICE server list: with None, aiortc contacts a public STUN server.
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        connection_id = secrets.token_urlsafe(6)
        self._peers[peer_id] = (connection_id, pc)
        transceiver = pc.addTransceiver(ScreenTrack(self._fps), direction="sendonly")
        transceiver.setCodecPreferences(
            [
                codec
                for codec in RTCRtpSender.getCapabilities("video").codecs
                if codec.mimeType.lower() in ("video/vp8", "video/rtx")
            ]
        )
        await pc.setLocalDescription(await pc.createOffer())
        await self.signaling.send(
            Offer(
                type="offer",
                to=peer_id,
                connection_id=connection_id,
                sdp=pc.localDescription.sdp,
            )
        )

    async def _add_candidate(self, message: Candidate) -> None:
        entry = self._peers.get(message.from_ or "")
        if entry is None or entry[0] != message.connection_id:
            return
        if message.candidate is None or not message.candidate.candidate:
            return
        candidate = candidate_from_sdp(message.candidate.candidate.removeprefix("candidate:"))
        candidate.sdpMid = message.candidate.sdpMid
        candidate.sdpMLineIndex = message.candidate.sdpMLineIndex or 0
        await entry[1].addIceCandidate(candidate)

    async def close(self) -> None:
        for _, pc in self._peers.values():
            await pc.close()
        self._peers.clear()


async def share(bind: str, fps: int, data_dir: Path) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    # start the embedded server and create a room, as `pairview share` does
    token = secrets.token_urlsafe(32)
    settings = ServerSettings(host=bind, port=0, data_dir=data_dir, room_creation_token=token)
    running = await start_server(settings, access_log=False)
    ssl_context = running.client_ssl_context()
    ticket = await create_room(running.local_url, token, 3600, ssl_context)
    print(guest_url(running.base_url, ticket.room_id, ticket.guest_url.partition("#")[2]))
    print("ready", flush=True)

    # join as the room's host and send each guest an offer until stopped
    host = PlainHost(fps)
    params = JoinParams(
        url=websocket_url(ticket.server_url),
        room=ticket.room_id,
        token=ticket.host_token,
        role=Role.HOST,
        name="aiortc",
    )
    host.signaling = SignalingClient(params, host.handle, logger.info, ssl_context)
    signaling = asyncio.create_task(host.signaling.run())
    await stop.wait()

    await host.close()
    await host.signaling.close()
    signaling.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await signaling
    await running.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bind", required=True, help="address the embedded server listens on")
    parser.add_argument("--fps", type=int, default=30, help="frames grabbed per second")
    args = parser.parse_args()
    if not 1 <= args.fps <= 60:
        parser.error(f"--fps must be between 1 and 60, got {args.fps}")
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with tempfile.TemporaryDirectory(prefix="pairview-bench-") as data_dir:
        asyncio.run(share(args.bind, args.fps, Path(data_dir)))


if __name__ == "__main__":
    main()
