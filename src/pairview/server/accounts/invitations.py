"""Invitations to a live room: by mail, by a copied link, or to a contact's account.

Each invitation lets one person in once. Its link carries a 256-bit
token (only its hash is stored), expires, and can be revoked. An unknown,
expired, used, revoked or someone else's invitation gets the same response,
so the response tells nothing about which it was.

Using an invitation gives a join ticket: a guest token for that room that
the room page joins with, and rejoins with after a dropped connection.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from pairview.server.accounts import mail
from pairview.server.accounts.crypto import JoinTickets, new_id, new_token, token_hash
from pairview.server.accounts.errors import InvalidLink, NotFound
from pairview.server.accounts.events import UserChannels
from pairview.server.accounts.models import Contact, Invitation, User
from pairview.server.accounts.service import AccountService, Links
from pairview.server.accounts.sessions import Principal
from pairview.server.accounts.validation import InvalidInput, normalize_email
from pairview.server.db import RoomRecord
from pairview.server.usage.events import InvitationChannel, UsageKind, record_usage

MAX_PER_REQUEST = 50
# How long a join ticket lets its guest rejoin the room after using the invitation.
TICKET_TTL = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class InvitationView:
    """An invitation as shown to its inviter, with `link` set only in the response that made it."""

    id: str
    room_id: str
    email: str | None
    to_account: bool
    status: str
    expires_at: datetime
    link: str | None = None


@dataclass(frozen=True, slots=True)
class ReceivedInvitation:
    """An invitation as shown to the invited account."""

    id: str
    room_id: str
    inviter_name: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class LiveRoom:
    room_id: str
    created_at: datetime
    invite_expires_at: datetime


def _status(invitation: Invitation, room: RoomRecord, now: datetime) -> str:
    if invitation.revoked_at is not None:
        return "revoked"
    if invitation.used_at is not None:
        return "used"
    if room.ended_at is not None:
        return "room-ended"
    if invitation.expires_at <= now:
        return "expired"
    return "pending"


class InvitationBook:
    def __init__(
        self,
        sessions: async_sessionmaker[Any],
        accounts: AccountService,
        channels: UserChannels,
        tickets: JoinTickets,
        ttl: float,
    ) -> None:
        self._sessions = sessions
        self._accounts = accounts
        self._channels = channels
        self._tickets = tickets
        self._ttl = timedelta(seconds=ttl)

    async def live_rooms(self, principal: Principal) -> list[LiveRoom]:
        async with self._sessions() as db:
            rows = await db.execute(
                select(RoomRecord)
                .where(RoomRecord.owner_id == principal.user_id, RoomRecord.ended_at.is_(None))
                .order_by(RoomRecord.created_at.desc())
            )
        return [LiveRoom(r.id, r.created_at, r.invite_expires_at) for r in rows.scalars()]

    async def invite(
        self,
        principal: Principal,
        room_id: str,
        emails: list[str],
        contact_ids: list[str],
        links_wanted: int,
        links: Links,
    ) -> list[InvitationView]:
        """Invite people to one of the caller's live rooms; every input is checked first."""
        addresses = [normalize_email(email) for email in emails]
        contacts = [await self._contact(principal, contact_id) for contact_id in contact_ids]
        # One invitation per address, whether typed or picked from the contacts.
        by_address: dict[str, str | None] = dict.fromkeys(addresses)
        channels = dict.fromkeys(addresses, InvitationChannel.EMAIL)
        for contact in contacts:
            by_address[contact.email] = by_address.get(contact.email) or contact.contact_user_id
            channels.setdefault(contact.email, InvitationChannel.CONTACT)
        targets: list[tuple[str | None, str | None]] = list(by_address.items())
        targets += [(None, None)] * links_wanted
        if not targets:
            raise InvalidInput("emails", "Name at least one address or contact, or ask for a link.")
        if len(targets) > MAX_PER_REQUEST:
            raise InvalidInput(
                "emails", f"At most {MAX_PER_REQUEST} invitations can be made at once."
            )
        now = datetime.now(UTC)
        expires_at = now + self._ttl
        made: list[tuple[Invitation, str]] = []
        async with self._sessions.begin() as db:
            await self._own_live_room(db, principal, room_id)
            for email, user_id in targets:
                if email is not None and user_id is None:
                    user_id = (
                        await db.execute(select(User.id).where(User.email == email))
                    ).scalar_one_or_none()
                token = new_token()
                invitation = Invitation(
                    id=new_id(),
                    token_hash=token_hash(token),
                    room_id=room_id,
                    inviter_id=principal.user_id,
                    invitee_user_id=user_id if user_id != principal.user_id else None,
                    invitee_email=email,
                    created_at=now,
                    expires_at=expires_at,
                )
                db.add(invitation)
                channel = channels[email] if email is not None else InvitationChannel.LINK
                record_usage(db, UsageKind.INVITATION_SENT, principal.user_id, channel.value)
                made.append((invitation, token))

        views = []
        valid_until = expires_at.strftime("%Y-%m-%d %H:%M UTC")
        for invitation, token in made:
            link = links.page("/invite", token)
            if invitation.invitee_email is not None and self._accounts.may_mail(
                invitation.invitee_email
            ):
                self._accounts.mailer.send(
                    mail.room_invitation_mail(
                        invitation.invitee_email, principal.display_name, link, valid_until
                    )
                )
            if invitation.invitee_user_id is not None:
                self._channels.publish(
                    invitation.invitee_user_id,
                    {
                        "type": "invitation",
                        "invitation": {
                            "id": invitation.id,
                            "room_id": room_id,
                            "inviter_name": principal.display_name,
                            "expires_at": expires_at.isoformat(),
                        },
                    },
                )
            views.append(
                InvitationView(
                    invitation.id,
                    room_id,
                    invitation.invitee_email,
                    invitation.invitee_user_id is not None,
                    "pending",
                    expires_at,
                    link if invitation.invitee_email is None else None,
                )
            )
        return views

    async def for_room(self, principal: Principal, room_id: str) -> list[InvitationView]:
        now = datetime.now(UTC)
        async with self._sessions() as db:
            room = await self._own_room(db, principal, room_id)
            rows = await db.execute(
                select(Invitation)
                .where(Invitation.room_id == room.id)
                .order_by(Invitation.created_at, Invitation.id)
            )
            return [
                InvitationView(
                    i.id,
                    room.id,
                    i.invitee_email,
                    i.invitee_user_id is not None,
                    _status(i, room, now),
                    i.expires_at,
                )
                for i in rows.scalars()
            ]

    async def revoke(self, principal: Principal, invitation_id: str) -> None:
        now = datetime.now(UTC)
        async with self._sessions.begin() as db:
            invitation = await db.get(Invitation, invitation_id[:64])
            if invitation is None or invitation.inviter_id != principal.user_id:
                raise NotFound(f"No invitation {invitation_id[:64]!r} of yours.")
            if invitation.revoked_at is None and invitation.used_at is None:
                invitation.revoked_at = now
            invitee = invitation.invitee_user_id
        if invitee is not None:
            self._channels.publish(invitee, {"type": "invitation-withdrawn", "id": invitation_id})

    async def received(self, principal: Principal) -> list[ReceivedInvitation]:
        """List the invitations to the caller's account that can still be used."""
        now = datetime.now(UTC)
        async with self._sessions() as db:
            rows = await db.execute(
                select(Invitation, User.display_name)
                .join(RoomRecord, RoomRecord.id == Invitation.room_id)
                .join(User, User.id == Invitation.inviter_id)
                .where(
                    Invitation.invitee_user_id == principal.user_id,
                    Invitation.used_at.is_(None),
                    Invitation.revoked_at.is_(None),
                    Invitation.expires_at > now,
                    RoomRecord.ended_at.is_(None),
                )
                .order_by(Invitation.created_at.desc())
            )
            return [
                ReceivedInvitation(i.id, i.room_id, name, i.expires_at) for i, name in rows.all()
            ]

    async def accept(self, principal: Principal, invitation_id: str) -> str:
        """Use an invitation to the caller's account; return the room link with a join ticket."""
        async with self._sessions.begin() as db:
            invitation = await db.get(Invitation, invitation_id[:64])
            if invitation is None or invitation.invitee_user_id != principal.user_id:
                raise InvalidLink("invitation")
            return await self._use(db, invitation, principal.user_id)

    async def redeem(self, token: str, principal: Principal | None) -> str:
        """Use an invitation link; one made for an account works only for that account."""
        async with self._sessions.begin() as db:
            invitation = None
            if 0 < len(token) <= 128:
                invitation = (
                    await db.execute(
                        select(Invitation).where(Invitation.token_hash == token_hash(token))
                    )
                ).scalar_one_or_none()
            if invitation is None:
                raise InvalidLink("invitation")
            user_id = principal.user_id if principal else None
            if invitation.invitee_user_id is not None and invitation.invitee_user_id != user_id:
                raise InvalidLink("invitation")
            return await self._use(db, invitation, user_id)

    async def _use(self, db: AsyncSession, invitation: Invitation, user_id: str | None) -> str:
        now = datetime.now(UTC)
        room = await db.get(RoomRecord, invitation.room_id)
        if room is None or _status(invitation, room, now) != "pending":
            raise InvalidLink("invitation")
        # Marked used only if still unused, so two tabs racing cannot both get in.
        result = await db.execute(
            update(Invitation)
            .where(Invitation.id == invitation.id, Invitation.used_at.is_(None))
            .values(used_at=now)
        )
        if result.rowcount != 1:  # type: ignore[attr-defined]
            raise InvalidLink("invitation")
        record_usage(db, UsageKind.INVITATION_USED, user_id)
        ticket = self._tickets.issue(room.id, time.time() + TICKET_TTL)
        return f"/r/{room.id}#{ticket}"

    async def _contact(self, principal: Principal, contact_id: str) -> Contact:
        async with self._sessions() as db:
            contact: Contact | None = await db.get(Contact, contact_id[:64])
        if contact is None or contact.owner_id != principal.user_id:
            raise NotFound(f"No contact with id {contact_id[:64]!r} in your list.")
        return contact

    async def _own_room(self, db: AsyncSession, principal: Principal, room_id: str) -> RoomRecord:
        room = await db.get(RoomRecord, room_id[:64])
        if room is None or room.owner_id != principal.user_id:
            raise NotFound(f"No room {room_id[:64]!r} of yours.")
        return room

    async def _own_live_room(
        self, db: AsyncSession, principal: Principal, room_id: str
    ) -> RoomRecord:
        room = await self._own_room(db, principal, room_id)
        if room.ended_at is not None:
            raise NotFound(f"Room {room_id[:64]!r} has ended; start a new share to invite people.")
        return room
