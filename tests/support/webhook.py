"""A local webhook receiver for tests: it responds to each POST with a scripted status and delay."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes
    status: int

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    url: str
    # (status, delay in seconds) for each request in turn; then 204 with no delay.
    script: list[tuple[int, float]] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float) -> list[Delivery]:
        with self.changed:
            if not self.changed.wait_for(lambda: len(self.deliveries) >= count, timeout):
                raise AssertionError(
                    f"expected {count} webhook requests within {timeout:g} s, "
                    f"got {len(self.deliveries)}"
                )
            return list(self.deliveries)


@contextlib.contextmanager
def webhook_receiver(script: list[tuple[int, float]] | None = None) -> Iterator[WebhookReceiver]:
    """Run a webhook receiver on a free port of 127.0.0.1."""
    receiver: WebhookReceiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with receiver.changed:
                status, delay = receiver.script.pop(0) if receiver.script else (204, 0.0)
            time.sleep(delay)
            try:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:
                pass
            with receiver.changed:
                receiver.deliveries.append(Delivery(dict(self.headers), body, status))
                receiver.changed.notify_all()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = WebhookReceiver(f"http://127.0.0.1:{server.server_port}/hook", list(script or []))
    thread = threading.Thread(target=server.serve_forever, name="webhook", daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
