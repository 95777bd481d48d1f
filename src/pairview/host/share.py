"""A running screen share: the room, the capture pipeline and one peer per guest."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from aiortc import RTCDataChannel, RTCIceServer, RTCRtpReceiver
from aiortc.mediastreams import MediaStreamTrack

from pairview.host.audio.outgoing import HostAudio
from pairview.host.audio.voices import GuestPlayback, RelayTrack, VoiceRelay, consume
from pairview.host.bitrate import BitrateController
from pairview.host.chat import HOST_ID, Chat
from pairview.host.files import FileTransfers
from pairview.host.output import ShareOutput
from pairview.host.peer import GuestPeer
from pairview.host.pipeline import PipelineConfig, VideoPipeline
from pairview.host.remote import RemoteControl
from pairview.host.signaling import JoinParams, SignalingClient, SignalingClosed
from pairview.protocol.chat import GuestChatMessage, HostChatMessage
from pairview.protocol.control import GuestMessage, HostMessage
from pairview.protocol.signaling import (
    Answer,
    Bye,
    Candidate,
    End,
    Error,
    IceServerInfo,
    Offer,
    PeerInfo,
    PeerJoined,
    PeerLeft,
    Role,
    RoomClosed,
    ServerMessage,
    Welcome,
)
from pairview.settings import ShareSettings

logger = logging.getLogger(__name__)

# Peer connections in these states are working or about to; a guest seen
# again after a signaling outage keeps such a connection.
LIVE_STATES = frozenset({"new", "connecting", "connected"})


@dataclass(frozen=True, slots=True)
class RoomTicket:
    """What the host app holds for its room, from creating it."""

    server_url: str
    room_id: str
    host_token: str
    guest_url: str
    invite_expires_at: datetime


def websocket_url(server_url: str) -> str:
    if server_url.startswith("https://"):
        return "wss://" + server_url.removeprefix("https://") + "/ws"
    return "ws://" + server_url.removeprefix("http://") + "/ws"


def rtc_ice_servers(servers: list[IceServerInfo]) -> list[RTCIceServer]:
    """Build aiortc's ICE server list; an empty list, never None.

    aiortc falls back to a public Google STUN server when `iceServers` is
    None, which an on-premises install must never contact.
    """
    return [
        RTCIceServer(urls=server.urls, username=server.username, credential=server.credential)
        for server in servers
    ]


class Share:
    def __init__(
        self,
        settings: ShareSettings,
        ticket: RoomTicket,
        pipeline_config: PipelineConfig,
        output: ShareOutput,
        ssl_context: ssl.SSLContext | None = None,
        remote: RemoteControl | None = None,
        chat: Chat | None = None,
        files: FileTransfers | None = None,
        host_audio: HostAudio | None = None,
    ) -> None:
        self._settings = settings
        self._ticket = ticket
        self._pipeline_config = pipeline_config
        self._output = output
        self._ssl = ssl_context
        self._remote = remote
        self._chat = chat or Chat(output, settings.name)
        self._chat.set_voice_mids(self._voice_mids)
        self._files = files
        self._host_audio = host_audio
        self._relay = VoiceRelay(self._chat.send_rosters)
        self._voices: dict[str, asyncio.Task[None]] = {}
        self._peers: dict[str, GuestPeer] = {}
        self._names: dict[str, str] = {}
        self._ice_servers: list[RTCIceServer] = []
        self._bitrate = BitrateController(settings.min_bitrate, settings.max_bitrate)
        self._pipeline: VideoPipeline | None = None
        self._signaling: SignalingClient | None = None
        self._room_closed = False

    @property
    def peers(self) -> dict[str, GuestPeer]:
        return self._peers

    @property
    def pipeline(self) -> VideoPipeline | None:
        return self._pipeline

    async def run(self, stop: asyncio.Event) -> None:
        """Share until `stop` is set or the room closes, then end the room cleanly."""
        loop = asyncio.get_running_loop()
        self._pipeline = VideoPipeline(self._pipeline_config, loop)
        await asyncio.to_thread(self._pipeline.start)

        params = JoinParams(
            url=websocket_url(self._ticket.server_url),
            room=self._ticket.room_id,
            token=self._ticket.host_token,
            role=Role.HOST,
            name=self._settings.name,
        )
        self._signaling = SignalingClient(params, self._handle, self._output.info, self._ssl)
        signaling_task = asyncio.create_task(self._signaling.run())
        stop_task = asyncio.create_task(stop.wait())
        try:
            done, _ = await asyncio.wait(
                {signaling_task, stop_task}, return_when=asyncio.FIRST_COMPLETED
            )
            if signaling_task in done:
                error = signaling_task.exception()
                if isinstance(error, SignalingClosed):
                    self._output.error(str(error))
                elif error is not None:
                    raise error
        finally:
            stop_task.cancel()
            await self._end(signaling_task)

    async def _end(self, signaling_task: asyncio.Task[None]) -> None:
        """Tell every guest the room is over, by data channel and by signaling, then close."""
        for peer in self._peers.values():
            peer.send_goodbye()
        signaling = self._signaling
        if signaling is not None and not self._room_closed and not signaling_task.done():
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(signaling.send(End(type="end")), timeout=2)
            # Give the data channel and the socket a moment to carry the goodbye.
            await asyncio.sleep(0.3)
        if self._remote is not None:
            for peer_id in list(self._peers):
                self._remote.remove_guest(peer_id)
        if self._files is not None:
            await self._files.close()
        await asyncio.gather(
            *(peer.close() for peer in self._peers.values()), return_exceptions=True
        )
        self._peers.clear()
        for voice in self._voices.values():
            voice.cancel()
        if signaling is not None:
            await signaling.close()
        signaling_task.cancel()
        with contextlib.suppress(asyncio.CancelledError, SignalingClosed):
            await signaling_task
        if self._pipeline is not None:
            await asyncio.to_thread(self._pipeline.stop)
        self._output.info("Room closed.")

    async def _handle(self, message: ServerMessage) -> None:
        match message:
            case Welcome():
                self._ice_servers = rtc_ice_servers(message.ice_servers)
                for peer in message.peers:
                    if peer.role is Role.GUEST:
                        await self._guest_present(peer, announce=peer.peer_id not in self._names)
            case PeerJoined():
                if message.peer.role is Role.GUEST:
                    await self._guest_present(message.peer, announce=True)
            case PeerLeft():
                await self._guest_gone(message.peer_id)
            case Answer():
                answered = self._peers.get(message.from_ or "")
                if answered is not None:
                    await answered.handle_answer(message)
            case Candidate():
                target = self._peers.get(message.from_ or "")
                if target is not None:
                    await target.handle_candidate(message)
            case Bye():
                await self._guest_gone(message.from_ or "")
            case RoomClosed():
                self._room_closed = True
                raise SignalingClosed("The room was closed on the server.")
            case Error():
                self._output.warning(f"Signaling server: {message.message}")
            case Offer():
                logger.warning(
                    "ignoring an offer from peer %s: the host makes the offers", message.from_
                )

    async def _guest_present(self, guest: PeerInfo, announce: bool) -> None:
        existing = self._peers.get(guest.peer_id)
        if existing is not None and existing.connection_state in LIVE_STATES:
            return
        if existing is not None:
            await existing.close()
        if announce:
            self._output.joined(guest.name, guest.peer_id)
        self._names[guest.peer_id] = guest.name
        if self._remote is not None:
            self._remote.add_guest(guest.peer_id, guest.name)
        self._chat.add_guest(guest.peer_id, guest.name)
        if self._files is not None:
            self._files.add_guest(
                guest.peer_id, guest.name, lambda: self._peers[guest.peer_id].create_channel("file")
            )
        assert self._pipeline is not None
        assert self._signaling is not None
        peer = GuestPeer(
            guest=guest,
            host_name=self._settings.name,
            ice_servers=self._ice_servers,
            codec=self._settings.codec,
            pipeline=self._pipeline,
            send=self._signaling.send,
            events=self,
            host_audio=self._host_audio,
            max_file_size=self._files.max_size if self._files is not None else 0,
        )
        self._peers[guest.peer_id] = peer
        await peer.start()

    async def _guest_gone(self, peer_id: str) -> None:
        peer = self._peers.pop(peer_id, None)
        name = self._names.pop(peer_id, None)
        if self._remote is not None:
            self._remote.remove_guest(peer_id)
        self._chat.remove_guest(peer_id)
        if self._files is not None:
            self._files.remove_guest(peer_id)
        self._relay.remove_guest(peer_id)
        voice = self._voices.pop(peer_id, None)
        if voice is not None:
            voice.cancel()
        if peer is not None:
            await peer.close()
        if name is not None:
            self._output.left(name, peer_id)
        target = self._bitrate.forget(peer_id, time.monotonic())
        if target is not None and self._pipeline is not None:
            self._pipeline.set_bitrate(target)

    # PeerEvents

    def connection_state_changed(self, guest: PeerInfo, old: str, new: str) -> None:
        self._output.connection_state(guest.name, guest.peer_id, old, new)
        if new in ("failed", "closed") and self._remote is not None:
            self._remote.channel_closed(guest.peer_id)

    def control_opened(self, guest: PeerInfo, send: Callable[[HostMessage], None]) -> None:
        if self._remote is not None:
            self._remote.channel_open(guest.peer_id, send)

    def control_message(self, guest: PeerInfo, message: GuestMessage) -> None:
        if self._remote is not None:
            self._remote.handle(guest.peer_id, message)

    def control_rejected(self, guest: PeerInfo, why: str) -> None:
        if self._remote is not None:
            self._remote.reject(guest.peer_id, why)
        else:
            logger.warning("peer %s: ignoring control input (%s)", guest.peer_id, why)

    def control_closed(self, guest: PeerInfo) -> None:
        if self._remote is not None:
            self._remote.channel_closed(guest.peer_id)

    def bitrate_estimated(self, guest: PeerInfo, bitrate: int) -> None:
        if self._pipeline is None:
            return
        target = self._bitrate.estimate(
            guest.peer_id, bitrate, self._pipeline.stats.sent_bitrate, time.monotonic()
        )
        if target is not None:
            logger.info("video bitrate set to %d bit/s after guests' estimates", target)
            self._pipeline.set_bitrate(target)

    def chat_opened(self, guest: PeerInfo, send: Callable[[HostChatMessage], None]) -> None:
        self._chat.channel_open(guest.peer_id, send)

    def chat_message(self, guest: PeerInfo, message: GuestChatMessage) -> None:
        self._chat.handle(guest.peer_id, message)

    def chat_closed(self, guest: PeerInfo) -> None:
        self._chat.channel_closed(guest.peer_id)

    def file_channel(self, guest: PeerInfo, channel: RTCDataChannel) -> None:
        if self._files is not None:
            self._files.incoming_channel(guest.peer_id, channel)
        else:
            channel.close()

    def audio_ready(
        self, guest: PeerInfo, receiver: RTCRtpReceiver, slots: list[tuple[str, RelayTrack]]
    ) -> None:
        self._relay.tap(guest.peer_id, receiver)
        self._relay.add_guest(guest.peer_id, slots)
        self._chat.send_rosters()

    def voice_received(self, guest: PeerInfo, track: MediaStreamTrack) -> None:
        previous = self._voices.pop(guest.peer_id, None)
        if previous is not None:
            previous.cancel()
        speaker = self._settings.speaker

        def open_playback() -> GuestPlayback | None:
            if speaker == "none":
                return None
            device = None if speaker == "default" else speaker
            return GuestPlayback(f"{guest.name} (Pairview)", device)

        self._voices[guest.peer_id] = asyncio.create_task(consume(track, open_playback))

    def _voice_mids(self, listener: str) -> dict[str, str]:
        mids = self._relay.mids(listener)
        peer = self._peers.get(listener)
        if peer is not None and peer.audio_mid is not None:
            mids[HOST_ID] = peer.audio_mid
        return mids
