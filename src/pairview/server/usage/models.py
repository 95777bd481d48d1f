"""Database models of usage statistics: raw events, and daily counts that outlive them.

An event has a kind, a time, categories (role, connection type, client
software) and keyed hashes that link the events of one room or of one
anonymous participant. It never contains an address, an SDP, chat, a file
name, an email address or a display name.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from pairview.server.db import Base, UtcDateTime

REF_LENGTH = 32
LABEL_LENGTH = 48


class UsageEvent(Base):
    """One counted event: a kind, a time, at most an account id, and coarse categories."""

    __tablename__ = "usage_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    # Keyed hash of the room id: links the events of one room without naming it.
    room_ref: Mapped[str | None] = mapped_column(String(REF_LENGTH), nullable=True)
    # Keyed hash of a participant's display name, only for one who is not signed in.
    participant_ref: Mapped[str | None] = mapped_column(String(REF_LENGTH), nullable=True)
    role: Mapped[str | None] = mapped_column(String(8), nullable=True)
    # The kind's category: connection type, invitation channel or presenter change.
    detail: Mapped[str | None] = mapped_column(String(16), nullable=True)
    client: Mapped[str | None] = mapped_column(String(LABEL_LENGTH), nullable=True)
    os: Mapped[str | None] = mapped_column(String(LABEL_LENGTH), nullable=True)


class UsageDaily(Base):
    """How often a measure took a value on one UTC day, kept after the raw events are gone."""

    __tablename__ = "usage_daily"

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    measure: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(LABEL_LENGTH), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
