"""Admin sign-ins are logged and announced to a webhook, with retries in the background."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from pairview.server.runner import RunningServer
from tests.server.accounts.conftest import PASSWORD
from tests.support.accounts import app_token, sign_in, sign_up
from tests.support.database_rows import fetch, make_admin
from tests.support.mailbox import Mailbox
from tests.support.timing import seconds
from tests.support.webhook import WebhookReceiver, webhook_receiver

SECRET = "webhook-secret-for-tests"
TIMEOUT = 1.0
AUDIT = "SELECT actor_id, action, target, address FROM audit_log ORDER BY id"


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    with webhook_receiver() as receiver:
        yield receiver


@pytest.fixture
def settings_overrides(webhook: WebhookReceiver) -> dict[str, Any]:
    return {
        "admin_webhook_url": webhook.url,
        "admin_webhook_secret": SECRET,
        "admin_webhook_timeout": TIMEOUT,
        "admin_webhook_retries": 2,
    }


def alerts(server: RunningServer) -> Any:
    app: Any = server.server.config.app
    return app.state.pairview.accounts.audit.alerts


async def admin_account(client: httpx.AsyncClient, mailbox: Mailbox, database_url: str) -> str:
    await sign_up(client, mailbox, "admin@example.org", PASSWORD, "Ada Admin")
    await make_admin(database_url, "admin@example.org")
    user_id: str = (await client.get("/api/account")).json()["id"]
    return user_id


async def test_admin_sign_in_is_logged_and_alerted(
    client_factory: Callable[..., httpx.AsyncClient],
    mailbox: Mailbox,
    database_url: str,
    webhook: WebhookReceiver,
) -> None:
    plain = client_factory()
    await sign_up(plain, mailbox, "plain@example.org", PASSWORD, "Plain User")
    assert (await sign_in(plain, "plain@example.org", PASSWORD)).status_code == 200
    admin = client_factory()
    admin_id = await admin_account(admin, mailbox, database_url)

    assert (await sign_in(admin, "admin@example.org", PASSWORD)).status_code == 200
    await app_token(admin, "admin@example.org", PASSWORD)

    deliveries = await asyncio.to_thread(webhook.wait_for, 2, seconds(10))
    assert len(deliveries) == 2
    first = deliveries[0]
    payload = first.json()
    assert payload["event"] == "admin-sign-in"
    assert payload["user_id"] == admin_id
    assert payload["method"] == "password web"
    assert payload["address"] == "127.0.0.1"
    assert "admin@example.org" not in first.body.decode()
    expected = hmac.new(SECRET.encode(), first.body, hashlib.sha256).hexdigest()
    assert first.headers["X-Pairview-Signature"] == f"sha256={expected}"
    assert deliveries[1].json()["method"] == "password app"
    logged = await fetch(database_url, AUDIT)
    assert [(r["actor_id"], r["action"], r["target"], r["address"]) for r in logged] == [
        (admin_id, "sign-in", "password web", "127.0.0.1"),
        (admin_id, "sign-in", "password app", "127.0.0.1"),
    ]


async def test_failed_alert_is_retried(
    client: httpx.AsyncClient,
    mailbox: Mailbox,
    database_url: str,
    webhook: WebhookReceiver,
    accounts_server: RunningServer,
) -> None:
    await admin_account(client, mailbox, database_url)
    # An error, then no response within the timeout, then success.
    webhook.script = [(503, 0.0), (204, TIMEOUT * 3)]

    assert (await sign_in(client, "admin@example.org", PASSWORD)).status_code == 200

    deliveries = await asyncio.to_thread(webhook.wait_for, 3, seconds(15))
    assert [d.status for d in deliveries[:2]] == [503, 204]
    assert len({d.body for d in deliveries}) == 1, "each attempt sends the same alert"
    counters = alerts(accounts_server)
    for _ in range(int(seconds(5) / 0.1)):
        if counters.delivered:
            break
        await asyncio.sleep(0.1)
    assert counters.delivered == 1
    assert counters.failed == 0
