"""Signaling messages exchanged over the room WebSocket.

Every message is a JSON object with a `type`. Each type is defined once
here; the web client mirrors them in `web/static/js/protocol.js`. A peer
sends offers, answers, candidates and byes `to` another peer of its room,
and the server stamps `from` before relaying, overwriting whatever the
sender put there.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

PROTOCOL_VERSION = 1

# Enough for an SDP with several media sections and dozens of candidates.
MAX_SDP_LENGTH = 32 * 1024
PEER_ID_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"
CONNECTION_ID_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"

PeerId = Annotated[str, Field(pattern=PEER_ID_PATTERN)]
ConnectionId = Annotated[str, Field(pattern=CONNECTION_ID_PATTERN)]
DisplayName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")]
Sdp = Annotated[str, Field(min_length=1, max_length=MAX_SDP_LENGTH)]


class Role(StrEnum):
    HOST = "host"
    GUEST = "guest"


class ConnectionType(StrEnum):
    """How a guest's media travels, from the candidate pair ICE selected."""

    DIRECT = "direct"
    NAT = "nat"
    RELAY = "relay"


class ClientName(StrEnum):
    """The software that joins: the host app, or a browser family."""

    PAIRVIEW = "pairview"
    CHROME = "chrome"
    CHROMIUM = "chromium"
    EDGE = "edge"
    FIREFOX = "firefox"
    SAFARI = "safari"
    OPERA = "opera"
    OTHER = "other"


class OsName(StrEnum):
    LINUX = "linux"
    WINDOWS = "windows"
    MACOS = "macos"
    ANDROID = "android"
    IOS = "ios"
    CHROMEOS = "chromeos"
    OTHER = "other"


# Dotted numbers only, so that the field can carry no free text.
VersionNumber = Annotated[str, Field(pattern=r"^[0-9]{1,5}(\.[0-9]{1,5}){0,3}$")]


class ErrorCode(StrEnum):
    """Why the server rejected a message or a join; sent as `error.code`."""

    INVALID_MESSAGE = "invalid-message"
    UNKNOWN_TYPE = "unknown-type"
    VERSION_MISMATCH = "version-mismatch"
    NOT_JOINED = "not-joined"
    ALREADY_JOINED = "already-joined"
    ROOM_NOT_FOUND = "room-not-found"
    LINK_EXPIRED = "link-expired"
    ROOM_CLOSED = "room-closed"
    HOST_ALREADY_CONNECTED = "host-already-connected"
    PEER_NOT_FOUND = "peer-not-found"
    FORBIDDEN = "forbidden"
    UNAVAILABLE = "unavailable"


