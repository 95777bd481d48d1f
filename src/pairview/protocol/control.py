"""Messages on the `control` data channel between the host and a guest.

The first message each side sends is `hello`, carrying the channel's
protocol version, so that an old guest page and a newer host fail with a
clear error instead of misreading each other. After it, the host pings
every second and the guest answers; either side notices a dead path
within seconds when the pings or pongs stop. The web client mirrors these
types in `web/static/js/protocol.js`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

CONTROL_VERSION = 1
MAX_CONTROL_MESSAGE_BYTES = 16 * 1024


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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


ControlMessage = Annotated[
    Hello | Goodbye | Ping | Pong | VersionError, Field(discriminator="type")
]
control_message_adapter: TypeAdapter[ControlMessage] = TypeAdapter(ControlMessage)
