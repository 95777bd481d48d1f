"""Kinds of usage events, their privacy-preserving fields, and writing one inside a transaction."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from pairview.protocol.signaling import ClientInfo, ClientName, OsName
from pairview.server.usage.models import REF_LENGTH, UsageEvent


class UsageKind(StrEnum):
    SIGN_UP = "sign-up"
    SIGN_IN = "sign-in"
    ROOM_CREATED = "room-created"
    ROOM_STARTED = "room-started"
    ROOM_ENDED = "room-ended"
    CLIENT_CONNECTED = "client-connected"
    PARTICIPANT_JOINED = "participant-joined"
    PARTICIPANT_LEFT = "participant-left"
    PRESENTER_CHANGED = "presenter-changed"
    PEER_CONNECTION = "peer-connection"
    CONTACT_ADDED = "contact-added"
    INVITATION_SENT = "invitation-sent"
    INVITATION_USED = "invitation-used"


class InvitationChannel(StrEnum):
    EMAIL = "email"
    LINK = "link"
    CONTACT = "contact"


class PresenterChange(StrEnum):
    """The relation of a host joining a room to the room's previous presenter."""

    FIRST = "first"
    SAME = "same"
    DIFFERENT = "different"


CLIENT_LABELS = {
    ClientName.PAIRVIEW: "Pairview",
    ClientName.CHROME: "Chrome",
    ClientName.CHROMIUM: "Chromium",
    ClientName.EDGE: "Edge",
    ClientName.FIREFOX: "Firefox",
    ClientName.SAFARI: "Safari",
    ClientName.OPERA: "Opera",
    ClientName.OTHER: "Other browser",
}
OS_LABELS = {
    OsName.LINUX: "Linux",
    OsName.WINDOWS: "Windows",
    OsName.MACOS: "macOS",
    OsName.ANDROID: "Android",
    OsName.IOS: "iOS",
    OsName.CHROMEOS: "ChromeOS",
    OsName.OTHER: "Other OS",
}
UNKNOWN_CLIENT = "Unknown"


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """One usage event on its way to the database; every field is a category or a keyed hash."""

    kind: UsageKind
    occurred_at: datetime
    user_id: str | None = None
    room_ref: str | None = None
    participant_ref: str | None = None
    role: str | None = None
    detail: str | None = None
    client: str | None = None
    os: str | None = None

    def row(self) -> dict[str, object]:
        """Return the column values of the event's `usage_events` row."""
        values = asdict(self)
        values["kind"] = self.kind.value
        return values


def record_usage(
    db: AsyncSession, kind: UsageKind, user_id: str | None, detail: str | None = None
) -> None:
    """Add one event inside the caller's transaction."""
    record = UsageRecord(kind, datetime.now(UTC), user_id=user_id, detail=detail)
    db.add(UsageEvent(**record.row()))


class UsageKeys:
    """Keyed hashes that link the events of one room or one anonymous participant.

    The key derives from the server's secret key, so a hash can be neither
    reversed by trying names nor matched with another server's statistics.
    """

    def __init__(self, secret_key: bytes) -> None:
        self._key = hmac.new(secret_key, b"pairview usage statistics", hashlib.sha256).digest()

    def _ref(self, purpose: bytes, value: str) -> str:
        digest = hmac.new(self._key, purpose + b"\0" + value.encode(), hashlib.sha256)
        return digest.hexdigest()[:REF_LENGTH]

    def room_ref(self, room_id: str) -> str:
        return self._ref(b"room", room_id)

    def participant_ref(self, display_name: str) -> str:
        """Hash a display name, ignoring case and surrounding spaces."""
        return self._ref(b"name", display_name.strip().casefold())


def _first_parts(version: str | None, parts: int) -> str | None:
    return ".".join(version.split(".")[:parts]) if version else None


def client_labels(info: ClientInfo | None) -> tuple[str, str | None]:
    """Return the client and OS labels of a join, cut to the precision the statistics keep.

    The host app keeps its full version; a browser keeps its major version,
    an operating system its major and minor version.
    """
    if info is None:
        return UNKNOWN_CLIENT, None
    parts = 3 if info.name is ClientName.PAIRVIEW else 1
    version = _first_parts(info.version, parts)
    client = CLIENT_LABELS[info.name] + (f" {version}" if version else "")
    if info.os is None:
        return client, None
    os_version = _first_parts(info.os_version, 2)
    return client, OS_LABELS[info.os] + (f" {os_version}" if os_version else "")
