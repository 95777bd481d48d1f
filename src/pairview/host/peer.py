"""One guest's WebRTC peer connection, seen from the host.

The host is always the offerer: it opens one RTCPeerConnection per guest.
It carries the shared screen track, one audio transceiver for the host's
sound out and the guest's microphone in, `RELAY_SLOTS` audio tracks for the
other guests' voices, and the `control` and `chat` data channels. File
transfers open channels of their own later. Every offer carries a fresh
`connection_id`, so answers and candidates meant for an earlier connection
to the same guest are told apart and ignored.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
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

from pairview.host.audio.outgoing import EncodedAudioTrack, HostAudio
from pairview.host.audio.voices import RELAY_SLOTS, RelayTrack
from pairview.host.encoder import Codec
from pairview.host.pipeline import VideoPipeline
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
    Goodbye,
    GuestMessage,
    Hello,
    HostMessage,
    VersionError,
    guest_message_adapter,
)
from pairview.protocol.signaling import Answer, Candidate, Offer, PeerInfo

logger = logging.getLogger(__name__)

MIME_TYPES: dict[Codec, str] = {"vp8": "video/VP8", "h264": "video/H264"}

SendSignal = Callable[[Offer | Candidate], Awaitable[None]]


class PeerEvents(Protocol):
    """What a guest's peer connection reports to the host app."""

    def connection_state_changed(self, guest: PeerInfo, old: str, new: str) -> None: ...

    def bitrate_estimated(self, guest: PeerInfo, bitrate: int) -> None: ...

    def control_opened(self, guest: PeerInfo, send: Callable[[HostMessage], None]) -> None:
        """The guest's control channel said hello with this host's version."""

    def control_message(self, guest: PeerInfo, message: GuestMessage) -> None: ...

    def control_rejected(self, guest: PeerInfo, why: str) -> None:
        """A control message was dropped before reaching remote control; `why` has no content."""

    def control_closed(self, guest: PeerInfo) -> None: ...

    def chat_opened(self, guest: PeerInfo, send: Callable[[HostChatMessage], None]) -> None:
        """Start chat with a guest whose chat hello carried this host's version."""

    def chat_message(self, guest: PeerInfo, message: GuestChatMessage) -> None: ...

    def chat_closed(self, guest: PeerInfo) -> None: ...

    def file_channel(self, guest: PeerInfo, channel: RTCDataChannel) -> None:
        """Take a data channel that the guest opened, for a file transfer."""

    def audio_ready(
        self, guest: PeerInfo, receiver: RTCRtpReceiver, slots: list[tuple[str, RelayTrack]]
    ) -> None:
        """Wire the guest's microphone `receiver` and the voice `slots` once the offer is made."""

    def voice_received(self, guest: PeerInfo, track: MediaStreamTrack) -> None:
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
    ) -> None:
        self.guest = guest
        self.connection_id = secrets.token_urlsafe(6)
        self.remb_bitrate: int | None = None
        self._host_name = host_name
        self._ice_servers = list(ice_servers)
        self._codec = codec
        self._pipeline = pipeline
        self._send = send
        self._events = events
        # NOTE: with aiortc 1.16's default "balanced" bundle policy, a second
        # audio transceiver shares the first one's transport, and the answer's
        # BUNDLE group then moves only the first: the others never start.
        # "max-bundle" puts every transceiver on one transport from the start.
        self._pc = RTCPeerConnection(
            RTCConfiguration(iceServers=self._ice_servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self._track: EncodedVideoTrack | None = None
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
        self._closed = False

    @property
    def connection_state(self) -> str:
        return str(self._pc.connectionState)

    @property
    def pc(self) -> RTCPeerConnection:
        return self._pc

    @property
    def closed(self) -> bool:
        return self._closed

    async def start(self) -> None:
        """Create the offer, with the screen track and the control channel, and send it."""
        pc = self._pc
        pc.on("connectionstatechange", self._on_connection_state)

        self._track = EncodedVideoTrack(self._pipeline)
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
        pc.on("datachannel", lambda channel: self._events.file_channel(self.guest, channel))

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
                sdp=pc.localDescription.sdp,
            )
        )

    async def handle_answer(self, answer: Answer) -> None:
        if answer.connection_id != self.connection_id or self._remote_set or self._closed:
            logger.debug("peer %s: ignoring an answer for another connection", self.guest.peer_id)
            return
        await self._pc.setRemoteDescription(RTCSessionDescription(sdp=answer.sdp, type="answer"))
        self._remote_set = True
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
            await self._pc.addIceCandidate(None)
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
        await self._pc.addIceCandidate(candidate)

    def send_goodbye(self) -> None:
        """Tell the guest over the data channel that the host ended the room."""
        self.send_control(Goodbye())

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
        if self._track is not None:
            self._track.stop()
        if self._host_audio is not None:
            self._host_audio.remove_sink(self._audio_track.push)
        self._audio_track.stop()
        for track in self._relay_tracks:
            track.stop()
        await self._pc.close()

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self._events.voice_received(self.guest, track)

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
            self._events.chat_opened(self.guest, self.send_chat)
        elif isinstance(message, ChatVersionError):
            logger.warning(
                "peer %s: guest page expected chat version %d, this host speaks %d",
                self.guest.peer_id,
                message.expected,
                CHAT_VERSION,
            )
        elif self._chat_hello:
            self._events.chat_message(self.guest, message)

    def _on_chat_close(self) -> None:
        if self._chat_hello:
            self._chat_hello = False
            self._events.chat_closed(self.guest)

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
        if old != new:
            self._events.connection_state_changed(self.guest, old, new)

    def _on_control_open(self) -> None:
        assert self._control is not None
        self._control.send(Hello(version=CONTROL_VERSION, name=self._host_name).model_dump_json())

    def _on_control_message(self, data: str | bytes) -> None:
        if isinstance(data, bytes) or len(data) > MAX_CONTROL_MESSAGE_BYTES:
            self._events.control_rejected(self.guest, "binary or oversized control message")
            return
        try:
            message = guest_message_adapter.validate_json(data)
        except ValidationError as error:
            self._events.control_rejected(self.guest, _problem(error))
            return
        if isinstance(message, Hello):
            self._on_hello(message)
        elif isinstance(message, VersionError):
            logger.warning(
                "peer %s: guest page expected control version %d, this host speaks %d",
                self.guest.peer_id,
                message.expected,
                CONTROL_VERSION,
            )
        elif not self._hello_received:
            self._events.control_rejected(self.guest, "control message before hello")
        else:
            self._events.control_message(self.guest, message)

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
        self._events.control_opened(self.guest, self.send_control)

    def _on_control_close(self) -> None:
        if self._hello_received:
            self._hello_received = False
            self._events.control_closed(self.guest)


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