class CloseCode:
    """WebSocket close codes the server uses (RFC 6455, section 7.4.1)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    # Application codes from the private range 4000-4999.
    ROOM_CLOSED = 4000
    JOIN_REJECTED = 4001
    REPLACED = 4002
    JOIN_TIMEOUT = 4003


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class IceCandidate(_Message):
    """An RTCIceCandidateInit, with the W3C field names."""

    candidate: str = Field(max_length=1024)
    sdpMid: str | None = Field(default=None, max_length=64)
    sdpMLineIndex: int | None = Field(default=None, ge=0, le=1024)


class PeerInfo(_Message):
    peer_id: PeerId
    role: Role
    name: DisplayName


# Messages from a client to the server.


class ClientInfo(_Message):
    """What joins, for usage statistics: software and operating system, coarse-grained.

    The server keeps a browser's major version and an operating system's
    major and minor version only.
    """

    name: ClientName
    version: VersionNumber | None = None
    os: OsName | None = None
    os_version: VersionNumber | None = None


class Join(_Message):
    type: Literal["join"]
    version: int
    room: str = Field(min_length=1, max_length=64)
    token: str = Field(min_length=1, max_length=256)
    role: Role
    name: DisplayName
    resume: str | None = Field(default=None, max_length=256)
    client: ClientInfo | None = None


class Offer(_Message):
    type: Literal["offer"]
    to: PeerId
    connection_id: ConnectionId
    sdp: Sdp
    from_: PeerId | None = Field(default=None, alias="from")


class Answer(_Message):
    type: Literal["answer"]
    to: PeerId
    connection_id: ConnectionId
    sdp: Sdp
    from_: PeerId | None = Field(default=None, alias="from")


class Candidate(_Message):
    """A trickled ICE candidate; `candidate` is null at the end of candidates."""

    type: Literal["candidate"]
    to: PeerId
    connection_id: ConnectionId
    candidate: IceCandidate | None
    from_: PeerId | None = Field(default=None, alias="from")


class Bye(_Message):
    """Asks the receiving peer to close its peer connection with the sender."""

    type: Literal["bye"]
    to: PeerId
    reason: str = Field(default="", max_length=200)
    from_: PeerId | None = Field(default=None, alias="from")


class Reconnect(_Message):
    """Asks the host for a new peer connection, from a guest whose media stopped.

    `connection_id` names the connection the guest has given up on, or is
    null when it has none.
    """

    type: Literal["reconnect"]
    to: PeerId
    connection_id: ConnectionId | None = None
    from_: PeerId | None = Field(default=None, alias="from")


class RefreshIce(_Message):
    """Asks the server for fresh ICE servers, with new TURN credentials."""

    type: Literal["refresh-ice"]


class ConnectionReport(_Message):
    """Sent by the host: how its connection to a guest travels, for usage statistics."""

    type: Literal["connection-report"]
    guest: PeerId
    connection_type: ConnectionType


class End(_Message):
    """Sent by the host to close the room for everyone."""

    type: Literal["end"]


class Leave(_Message):
    """Sent by a peer that leaves on purpose, so others hear of it at once."""

    type: Literal["leave"]


class Ping(_Message):
    type: Literal["ping"]


ClientMessage = Annotated[
    Join
    | Offer
    | Answer
    | Candidate
    | Bye
    | Reconnect
    | RefreshIce
    | ConnectionReport
    | End
    | Leave
    | Ping,
    Field(discriminator="type"),
]
RelayedMessage = Offer | Answer | Candidate | Bye | Reconnect
CLIENT_MESSAGE_TYPES = frozenset(
    {
        "join",
        "offer",
        "answer",
        "candidate",
        "bye",
        "reconnect",
        "refresh-ice",
        "connection-report",
        "end",
        "leave",
        "ping",
    }
)
client_message_adapter: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)


# Messages from the server to a client.


class IceServerInfo(_Message):
    urls: list[str]
    username: str | None = None
    credential: str | None = None


class Welcome(_Message):
    type: Literal["welcome"] = "welcome"
    version: int = PROTOCOL_VERSION
    peer_id: PeerId
    room: str
    role: Role
    resume: str
    peers: list[PeerInfo]
    ice_servers: list[IceServerInfo]
    # When the TURN credentials in `ice_servers` expire, in Unix seconds; null without TURN.
    ice_expires_at: int | None = None


class IceServers(_Message):
    """Fresh ICE servers, in answer to `refresh-ice`."""

    type: Literal["ice-servers"] = "ice-servers"
    ice_servers: list[IceServerInfo]
    expires_at: int | None = None


class PeerJoined(_Message):
    type: Literal["peer-joined"] = "peer-joined"
    peer: PeerInfo


class PeerLeft(_Message):
    type: Literal["peer-left"] = "peer-left"
    peer_id: PeerId


class RoomClosed(_Message):
    type: Literal["room-closed"] = "room-closed"
    reason: Literal["ended", "expired"]


class Error(_Message):
    type: Literal["error"] = "error"
    code: ErrorCode
    message: str
    ref_type: str | None = None


class Pong(_Message):
    type: Literal["pong"] = "pong"


ServerMessage = Annotated[
    Welcome
    | IceServers
    | PeerJoined
    | PeerLeft
    | RoomClosed
    | Error
    | Pong
    | Offer
    | Answer
    | Candidate
    | Bye
    | Reconnect,
    Field(discriminator="type"),
]
server_message_adapter: TypeAdapter[ServerMessage] = TypeAdapter(ServerMessage)


def dump(message: _Message) -> str:
    """Serialize a message to the JSON text sent on the WebSocket."""
    return message.model_dump_json(by_alias=True, exclude_none=False)


def as_dict(message: _Message) -> dict[str, Any]:
    return message.model_dump(mode="json", by_alias=True)
