"""One guest's WebRTC peer connection, seen from the host.

The host is always the offerer: it opens one RTCPeerConnection per guest.
It carries the shared screen track, one audio transceiver for the host's
sound out and the guest's microphone in, `RELAY_SLOTS` audio tracks for the
other guests' voices, and the `control` and `chat` data channels. File
transfers open channels of their own later. Every offer carries a fresh
`connection_id`, so answers and candidates meant for an earlier connection
to the same guest are told apart and ignored.

The host pings the guest on the control channel every second. When no
pong has come back for `LOSS_TIMEOUT` seconds the connection counts as
lost, long before aiortc's ICE consent checks would give up (about 30 s),
and the host app replaces it with a new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import struct
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiortc import (
    RTCBundlePolicy,
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamTrack
from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, unpack_remb_fci
from aiortc.sdp import candidate_from_sdp
from pydantic import ValidationError

from pairview.host import sctp
from pairview.host.audio.outgoing import EncodedAudioTrack, HostAudio
from pairview.host.audio.voices import RELAY_SLOTS, RelayTrack
from pairview.host.encoder import Codec
from pairview.host.ice import (
    RemoteCandidates,
    SelectedPair,
    classify,
    local_networks,
    selected_pair,
)
from pairview.host.pipeline import VideoPipeline
from pairview.host.playout import accepted_extension_id, add_extension, offer_playout_delay
from pairview.host.track import EncodedVideoTrack
from pairview.protocol.chat import (
    CHAT_VERSION,
    MAX_CHAT_MESSAGE_BYTES,
    ChatHello,
    ChatVersionError,
    GuestChatMessage,
    HostChatMessage,
    guest_chat_adapter,
)
from pairview.protocol.control import (
    CONTROL_VERSION,
    MAX_CONTROL_MESSAGE_BYTES,
    ConnectionKind,
    Goodbye,
    GuestMessage,
    Hello,
    HostMessage,
    Ping,
    Pong,
    VersionError,
    ViewState,
    guest_message_adapter,
)
from pairview.protocol.sas import connection_code, keep_sha256_fingerprint
from pairview.protocol.signaling import Answer, Candidate, ConnectionType, Offer, PeerInfo

logger = logging.getLogger(__name__)

MIME_TYPES: dict[Codec, str] = {"vp8": "video/VP8", "h264": "video/H264"}

SendSignal = Callable[[Offer | Candidate], Awaitable[None]]

PING_INTERVAL = 1.0
# Two and a half ping intervals without an answer: the path is gone.
LOSS_TIMEOUT = 2.5


class PeerEvents(Protocol):
    """What a guest's peer connection reports to the host app."""

    def connection_state_changed(self, peer: GuestPeer, old: str, new: str) -> None: ...

    def bitrate_estimated(self, guest: PeerInfo, bitrate: int) -> None: ...

    def control_opened(self, peer: GuestPeer, send: Callable[[HostMessage], None]) -> None:
        """The guest's control channel said hello with this host's version."""

    def control_message(self, peer: GuestPeer, message: GuestMessage) -> None: ...

    def control_rejected(self, peer: GuestPeer, why: str) -> None:
        """A control message was dropped before reaching remote control; `why` has no content."""

    def control_closed(self, peer: GuestPeer) -> None: ...

    def connection_classified(
        self, peer: GuestPeer, kind: ConnectionType, pair: SelectedPair
    ) -> None: ...

    def connection_lost(self, peer: GuestPeer, reason: str) -> None: ...

    def chat_opened(self, peer: GuestPeer, send: Callable[[HostChatMessage], None]) -> None:
        """Start chat with a guest whose chat hello carried this host's version."""

    def chat_message(self, peer: GuestPeer, message: GuestChatMessage) -> None: ...

    def chat_closed(self, peer: GuestPeer) -> None: ...

    def file_channel(self, peer: GuestPeer, channel: RTCDataChannel) -> None:
        """Take a data channel that the guest opened, for a file transfer."""

    def audio_ready(
        self, guest: PeerInfo, receiver: RTCRtpReceiver, slots: list[tuple[str, RelayTrack]]
    ) -> None:
        """Wire the guest's microphone `receiver` and the voice `slots` once the offer is made."""

    def voice_received(self, peer: GuestPeer, track: MediaStreamTrack) -> None:
        """Play the guest's decoded microphone track to the host."""


