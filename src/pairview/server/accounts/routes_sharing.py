"""REST endpoints for contacts, live rooms and invitations, and the live event socket."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, Request, Response, WebSocket, status
from pydantic import BaseModel, ConfigDict, Field

from pairview.server.accounts.auth import (
    AccountsDep,
    OptionalCallerDep,
    PrincipalDep,
    SameOriginDep,
    websocket_session_token,
)
from pairview.server.accounts.context import Accounts
from pairview.server.accounts.events import UserSocket
from pairview.server.accounts.invitations import MAX_PER_REQUEST
from pairview.server.accounts.models import EMAIL_LENGTH
from pairview.server.accounts.routes_auth import links_for
from pairview.server.ws import origin_allowed

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ContactRequest(_Body):
    email: str = Field(max_length=EMAIL_LENGTH * 2)


class ContactView(BaseModel):
    id: str
    email: str
    created_at: datetime


class InvitationRequest(_Body):
    emails: list[Annotated[str, Field(max_length=EMAIL_LENGTH * 2)]] = Field(
        default_factory=list, max_length=MAX_PER_REQUEST
    )
    contact_ids: list[Annotated[str, Field(max_length=64)]] = Field(
        default_factory=list, max_length=MAX_PER_REQUEST
    )
    links: int = Field(default=0, ge=0, le=MAX_PER_REQUEST)


class InvitationView(BaseModel):
    id: str
    room_id: str
    email: str | None
    to_account: bool
    status: str
    expires_at: datetime
    link: str | None = None


class ReceivedView(BaseModel):
    id: str
    room_id: str
    inviter_name: str
    expires_at: datetime


class RoomView(BaseModel):
    room_id: str
    created_at: datetime
    invite_expires_at: datetime


class JoinView(BaseModel):
    room_url: str
    display_name: str | None


# contacts


@router.get("/contacts")
async def list_contacts(principal: PrincipalDep, accounts: AccountsDep) -> list[ContactView]:
    entries = await accounts.contacts.list(principal)
    return [ContactView(id=e.id, email=e.email, created_at=e.created_at) for e in entries]


@router.post("/contacts", status_code=status.HTTP_201_CREATED)
async def add_contact(
    body: ContactRequest, request: Request, principal: PrincipalDep, accounts: AccountsDep
) -> ContactView:
    entry = await accounts.contacts.add(principal, body.email, links_for(request))
    return ContactView(id=entry.id, email=entry.email, created_at=entry.created_at)


@router.delete("/contacts/{contact_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_contact(
    contact_id: str, principal: PrincipalDep, accounts: AccountsDep
) -> Response:
    await accounts.contacts.remove(principal, contact_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# rooms and invitations


@router.get("/my/rooms")
async def my_rooms(principal: PrincipalDep, accounts: AccountsDep) -> list[RoomView]:
    rooms = await accounts.invitations.live_rooms(principal)
    return [
        RoomView(room_id=r.room_id, created_at=r.created_at, invite_expires_at=r.invite_expires_at)
        for r in rooms
    ]


@router.post("/rooms/{room_id}/invitations", status_code=status.HTTP_201_CREATED)
async def invite(
    room_id: str,
    body: InvitationRequest,
    request: Request,
    principal: PrincipalDep,
    accounts: AccountsDep,
) -> list[InvitationView]:
    made = await accounts.invitations.invite(
        principal, room_id, body.emails, body.contact_ids, body.links, links_for(request)
    )
    return [InvitationView.model_validate(view, from_attributes=True) for view in made]


@router.get("/rooms/{room_id}/invitations")
async def room_invitations(
    room_id: str, principal: PrincipalDep, accounts: AccountsDep
) -> list[InvitationView]:
    views = await accounts.invitations.for_room(principal, room_id)
    return [InvitationView.model_validate(view, from_attributes=True) for view in views]


@router.delete("/invitations/{invitation_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_invitation(
    invitation_id: str, principal: PrincipalDep, accounts: AccountsDep
) -> Response:
    await accounts.invitations.revoke(principal, invitation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/invitations")
async def received_invitations(
    principal: PrincipalDep, accounts: AccountsDep
) -> list[ReceivedView]:
    received = await accounts.invitations.received(principal)
    return [ReceivedView.model_validate(r, from_attributes=True) for r in received]


@router.post("/invitations/{invitation_id}/accept")
async def accept_invitation(
    invitation_id: str, principal: PrincipalDep, accounts: AccountsDep
) -> JoinView:
    url = await accounts.invitations.accept(principal, invitation_id)
    return JoinView(room_url=url, display_name=principal.display_name)


@router.post("/invitations/redeem")
async def redeem_invitation(
    caller: OptionalCallerDep,
    accounts: SameOriginDep,
    token: Annotated[str, Body(embed=True, max_length=128)],
) -> JoinView:
    """Use an invitation link; anyone may, unless it was made for an account."""
    principal = caller.principal if caller else None
    url = await accounts.invitations.redeem(token, principal)
    return JoinView(room_url=url, display_name=principal.display_name if principal else None)


async def events_socket(websocket: WebSocket) -> None:
    """Serve the live event socket of a signed-in browser: invitations as they come and go."""
    state = websocket.app.state.pairview
    accounts: Accounts | None = state.accounts
    origin = websocket.headers.get("origin")
    if accounts is None or not origin_allowed(
        origin, websocket.headers.get("host"), state.settings
    ):
        await websocket.close(code=1008)
        return
    token = websocket_session_token(websocket, state.settings)
    principal = await accounts.store.resolve(token) if token else None
    if principal is None:
        await websocket.close(code=1008)
        return
    await websocket.accept()
    await websocket.send_json({"type": "hello", "user_id": principal.user_id})
    await accounts.channels.serve(UserSocket(websocket, principal.user_id, principal.session_id))
