"""What the running server holds: settings, database, rooms and signaling."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.requests import HTTPConnection

from pairview.server.accounts.context import Accounts
from pairview.server.ice import IceConfig
from pairview.server.rooms import RoomStore
from pairview.server.signaling import SignalingHub
from pairview.server.stun import StunServer
from pairview.server.usage.metrics import Metrics
from pairview.server.usage.recorder import UsageRecorder
from pairview.server.ws import SignalingService
from pairview.settings import ServerSettings


@dataclass
class ServerState:
    settings: ServerSettings
    engine: AsyncEngine
    rooms: RoomStore
    hub: SignalingHub
    signaling: SignalingService
    accounts: Accounts | None = None
    stun: StunServer | None = None
    ice: IceConfig | None = None
    usage_recorder: UsageRecorder | None = None
    metrics: Metrics | None = None

    def public_base_url(self, request: Request) -> str:
        """The base of links given out: the configured public URL, else this request's."""
        if self.settings.public_url:
            return self.settings.public_url
        return str(request.base_url).rstrip("/")


def get_state(connection: HTTPConnection) -> ServerState:
    state: ServerState = connection.app.state.pairview
    return state


StateDep = Annotated[ServerState, Depends(get_state)]
