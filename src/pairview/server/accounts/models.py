"""Database models of accounts, sessions, contacts and invitations.

Only what a feature needs is stored. Secrets (session tokens, mail link
tokens, invitation tokens, one-time codes) are kept as SHA-256 hashes; an
external provider's access token is kept sealed with the server's key.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from pairview.server.db import Base, UtcDateTime

EMAIL_LENGTH = 254
NAME_LENGTH = 64
ID_LENGTH = 32
HASH_LENGTH = 64


class User(Base):
    """An account. `email` is set only once verified; external sign-ins may have none."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    email: Mapped[str | None] = mapped_column(String(EMAIL_LENGTH), unique=True, nullable=True)
    display_name: Mapped[str] = mapped_column(String(NAME_LENGTH))
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    role: Mapped[str] = mapped_column(String(16), default="user")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Identity(Base):
    """A sign-in through GitHub, Slack or an OpenID Connect provider.

    Keyed by (provider, subject), never by email address.
    """

    __tablename__ = "identities"

    provider: Mapped[str] = mapped_column(String(300), primary_key=True)
    subject: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    sealed_access_token: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SessionRecord(Base):
    """A signed-in browser (`web`) or host app (`app`); `id` is the token's SHA-256."""

    __tablename__ = "sessions"

    id: Mapped[str] = mapped_column(String(HASH_LENGTH), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())


class MailToken(Base):
    """The secret of a link sent by mail: sign-up, password reset or email change.

    A sign-up keeps the chosen password hash and name here until the link
    is opened, so that no account exists for an address that was never confirmed.
    """

    __tablename__ = "mail_tokens"

    id: Mapped[str] = mapped_column(String(HASH_LENGTH), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    email: Mapped[str] = mapped_column(String(EMAIL_LENGTH), index=True)
    display_name: Mapped[str | None] = mapped_column(String(NAME_LENGTH), nullable=True)
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())


class LoginCode(Base):
    """A one-time code shown on the web page that signs the host app in."""

    __tablename__ = "login_codes"

    id: Mapped[str] = mapped_column(String(HASH_LENGTH), primary_key=True)
    user_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Contact(Base):
    """An address in a user's contact list, linked to the account that has it, if any."""

    __tablename__ = "contacts"
    __table_args__ = (UniqueConstraint("owner_id", "email"),)

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    owner_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(EMAIL_LENGTH))
    contact_user_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="SET NULL"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Invitation(Base):
    """An invitation to one live room for one person, by link, by mail or to an account."""

    __tablename__ = "invitations"

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(HASH_LENGTH), unique=True)
    room_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("rooms.id", ondelete="CASCADE"), index=True
    )
    inviter_id: Mapped[str] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    invitee_user_id: Mapped[str | None] = mapped_column(
        String(ID_LENGTH), ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    invitee_email: Mapped[str | None] = mapped_column(String(EMAIL_LENGTH), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), nullable=True)
