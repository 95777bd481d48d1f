"""A session ends by itself when its time is up, closing its sockets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from pairview.server.accounts.events import SESSION_ENDED
from pairview.server.runner import RunningServer
from tests.server.accounts.conftest import PASSWORD
from tests.server.accounts.test_sessions import EMAIL, closed_with, events_socket
from tests.support.accounts import sign_up
from tests.support.mailbox import Mailbox


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"session_ttl": 2}


async def test_expired_session_rejected(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    accounts_server: RunningServer,
    certificate: tuple[Path, Path],
) -> None:
    await sign_up(client, mailbox, EMAIL, PASSWORD)
    socket = await events_socket(accounts_server, client, certificate)

    assert await closed_with(socket) == SESSION_ENDED
    assert (await client.get("/api/account")).status_code == 401


async def test_purge_removes_expired_records(
    client: httpx.AsyncClient, mailbox: Mailbox, accounts_server: RunningServer, database_url: str
) -> None:
    await sign_up(client, mailbox, EMAIL, PASSWORD)
    await client.post("/api/auth/reset", json={"email": EMAIL})
    await mailbox.wait_for(EMAIL, 2)
    app: Any = accounts_server.server.config.app
    store = app.state.pairview.accounts.store
    later = datetime.now(UTC) + timedelta(days=2)

    await store.purge_expired(now=later)

    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            sessions = (await connection.execute(text("SELECT id FROM sessions"))).all()
            tokens = (await connection.execute(text("SELECT id FROM mail_tokens"))).all()
            users = (await connection.execute(text("SELECT id FROM users"))).all()
    finally:
        await engine.dispose()
    assert sessions == []
    assert tokens == []
    assert len(users) == 1
