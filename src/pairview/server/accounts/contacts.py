"""Contact lists: addresses a user invites often.

A contact is the address its owner typed, linked to the account that
has the address once there is one. The list shows addresses only, so it
does not tell its owner who has an account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from pairview.server.accounts import mail
from pairview.server.accounts.crypto import new_id
from pairview.server.accounts.errors import Conflict, NotFound
from pairview.server.accounts.models import Contact, User
from pairview.server.accounts.service import AccountService, Links
from pairview.server.accounts.sessions import Principal
from pairview.server.accounts.validation import InvalidInput, normalize_email
from pairview.server.usage.events import UsageKind, record_usage


@dataclass(frozen=True, slots=True)
class ContactEntry:
    id: str
    email: str
    created_at: datetime


class ContactBook:
    def __init__(
        self, sessions: async_sessionmaker[Any], accounts: AccountService, limit: int
    ) -> None:
        self._sessions = sessions
        self._accounts = accounts
        self._limit = limit

    async def add(self, principal: Principal, email: str, links: Links) -> ContactEntry:
        """Add an address; its owner gets an invitation, or a notice if they have an account."""
        address = normalize_email(email)
        if address == principal.email:
            raise InvalidInput("email", "That is your own address.")
        now = datetime.now(UTC)
        try:
            async with self._sessions.begin() as db:
                count = await db.execute(
                    select(func.count()).where(Contact.owner_id == principal.user_id)
                )
                if count.scalar_one() >= self._limit:
                    raise Conflict(
                        f"A contact list has at most {self._limit} addresses; remove one first."
                    )
                user_id = (
                    await db.execute(select(User.id).where(User.email == address))
                ).scalar_one_or_none()
                contact = Contact(
                    id=new_id(),
                    owner_id=principal.user_id,
                    email=address,
                    contact_user_id=user_id,
                    created_at=now,
                )
                db.add(contact)
                record_usage(db, UsageKind.CONTACT_ADDED, principal.user_id)
                await db.flush()
        except IntegrityError:
            raise Conflict(f"{address} is already in your contacts.") from None

        if self._accounts.may_mail(address):
            if user_id is None:
                message = mail.contact_invitation_mail(
                    address, principal.display_name, links.page("/sign-up")
                )
            else:
                message = mail.contact_added_mail(
                    address, principal.display_name, links.page("/share")
                )
            self._accounts.mailer.send(message)
        return ContactEntry(contact.id, address, now)

    async def list(self, principal: Principal) -> list[ContactEntry]:
        async with self._sessions() as db:
            rows = await db.execute(
                select(Contact).where(Contact.owner_id == principal.user_id).order_by(Contact.email)
            )
        return [ContactEntry(c.id, c.email, c.created_at) for c in rows.scalars()]

    async def get(self, principal: Principal, contact_id: str) -> Contact:
        async with self._sessions() as db:
            contact: Contact | None = await db.get(Contact, contact_id[:64])
        if contact is None or contact.owner_id != principal.user_id:
            raise NotFound(f"No contact with id {contact_id[:64]!r} in your list.")
        return contact

    async def remove(self, principal: Principal, contact_id: str) -> None:
        async with self._sessions.begin() as db:
            result = await db.execute(
                delete(Contact).where(
                    Contact.id == contact_id[:64], Contact.owner_id == principal.user_id
                )
            )
        if result.rowcount == 0:
            raise NotFound(f"No contact with id {contact_id[:64]!r} in your list.")
