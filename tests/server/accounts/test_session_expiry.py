"""A session ends by itself when its time is up, closing its sockets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

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
