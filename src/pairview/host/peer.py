"""One guest's WebRTC peer connection, seen from the host.

The host is always the offerer: it opens one RTCPeerConnection per guest
with the shared screen track and a `control` data channel. Every offer
carries a fresh `connection_id`, so answers and candidates meant for an
earlier connection to the same guest are told apart and ignored.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiortc import (
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, unpack_remb_fci
from aiortc.sdp import candidate_from_sdp
from pydantic import ValidationError

from pairview.host.encoder import Codec
from pairview.host.pipeline import VideoPipeline
from pairview.host.track import EncodedVideoTrack
from pairview.protocol.control import (
    CONTROL_VERSION,
    MAX_CONTROL_MESSAGE_BYTES,
    Goodbye,
    Hello,
    VersionError,
    control_message_adapter,
)
from pairview.protocol.signaling import Answer, Candidate, Offer, PeerInfo

logger = logging.getLogger(__name__)

MIME_TYPES: dict[Codec, str] = {"vp8": "video/VP8", "h264": "video/H264"}

SendSignal = Callable[[Offer | Candidate], Awaitable[None]]


class PeerEvents(Protocol):
    """What a guest's peer connection reports to the host app."""

    def connection_state_changed(self, guest: PeerInfo, old: str, new: str) -> None: ...

    def bitrate_estimated(self, guest: PeerInfo, bitrate: int) -> None: ...


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
        self._pc = RTCPeerConnection(RTCConfiguration(iceServers=self._ice_servers))
        self._track: EncodedVideoTrack | None = None
        self._control: RTCDataChannel | None = None
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

        # NOTE: Chromium keeps each frame in its jitter buffer for as long as
        # its own estimate says, 33 to 64 ms at 1080p in docs/benchmarks.md.
        # The RTP playout-delay header extension could ask for less, but
        # aiortc 1.16 cannot send it.
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

        self._control = pc.createDataChannel("control")
        self._control.on("open", self._on_control_open)
        self._control.on("message", self._on_control_message)

        # aiortc gathers every candidate before setLocalDescription returns,
        # so the offer carries them all and the host sends no trickle.
        await pc.setLocalDescription(await pc.createOffer())
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
        if self._control is not None and self._control.readyState == "open":
            self._control.send(Goodbye().model_dump_json())

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._track is not None:
            self._track.stop()
        await self._pc.close()

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
            logger.warning(
                "peer %s: ignoring an oversized or binary control message", self.guest.peer_id
            )
            return
        try:
            message = control_message_adapter.validate_python(json.loads(data))
        except (ValueError, ValidationError):
            logger.warning("peer %s: ignoring an invalid control message", self.guest.peer_id)
            return
        if isinstance(message, Hello) and message.version != CONTROL_VERSION:
            logger.warning(
                "peer %s: guest page speaks control version %d, this host %d",
                self.guest.peer_id,
                message.version,
                CONTROL_VERSION,
            )
            assert self._control is not None
            self._control.send(
                VersionError(expected=CONTROL_VERSION, received=message.version).model_dump_json()
            )
