"""REST endpoints: create and end rooms, health."""

from __future__ import annotations

import hmac
import logging
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, HTTPException, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import text

from pairview import __version__
from pairview.server.accounts.sessions import Principal
from pairview.server.signaling import SignalingError
from pairview.server.state import ServerState, StateDep
from pairview.server.usage.events import UsageKind, UsageRecord
from pairview.server.ws import short

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api")


class CreateRoomRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    invite_ttl: float | None = Field(
        default=None, gt=0, description="Seconds the guest link stays valid"
    )


class CreateRoomResponse(BaseModel):
    room_id: str
    host_token: str
    invite_token: str
    invite_expires_at: datetime
    guest_url: str


def bearer_token(authorization: str | None) -> str | None:
    if authorization is None:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@router.post("/rooms", status_code=status.HTTP_201_CREATED)
async def create_room(
    request: Request,
    state: StateDep,
    body: CreateRoomRequest | None = None,
    authorization: Annotated[str | None, Header()] = None,
) -> CreateRoomResponse:
    owner = await _room_creator(state, bearer_token(authorization))
    ttl = state.settings.invite_ttl if body is None or body.invite_ttl is None else body.invite_ttl
    if ttl > state.settings.max_invite_ttl:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"invite_ttl {ttl:g} s is longer than this server allows "
            f"({state.settings.max_invite_ttl:g} s).",
        )
    created = await state.rooms.create(
        ttl,
        owner_id=owner.user_id if owner else None,
        owner_session_id=owner.session_id if owner else None,
    )
    if state.usage_recorder is not None:
        owner_id = owner.user_id if owner else None
        state.usage_recorder.record(
            UsageRecord(UsageKind.ROOM_CREATED, datetime.now(UTC), user_id=owner_id)
        )
    logger.info("room %s created", short(created.room_id))
    base = state.public_base_url(request)
    return CreateRoomResponse(
        room_id=created.room_id,
        host_token=created.host_token,
        invite_token=created.invite_token,
        invite_expires_at=created.invite_expires_at,
        guest_url=guest_url(base, created.room_id, created.invite_token),
    )


async def _room_creator(state: ServerState, given: str | None) -> Principal | None:
    """Check who may create a room; return the signed-in host, or None for a token holder.

    With accounts on, a host signed in with `pairview login` may, and so may
    the holder of the room creation token (the server that `pairview share`
    embeds uses one). Without accounts, anyone may unless the token is set.
    """
    required = state.settings.room_creation_token
    if (
        required is not None
        and given is not None
        and hmac.compare_digest(given, required.get_secret_value())
    ):
        return None
    if state.accounts is not None:
        principal = await state.accounts.store.resolve(given) if given else None
        if principal is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "Creating a room on this server needs a signed-in host: "
                "run `pairview login --server URL` first.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return principal
    if required is not None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Creating a room needs the server's room creation token as a Bearer token.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return None


def guest_url(base: str, room_id: str, invite_token: str) -> str:
    """The link a host sends to guests; the token sits in the fragment, never sent to servers."""
    return f"{base.rstrip('/')}/r/{room_id}#{invite_token}"


@router.delete("/rooms/{room_id}", status_code=status.HTTP_204_NO_CONTENT)
async def end_room(
    room_id: str,
    state: StateDep,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    token = bearer_token(authorization)
    if token is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Ending a room needs its host token as a Bearer token.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        was_live = await state.rooms.end(room_id[:64], token)
    except SignalingError:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, "No room with this id and host token."
        ) from None
    if was_live:
        state.signaling.close_room(room_id, "ended")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/health")
async def health(state: StateDep) -> dict[str, str]:
    async with state.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    return {"status": "ok", "version": __version__}
