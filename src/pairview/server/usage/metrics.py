"""Prometheus metrics in the text exposition format (version 0.0.4), written here.

`/metrics` shows what the server has now (rooms, participants, open
WebSockets) and counters since it started (signaling messages relayed and
rejected, TURN credentials issued, usage events written and dropped), and
a histogram of HTTP request latency by route template. It is served on
the main listener only with a bearer token (`metrics_token`), and without
one on the separate listener that `metrics_port` opens.
"""

from __future__ import annotations

import bisect
import hmac
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pairview import __version__

if TYPE_CHECKING:
    from pairview.server.state import ServerState

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds; the usual Prometheus client defaults.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

Labels = tuple[tuple[str, str], ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _sample(name: str, labels: Labels, value: float) -> str:
    text = ",".join(f'{key}="{_escape(item)}"' for key, item in labels)
    number = "+Inf" if value == math.inf else repr(float(value))
    return f"{name}{{{text}}} {number}" if text else f"{name} {number}"


@dataclass
class _Series:
    counts: list[int]
    total: float = 0.0
    count: int = 0


@dataclass
class Histogram:
    name: str
    help: str
    buckets: tuple[float, ...] = LATENCY_BUCKETS
    _series: dict[Labels, _Series] = field(default_factory=dict)

    def observe(self, labels: Labels, value: float) -> None:
        series = self._series.get(labels)
        if series is None:
            series = self._series[labels] = _Series([0] * len(self.buckets))
        index = bisect.bisect_left(self.buckets, value)
        if index < len(self.buckets):
            series.counts[index] += 1
        series.total += value
        series.count += 1

    def lines(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} histogram"
        for labels, series in sorted(self._series.items()):
            cumulative = 0
            for bound, count in zip(self.buckets, series.counts, strict=True):
                cumulative += count
                yield _sample(f"{self.name}_bucket", (*labels, ("le", repr(bound))), cumulative)
            yield _sample(f"{self.name}_bucket", (*labels, ("le", "+Inf")), series.count)
            yield _sample(f"{self.name}_sum", labels, series.total)
            yield _sample(f"{self.name}_count", labels, series.count)


def _family(name: str, kind: str, help: str, samples: Iterable[tuple[Labels, float]]) -> list[str]:
    lines = [f"# HELP {name} {help}", f"# TYPE {name} {kind}"]
    lines += [_sample(name, labels, value) for labels, value in samples]
    return lines


class Metrics:
    """The metrics of one server process."""

    def __init__(self) -> None:
        self.http_latency = Histogram(
            "pairview_http_request_duration_seconds",
            "Time from an HTTP request to the end of its response, by route template.",
        )

    def render(self, state: ServerState) -> str:
        """Return every metric in the text exposition format."""
        build: list[tuple[Labels, float]] = [(_label("version", __version__), 1)]
        families: list[Family] = [
            ("pairview_build_info", "gauge", "Version of the server.", build),
            *_room_families(state),
            *_signaling_families(state),
            *_usage_families(state),
        ]
        lines = [line for family in families for line in _family(*family)]
        lines += self.http_latency.lines()
        return "\n".join(lines) + "\n"


Family = tuple[str, str, str, list[tuple[Labels, float]]]


def _label(key: str, value: str) -> Labels:
    return ((key, value),)


def _room_families(state: ServerState) -> list[Family]:
    hub, signaling = state.hub, state.signaling
    roles: dict[str, int] = {"host": 0, "guest": 0}
    for room_id in hub.room_ids():
        for peer in hub.members(room_id):
            roles[peer.role.value] += 1
    event_sockets = state.accounts.channels.count if state.accounts else 0
    return [
        (
            "pairview_rooms",
            "gauge",
            "Rooms with at least one member now.",
            [((), len(hub.room_ids()))],
        ),
        (
            "pairview_participants",
            "gauge",
            "Members of rooms now, including those briefly disconnected.",
            [(_label("role", role), count) for role, count in sorted(roles.items())],
        ),
        (
            "pairview_websocket_connections",
            "gauge",
            "Open WebSocket connections: signaling, and account event sockets.",
            [
                (_label("kind", "signaling"), signaling.client_count),
                (_label("kind", "events"), event_sockets),
            ],
        ),
    ]


def _signaling_families(state: ServerState) -> list[Family]:
    stats = state.signaling.stats
    connection_types: list[tuple[Labels, float]] = [
        (_label("type", kind), stats.connection_types.get(kind, 0))
        for kind in ("direct", "nat", "relay")
    ]
    issued = state.ice.turn_credentials_issued if state.ice else 0
    return [
        (
            "pairview_websocket_connections_total",
            "counter",
            "Signaling WebSocket connections accepted.",
            [((), stats.connections)],
        ),
        (
            "pairview_signaling_messages_relayed_total",
            "counter",
            "Signaling messages relayed from one peer to another.",
            [((), stats.relayed)],
        ),
        (
            "pairview_signaling_messages_rejected_total",
            "counter",
            "Signaling messages and joins rejected with an error.",
            [((), stats.rejected)],
        ),
        (
            "pairview_peer_connections_total",
            "counter",
            "Peer connections the hosts reported, by how their media travels.",
            connection_types,
        ),
        (
            "pairview_turn_credentials_issued_total",
            "counter",
            "TURN credentials handed to room members.",
            [((), issued)],
        ),
    ]


def _usage_families(state: ServerState) -> list[Family]:
    families: list[Family] = []
    recorder = state.usage_recorder
    if recorder is not None:
        families += [
            (
                "pairview_usage_events_written_total",
                "counter",
                "Usage events written to the database.",
                [((), recorder.written)],
            ),
            (
                "pairview_usage_events_dropped_total",
                "counter",
                "Usage events dropped because the database failed or fell behind.",
                [((), recorder.dropped)],
            ),
            (
                "pairview_usage_write_errors_total",
                "counter",
                "Failed writes of a batch of usage events.",
                [((), recorder.write_errors)],
            ),
        ]
    alerts = state.accounts.audit.alerts if state.accounts else None
    if alerts is not None:
        outcomes: list[tuple[Labels, float]] = [
            (_label("outcome", "delivered"), alerts.delivered),
            (_label("outcome", "failed"), alerts.failed),
        ]
        families.append(
            (
                "pairview_admin_alerts_total",
                "counter",
                "Admin sign-in alerts sent to the webhook, by outcome.",
                outcomes,
            )
        )
    return families


def bearer_matches(authorization: str | None, expected: str) -> bool:
    scheme, _, token = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip(), expected)


