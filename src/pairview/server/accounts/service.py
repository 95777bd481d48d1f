"""Accounts: sign-up, sign-in, mail links, account changes and deletion.

Responses never tell whether an address has an account: sign-up, sign-in
and password reset return the same for a known and an unknown address,
spend the same password-hashing work on both, and leave mail to the
outbox so that its delivery time does not show either.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pairview.server.accounts import mail
from pairview.server.accounts.crypto import new_id, new_token, token_hash
from pairview.server.accounts.errors import (
    Conflict,
    Forbidden,
    InvalidCredentials,
    InvalidLink,
    NotFound,
    Throttled,
)
from pairview.server.accounts.mail import Mailer
from pairview.server.accounts.models import Contact, Invitation, MailToken, User
from pairview.server.accounts.passwords import PasswordHasher
from pairview.server.accounts.sessions import NewSession, Principal, SessionKind, SessionStore
from pairview.server.accounts.throttle import Attempt, SignInThrottle, SlidingWindow
from pairview.server.accounts.validation import (
    InvalidInput,
    check_password,
    clean_display_name,
    normalize_email,
)
from pairview.server.audit.log import AuditAction, AuditLog
from pairview.server.usage.events import UsageKind, record_usage
from pairview.server.usage.models import UsageEvent

logger = logging.getLogger(__name__)

# Mail about one address, at most this many per throttle window, so that
# the sign-up and reset forms cannot be used to flood a mailbox.
MAILS_PER_ADDRESS = 3

SessionsRevoked = Callable[[list[str]], Awaitable[None]]


class Purpose(StrEnum):
    SIGN_UP = "sign-up"
    RESET = "reset"
    EMAIL = "email"


class Role(StrEnum):
    USER = "user"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Links:
    """Builds the links put in mail; every secret goes in the fragment, out of server logs."""

    base_url: str

    def page(self, path: str, secret: str | None = None) -> str:
        return f"{self.base_url}{path}" + (f"#{secret}" if secret else "")


@dataclass(frozen=True, slots=True)
class SignedIn:
    session: NewSession
    user_id: str


class AccountService:
    def __init__(
        self,
        sessions: async_sessionmaker[Any],
        hasher: PasswordHasher,
        store: SessionStore,
        mailer: Mailer,
        throttle: SignInThrottle,
        mail_token_ttl: float,
        throttle_window: float,
        on_revoked: SessionsRevoked,
        audit: AuditLog | None = None,
    ) -> None:
        self._sessions = sessions
        self.sessions = sessions
        self.hasher = hasher
        self.store = store
        self.mailer = mailer
        self.throttle = throttle
        self._mail_ttl = timedelta(seconds=mail_token_ttl)
        self._mail_window = SlidingWindow(MAILS_PER_ADDRESS, throttle_window)
        self._on_revoked = on_revoked
        self.audit = audit

    # sign-up

    async def sign_up(self, email: str, password: str, display_name: str, links: Links) -> None:
        """Mail a confirmation link, or a reminder when the address already has an account."""
        address = normalize_email(email)
        name = clean_display_name(display_name)
        check_password(password, address)
        password_hash = await self.hasher.hash(password)
        if not self.may_mail(address):
            return

        now = datetime.now(UTC)
        async with self._sessions.begin() as db:
            existing = await self._user_by_email(db, address)
            if existing is not None:
                message = mail.signup_exists_mail(
                    address, links.page("/sign-in"), links.page("/reset")
                )
            else:
                token = new_token()
                db.add(
                    MailToken(
                        id=token_hash(token),
                        purpose=Purpose.SIGN_UP.value,
                        email=address,
                        display_name=name,
                        password_hash=password_hash,
                        created_at=now,
                        expires_at=now + self._mail_ttl,
                    )
                )
                message = mail.signup_mail(address, links.page("/verify", token))
        self.mailer.send(message)

    async def confirm_sign_up(self, token: str) -> SignedIn:
        """Make the account a sign-up link was sent for, and sign its browser in."""
        now = datetime.now(UTC)
        async with self._sessions.begin() as db:
            record = await self._mail_token(db, token, Purpose.SIGN_UP, now)
            address = record.email
            await db.execute(
                delete(MailToken).where(
                    MailToken.purpose == Purpose.SIGN_UP.value, MailToken.email == address
                )
            )
            if await self._user_by_email(db, address) is not None:
                raise InvalidLink()
            assert record.display_name is not None
            assert record.password_hash is not None
            user = User(
                id=new_id(),
                email=address,
                display_name=record.display_name,
                password_hash=record.password_hash,
                role=Role.USER.value,
                created_at=now,
            )
            db.add(user)
            await db.flush()
            await self.link_address(db, user.id, address)
            record_usage(db, UsageKind.SIGN_UP, user.id)
            session = await self.store.create(db, user.id, SessionKind.WEB, now)
        logger.info("account %s created", user.id[:6])
        return SignedIn(session, user.id)

    async def link_address(self, db: AsyncSession, user_id: str, address: str) -> None:
        """Point contacts and invitations made for `address` at the account that now has it."""
        await db.execute(
            update(Contact).where(Contact.email == address).values(contact_user_id=user_id)
        )
        await db.execute(
            update(Invitation)
            .where(Invitation.invitee_email == address, Invitation.invitee_user_id.is_(None))
            .values(invitee_user_id=user_id)
        )

    # sign-in

    async def sign_in(
        self,
        email: str,
        password: str,
        attempt: Attempt,
        kind: SessionKind,
        previous_session_id: str | None = None,
    ) -> SignedIn:
        """Check a password and open a new session, or raise InvalidCredentials or Throttled."""
        now = time.monotonic()
        wait = self.throttle.retry_after(attempt, now)
        if wait is not None:
            raise Throttled(wait)
        if len(password) > 1024:
            # Counted and rejected like a wrong password, but not hashed: it cannot be right.
            self.throttle.failed(attempt, now)
            raise InvalidCredentials()

        async with self._sessions() as db:
            user = await self._user_by_email(db, attempt.account)
        stored = user.password_hash if user is not None else None
        if not await self.hasher.verify(stored, password) or user is None or stored is None:
            self.throttle.failed(attempt, now)
            raise InvalidCredentials()
        self.throttle.succeeded(attempt)

        async with self._sessions.begin() as db:
            if self.hasher.is_weaker(stored):
                upgraded = await self.hasher.hash(password)
                await db.execute(
                    update(User)
                    .where(User.id == user.id, User.password_hash == stored)
                    .values(password_hash=upgraded)
                )
                logger.info("account %s: password hash upgraded", user.id[:6])
            if previous_session_id is not None:
                await self.store.revoke(db, previous_session_id)
            record_usage(db, UsageKind.SIGN_IN, user.id)
            method = f"password {kind.value}"
            admin = self._audit_sign_in(db, user, method, attempt.address)
            session = await self.store.create(db, user.id, kind)
        if admin and self.audit is not None:
            self.audit.signed_in(user.id, method, attempt.address)
        return SignedIn(session, user.id)

    async def sign_in_user(
        self,
        user_id: str,
        kind: SessionKind,
        previous_session_id: str | None = None,
        method: str = "code",
        address: str | None = None,
    ) -> SignedIn:
        """Open a new session for a user already proven by other means (a provider, a code).

        `method` names that means for the audit log, such as "github" or "code".
        """
        async with self._sessions.begin() as db:
            if previous_session_id is not None:
                await self.store.revoke(db, previous_session_id)
            record_usage(db, UsageKind.SIGN_IN, user_id)
            user = await db.get(User, user_id)
            method = f"{method} {kind.value}"
            admin = user is not None and self._audit_sign_in(db, user, method, address)
            session = await self.store.create(db, user_id, kind)
        if admin and self.audit is not None:
            self.audit.signed_in(user_id, method, address)
        return SignedIn(session, user_id)

    def _audit_sign_in(
        self, db: AsyncSession, user: User, method: str, address: str | None
    ) -> bool:
        """Log an administrator's sign-in in its transaction; return whether one was logged."""
        if user.role != Role.ADMIN.value or self.audit is None:
            return False
        self.audit.add(db, AuditAction.SIGN_IN, method, user.id, address)
        return True

    async def sign_out(self, principal: Principal) -> None:
        """End every session of the user, on every device, and close their sockets."""
        async with self._sessions.begin() as db:
            ended = await self.store.revoke_user(db, principal.user_id)
        await self._on_revoked(ended)

    # password reset

    async def request_reset(self, email: str, links: Links) -> None:
        address = normalize_email(email)
        if not self.may_mail(address):
            return
        now = datetime.now(UTC)
        async with self._sessions.begin() as db:
            user = await self._user_by_email(db, address)
            if user is None:
                return
            token = new_token()
            db.add(
                MailToken(
                    id=token_hash(token),
                    purpose=Purpose.RESET.value,
                    user_id=user.id,
                    email=address,
                    created_at=now,
                    expires_at=now + self._mail_ttl,
                )
            )
        self.mailer.send(mail.reset_mail(address, links.page("/reset", token)))

    async def complete_reset(self, token: str, password: str) -> None:
        """Set a new password through a reset link and end every session of the account."""
        now = datetime.now(UTC)
        async with self._sessions() as db:
            record = await self._mail_token(db, token, Purpose.RESET, now)
        check_password(password, record.email)
        password_hash = await self.hasher.hash(password)
        async with self._sessions.begin() as db:
            # Checked again inside the transaction: the link is used only once.
            record = await self._mail_token(db, token, Purpose.RESET, now)
            await db.execute(
                delete(MailToken).where(
                    MailToken.purpose == Purpose.RESET.value, MailToken.user_id == record.user_id
                )
            )
            await db.execute(
                update(User).where(User.id == record.user_id).values(password_hash=password_hash)
            )
            assert record.user_id is not None
            ended = await self.store.revoke_user(db, record.user_id)
        await self._on_revoked(ended)

    # account changes

    async def change_display_name(self, principal: Principal, display_name: str) -> str:
        name = clean_display_name(display_name)
        async with self._sessions.begin() as db:
            await db.execute(
                update(User).where(User.id == principal.user_id).values(display_name=name)
            )
        return name

    async def change_password(
        self, principal: Principal, current: str | None, new: str
    ) -> NewSession:
        """Set a new password, end every session, and open a new one for the caller."""
        async with self._sessions() as db:
            user = await db.get(User, principal.user_id)
        if user is None:
            raise NotFound("This account no longer exists.")
        if user.password_hash is not None and not await self.hasher.verify(
            user.password_hash, current or ""
        ):
            raise InvalidInput("current_password", "The current password is wrong.")
        check_password(new, user.email)
        password_hash = await self.hasher.hash(new)
        async with self._sessions.begin() as db:
            await db.execute(
                update(User).where(User.id == user.id).values(password_hash=password_hash)
            )
            ended = await self.store.revoke_user(db, user.id)
            session = await self.store.create(db, user.id, principal.kind)
        await self._on_revoked(ended)
        return session

    async def request_email_change(
        self, principal: Principal, email: str, password: str | None, links: Links
    ) -> None:
        """Mail a confirmation link to the new address, or nothing if it is taken."""
        address = normalize_email(email)
        if principal.has_password:
            await self._check_password(principal.user_id, password)
        if not self.may_mail(address):
            return
        now = datetime.now(UTC)
        async with self._sessions.begin() as db:
            if await self._user_by_email(db, address) is not None:
                return
            token = new_token()
            db.add(
                MailToken(
                    id=token_hash(token),
                    purpose=Purpose.EMAIL.value,
                    user_id=principal.user_id,
                    email=address,
                    created_at=now,
                    expires_at=now + self._mail_ttl,
                )
            )
        self.mailer.send(mail.email_change_mail(address, links.page("/verify", token)))

    async def confirm_email_change(self, token: str) -> str:
        """Give the account the address a change link was sent to; return the user id."""
        now = datetime.now(UTC)
        try:
            async with self._sessions.begin() as db:
                record = await self._mail_token(db, token, Purpose.EMAIL, now)
                await db.delete(record)
                user = await db.get(User, record.user_id)
                if user is None or await self._user_by_email(db, record.email) is not None:
                    raise InvalidLink()
                old = user.email
                user.email = record.email
                await db.execute(
                    update(Contact)
                    .where(Contact.contact_user_id == user.id, Contact.email != record.email)
                    .values(contact_user_id=None)
                )
                await self.link_address(db, user.id, record.email)
        except IntegrityError:
            raise InvalidLink() from None
        if old is not None:
            self.mailer.send(mail.email_changed_notice(old))
        user_id: str = user.id
        return user_id

    async def delete_account(self, principal: Principal, password: str | None) -> None:
        """Delete the caller's account and every piece of personal data that hangs on it."""
        if principal.has_password:
            await self._check_password(principal.user_id, password)
        await self.delete_user(principal.user_id)

    async def delete_user(self, user_id: str, audit_target: str | None = None) -> None:
        """Delete an account, its personal data and its link to usage events, in one transaction.

        With `audit_target`, the deletion is logged as an administrator's
        command-line action in the same transaction.
        """
        async with self._sessions.begin() as db:
            user = await db.get(User, user_id)
            if user is None:
                raise NotFound(f"No account with id {user_id[:64]!r}.")
            ended = await self.store.revoke_user(db, user.id)
            if user.email is not None:
                await db.execute(delete(Invitation).where(Invitation.invitee_email == user.email))
                await db.execute(delete(MailToken).where(MailToken.email == user.email))
                # Other people's contact lists hold the address too.
                await db.execute(delete(Contact).where(Contact.email == user.email))
            # Usage events stay, for the statistics, but no longer name the account.
            await db.execute(
                update(UsageEvent).where(UsageEvent.user_id == user.id).values(user_id=None)
            )
            if audit_target is not None and self.audit is not None:
                self.audit.add(db, AuditAction.CLI, audit_target, None, None)
            # Contacts, identities, sessions, codes, mail tokens and invitations
            # go with the row (ON DELETE CASCADE); rooms keep no reference to it
            # (ON DELETE SET NULL).
            await db.delete(user)
        await self._on_revoked(ended)
        logger.info("account %s deleted", user_id[:6])

    # administration

    async def create_user(
        self, email: str, display_name: str, password: str, role: Role = Role.USER
    ) -> str:
        """Create a confirmed account directly, as `pairview admin create-user` does."""
        address = normalize_email(email)
        name = clean_display_name(display_name)
        check_password(password, address)
        password_hash = await self.hasher.hash(password)
        try:
            async with self._sessions.begin() as db:
                if await self._user_by_email(db, address) is not None:
                    raise Conflict(f"An account with the address {address} already exists.")
                user = User(
                    id=new_id(),
                    email=address,
                    display_name=name,
                    password_hash=password_hash,
                    role=role.value,
                    created_at=datetime.now(UTC),
                )
                db.add(user)
                await db.flush()
                await self.link_address(db, user.id, address)
        except IntegrityError:
            raise Conflict(f"An account with the address {address} already exists.") from None
        return user.id

    async def list_users(self) -> list[User]:
        async with self._sessions() as db:
            rows = await db.execute(select(User).order_by(User.created_at, User.id))
        return list(rows.scalars())

    async def count_users(self) -> int:
        async with self._sessions() as db:
            return int((await db.execute(select(func.count()).select_from(User))).scalar_one())

    # helpers

    def may_mail(self, address: str) -> bool:
        """Count one mail about `address`; return False when it has had its share lately."""
        now = time.monotonic()
        if self._mail_window.retry_after(address, now) is not None:
            return False
        self._mail_window.add(address, now)
        return True

    async def _check_password(self, user_id: str, password: str | None) -> None:
        async with self._sessions() as db:
            user = await db.get(User, user_id)
        if user is None:
            raise NotFound("This account no longer exists.")
        if not await self.hasher.verify(user.password_hash, password or ""):
            raise Forbidden("The password is wrong.")

    async def _user_by_email(self, db: AsyncSession, address: str) -> User | None:
        result = await db.execute(select(User).where(User.email == address))
        return result.scalar_one_or_none()

    async def _mail_token(
        self, db: AsyncSession, token: str, purpose: Purpose, now: datetime
    ) -> MailToken:
        record = await db.get(MailToken, token_hash(token)) if 0 < len(token) <= 128 else None
        if record is None or record.purpose != purpose.value or record.expires_at <= now:
            raise InvalidLink()
        return record
