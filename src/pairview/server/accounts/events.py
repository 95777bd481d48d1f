"""Live events for signed-in users, over one WebSocket per open page.

The server pushes invitations to the invitee's open pages as they are
made or withdrawn. Each socket belongs to a session: when the session is
revoked (sign-out, password change, account deletion) the socket is
closed at once, and a sweep closes sockets whose session ended elsewhere
(expired, or revoked by another server instance) within seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

logger = logging.getLogger(__name__)

# Close code for a socket whose session ended (private range 4000-4999).
SESSION_ENDED = 4010
SEND_QUEUE_SIZE = 64
SWEEP_INTERVAL = 2.0


@dataclass(eq=False)
class UserSocket:
    websocket: WebSocket
    user_id: str
    session_id: str
    queue: asyncio.Queue[str | tuple[int, str]] = field(
        default_factory=lambda: asyncio.Queue(SEND_QUEUE_SIZE)
    )

    def send(self, event: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(json.dumps(event))
        except asyncio.QueueFull:
            self.close(1008, "not reading events fast enough")

    def close(self, code: int, reason: str) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait((code, reason))


class UserChannels:
    """The open event sockets of every signed-in user of this server instance."""

    def __init__(self) -> None:
        self._sockets: dict[str, set[UserSocket]] = {}

    @property
    def count(self) -> int:
        return sum(len(sockets) for sockets in self._sockets.values())

    def publish(self, user_id: str, event: dict[str, Any]) -> None:
        for socket in list(self._sockets.get(user_id, ())):
            socket.send(event)

    def close_sessions(self, session_ids: Iterable[str]) -> int:
        """Close every socket of these sessions; return how many were closed."""
        ended = set(session_ids)
        closed = 0
        for sockets in self._sockets.values():
            for socket in sockets:
                if socket.session_id in ended:
                    socket.close(SESSION_ENDED, "session ended")
                    closed += 1
        return closed

    def close_all(self) -> None:
        for sockets in self._sockets.values():
            for socket in sockets:
                socket.close(1001, "server shutting down")

    async def serve(self, socket: UserSocket) -> None:
        """Write queued events to the socket until it closes; reads only to notice a close."""
        self._sockets.setdefault(socket.user_id, set()).add(socket)
        reader = asyncio.create_task(self._read(socket))
        try:
            await self._write(socket)
        finally:
            reader.cancel()
            sockets = self._sockets.get(socket.user_id)
            if sockets is not None:
                sockets.discard(socket)
                if not sockets:
                    del self._sockets[socket.user_id]

    async def sweep(self, live_ids: Callable[[list[str]], Awaitable[set[str]]]) -> None:
        """Close sockets whose session no longer exists; runs for the server's lifetime."""
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            session_ids = list(
                {socket.session_id for sockets in self._sockets.values() for socket in sockets}
            )
            if not session_ids:
                continue
            try:
                live = await live_ids(session_ids)
            except Exception:
                logger.exception("checking the sessions of open event sockets failed")
                continue
            self.close_sessions(set(session_ids) - live)

    async def _read(self, socket: UserSocket) -> None:
        try:
            while True:
                event = await socket.websocket.receive()
                if event["type"] == "websocket.disconnect":
                    break
        except (WebSocketDisconnect, RuntimeError):
            pass
        socket.close(1000, "closed by the client")

    async def _write(self, socket: UserSocket) -> None:
        websocket = socket.websocket
        while True:
            item = await socket.queue.get()
            try:
                if isinstance(item, tuple):
                    if websocket.application_state is WebSocketState.CONNECTED:
                        await websocket.close(code=item[0], reason=item[1])
                    return
                await websocket.send_text(item)
            except (WebSocketDisconnect, RuntimeError, OSError):
                return
