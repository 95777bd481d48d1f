"""The host app's signaling WebSocket, which reconnects by itself.

When the connection drops, the client reconnects with exponential backoff
and full jitter, and rejoins with its resume token, so that it keeps its
peer id and guests' peer connections carry on undisturbed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import ssl
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from pydantic import ValidationError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from pairview.errors import PairviewError
from pairview.host.client_info import app_client_info
from pairview.protocol.signaling import (
    PROTOCOL_VERSION,
    ClientInfo,
    CloseCode,
    Error,
    ErrorCode,
    Join,
    Role,
    ServerMessage,
    Welcome,
    _Message,
    dump,
    server_message_adapter,
)

logger = logging.getLogger(__name__)

BACKOFF_INITIAL = 0.5
BACKOFF_MAX = 15.0
# After a network change the old socket can look open for a long time; a
# check gives up on it when the server does not answer a ping this fast.
CHECK_TIMEOUT = 1.5
# Messages sent while disconnected wait for the next connection, up to this many.
MAX_QUEUED = 200
FATAL_CODES = frozenset(
    {
        ErrorCode.ROOM_NOT_FOUND,
        ErrorCode.ROOM_CLOSED,
        ErrorCode.LINK_EXPIRED,
        ErrorCode.VERSION_MISMATCH,
        ErrorCode.HOST_ALREADY_CONNECTED,
    }
)


class SignalingClosed(PairviewError):
    """The server refused the join for good, or closed the room."""


@dataclass(frozen=True, slots=True)
class JoinParams:
    url: str
    room: str
    token: str
    role: Role
    name: str
    client: ClientInfo = field(default_factory=app_client_info)


MessageHandler = Callable[[ServerMessage], Awaitable[None]]
StatusHandler = Callable[[str], None]


class SignalingClient:
    def __init__(
        self,
        params: JoinParams,
        on_message: MessageHandler,
        on_status: StatusHandler,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._params = params
        self._on_message = on_message
        self._on_status = on_status
        self._ssl = ssl_context
        self._connection: ClientConnection | None = None
        self._joined = asyncio.Event()
        self._queue: deque[str] = deque(maxlen=MAX_QUEUED)
        self._resume: str | None = None
        self.peer_id: str | None = None
        self._stopping = False
        self._skip_backoff = False
        self._immediate = False

    @property
    def joined(self) -> asyncio.Event:
        return self._joined

    async def run(self) -> None:
        """Stay connected until `close`; raise SignalingClosed if the server refuses for good."""
        delay = BACKOFF_INITIAL
        first = True
        while not self._stopping:
            try:
                await self._connect_once()
                delay = BACKOFF_INITIAL
            except SignalingClosed:
                raise
            except (TimeoutError, OSError, InvalidHandshake, ConnectionClosed) as error:
                if first and isinstance(error, InvalidStatus):
                    raise SignalingClosed(
                        f"The server at {self._params.url} refused the signaling connection "
                        f"(HTTP {error.response.status_code})."
                    ) from None
                logger.info("signaling connection failed: %s", _describe(error))
            finally:
                first = False
                self._connection = None
                self._joined.clear()
            if self._stopping:
                break
            if self._skip_backoff:
                # The server is fine; this side's network changed.
                self._skip_backoff = False
                delay = BACKOFF_INITIAL
            # Full jitter: spread reconnects of many clients after a server restart.
            wait = 0.0 if self._immediate else random.uniform(0, delay)  # noqa: S311
            self._immediate = False
            self._on_status(f"signaling server unreachable, retrying in {wait:.1f} s")
            await asyncio.sleep(wait)
            delay = min(BACKOFF_MAX, delay * 2)

    async def _connect_once(self) -> None:
        async with connect(
            self._params.url,
            ssl=self._ssl,
            open_timeout=10,
            max_size=1024 * 1024,
            ping_interval=15,
            ping_timeout=15,
        ) as connection:
            self._connection = connection
            join = Join(
                type="join",
                version=PROTOCOL_VERSION,
                room=self._params.room,
                token=self._params.token,
                role=self._params.role,
                name=self._params.name,
                resume=self._resume,
                client=self._params.client,
            )
            await connection.send(dump(join))
            async for text in connection:
                if isinstance(text, bytes):
                    continue
                await self._receive(text)
            code = connection.close_code
            if code == CloseCode.ROOM_CLOSED:
                raise SignalingClosed("The room was closed.")

    async def _receive(self, text: str) -> None:
        try:
            message = server_message_adapter.validate_python(json.loads(text))
        except (ValueError, ValidationError):
            logger.warning("ignoring an invalid message from the signaling server")
            return
        if isinstance(message, Welcome):
            reconnected = self._resume is not None
            self._resume = message.resume
            self.peer_id = message.peer_id
            self._joined.set()
            if reconnected:
                self._on_status("reconnected to the signaling server")
            await self._flush()
        elif isinstance(message, Error) and message.code in FATAL_CODES:
            raise SignalingClosed(message.message)
        await self._on_message(message)

    async def send(self, message: _Message) -> None:
        """Send now if joined, else queue for the next connection."""
        text = dump(message)
        connection = self._connection
        if connection is not None and self._joined.is_set():
            with contextlib.suppress(ConnectionClosed):
                await connection.send(text)
                return
        self._queue.append(text)

    async def _flush(self) -> None:
        connection = self._connection
        while connection is not None and self._queue:
            text = self._queue.popleft()
            try:
                await connection.send(text)
            except ConnectionClosed:
                self._queue.appendleft(text)
                return

    async def check(self) -> None:
        """Make sure the socket still reaches the server; without a quick answer, reconnect."""
        connection = self._connection
        if connection is None:
            return
        try:
            waiter = await connection.ping()
            await asyncio.wait_for(waiter, CHECK_TIMEOUT)
        except (TimeoutError, ConnectionClosed):
            logger.info("signaling connection did not answer a check; reconnecting")
            self._skip_backoff = True
            connection.transport.abort()

    def reconnect_now(self) -> None:
        """Drop the socket and reconnect at once, as after a change of this machine's network."""
        connection = self._connection
        if connection is None:
            return
        self._skip_backoff = True
        self._immediate = True
        connection.transport.abort()

    async def close(self) -> None:
        self._stopping = True
        if self._connection is not None:
            with contextlib.suppress(ConnectionClosed, OSError):
                await self._connection.close()


def _describe(error: BaseException) -> str:
    if isinstance(error, ConnectionClosed):
        return f"connection closed ({error.rcvd.code if error.rcvd else 'no close frame'})"
    return str(error) or type(error).__name__