class GuestPeer:
    """The host's peer connection to one guest."""

    def __init__(
        self,
        guest: PeerInfo,
        host_name: str,
        ice_servers: list[RTCIceServer],
        codec: Codec,
        pipeline: VideoPipeline,
        send: SendSignal,
        events: PeerEvents,
        host_audio: HostAudio | None = None,
        max_file_size: int = 0,
        visible: bool = True,
    ) -> None:
        self.guest = guest
        self._visible = visible
        self.connection_id = secrets.token_urlsafe(6)
        self.remb_bitrate: int | None = None
        self._host_name = host_name
        self._ice_servers = list(ice_servers)
        self._codec = codec
        self._pipeline = pipeline
        self._send = send
        self._events = events
        # The connection's SCTP transport sends one SACK for every second packet.
        sctp.install()
        # NOTE: with aiortc 1.16's default "balanced" bundle policy, a second
        # audio transceiver shares the first one's transport, and the answer's
        # BUNDLE group then moves only the first: the others never start.
        # "max-bundle" puts every transceiver on one transport from the start.
        # NOTE: aioice opens the UDP socket with a 256 KiB receive buffer,
        # which drops packets when a browser sends a file fast. A 4 MiB buffer
        # stopped the drops but halved host-to-browser transfers, because the
        # browser's SACKs then queue behind the busy event loop.
        self._pc = RTCPeerConnection(
            RTCConfiguration(iceServers=self._ice_servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self._track: EncodedVideoTrack | None = None
        self._video_sender: RTCRtpSender | None = None
        self._control: RTCDataChannel | None = None
        self._chat: RTCDataChannel | None = None
        self._host_audio = host_audio
        self._max_file_size = max_file_size
        self._audio_track = EncodedAudioTrack()
        self._relay_tracks = [RelayTrack() for _ in range(RELAY_SLOTS)]
        self.audio_mid: str | None = None
        self._hello_received = False
        self._chat_hello = False
        self._state = "new"
        self._remote_set = False
        self._pending_candidates: list[Candidate] = []
        self._remote_candidates = RemoteCandidates(self._pc)
        self._closed = False
        self._ping_task: asyncio.Task[None] | None = None
        self._ping_sequence = 0
        self.created_at = time.monotonic()
        self.last_pong: float | None = None
        self.lost = False
        self.connection_type: ConnectionType | None = None

    @property
    def connection_state(self) -> str:
        return str(self._pc.connectionState)

    @property
    def pc(self) -> RTCPeerConnection:
        return self._pc

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def security_code(self) -> str | None:
        """The short authentication string of this connection, once both descriptions are set."""
        local, remote = self._pc.localDescription, self._pc.remoteDescription
        if local is None or remote is None:
            return None
        return connection_code(local.sdp, remote.sdp, local_is_host=True)

    @property
    def healthy(self) -> bool:
        """True while the guest answers pings, or while a new connection is still setting up."""
        if self._closed or self.lost or self._state in ("failed", "closed"):
            return False
        if self.last_pong is None:
            return time.monotonic() - self.created_at < LOSS_TIMEOUT * 3
        return time.monotonic() - self.last_pong < LOSS_TIMEOUT

    async def start(self) -> None:
        """Create the offer, with the screen track and the control channel, and send it."""
        pc = self._pc
        pc.on("connectionstatechange", self._on_connection_state)

        self._track = EncodedVideoTrack(self._pipeline)
        self._track.set_visible(self._visible)
        transceiver = pc.addTransceiver(self._track, direction="sendonly")
        wanted = MIME_TYPES[self._codec].lower()
        codecs = [
            codec
            for codec in RTCRtpSender.getCapabilities("video").codecs
            if codec.mimeType.lower() in (wanted, "video/rtx")
        ]
        transceiver.setCodecPreferences(codecs)
        self._hook_sender(transceiver.sender)

        # Audio: the host's sound and the guest's microphone share one
        # transceiver; the others carry other guests' voices to this one.
        if self._host_audio is not None:
            self._host_audio.add_sink(self._audio_track.push)
        audio = pc.addTransceiver(self._audio_track, direction="sendrecv")
        audio.setCodecPreferences(_opus())
        relays = [pc.addTransceiver(track, direction="sendonly") for track in self._relay_tracks]
        for relay in relays:
            relay.setCodecPreferences(_opus())
        pc.on("track", self._on_track)
        pc.on("datachannel", lambda channel: self._events.file_channel(self, channel))

        self._control = pc.createDataChannel("control")
        self._control.on("open", self._on_control_open)
        self._control.on("message", self._on_control_message)
        self._control.on("close", self._on_control_close)
        self._chat = pc.createDataChannel("chat")
        self._chat.on("open", self._on_chat_open)
        self._chat.on("message", self._on_chat_message)
        self._chat.on("close", self._on_chat_close)

        # aiortc gathers every candidate before setLocalDescription returns,
        # so the offer carries them all and the host sends no trickle.
        await pc.setLocalDescription(await pc.createOffer())
        self._video_sender = transceiver.sender
        self.audio_mid = audio.mid
        slots = [
            (str(relay.mid), track) for relay, track in zip(relays, self._relay_tracks, strict=True)
        ]
        self._events.audio_ready(self.guest, audio.receiver, slots)
        await self._send(
            Offer(
                type="offer",
                to=self.guest.peer_id,
                connection_id=self.connection_id,
                sdp=keep_sha256_fingerprint(offer_playout_delay(pc.localDescription.sdp)),
            )
        )

    async def handle_answer(self, answer: Answer) -> None:
        if answer.connection_id != self.connection_id or self._remote_set or self._closed:
            logger.debug("peer %s: ignoring an answer for another connection", self.guest.peer_id)
            return
        await self._pc.setRemoteDescription(RTCSessionDescription(sdp=answer.sdp, type="answer"))
        self._remote_set = True
        extension_id = accepted_extension_id(answer.sdp)
        if extension_id is not None and self._video_sender is not None:
            self._mark_zero_playout_delay(self._video_sender, extension_id)
        for candidate in self._pending_candidates:
            await self._add_candidate(candidate)
        self._pending_candidates.clear()

    async def handle_candidate(self, candidate: Candidate) -> None:
        if candidate.connection_id != self.connection_id or self._closed:
            return
        if not self._remote_set:
            self._pending_candidates.append(candidate)
            return
        await self._add_candidate(candidate)

    async def _add_candidate(self, message: Candidate) -> None:
        if message.candidate is None or not message.candidate.candidate:
            await self._remote_candidates.add(None)
            return
        text = message.candidate.candidate.removeprefix("candidate:")
        try:
            candidate = candidate_from_sdp(text)
        except (ValueError, IndexError):
            logger.warning("peer %s: ignoring a malformed ICE candidate", self.guest.peer_id)
            return
        candidate.sdpMid = message.candidate.sdpMid
        candidate.sdpMLineIndex = message.candidate.sdpMLineIndex
        if candidate.sdpMid is None and candidate.sdpMLineIndex is None:
            candidate.sdpMLineIndex = 0
        await self._remote_candidates.add(candidate)

    def send_goodbye(self) -> None:
        """Tell the guest over the data channel that the host ended the room."""
        self.send_control(Goodbye())

    def set_visible(self, visible: bool) -> None:
        """Let the guest see the screen or hide it, and tell the guest's page."""
        self._visible = visible
        if self._track is not None:
            self._track.set_visible(visible)
        if self._hello_received:
            self.send_control(ViewState(visible=visible))

    def send_control(self, message: HostMessage) -> None:
        """Send a message on the control channel if it is open; drop it otherwise."""
        if self._control is None or self._control.readyState != "open":
            return
        # A channel closing under us raises; the close event follows and says so.
        with contextlib.suppress(Exception):
            self._control.send(message.model_dump_json())

    def send_chat(self, message: HostChatMessage) -> None:
        """Send a message on the chat channel if it is open; drop it otherwise."""
        if self._chat is None or self._chat.readyState != "open":
            return
        with contextlib.suppress(Exception):
            self._chat.send(message.model_dump_json())

    def create_channel(self, label: str) -> RTCDataChannel:
        """Open a data channel of this side's own, such as one for a file transfer."""
        if self._closed:
            raise RuntimeError(f"the connection to peer {self.guest.peer_id} is closed")
        return self._pc.createDataChannel(label)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._ping_task is not None:
            self._ping_task.cancel()
        if self._track is not None:
            self._track.stop()
        if self._host_audio is not None:
            self._host_audio.remove_sink(self._audio_track.push)
        self._audio_track.stop()
        for track in self._relay_tracks:
            track.stop()
        await self._pc.close()

    def _mark_zero_playout_delay(self, sender: RTCRtpSender, extension_id: int) -> None:
        # NOTE: aiortc 1.16 writes no playout-delay extension, so the DTLS
        # transport's private RTP send method is wrapped to add it to every
        # packet of the video stream, before SRTP encryption.
        transport = sender.transport
        original = transport._send_rtp
        ssrc = struct.pack("!L", sender._ssrc)

        async def send_rtp(data: bytes) -> None:
            if data[8:12] == ssrc:
                data = add_extension(data, extension_id)
            await original(data)

        transport._send_rtp = send_rtp  # type: ignore[method-assign]

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self._events.voice_received(self, track)

    def _on_chat_open(self) -> None:
        assert self._chat is not None
        hello = ChatHello(version=CHAT_VERSION, max_file_size=self._max_file_size)
        self._chat.send(hello.model_dump_json())

    def _on_chat_message(self, data: str | bytes) -> None:
        if isinstance(data, bytes) or len(data) > MAX_CHAT_MESSAGE_BYTES:
            logger.warning(
                "peer %s: ignoring a binary or oversized chat message", self.guest.peer_id
            )
            return
        try:
            message = guest_chat_adapter.validate_json(data)
        except ValidationError as error:
            logger.warning("peer %s: ignoring an %s", self.guest.peer_id, _problem(error, "chat"))
            return
        if isinstance(message, ChatHello):
            if message.version != CHAT_VERSION:
                logger.warning(
                    "peer %s: guest page speaks chat version %d, this host %d",
                    self.guest.peer_id,
                    message.version,
                    CHAT_VERSION,
                )
                self.send_chat(ChatVersionError(expected=CHAT_VERSION, received=message.version))
                return
            self._chat_hello = True
            self._events.chat_opened(self, self.send_chat)
        elif isinstance(message, ChatVersionError):
            logger.warning(
                "peer %s: guest page expected chat version %d, this host speaks %d",
                self.guest.peer_id,
                message.expected,
                CHAT_VERSION,
            )
        elif self._chat_hello:
            self._events.chat_message(self, message)

    def _on_chat_close(self) -> None:
        if self._chat_hello:
            self._chat_hello = False
            self._events.chat_closed(self)

    def _hook_sender(self, sender: RTCRtpSender) -> None:
        # NOTE: aiortc 1.16 has no public hook for keyframe requests (PLI and
        # FIR) or REMB estimates, so the sender's private handlers are wrapped.
        sender._send_keyframe = self._pipeline.request_keyframe  # type: ignore[method-assign]
        original = sender._handle_rtcp_packet

        async def handle_rtcp(packet: Any) -> None:
            if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
                try:
                    bitrate, _ssrcs = unpack_remb_fci(packet.fci)
                except ValueError:
                    bitrate = None
                if bitrate:
                    self.remb_bitrate = bitrate
                    self._events.bitrate_estimated(self.guest, bitrate)
            await original(packet)

        sender._handle_rtcp_packet = handle_rtcp  # type: ignore[method-assign]

    async def _on_connection_state(self) -> None:
        new = str(self._pc.connectionState)
        old, self._state = self._state, new
        if old == new:
            return
        self._events.connection_state_changed(self, old, new)
        if self._closed:
            return
        if new == "connected":
            self._pipeline.request_keyframe()
            pair = selected_pair(self._pc)
            if pair is not None:
                self.connection_type = classify(pair, local_networks())
                self._events.connection_classified(self, self.connection_type, pair)
                self._send_connection_kind()
        elif new == "failed":
            self._declare_lost("ICE failed")

    def _declare_lost(self, reason: str) -> None:
        if self.lost or self._closed:
            return
        self.lost = True
        logger.info(
            "peer %s: connection %s lost: %s", self.guest.peer_id, self.connection_id, reason
        )
        self._events.connection_lost(self, reason)

    def _on_control_open(self) -> None:
        assert self._control is not None
        self._control.send(Hello(version=CONTROL_VERSION, name=self._host_name).model_dump_json())
        self._send_connection_kind()
        self.last_pong = time.monotonic()
        if self._ping_task is None:
            self._ping_task = asyncio.create_task(self._ping())
        if self._hello_received:
            self._greet()

    def _send_connection_kind(self) -> None:
        """Send the page its connection's classification once both it and the channel exist.

        Called after each of the two, because ICE usually connects before the control channel opens.
        """
        if self.connection_type is not None:
            self.send_control(ConnectionKind(kind=self.connection_type))

    async def _ping(self) -> None:
        """Ping the guest every second; declare the connection lost when pongs stop."""
        while not self._closed and not self.lost:
            await asyncio.sleep(PING_INTERVAL)
            control = self._control
            if control is None or control.readyState != "open":
                self._declare_lost("control channel closed")
                return
            self._ping_sequence += 1
            with contextlib.suppress(Exception):
                control.send(Ping(sequence=self._ping_sequence).model_dump_json())
            if self.last_pong is not None and time.monotonic() - self.last_pong > LOSS_TIMEOUT:
                self._declare_lost(f"no answer to pings for {LOSS_TIMEOUT:g} s")
                return

    def _on_control_message(self, data: str | bytes) -> None:
        if isinstance(data, bytes) or len(data) > MAX_CONTROL_MESSAGE_BYTES:
            self._events.control_rejected(self, "binary or oversized control message")
            return
        try:
            message = guest_message_adapter.validate_json(data)
        except ValidationError as error:
            self._events.control_rejected(self, _problem(error))
            return
        if isinstance(message, Pong):
            self.last_pong = time.monotonic()
        elif isinstance(message, Ping):
            self.send_control(Pong(sequence=message.sequence))
        elif isinstance(message, Hello):
            self._on_hello(message)
        elif isinstance(message, VersionError):
            logger.warning(
                "peer %s: guest page expected control version %d, this host speaks %d",
                self.guest.peer_id,
                message.expected,
                CONTROL_VERSION,
            )
        elif not self._hello_received:
            self._events.control_rejected(self, "control message before hello")
        else:
            self._events.control_message(self, message)

    def _on_hello(self, message: Hello) -> None:
        if message.version != CONTROL_VERSION:
            logger.warning(
                "peer %s: guest page speaks control version %d, this host %d",
                self.guest.peer_id,
                message.version,
                CONTROL_VERSION,
            )
            self.send_control(VersionError(expected=CONTROL_VERSION, received=message.version))
            return
        self._hello_received = True
        # aiortc delivers messages on a channel before the guest's acknowledgement
        # opens it, and send_control drops anything sent before then.
        if self._control is not None and self._control.readyState == "open":
            self._greet()

    def _greet(self) -> None:
        """Start a guest whose hello arrived: its view, its grants and the cursors."""
        if not self._visible:
            self.send_control(ViewState(visible=False))
        self._events.control_opened(self, self.send_control)

    def _on_control_close(self) -> None:
        if self._hello_received:
            self._hello_received = False
            self._events.control_closed(self)


def _opus() -> list[Any]:
    return [
        codec
        for codec in RTCRtpSender.getCapabilities("audio").codecs
        if codec.mimeType.lower() == "audio/opus"
    ]


def _problem(error: ValidationError, channel: str = "control") -> str:
    """Describe an invalid message by its fields and errors, never by its values."""
    problems = sorted(
        {
            f"{'.'.join(str(part) for part in item['loc']) or 'type'}: {item['type']}"
            for item in error.errors()
        }
    )
    return f"invalid {channel} message ({', '.join(problems)[:160]})"
