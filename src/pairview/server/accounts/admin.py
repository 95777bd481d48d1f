"""`pairview admin` and `pairview db`: work on the database directly, with no server running."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import or_, select

from pairview.server import db
from pairview.server.accounts.errors import NotFound
from pairview.server.accounts.mail import Mailer
from pairview.server.accounts.models import User
from pairview.server.accounts.passwords import PasswordHasher
from pairview.server.accounts.service import AccountService, Role
from pairview.server.accounts.sessions import SessionStore
from pairview.server.accounts.throttle import SignInThrottle
from pairview.server.audit.log import AuditLog
from pairview.settings import ServerSettings


async def upgrade_database(settings: ServerSettings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = db.create_engine(settings.resolved_database_url)
    try:
        await db.upgrade(engine)
    finally:
        await engine.dispose()


@asynccontextmanager
async def account_service(settings: ServerSettings) -> AsyncIterator[AccountService]:
    """Open an account service on the migrated database; it sends no mail, closes no sockets."""

    async def nothing_to_close(session_ids: list[str]) -> None:
        return None

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = db.create_engine(settings.resolved_database_url)
    try:
        await db.upgrade(engine)
        sessions = db.sessionmaker(engine)
        yield AccountService(
            sessions,
            PasswordHasher.from_settings(settings),
            # Sessions are never made here, so this key signs nothing.
            SessionStore(sessions, settings.session_ttl, b"unused"),
            Mailer(settings.model_copy(update={"smtp_host": None})),
            SignInThrottle(1, 1, 1),
            settings.mail_token_ttl,
            settings.signin_throttle_window,
            nothing_to_close,
            AuditLog(sessions, None),
        )
    finally:
        await engine.dispose()


async def create_user(
    settings: ServerSettings, email: str, name: str, password: str, admin: bool
) -> str:
    async with account_service(settings) as service:
        return await service.create_user(email, name, password, Role.ADMIN if admin else Role.USER)


async def list_users(settings: ServerSettings) -> list[tuple[str, str, str, str]]:
    """Return (id, email, display name, role) of every account, oldest first."""
    async with account_service(settings) as service:
        users = await service.list_users()
    return [(u.id, u.email or "-", u.display_name, u.role) for u in users]


async def find_user(settings: ServerSettings, account: str) -> tuple[str, str, str]:
    """Return (id, email, display name) of the account whose id or email is `account`."""
    async with account_service(settings) as service, service.sessions() as session:
        user = (
            await session.execute(
                select(User).where(or_(User.id == account, User.email == account))
            )
        ).scalar_one_or_none()
    if user is None:
        raise NotFound(f"No account with id or email {account!r}.")
    return user.id, user.email or "-", user.display_name


async def delete_user(settings: ServerSettings, user_id: str) -> None:
    """Delete an account and its personal data; the audit log records the command."""
    async with account_service(settings) as service:
        await service.delete_user(user_id, audit_target=f"delete-user {user_id}")
