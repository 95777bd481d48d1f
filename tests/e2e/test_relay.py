"""The relay from `pairview turn-config` reaches public peers and nothing else."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.timing import seconds
from tests.support.topology import Node, topology
from tests.support.turn import coturn

pytestmark = pytest.mark.e2e

SECRET = "relay-test-secret-0123456789"
PORT = 5000
# Addresses beside the relay, in its own namespace, that it must never reach.
DENIED_IPV4 = [
    "127.0.0.1",
    "10.99.0.1",
    "192.168.7.1",
    "172.16.5.1",
    "100.64.0.1",
    "169.254.169.254",
]
DENIED_IPV6 = ["::1", "fd00:ec2::254", "fd12::1"]
DENIED_MAPPED = ["::", "::ffff:127.0.0.1", "::ffff:10.99.0.1", "::ffff:169.254.169.254"]


def endpoint(address: str) -> str:
    return f"[{address}]:{PORT}" if ":" in address else f"{address}:{PORT}"


@contextlib.contextmanager
def listener(node: Node, addresses: list[str]) -> Iterator[subprocess.Popen[str]]:
    """Echo UDP on `addresses` inside `node`, reporting each datagram on stdout."""
    process = subprocess.Popen(
        node.command(
            [sys.executable, "-m", "tests.support.turn", "listen", *map(endpoint, addresses)]
        ),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert json.loads(process.stdout.readline()) == {"ready": True}
        yield process
    finally:
        process.terminate()
        process.communicate(timeout=seconds(5))


def probe(node: Node, server: str, family: int, peers: list[str]) -> dict[str, Any]:
    result = subprocess.run(
        node.command(
            [
                sys.executable,
                "-m",
                "tests.support.turn",
                "probe",
                "--server",
                server,
                "--secret",
                SECRET,
                "--family",
                str(family),
                *map(endpoint, peers),
            ]
        ),
        capture_output=True,
        text=True,
        timeout=seconds(60),
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def received(process: subprocess.Popen[str]) -> list[dict[str, str]]:
    process.terminate()
    output, _ = process.communicate(timeout=seconds(5))
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_relay_reaches_public_peer_only(tmp_path: Path) -> None:
    with topology() as net:
        relay = net.public
        relay.ip("addr", "add", "2001:db8::1/64", "dev", "br0", "nodad")
        # Stand-ins for the LAN and the metadata service, on the relay's own loopback.
        for address in DENIED_IPV4[1:]:
            relay.ip("addr", "add", f"{address}/32", "dev", "lo")
        for address in DENIED_IPV6[1:]:
            relay.ip("addr", "add", f"{address}/128", "dev", "lo", "nodad")
        public_peer = net.add_public_host("peer")
        client = net.add_public_host("client")

        with (
            coturn(relay, tmp_path / "turn", SECRET, [relay.address, "2001:db8::1"]),
            listener(relay, DENIED_IPV4 + DENIED_IPV6) as inside,
            listener(public_peer, [public_peer.address]) as outside,
        ):
            server = f"{relay.address}:3478"
            ipv4 = probe(client, server, 4, [public_peer.address, *DENIED_IPV4])
            ipv6 = probe(client, server, 6, DENIED_IPV6 + DENIED_MAPPED)
            inside_got = received(inside)
            outside_got = received(outside)

    assert ipv4["permissions"][endpoint(public_peer.address)] == 0
    for address in DENIED_IPV4:
        assert ipv4["permissions"][endpoint(address)] == 403, address
    assert ipv6["relayed"][0] == "2001:db8::1"
    for address in DENIED_IPV6 + DENIED_MAPPED:
        assert ipv6["permissions"][endpoint(address)] == 403, address
    assert ipv4["echoes"] == [endpoint(public_peer.address).replace("[", "").replace("]", "")]
    assert inside_got == []
    assert {message["data"] for message in outside_got} == {
        b"pairview-probe".hex(),
        b"pairview-channel".hex(),
    }
