"""Alerts on administrator sign-ins: a JSON POST to a webhook, sent in the background.

Each alert is retried with exponential backoff when the webhook does not
respond with a 2xx status within the timeout. Alerts wait in a bounded
queue, so a webhook that is down never holds up a sign-in.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from datetime import datetime

import httpx

logger = logging.getLogger(__name__)

MAX_QUEUED = 100
BACKOFF_INITIAL = 0.5
SIGNATURE_HEADER = "X-Pairview-Signature"


class WebhookAlerts:
    def __init__(self, url: str, secret: str | None, timeout: float, retries: int) -> None:
        self._url = url
        self._secret = secret.encode() if secret else None
        self._timeout = timeout
        self._retries = retries
        self._queue: asyncio.Queue[bytes] = asyncio.Queue(MAX_QUEUED)
        self.delivered = 0
        self.failed = 0

    def admin_signed_in(
        self, user_id: str, method: str, address: str | None, occurred_at: datetime
    ) -> None:
        """Queue the alert for one administrator sign-in."""
        payload = {
            "event": "admin-sign-in",
            "user_id": user_id,
            "method": method,
            "address": address,
            "occurred_at": occurred_at.isoformat(),
        }
        try:
            self._queue.put_nowait(json.dumps(payload).encode())
        except asyncio.QueueFull:
            self.failed += 1
            logger.error("admin sign-in alert dropped: %d alerts are already waiting", MAX_QUEUED)

    async def run(self) -> None:
        """Deliver queued alerts one after another; runs for the server's lifetime."""
        async with httpx.AsyncClient(timeout=self._timeout, follow_redirects=False) as client:
            while True:
                body = await self._queue.get()
                await self._deliver(client, body)

    async def _deliver(self, client: httpx.AsyncClient, body: bytes) -> None:
        headers = {"Content-Type": "application/json"}
        if self._secret is not None:
            digest = hmac.new(self._secret, body, hashlib.sha256).hexdigest()
            headers[SIGNATURE_HEADER] = f"sha256={digest}"
        delay = BACKOFF_INITIAL
        for attempt in range(1, self._retries + 2):
            try:
                response = await client.post(self._url, content=body, headers=headers)
                if response.is_success:
                    self.delivered += 1
                    return
                problem = f"HTTP {response.status_code}"
            except httpx.HTTPError as error:
                problem = type(error).__name__
            if attempt > self._retries:
                break
            logger.warning(
                "admin sign-in alert: attempt %d failed (%s), retrying in %.1f s",
                attempt,
                problem,
                delay,
            )
            await asyncio.sleep(delay)
            delay *= 2
        self.failed += 1
        logger.error("admin sign-in alert not delivered after %d attempts (%s)", attempt, problem)
