"""The FastAPI application: wiring of database, rooms, signaling and pages."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI, HTTPException, Request, Response, WebSocket, status
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.exc import SQLAlchemyError

from pairview import __version__
from pairview.protocol.signaling import CloseCode
from pairview.server import admin_pages, api, db, web
from pairview.server.accounts import routes_account, routes_auth, routes_oauth, routes_sharing
from pairview.server.accounts.auth import websocket_session_token
from pairview.server.accounts.context import Accounts, build_accounts
from pairview.server.accounts.crypto import JoinTickets
from pairview.server.accounts.errors import AccountError, Throttled
from pairview.server.accounts.validation import InvalidInput
from pairview.server.audit import routes as audit_routes
from pairview.server.ice import IceConfig, IceGrant, stun_bind_host
from pairview.server.retention import apply_retention_periodically
from pairview.server.rooms import RoomStore
from pairview.server.signaling import SignalingHub
from pairview.server.state import ServerState
from pairview.server.stun import StunServer, start_stun_server
from pairview.server.tokens import ResumeSigner, load_or_create_secret_key
from pairview.server.usage import dashboard
from pairview.server.usage.events import UsageKeys
from pairview.server.usage.metrics import CONTENT_TYPE, Metrics, RequestTimer, bearer_matches
from pairview.server.usage.recorder import UsageRecorder
from pairview.server.usage.signaling import SignalingUsage
from pairview.server.ws import SignalingService
from pairview.settings import ServerSettings

logger = logging.getLogger(__name__)


def create_app(settings: ServerSettings, tls: bool = False) -> FastAPI:
    """Build the server application; the database is opened and migrated at start-up."""
    metrics = Metrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.database_url is None:
            # SQLite creates the file, not the directory it sits in.
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = db.create_engine(settings.resolved_database_url)
        try:
            await db.upgrade(engine)
        except Exception:
            await engine.dispose()
            raise

        if settings.secret_key is not None:
            key = settings.secret_key.get_secret_value().encode()
        else:
            key = load_or_create_secret_key(settings.data_dir)
        stun: StunServer | None = None
        stun_host = stun_bind_host(settings)
        if stun_host is not None and settings.stun_port is not None:
            try:
                stun = await start_stun_server(stun_host, settings.stun_port)
            except Exception:
                await engine.dispose()
                raise
        ice = IceConfig(settings, stun.address[1] if stun else None)

        def ice_servers_for(room_id: str, peer_id: str) -> IceGrant:
            return ice.grant(peer_id)

        sessions = db.sessionmaker(engine)
        hub = SignalingHub(grace=settings.reconnect_grace)
        tickets = JoinTickets(key) if settings.accounts else None
        rooms = RoomStore(sessions, tickets)
        recorder = UsageRecorder(sessions)
        accounts: Accounts | None = None

        async def identify_guest(websocket: WebSocket) -> str | None:
            token = websocket_session_token(websocket, settings)
            if accounts is None or token is None:
                return None
            principal = await accounts.store.resolve(token)
            return principal.user_id if principal else None

        signaling = SignalingService(
            settings,
            hub,
            rooms,
            ResumeSigner(key),
            ice_servers_for,
            SignalingUsage(recorder, UsageKeys(key)),
            identify_guest,
        )

        async def sessions_revoked(session_ids: list[str]) -> None:
            # The user's live event sockets close, and so do rooms that a
            # revoked session created, which disconnects host and guests.
            if accounts is not None:
                accounts.channels.close_sessions(session_ids)
            for room_id in await rooms.live_rooms_of_sessions(session_ids):
                await rooms.end_unchecked(room_id)
                signaling.close_room(room_id, "ended")

        if settings.accounts and tickets is not None:
            accounts = build_accounts(settings, sessions, key, tickets, sessions_revoked)
        app.state.pairview = ServerState(
            settings, engine, rooms, hub, signaling, accounts, stun, ice, recorder, metrics
        )
        tasks = [
            asyncio.create_task(signaling.expire_away_peers()),
            asyncio.create_task(recorder.run()),
            asyncio.create_task(apply_retention_periodically(sessions, settings)),
        ]
        if accounts is not None:
            accounts.mailer.start()
            if accounts.audit.alerts is not None:
                tasks.append(asyncio.create_task(accounts.audit.alerts.run()))
            tasks.append(asyncio.create_task(accounts.channels.sweep(accounts.store.live_ids)))
            tasks.append(asyncio.create_task(accounts.store.purge_periodically()))
            if not accounts.mailer.configured:
                logger.warning("accounts are on but no SMTP server is set: no mail will be sent")
        logger.info("Pairview server %s started", __version__)
        if ice.turn_enabled:
            logger.info("handing out TURN credentials for %s", ", ".join(ice.turn_urls()))
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            signaling.close_all(CloseCode.GOING_AWAY, "server shutting down")
            if accounts is not None:
                accounts.channels.close_all()
                await accounts.mailer.stop()
            await asyncio.sleep(0)
            if stun is not None:
                stun.close()
            await recorder.flush()
            await engine.dispose()
            logger.info("Pairview server stopped")

    app = FastAPI(
        title="Pairview",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.add_middleware(web.SecurityHeaders, hsts=tls)
    app.add_middleware(RequestTimer, metrics=metrics)
    app.include_router(api.router)
    app.include_router(routes_auth.router)
    app.include_router(routes_oauth.router)
    app.include_router(routes_account.router)
    app.include_router(routes_sharing.router)
    app.include_router(dashboard.router)
    app.include_router(audit_routes.router)
    app.add_api_websocket_route("/api/events", routes_sharing.events_socket)
    app.include_router(admin_pages.router)

    @app.get("/metrics", include_in_schema=False)
    async def metrics_endpoint(request: Request) -> Response:
        """Serve the metrics to a scraper holding the metrics token; 404 when none is set."""
        state: ServerState = request.app.state.pairview
        token = state.settings.metrics_token
        if token is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "Not found")
        if not bearer_matches(request.headers.get("authorization"), token.get_secret_value()):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "The metrics need the metrics token as a Bearer token.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return Response(metrics.render(state), media_type=CONTENT_TYPE)

    app.include_router(web.router)
    app.mount("/static", StaticFiles(directory=web.STATIC_DIR), name="static")

    @app.websocket("/ws")
    async def signaling_socket(websocket: WebSocket) -> None:
        state: ServerState = websocket.app.state.pairview
        await state.signaling.handle(websocket)

    @app.exception_handler(AccountError)
    async def account_error(request: Request, error: AccountError) -> JSONResponse:
        headers = {"Retry-After": str(error.retry_after)} if isinstance(error, Throttled) else None
        return JSONResponse({"detail": str(error)}, status_code=error.status, headers=headers)

    @app.exception_handler(InvalidInput)
    async def invalid_input(request: Request, error: InvalidInput) -> JSONResponse:
        return JSONResponse({"detail": str(error), "field": error.field}, status_code=422)

    @app.exception_handler(SQLAlchemyError)
    @app.exception_handler(TimeoutError)
    async def database_unavailable(request: Request, error: Exception) -> JSONResponse:
        logger.error(
            "database error on %s %s: %s", request.method, request.url.path, type(error).__name__
        )
        return JSONResponse(
            {"detail": "The server cannot reach its database; try again shortly."},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    return app
