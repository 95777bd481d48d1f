"""The host's TURN probe against a real coturn on loopback: working, expired, rejected."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pairview.host.ice import ProbeOutcome, describe_problems, plan_ice_servers
from pairview.protocol.signaling import IceServerInfo
from pairview.server.ice import turn_credentials
from tests.support.turn import coturn, free_port

SECRET = "probe-test-secret-0123456789"


@pytest.fixture
def relay_port(tmp_path: Path) -> Iterator[int]:
    port = free_port()
    with coturn(None, tmp_path / "turn", SECRET, ["127.0.0.1"], port=port):
        yield port


def servers(
    port: int, secret: str = SECRET, age: float = 0, udp_port: int | None = None
) -> list[IceServerInfo]:
    username, credential, _ = turn_credentials(secret, "host", 600, time.time() - age)
    return [
        IceServerInfo(urls=[f"stun:127.0.0.1:{port}"]),
        IceServerInfo(
            urls=[
                f"turn:127.0.0.1:{udp_port or port}?transport=udp",
                f"turn:127.0.0.1:{port}?transport=tcp",
            ],
            username=username,
            credential=credential,
        ),
    ]


async def test_working_udp_url_first(relay_port: int) -> None:
    plan = await plan_ice_servers(servers(relay_port))

    assert [result.outcome for result in plan.results] == [ProbeOutcome.WORKS, ProbeOutcome.WORKS]
    assert plan.relay is not None
    assert plan.relay.transport == "udp"
    assert plan.servers[0].urls == f"stun:127.0.0.1:{relay_port}"
    assert plan.servers[1].urls == f"turn:127.0.0.1:{relay_port}?transport=udp"
    assert describe_problems(plan) == []


async def test_blocked_udp_falls_back_to_tcp(relay_port: int) -> None:
    closed_port = free_port()

    plan = await plan_ice_servers(servers(relay_port, udp_port=closed_port))

    assert plan.relay is not None
    assert plan.relay.transport == "tcp"
    assert plan.servers[1].urls == f"turn:127.0.0.1:{relay_port}?transport=tcp"
    assert plan.servers[2].urls == f"turn:127.0.0.1:{closed_port}?transport=udp"


async def test_expired_credentials_reported(relay_port: int) -> None:
    plan = await plan_ice_servers(servers(relay_port, age=3600))
    problems = describe_problems(plan)

    assert {result.outcome for result in plan.results} == {ProbeOutcome.EXPIRED}
    assert plan.relay is None
    assert "they have expired" in problems[0]
    assert "Guests behind strict NATs" in problems[-1]


async def test_wrong_secret_reported(relay_port: int) -> None:
    plan = await plan_ice_servers(servers(relay_port, secret="another-secret-0123456789"))
    problems = describe_problems(plan)

    assert {result.outcome for result in plan.results} == {ProbeOutcome.REJECTED}
    assert "401" in problems[0]
    assert "static-auth-secret" in problems[0]
