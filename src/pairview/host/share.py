"""A running screen share: the room, the capture pipeline and one peer per guest.

A guest's connection that stops answering pings is replaced by a new one,
negotiated from scratch with a fresh connection id, because aiortc cannot
restart ICE. The guest asks for the same with a `reconnect` message when
its side notices first, for instance after its address changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiortc import RTCDataChannel, RTCIceServer, RTCRtpReceiver
from aiortc.mediastreams import MediaStreamTrack

from pairview.host.audio.outgoing import HostAudio
from pairview.host.audio.voices import GuestPlayback, RelayTrack, VoiceRelay, consume
from pairview.host.bitrate import BitrateController
from pairview.host.chat import HOST_ID, Chat
from pairview.host.console import Console
from pairview.host.files import FileTransfers
from pairview.host.ice import (
    PROBE_TIMEOUT,
    IcePlan,
    SelectedPair,
    describe_connection,
    describe_problems,
    plan_ice_servers,
)
from pairview.host.output import ShareOutput
from pairview.host.peer import GuestPeer
from pairview.host.pipeline import PipelineConfig, VideoPipeline
from pairview.host.remote import RemoteControl
from pairview.host.signaling import JoinParams, SignalingClient, SignalingClosed
from pairview.host.views import ScreenViews
from pairview.protocol.chat import GuestChatMessage, HostChatMessage
from pairview.protocol.control import GuestMessage, HostMessage
from pairview.protocol.signaling import (
    Answer,
    Bye,
    Candidate,
    ConnectionReport,
    ConnectionType,
    End,
    Error,
    IceServerInfo,
    IceServers,
    Offer,
    PeerInfo,
    PeerJoined,
    PeerLeft,
    Reconnect,
    RefreshIce,
    Role,
    RoomClosed,
    ServerMessage,
    Welcome,
)
from pairview.settings import ShareSettings

logger = logging.getLogger(__name__)

# A guest's connection is renegotiated at most this often.
MIN_RENEGOTIATE_INTERVAL = 1.0
# How often the host looks for connections that stopped answering.
SUPERVISE_INTERVAL = 1.0
# TURN credentials are refreshed when this share of their lifetime is left.
REFRESH_AT_REMAINING = 0.25


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
        self.views = ScreenViews(output, lambda: self._names, self._apply_visible)
        self._ice_servers: list[RTCIceServer] = []
        self._bitrate = BitrateController(settings.min_bitrate, settings.max_bitrate)
        self._pipeline: VideoPipeline | None = None
        self._signaling: SignalingClient | None = None
        self._room_closed = False
        # Set once the room starts closing, because a guest dropping then is no loss to report.
        self._closing = False
        self._ice_plan: IcePlan | None = None
        self._ice_ready = asyncio.Event()
        self._ice_expires_at: int | None = None
        self._relay_problems: list[str] = []
        self._lost_at: dict[str, float] = {}
        self._last_negotiated: dict[str, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._refresh_task: asyncio.Task[None] | None = None

    @property
    def peers(self) -> dict[str, GuestPeer]:
        return self._peers

    def register(self, console: Console) -> None:
        """Add the commands that hide the screen from a guest and show it again."""
        self.views.register(console)

    def _apply_visible(self, peer_id: str, visible: bool) -> None:
        peer = self._peers.get(peer_id)
        if peer is not None:
            peer.set_visible(visible)

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
        self._spawn(self._supervise())
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
        self._closing = True
        # Printed first, so that the departures printed next read as its result.
        self._output.info("Closing the room: every guest is told that it ended.")
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
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
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
                self._set_ice_servers(message.ice_servers, message.ice_expires_at)
                for peer in message.peers:
                    if peer.role is Role.GUEST:
                        await self._guest_present(peer, announce=peer.peer_id not in self._names)
            case IceServers():
                self._set_ice_servers(message.ice_servers, message.expires_at)
            case Reconnect():
                self._guest_asks_reconnect(message)
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

    def _spawn(self, coroutine: Any) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("background task failed", exc_info=task.exception())

    # ICE servers

    def _set_ice_servers(self, servers: list[IceServerInfo], expires_at: int | None) -> None:
        """Take new ICE servers; probe their TURN URLs before the next peer connection uses them."""
        self._ice_servers = rtc_ice_servers(servers)
        self._ice_expires_at = expires_at
        self._ice_ready.clear()
        self._spawn(self._plan_ice(servers))
        if self._refresh_task is not None:
            self._refresh_task.cancel()
        if expires_at is not None:
            self._refresh_task = asyncio.create_task(self._refresh_ice_later(expires_at))

    async def _plan_ice(self, servers: list[IceServerInfo]) -> None:
        plan = await plan_ice_servers(servers)
        self._ice_plan = plan
        self._ice_servers = plan.servers
        self._ice_ready.set()
        problems = describe_problems(plan)
        if problems != self._relay_problems:
            for line in problems:
                self._output.warning(line)
            if self._relay_problems and not problems:
                self._output.info("The TURN relay accepts the credentials again.")
            self._relay_problems = problems
        relay = plan.relay
        if relay is not None:
            logger.info(
                "TURN relay usable over %s at %s:%d", relay.transport, relay.host, relay.port
            )

    async def _refresh_ice_later(self, expires_at: int) -> None:
        """Ask for fresh TURN credentials before these expire.

        NOTE: fresh credentials serve new connections only. coturn refuses to
        refresh an allocation made with expired credentials, so a relayed
        connection older than the credential lifetime drops and is then
        renegotiated like any lost connection, with a short freeze.
        """
        remaining = expires_at - time.time()
        await asyncio.sleep(max(5.0, remaining * (1 - REFRESH_AT_REMAINING)))
        if self._signaling is not None:
            await self._signaling.send(RefreshIce(type="refresh-ice"))

    # guests and their connections

    async def _guest_present(self, guest: PeerInfo, announce: bool) -> None:
        existing = self._peers.get(guest.peer_id)
        if existing is not None and existing.healthy:
            return
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
        await self._connect(guest)

    async def _connect(self, guest: PeerInfo) -> None:
        """Replace any connection to `guest` with a new one and send its offer."""
        old = self._peers.pop(guest.peer_id, None)
        if old is not None:
            # Closing waits for the relay to free its allocation, which may be
            # unreachable now; the new connection does not wait for that.
            self._spawn(old.close())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._ice_ready.wait(), PROBE_TIMEOUT + 1)
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
            visible=self.views.visible(guest.peer_id),
        )
        self._peers[guest.peer_id] = peer
        self._last_negotiated[guest.peer_id] = time.monotonic()
        await peer.start()

    async def _renegotiate(self, peer_id: str, given_up: str | None = None) -> None:
        """Negotiate a new connection, unless the current one works and is not `given_up`."""
        name = self._names.get(peer_id)
        if name is None:
            return
        since = time.monotonic() - self._last_negotiated.get(peer_id, 0.0)
        if since < MIN_RENEGOTIATE_INTERVAL:
            await asyncio.sleep(MIN_RENEGOTIATE_INTERVAL - since)
        current = self._peers.get(peer_id)
        if (
            current is not None
            and current.connection_id != given_up
            and current.healthy
            and current.last_pong is not None
        ):
            return
        await self._connect(PeerInfo(peer_id=peer_id, role=Role.GUEST, name=name))

    async def _supervise(self) -> None:
        """Replace connections that stopped answering, or never came up."""
        while True:
            await asyncio.sleep(SUPERVISE_INTERVAL)
            for peer in list(self._peers.values()):
                if not peer.healthy and not peer.lost:
                    peer.lost = True
                    reason = "it did not connect in time" if peer.last_pong is None else "no pongs"
                    self.connection_lost(peer, reason)

    def _guest_asks_reconnect(self, message: Reconnect) -> None:
        peer_id = message.from_ or ""
        if peer_id not in self._names:
            return
        current = self._peers.get(peer_id)
        given_up = message.connection_id
        # A request about an older connection, while the current one works, is stale.
        if (
            current is not None
            and current.connection_id != given_up
            and current.healthy
            and current.last_pong is not None
        ):
            return
        if current is not None and not current.lost:
            current.lost = True
            self._lost_at.setdefault(peer_id, time.monotonic())
            self._output.connection_lost(current.guest.name, peer_id, "the guest lost the picture")
        self._spawn(self._renegotiate(peer_id, given_up))

    async def _guest_gone(self, peer_id: str) -> None:
        peer = self._peers.pop(peer_id, None)
        name = self._names.pop(peer_id, None)
        self.views.forget(peer_id)
        if self._remote is not None:
            self._remote.remove_guest(peer_id)
        self._lost_at.pop(peer_id, None)
        self._last_negotiated.pop(peer_id, None)
        self._chat.remove_guest(peer_id)
        if self._files is not None:
            self._files.remove_guest(peer_id)
        self._relay.remove_guest(peer_id)
        voice = self._voices.pop(peer_id, None)
        if voice is not None:
            voice.cancel()
        if peer is not None:
            self._spawn(peer.close())
        if name is not None:
            self._output.left(name, peer_id)
        target = self._bitrate.forget(peer_id, time.monotonic())
        if target is not None and self._pipeline is not None:
            self._pipeline.set_bitrate(target)

    # PeerEvents

    def _is_current(self, peer: GuestPeer) -> bool:
        """True for the guest's newest connection; events of replaced ones are stale."""
        return self._peers.get(peer.guest.peer_id) is peer

    def connection_state_changed(self, peer: GuestPeer, old: str, new: str) -> None:
        guest = peer.guest
        self._output.connection_state(guest.name, guest.peer_id, old, new)
        code = peer.security_code if new == "connected" else None
        if code is not None:
            self._output.security_code(guest.name, guest.peer_id, code)
        if new in ("failed", "closed") and self._remote is not None and self._is_current(peer):
            self._remote.channel_closed(guest.peer_id)

    def control_opened(self, peer: GuestPeer, send: Callable[[HostMessage], None]) -> None:
        if self._remote is not None and self._is_current(peer):
            self._remote.channel_open(peer.guest.peer_id, send)

    def control_message(self, peer: GuestPeer, message: GuestMessage) -> None:
        if self._remote is not None and self._is_current(peer):
            self._remote.handle(peer.guest.peer_id, message)

    def control_rejected(self, peer: GuestPeer, why: str) -> None:
        if self._remote is not None:
            self._remote.reject(peer.guest.peer_id, why)
        else:
            logger.warning("peer %s: ignoring control input (%s)", peer.guest.peer_id, why)

    def control_closed(self, peer: GuestPeer) -> None:
        if self._remote is not None and self._is_current(peer):
            self._remote.channel_closed(peer.guest.peer_id)

    def connection_classified(
        self, peer: GuestPeer, kind: ConnectionType, pair: SelectedPair
    ) -> None:
        peer_id = peer.guest.peer_id
        if self._peers.get(peer_id) is not peer:
            return
        self._output.connection_type(peer.guest.name, peer_id, describe_connection(kind, pair))
        lost_at = self._lost_at.pop(peer_id, None)
        if lost_at is not None:
            self._output.info(
                f"{peer.guest.name} (peer {peer_id}): reconnected "
                f"{time.monotonic() - lost_at:.1f} s after the connection was lost"
            )
        if self._signaling is not None:
            report = ConnectionReport(type="connection-report", guest=peer_id, connection_type=kind)
            self._spawn(self._signaling.send(report))

    def connection_lost(self, peer: GuestPeer, reason: str) -> None:
        peer_id = peer.guest.peer_id
        if self._closing or self._peers.get(peer_id) is not peer:
            return
        self._lost_at.setdefault(peer_id, time.monotonic())
        self._output.connection_lost(peer.guest.name, peer_id, reason)
        if self._remote is not None:
            # The guest cannot send key-ups over a lost path: release what it holds now.
            self._remote.channel_closed(peer_id)
        if self._signaling is not None:
            # When this machine's network changed, the signaling socket is stale too.
            self._spawn(self._signaling.check())
        self._spawn(self._renegotiate(peer_id))

    def bitrate_estimated(self, guest: PeerInfo, bitrate: int) -> None:
        if self._pipeline is None:
            return
        target = self._bitrate.estimate(
            guest.peer_id, bitrate, self._pipeline.stats.sent_bitrate, time.monotonic()
        )
        if target is not None:
            logger.info("video bitrate set to %d bit/s after guests' estimates", target)
            self._pipeline.set_bitrate(target)

    def chat_opened(self, peer: GuestPeer, send: Callable[[HostChatMessage], None]) -> None:
        if self._is_current(peer):
            self._chat.channel_open(peer.guest.peer_id, send)

    def chat_message(self, peer: GuestPeer, message: GuestChatMessage) -> None:
        if self._is_current(peer):
            self._chat.handle(peer.guest.peer_id, message)

    def chat_closed(self, peer: GuestPeer) -> None:
        if self._is_current(peer):
            self._chat.channel_closed(peer.guest.peer_id)

    def file_channel(self, peer: GuestPeer, channel: RTCDataChannel) -> None:
        if self._files is not None and self._is_current(peer):
            self._files.incoming_channel(peer.guest.peer_id, channel)
        else:
            channel.close()

    def audio_ready(
        self, guest: PeerInfo, receiver: RTCRtpReceiver, slots: list[tuple[str, RelayTrack]]
    ) -> None:
        self._relay.tap(guest.peer_id, receiver)
        self._relay.add_guest(guest.peer_id, slots)
        self._chat.send_rosters()

    def voice_received(self, peer: GuestPeer, track: MediaStreamTrack) -> None:
        if not self._is_current(peer):
            return
        guest = peer.guest
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