class RequestTimer:
    """ASGI middleware that observes each HTTP request's latency by its route template.

    The template ("/api/rooms/{room_id}") and not the path is the label, so
    room ids never reach the metrics and the number of series stays small.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_watch)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            labels = (
                ("method", str(scope.get("method", ""))),
                ("route", template),
                ("status", f"{status // 100}xx"),
            )
            self.metrics.http_latency.observe(labels, time.perf_counter() - started)


def metrics_listener_app(main_app: Any) -> ASGIApp:
    """Return the application of the separate metrics listener: `/metrics` and nothing else.

    It reads the state of `main_app`, the running Pairview application, and
    requires the metrics token only when one is set.
    """

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        response: Response
        state = getattr(main_app.state, "pairview", None)
        token = state.settings.metrics_token if state is not None else None
        if request.url.path != "/metrics" or request.method not in ("GET", "HEAD"):
            response = PlainTextResponse("Not found\n", status_code=404)
        elif state is None or state.metrics is None:
            response = PlainTextResponse("The server is starting\n", status_code=503)
        elif token is not None and not bearer_matches(
            request.headers.get("authorization"), token.get_secret_value()
        ):
            response = PlainTextResponse(
                "The metrics need the metrics token as a Bearer token.\n",
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        else:
            response = Response(state.metrics.render(state), media_type=CONTENT_TYPE)
        await response(scope, receive, send)

    return app
