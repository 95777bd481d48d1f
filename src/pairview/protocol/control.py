"""Messages on the `control` data channel between the host and a guest.

The first message each side sends is `hello`, carrying the channel's
protocol version, so that an old guest page and a newer host fail with a
clear error instead of misreading each other. After it, the host pings
every second and the guest answers; either side notices a dead path
within seconds when the pings or pongs stop. The web client mirrors these
types in `web/static/js/protocol.js`.

Positions are normalised to the shared screen: (0, 0) is its top-left
corner and (1, 1) its bottom-right one, whatever the size of the video on
the guest's page. A guest dragging with the button held may leave the video,
so coordinates up to one screen beyond each edge are valid. The host clamps
them to the screen, and anything further out is invalid.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from pairview.protocol.signaling import ConnectionType

CONTROL_VERSION = 2
MAX_CONTROL_MESSAGE_BYTES = 16 * 1024
# Cursor colours are indexes into a palette that the page owns, so the host
# never sends the page a CSS value.
CURSOR_COLOURS = 8
MAX_WHEEL_STEPS = 10

Coordinate = Annotated[float, Field(ge=-1.0, le=2.0, allow_inf_nan=False)]
# KeyboardEvent.code names a physical key, such as "KeyQ" or "ShiftLeft".
KeyCode = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9]+$")]
# KeyboardEvent.key is the character produced ("q", "@", "ê") or a key name
# ("Enter", "Shift", "Dead").
KeyValue = Annotated[str, Field(min_length=1, max_length=32)]
PeerId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]


class Capability(StrEnum):
    """A part of the host that a guest may drive, granted separately."""

    # TODO: add a clipboard capability once the host shares its clipboard.
    # Until then no guest can read or set it, so there is nothing to grant.

    POINTER = "pointer"
    KEYBOARD = "keyboard"


class _Message(BaseModel):
    # Strict: "yes" is no boolean and "0.5" no number, whatever pydantic could coerce.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Hello(_Message):
    type: Literal["hello"] = "hello"
    version: int
    name: str = Field(max_length=64)


class Goodbye(_Message):
    """The host ends the room; the guest page shows it and stops reconnecting."""

    type: Literal["goodbye"] = "goodbye"
    reason: Literal["ended"] = "ended"


class Ping(_Message):
    """Sent every second; the other side answers with a pong of the same sequence number."""

    type: Literal["ping"] = "ping"
    sequence: int = Field(ge=0)


class Pong(_Message):
    type: Literal["pong"] = "pong"
    sequence: int = Field(ge=0)


class VersionError(_Message):
    type: Literal["version-error"] = "version-error"
    expected: int
    received: int


# Guest to host.


class PointerMove(_Message):
    """The guest's pointer is over the video at (x, y).

    The host shows it to everyone as this guest's cursor, and moves the
    host's pointer there if the guest holds the pointer grant.
    """

    type: Literal["pointer-move"] = "pointer-move"
    x: Coordinate
    y: Coordinate


class PointerLeave(_Message):
    """The guest's pointer left the video: hide this guest's cursor."""

    type: Literal["pointer-leave"] = "pointer-leave"


class Button(_Message):
    """A mouse button went down or up at (x, y).

    `button` is MouseEvent.button: 0 main, 1 middle, 2 secondary, 3 back,
    4 forward.
    """

    type: Literal["button"] = "button"
    button: int = Field(ge=0, le=4)
    down: bool
    x: Coordinate
    y: Coordinate


class Wheel(_Message):
    """Wheel notches at (x, y); positive `dy` scrolls down, positive `dx` right."""

    type: Literal["wheel"] = "wheel"
    dx: int = Field(ge=-MAX_WHEEL_STEPS, le=MAX_WHEEL_STEPS)
    dy: int = Field(ge=-MAX_WHEEL_STEPS, le=MAX_WHEEL_STEPS)
    x: Coordinate
    y: Coordinate


class Key(_Message):
    """A key went down or up on the guest's keyboard.

    Both names travel: `code` for the physical key and `key` for what the
    guest's layout made of it, so that the host can type the same character
    on a host with another layout.
    """

    type: Literal["key"] = "key"
    code: KeyCode
    key: KeyValue
    down: bool
    repeat: bool = False


class ControlRequest(_Message):
    """The guest asks the host for control; the host answers with `control-state`."""

    type: Literal["control-request"] = "control-request"
    pointer: bool = True
    keyboard: bool = True


class ControlRelease(_Message):
    """The guest gives back every grant it holds."""

    type: Literal["control-release"] = "control-release"


# Host to guest.


class ControlReason(StrEnum):
    """Why the host sent a `control-state`, so the page can say it in words."""

    CURRENT = "current"
    PENDING = "pending"
    GRANTED = "granted"
    DECLINED = "declined"
    TIMED_OUT = "timed-out"
    REVOKED = "revoked"
    PANIC = "panic"
    RELEASED = "released"
    UNAVAILABLE = "unavailable"


class ControlState(_Message):
    """This guest's grants, and whether a request of its own waits for the host's answer."""

    type: Literal["control-state"] = "control-state"
    pointer: bool
    keyboard: bool
    pending: bool
    reason: ControlReason


class ViewState(_Message):
    """Whether the host lets this guest see the screen; a hidden guest gets no video frame."""

    type: Literal["view-state"] = "view-state"
    visible: bool


class ConnectionKind(_Message):
    """The path of this guest's connection, as the host classified it for its terminal.

    The host classifies because it can compare the guest's address with its
    own networks. The page cannot: Chromium hides the page's addresses
    behind mDNS names, so its statistics show a guest on the host's network
    as peer-reflexive, which looks like NAT.
    """

    type: Literal["connection"] = "connection"
    kind: ConnectionType


class Cursor(_Message):
    """One participant's pointer as the others see it."""

    id: PeerId
    name: str = Field(max_length=64)
    role: Literal["host", "guest"]
    colour: int = Field(ge=0, lt=CURSOR_COLOURS)
    # None while the pointer is off the shared screen.
    x: float | None = Field(default=None, ge=0.0, le=1.0)
    y: float | None = Field(default=None, ge=0.0, le=1.0)
    control: bool = False


class Cursors(_Message):
    """Cursors that moved since the last update, and those of participants who left."""

    type: Literal["cursors"] = "cursors"
    cursors: list[Cursor] = Field(default_factory=list, max_length=64)
    removed: list[PeerId] = Field(default_factory=list, max_length=64)


GuestMessage = Annotated[
    Hello
    | Ping
    | Pong
    | PointerMove
    | PointerLeave
    | Button
    | Wheel
    | Key
    | ControlRequest
    | ControlRelease
    | VersionError,
    Field(discriminator="type"),
]
HostMessage = Annotated[
    Hello
    | Goodbye
    | Ping
    | Pong
    | VersionError
    | ControlState
    | ViewState
    | ConnectionKind
    | Cursors,
    Field(discriminator="type"),
]
ControlMessage = Annotated[
    Hello
    | Goodbye
    | Ping
    | Pong
    | VersionError
    | PointerMove
    | PointerLeave
    | Button
    | Wheel
    | Key
    | ControlRequest
    | ControlRelease
    | ControlState
    | ViewState
    | ConnectionKind
    | Cursors,
    Field(discriminator="type"),
]
guest_message_adapter: TypeAdapter[GuestMessage] = TypeAdapter(GuestMessage)
host_message_adapter: TypeAdapter[HostMessage] = TypeAdapter(HostMessage)
control_message_adapter: TypeAdapter[ControlMessage] = TypeAdapter(ControlMessage)
