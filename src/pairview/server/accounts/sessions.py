"""Sessions of signed-in browsers and host apps, and one-time codes for the host app.

A session token carries 256 random bits and is given out once; the
database keeps its SHA-256 hash as the session id. Browsers hold the token
in an HttpOnly cookie, host apps send it as a Bearer token.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pairview.server.accounts.crypto import Signer, new_token, token_hash
from pairview.server.accounts.models import LoginCode, MailToken, SessionRecord, User
from pairview.server.db import DATABASE_ERRORS

logger = logging.getLogger(__name__)

PURGE_INTERVAL = 3600.0

# Login codes: 10 characters from a 32-letter alphabet without look-alikes
# (50 bits), valid for a few minutes and used once; sign-in throttling
# applies to them as to passwords.
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10
CODE_TTL = timedelta(minutes=10)


class SessionKind(StrEnum):
    WEB = "web"
    APP = "app"


@dataclass(frozen=True, slots=True)
class Principal:
    """The signed-in user behind a request, and the session that proves it."""

    user_id: str
    display_name: str
    email: str | None
    role: str
    session_id: str
    kind: SessionKind
    has_password: bool


@dataclass(frozen=True, slots=True)
class NewSession:
    token: str
    session_id: str
    expires_at: datetime


def normalize_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


class SessionStore:
    def __init__(self, sessions: async_sessionmaker[Any], ttl: float, secret_key: bytes) -> None:
        self._sessions = sessions
        self._ttl = timedelta(seconds=ttl)
        self._csrf = Signer(secret_key, "csrf")

    async def create(
        self, db: AsyncSession, user_id: str, kind: SessionKind, now: datetime | None = None
    ) -> NewSession:
        """Add a session inside the caller's transaction."""
        now = now or datetime.now(UTC)
        token = new_token()
        session_id = token_hash(token)
        expires_at = now + self._ttl
        db.add(
            SessionRecord(
                id=session_id,
                user_id=user_id,
                kind=kind.value,
                created_at=now,
                expires_at=expires_at,
            )
        )
        return NewSession(token, session_id, expires_at)

    async def resolve(self, token: str, now: datetime | None = None) -> Principal | None:
        """Return the user of `token`, or None for an unknown, revoked or expired token."""
        if not token or len(token) > 128:
            return None
        now = now or datetime.now(UTC)
        async with self._sessions() as db:
            row = (
                await db.execute(
                    select(SessionRecord, User)
                    .join(User, User.id == SessionRecord.user_id)
                    .where(SessionRecord.id == token_hash(token))
                )
            ).first()
        if row is None:
            return None
        record, user = row
        if record.expires_at <= now:
            return None
        return Principal(
            user_id=user.id,
            display_name=user.display_name,
            email=user.email,
            role=user.role,
            session_id=record.id,
            kind=SessionKind(record.kind),
            has_password=user.password_hash is not None,
        )

    async def live_ids(self, session_ids: list[str], now: datetime | None = None) -> set[str]:
        """Return which of `session_ids` still exist and have not expired."""
        if not session_ids:
            return set()
        now = now or datetime.now(UTC)
        async with self._sessions() as db:
            rows = await db.execute(
                select(SessionRecord.id).where(
                    SessionRecord.id.in_(session_ids), SessionRecord.expires_at > now
                )
            )
        return {row[0] for row in rows}

    async def revoke(self, db: AsyncSession, session_id: str) -> None:
        await db.execute(delete(SessionRecord).where(SessionRecord.id == session_id))

    async def revoke_user(self, db: AsyncSession, user_id: str) -> list[str]:
        """Delete every session of a user inside the caller's transaction; return their ids."""
        rows = await db.execute(select(SessionRecord.id).where(SessionRecord.user_id == user_id))
        ids = [row[0] for row in rows]
        await db.execute(delete(SessionRecord).where(SessionRecord.user_id == user_id))
        return ids

    async def purge_expired(self, now: datetime | None = None) -> None:
        """Delete expired sessions, login codes and mail link tokens."""
        now = now or datetime.now(UTC)
        async with self._sessions.begin() as db:
            await db.execute(delete(SessionRecord).where(SessionRecord.expires_at <= now))
            await db.execute(delete(LoginCode).where(LoginCode.expires_at <= now))
            await db.execute(delete(MailToken).where(MailToken.expires_at <= now))

    async def purge_periodically(self, interval: float = PURGE_INTERVAL) -> None:
        """Purge expired records every `interval` seconds; runs for the server's lifetime."""
        while True:
            try:
                await self.purge_expired()
            except DATABASE_ERRORS as error:
                logger.warning("purging expired sessions failed: %s", type(error).__name__)
            await asyncio.sleep(interval)

    def csrf_token(self, session_id: str) -> str:
        """Return the CSRF token of a browser session: bound to it, so it cannot be planted."""
        return self._csrf.sign(session_id)

    def csrf_valid(self, session_id: str, given: str | None) -> bool:
        return given is not None and self._csrf.verify(session_id, given)

    async def create_login_code(self, user_id: str, now: datetime | None = None) -> str:
        now = now or datetime.now(UTC)
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        async with self._sessions.begin() as db:
            db.add(LoginCode(id=token_hash(code), user_id=user_id, expires_at=now + CODE_TTL))
        return code

    async def redeem_login_code(self, code: str, now: datetime | None = None) -> str | None:
        """Use up a login code; return its user id, or None if it is unknown, used or expired."""
        normalized = normalize_code(code)
        if len(normalized) != CODE_LENGTH:
            return None
        now = now or datetime.now(UTC)
        async with self._sessions.begin() as db:
            record = await db.get(LoginCode, token_hash(normalized))
            if record is None:
                return None
            await db.delete(record)
            return record.user_id if record.expires_at > now else None
