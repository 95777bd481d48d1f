"""The signaling WebSocket: a thin layer between sockets and the hub.

Each client connection is read by one coroutine and written by another,
through a bounded queue, so one slow or flooding client cannot hold up
the rest or make memory grow.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from pydantic import ValidationError
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from pairview.protocol.signaling import (
    CLIENT_MESSAGE_TYPES,
    PROTOCOL_VERSION,
    Answer,
    Bye,
    Candidate,
    ClientMessage,
    CloseCode,
    ConnectionReport,
    End,
    Error,
    ErrorCode,
    IceServers,
    Join,
    Leave,
    Offer,
    Ping,
    Pong,
    Reconnect,
    RefreshIce,
    Role,
    Welcome,
    client_message_adapter,
    dump,
)
from pairview.server.db import DATABASE_ERRORS
from pairview.server.ice import IceGrant
from pairview.server.limits import TokenBucket
from pairview.server.rooms import RoomStore
from pairview.server.signaling import Delivery, SignalingError, SignalingHub
from pairview.server.tokens import ResumeClaim, ResumeSigner
from pairview.server.usage.signaling import SignalingUsage
from pairview.settings import ServerSettings

logger = logging.getLogger(__name__)

SEND_QUEUE_SIZE = 256
MAX_JSON_DEPTH = 8


def short(room_id: str) -> str:
    """A room id cut short for logs: enough to tell rooms apart, too little to join one."""
    return room_id[:6]


def origin_allowed(origin: str | None, host: str | None, settings: ServerSettings) -> bool:
    """Decide whether a WebSocket handshake's Origin may use this server.

    Clients that are not browsers send no Origin and are allowed; browsers
    always send one. With a configured public URL only that origin (and any
    listed in `allowed_origins`) passes. Without one, the page must come
    from this same server addressed by IP literal or localhost, which rules
    out DNS rebinding through a hostname the attacker controls.
    """
    if origin is None:
        return True
    if origin in settings.allowed_origins:
        return True
    if settings.public_url is not None:
        return origin == settings.public_url
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc or host is None:
        return False
    if parts.netloc.lower() != host.lower():
        return False
    hostname = parts.hostname or ""
    if hostname == "localhost":
        return True
    try:
        ipaddress.ip_address(hostname)
    except ValueError:
        return False
    return True


def _json_depth(value: object, depth: int = 0) -> int:
    if depth > MAX_JSON_DEPTH:
        return depth
    if isinstance(value, dict):
        return max((_json_depth(v, depth + 1) for v in value.values()), default=depth + 1)
    if isinstance(value, list):
        return max((_json_depth(v, depth + 1) for v in value), default=depth + 1)
    return depth


class Rejected(Exception):
    """A message the server answers with an error, keeping the connection open."""

    def __init__(self, code: ErrorCode, message: str, ref_type: str | None = None) -> None:
        super().__init__(message)
        self.error = Error(code=code, message=message, ref_type=ref_type)


class CloseConnection(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass
class SignalingStats:
    """Counters for the operator; never any message content."""

    connections: int = 0
    relayed: int = 0
    rejected: int = 0
    ice_refreshes: int = 0
    # Guest connections by how their media travels, as the hosts report them.
    connection_types: dict[str, int] = field(default_factory=dict)


@dataclass(eq=False)
class Client:
    websocket: WebSocket
    room_id: str
    peer_id: str
    queue: asyncio.Queue[str | tuple[int, str]] = field(
        default_factory=lambda: asyncio.Queue(SEND_QUEUE_SIZE)
    )

    def send(self, text: str) -> bool:
        """Queue a message; return False when the client is not keeping up."""
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            return False
        return True

    def close(self, code: int, reason: str) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait((code, reason))


IceServersFor = Callable[[str, str], IceGrant]
# Returns the account of the signed-in browser behind a WebSocket, or None.
IdentifyGuest = Callable[[WebSocket], Awaitable[str | None]]


class SignalingService:
    """Accepts signaling WebSockets and carries out the hub's decisions."""

    def __init__(
        self,
        settings: ServerSettings,
        hub: SignalingHub,
        rooms: RoomStore,
        signer: ResumeSigner,
        ice_servers_for: IceServersFor,
        usage: SignalingUsage | None = None,
        identify_guest: IdentifyGuest | None = None,
    ) -> None:
        self._settings = settings
        self._hub = hub
        self._rooms = rooms
        self._signer = signer
        self._ice_servers_for = ice_servers_for
        self._usage = usage
        self._identify_guest = identify_guest
        self._clients: dict[str, Client] = {}
        self.stats = SignalingStats()

    @property
    def client_count(self) -> int:
        return len(self._clients)

    def deliver(self, deliveries: Iterable[Delivery]) -> None:
        for delivery in deliveries:
            client = self._clients.get(delivery.peer_id)
            if client is None:
                continue
            if not client.send(dump(delivery.message)):
                logger.warning(
                    "room %s peer %s: send queue full, closing the connection",
                    short(client.room_id),
                    client.peer_id,
                )
                client.close(CloseCode.POLICY_VIOLATION, "not reading messages fast enough")

    def close_room(self, room_id: str, reason: str) -> None:
        """Tell every connected member that the room closed, then close their sockets."""
        members = [peer.peer_id for peer in self._hub.members(room_id)]
        deliveries = self._hub.close_room(room_id, reason)
        if self._usage is not None and members:
            self._usage.room_closed(room_id, members)
        self.deliver(deliveries)
        for delivery in deliveries:
            client = self._clients.get(delivery.peer_id)
            if client is not None:
                client.close(CloseCode.ROOM_CLOSED, f"room {reason}")
        logger.info("room %s closed (%s)", short(room_id), reason)

    def close_all(self, code: int, reason: str) -> None:
        for client in list(self._clients.values()):
            client.close(code, reason)

    async def expire_away_peers(self) -> None:
        """Remove peers whose grace period ran out; runs for the server's lifetime."""
        while True:
            await asyncio.sleep(1.0)
            departures, deliveries = self._hub.expire(time.monotonic())
            for departure in departures:
                logger.info(
                    "room %s: %s %s left (did not reconnect)",
                    short(departure.room_id),
                    departure.role.value,
                    departure.peer_id,
                )
                if self._usage is not None:
                    self._usage.left(departure.peer_id, departure.room_emptied)
            self.deliver(deliveries)

    async def handle(self, websocket: WebSocket) -> None:
        """Serve one signaling WebSocket from handshake to close."""
        origin = websocket.headers.get("origin")
        if not origin_allowed(origin, websocket.headers.get("host"), self._settings):
            logger.warning(
                "rejected a WebSocket from foreign origin %r", origin[:100] if origin else None
            )
            await websocket.close(code=CloseCode.POLICY_VIOLATION)
            return
        await websocket.accept()
        self.stats.connections += 1
        bucket = TokenBucket(
            self._settings.signaling_rate, self._settings.signaling_burst, time.monotonic()
        )
        client: Client | None = None
        writer: asyncio.Task[None] | None = None
        try:
            client = await self._accept_join(websocket, bucket)
            if client is None:
                return
            writer = asyncio.create_task(self._write(client))
            await self._read(client, bucket)
        except CloseConnection as close:
            if client is None:
                await self._close(websocket, close.code, close.reason)
            else:
                # Let the writer flush what is queued, then close.
                client.close(close.code, close.reason)
                if writer is not None:
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(asyncio.shield(writer), timeout=2.0)
        except WebSocketDisconnect:
            pass
        finally:
            if client is not None:
                self._forget(client)
            if writer is not None:
                writer.cancel()

    async def _accept_join(self, websocket: WebSocket, bucket: TokenBucket) -> Client | None:
        deadline = time.monotonic() + self._settings.signaling_join_timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CloseConnection(CloseCode.JOIN_TIMEOUT, "no join message in time")
            try:
                text = await asyncio.wait_for(self._receive_text(websocket), timeout=remaining)
                message = self._parse(text, bucket)
                if isinstance(message, Ping):
                    await websocket.send_text(dump(Pong()))
                    continue
                if not isinstance(message, Join):
                    raise Rejected(ErrorCode.NOT_JOINED, "Send a join message first.", message.type)
                return await self._join(websocket, message)
            except TimeoutError:
                raise CloseConnection(CloseCode.JOIN_TIMEOUT, "no join message in time") from None
            except Rejected as rejected:
                self.stats.rejected += 1
                await websocket.send_text(dump(rejected.error))
            except SignalingError as error:
                self.stats.rejected += 1
                await websocket.send_text(
                    dump(Error(code=error.code, message=error.message, ref_type="join"))
                )
                await self._close(websocket, CloseCode.JOIN_REJECTED, error.code.value)
                return None

    async def _join(self, websocket: WebSocket, join: Join) -> Client:
        if join.version != PROTOCOL_VERSION:
            raise SignalingError(
                ErrorCode.VERSION_MISMATCH,
                f"This page speaks signaling version {join.version}, the server "
                f"version {PROTOCOL_VERSION}. Reload the page or update the app.",
            )
        resume_peer_id = None
        if join.resume:
            claim = self._signer.verify(join.resume, join.room, join.role)
            resume_peer_id = claim.peer_id if claim else None
        try:
            room = await self._rooms.authorize(
                join.room, join.role, join.token, resuming=resume_peer_id is not None
            )
        except DATABASE_ERRORS as error:
            logger.error("database unavailable while checking a join: %s", type(error).__name__)
            raise SignalingError(
                ErrorCode.UNAVAILABLE, "The server cannot reach its database; try again shortly."
            ) from None

        outcome = self._hub.join(join.room, join.role, join.name, resume_peer_id)

        old = self._clients.get(outcome.peer_id)
        if old is not None:
            old.close(CloseCode.REPLACED, "replaced by a newer connection")
        client = Client(websocket, join.room, outcome.peer_id)
        self._clients[outcome.peer_id] = client
        resume = self._signer.sign(ResumeClaim(join.room, join.role, outcome.peer_id))
        grant = self._ice_servers_for(join.room, outcome.peer_id)
        welcome = Welcome(
            peer_id=outcome.peer_id,
            room=join.room,
            role=join.role,
            resume=resume,
            peers=outcome.peers,
            ice_servers=grant.servers,
            ice_expires_at=grant.expires_at,
        )
        client.send(dump(welcome))
        self.deliver(outcome.deliveries)
        verb = "reconnected" if outcome.resumed else "joined"
        logger.info("room %s: %s %s %s", short(join.room), join.role.value, outcome.peer_id, verb)
        if self._usage is not None and not outcome.resumed:
            if join.role is Role.HOST:
                user_id = room.owner_id
            else:
                user_id = await self._guest_account(websocket)
            self._usage.joined(
                join.room,
                outcome.peer_id,
                join.role,
                join.name,
                user_id,
                join.client,
                outcome.room_started,
            )
        return client

    async def _guest_account(self, websocket: WebSocket) -> str | None:
        """Return the account of a signed-in guest, for statistics; None when unknown."""
        if self._identify_guest is None:
            return None
        try:
            return await self._identify_guest(websocket)
        except DATABASE_ERRORS as error:
            logger.warning("could not look up a guest's account: %s", type(error).__name__)
            return None

    async def _read(self, client: Client, bucket: TokenBucket) -> None:
        while True:
            try:
                text = await self._receive_text(client.websocket)
                message = self._parse(text, bucket)
                await self._dispatch(client, message)
            except Rejected as rejected:
                self.stats.rejected += 1
                client.send(dump(rejected.error))
            except SignalingError as error:
                self.stats.rejected += 1
                client.send(dump(Error(code=error.code, message=error.message)))

    async def _dispatch(self, client: Client, message: ClientMessage) -> None:
        match message:
            case Offer() | Answer() | Candidate() | Bye() | Reconnect():
                self.deliver([self._hub.route(client.peer_id, message)])
                self.stats.relayed += 1
            case Ping():
                client.send(dump(Pong()))
            case RefreshIce():
                await self._refresh_ice(client)
            case ConnectionReport():
                self._count_connection(client, message)
            case Join():
                raise Rejected(
                    ErrorCode.ALREADY_JOINED, "This connection has already joined a room.", "join"
                )
            case End():
                member = self._hub.member(client.peer_id)
                if member is None or member.info.role is not Role.HOST:
                    raise Rejected(ErrorCode.FORBIDDEN, "Only the host can end the room.", "end")
                try:
                    await self._rooms.end_unchecked(client.room_id)
                except DATABASE_ERRORS as error:
                    logger.error(
                        "room %s: database unavailable while ending the room: %s",
                        short(client.room_id),
                        type(error).__name__,
                    )
                    raise Rejected(
                        ErrorCode.UNAVAILABLE,
                        "The server cannot reach its database; try again shortly.",
                        "end",
                    ) from None
                self.close_room(client.room_id, "ended")
            case Leave():
                departure, deliveries = self._hub.leave(client.peer_id)
                self.deliver(deliveries)
                if departure is not None:
                    logger.info(
                        "room %s: %s %s left",
                        short(client.room_id),
                        departure.role.value,
                        client.peer_id,
                    )
                    if self._usage is not None:
                        self._usage.left(client.peer_id, departure.room_emptied)
                client.close(CloseCode.NORMAL, "left")
            case _:
                raise Rejected(ErrorCode.UNKNOWN_TYPE, "This message type is not handled here.")

    async def _refresh_ice(self, client: Client) -> None:
        """Send fresh ICE servers, only to a member of a room that is still live."""
        if self._hub.member(client.peer_id) is None:
            raise Rejected(ErrorCode.NOT_JOINED, "Join a room before asking for ICE servers.")
        try:
            live = await self._rooms.is_live(client.room_id)
        except DATABASE_ERRORS as error:
            logger.error(
                "room %s: database unavailable while refreshing ICE servers: %s",
                short(client.room_id),
                type(error).__name__,
            )
            raise Rejected(
                ErrorCode.UNAVAILABLE,
                "The server cannot reach its database; try again shortly.",
                "refresh-ice",
            ) from None
        if not live:
            raise Rejected(ErrorCode.ROOM_CLOSED, "The host has ended this room.", "refresh-ice")
        grant = self._ice_servers_for(client.room_id, client.peer_id)
        client.send(dump(IceServers(ice_servers=grant.servers, expires_at=grant.expires_at)))
        self.stats.ice_refreshes += 1

    def _count_connection(self, client: Client, report: ConnectionReport) -> None:
        """Count a host's report of how a guest connection travels."""
        sender = self._hub.member(client.peer_id)
        if sender is None or sender.info.role is not Role.HOST:
            raise Rejected(
                ErrorCode.FORBIDDEN, "Only the host reports connections.", "connection-report"
            )
        guest = self._hub.member(report.guest)
        if guest is None or guest.room_id != client.room_id or guest.info.role is not Role.GUEST:
            raise Rejected(
                ErrorCode.PEER_NOT_FOUND,
                f"No guest {report.guest!r} in this room.",
                "connection-report",
            )
        kind = report.connection_type.value
        self.stats.connection_types[kind] = self.stats.connection_types.get(kind, 0) + 1
        if self._usage is not None:
            self._usage.connection(client.room_id, report.connection_type)
        logger.info("room %s: guest %s connected (%s)", short(client.room_id), report.guest, kind)

    def _parse(self, text: str, bucket: TokenBucket) -> ClientMessage:
        if not bucket.take(time.monotonic()):
            raise CloseConnection(CloseCode.POLICY_VIOLATION, "rate limit exceeded")
        if len(text.encode()) > self._settings.signaling_max_message_bytes:
            raise CloseConnection(CloseCode.MESSAGE_TOO_BIG, "message too big")
        try:
            raw = json.loads(text)
        except (ValueError, RecursionError):
            raise Rejected(ErrorCode.INVALID_MESSAGE, "The message is not valid JSON.") from None
        if not isinstance(raw, dict):
            raise Rejected(ErrorCode.INVALID_MESSAGE, "Expected a JSON object with a type.")
        if _json_depth(raw) > MAX_JSON_DEPTH:
            raise Rejected(
                ErrorCode.INVALID_MESSAGE,
                f"The message is nested deeper than {MAX_JSON_DEPTH} levels.",
            )
        kind = raw.get("type")
        if not isinstance(kind, str):
            raise Rejected(ErrorCode.INVALID_MESSAGE, "Expected a JSON object with a string type.")
        if kind not in CLIENT_MESSAGE_TYPES:
            raise Rejected(
                ErrorCode.UNKNOWN_TYPE, f"Unknown message type {kind[:40]!r}.", kind[:40]
            )
        try:
            return client_message_adapter.validate_python(raw)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"][1:]) or kind
            raise Rejected(
                ErrorCode.INVALID_MESSAGE, f"Invalid {kind} message: {where}: {first['msg']}.", kind
            ) from None

    async def _receive_text(self, websocket: WebSocket) -> str:
        event = await websocket.receive()
        if event["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(event.get("code", CloseCode.NORMAL))
        text = event.get("text")
        if text is None:
            data = event.get("bytes") or b""
            if len(data) > self._settings.signaling_max_message_bytes:
                raise CloseConnection(CloseCode.MESSAGE_TOO_BIG, "message too big")
            raise Rejected(
                ErrorCode.INVALID_MESSAGE, "Binary messages are not accepted; send JSON text."
            )
        return str(text)

    async def _write(self, client: Client) -> None:
        websocket = client.websocket
        while True:
            item = await client.queue.get()
            try:
                if isinstance(item, tuple):
                    await self._close(websocket, *item)
                    return
                await websocket.send_text(item)
            except (WebSocketDisconnect, RuntimeError, OSError):
                return

    async def _close(self, websocket: WebSocket, code: int, reason: str) -> None:
        if websocket.application_state is WebSocketState.CONNECTED:
            with contextlib.suppress(RuntimeError, OSError):
                await websocket.close(code=code, reason=reason)

    def _forget(self, client: Client) -> None:
        if self._clients.get(client.peer_id) is client:
            del self._clients[client.peer_id]
            self._hub.disconnect(client.peer_id, time.monotonic())
