"""Messages on the `chat` data channel between the host and a guest.

The host opens a `chat` channel to every guest next to `control`. Both
sides send `hello` first, with the channel's protocol version. Guests send
their text to the host, which checks it, stamps the sender's name and the
time, prints it in its terminal and sends it to every guest: chat between
guests goes through the host. The host also tells each guest who is in the
room and which audio track carries whose voice. The web client mirrors these
types in `web/static/js/protocol.js`.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

CHAT_VERSION = 1
# A chat text may hold this many characters (Unicode code points); the page
# checks the same limit before sending.
MAX_CHAT_TEXT = 4000
MAX_CHAT_MESSAGE_BYTES = 64 * 1024
MAX_PARTICIPANTS = 64

PeerId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")]
Name = Annotated[str, Field(min_length=1, max_length=64)]
# Media IDs of aiortc's offers are small integers; browsers' are short tokens.
Mid = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,16}$")]

# C0 and C1 control characters other than tab and line feed: they could move
# the host's terminal cursor or change its colours. Bidirectional overrides
# make text read in another order than it was written.
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


class ChatTextError(ValueError):
    """A chat text that no participant may send; the message gives the reason in plain words."""


def check_chat_text(text: str) -> str:
    """Return `text` without surrounding white space, or raise ChatTextError."""
    stripped = text.strip()
    if not stripped:
        raise ChatTextError("The message is empty.")
    if len(stripped) > MAX_CHAT_TEXT:
        raise ChatTextError(
            f"The message has {len(stripped)} characters; the limit is {MAX_CHAT_TEXT}."
        )
    found = _FORBIDDEN.search(stripped)
    if found is not None:
        raise ChatTextError(
            f"The message contains the control character U+{ord(found.group()):04X}, "
            "which chat does not allow."
        )
    return stripped


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ChatHello(_Message):
    """The first message each side sends; the host's carries its limits."""

    type: Literal["hello"] = "hello"
    version: int
    max_text: int = MAX_CHAT_TEXT
    # The largest file, in bytes, that the host sends, receives or passes on.
    max_file_size: int = 0


class ChatVersionError(_Message):
    type: Literal["version-error"] = "version-error"
    expected: int
    received: int


class ChatSend(_Message):
    """A guest's text for everyone in the room."""

    type: Literal["chat-send"] = "chat-send"
    text: str = Field(max_length=MAX_CHAT_TEXT * 2)


class Sender(_Message):
    id: PeerId
    name: Name
    role: Literal["host", "guest"]


class ChatMessage(_Message):
    """A text as the host passes it on: with its sender and the host's time of receipt."""

    type: Literal["chat"] = "chat"
    id: int = Field(ge=0)
    sender: Sender
    text: str = Field(max_length=MAX_CHAT_TEXT)
    # Milliseconds since the Unix epoch, UTC, on the host's clock.
    time: int = Field(ge=0)


class ChatError(_Message):
    """The host's rejection of a guest's text, with the reason for the guest to read."""

    type: Literal["chat-error"] = "chat-error"
    message: str = Field(max_length=300)


class Participant(_Message):
    id: PeerId
    name: Name
    role: Literal["host", "guest"]
    # The media ID of the audio track that carries this participant's voice
    # to the guest receiving the roster; None when it is not relayed there.
    mid: Mid | None = None


class Roster(_Message):
    """Everyone in the room, for one guest; `you` is that guest's own id."""

    type: Literal["roster"] = "roster"
    you: PeerId
    participants: list[Participant] = Field(max_length=MAX_PARTICIPANTS)


GuestChatMessage = Annotated[
    ChatHello | ChatVersionError | ChatSend,
    Field(discriminator="type"),
]
HostChatMessage = Annotated[
    ChatHello | ChatVersionError | ChatMessage | ChatError | Roster,
    Field(discriminator="type"),
]
guest_chat_adapter: TypeAdapter[GuestChatMessage] = TypeAdapter(GuestChatMessage)
host_chat_adapter: TypeAdapter[HostChatMessage] = TypeAdapter(HostChatMessage)
