"""Network namespaces that tests create, so that every packet stays between the test's own hosts.

Each namespace gets its own loopback and a veth link to the other; no
route leads anywhere else.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass


class NetnsUnavailable(RuntimeError):
    """Creating network namespaces failed, most often for lack of root."""


@dataclass(frozen=True)
class Namespace:
    name: str
    address: str

    def command(self, argv: Sequence[str]) -> list[str]:
        """Return `argv` wrapped so that it runs inside this namespace."""
        return ["ip", "netns", "exec", self.name, *argv]


@dataclass(frozen=True)
class Lan:
    """Two hosts on one link: `host` (the sharing desktop) and `guest` (the browser)."""

    host: Namespace
    guest: Namespace


def _ip(*args: str, namespace: str | None = None) -> None:
    argv = ["ip", *args] if namespace is None else ["ip", "-n", namespace, *args]
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise NetnsUnavailable(f"{' '.join(argv)} failed: {result.stderr.strip()}")


def _delete(name: str) -> None:
    subprocess.run(["ip", "netns", "delete", name], capture_output=True, check=False)


def _random_subnet() -> str:
    # A /24 in 10.0.0.0/8 that other test runs on this machine are unlikely to pick.
    return f"10.{secrets.randbelow(50) + 200}.{secrets.randbelow(250) + 1}"


@contextlib.contextmanager
def lan() -> Iterator[Lan]:
    """Create a host and a guest namespace joined by a veth pair; remove both afterwards."""
    if os.geteuid() != 0:
        raise NetnsUnavailable("network namespaces need root")
    tag = secrets.token_hex(3)
    subnet = _random_subnet()
    host = Namespace(f"pv-host-{tag}", f"{subnet}.1")
    guest = Namespace(f"pv-guest-{tag}", f"{subnet}.2")
    created: list[str] = []
    try:
        for namespace in (host, guest):
            _ip("netns", "add", namespace.name)
            created.append(namespace.name)
            _ip("link", "set", "lo", "up", namespace=namespace.name)
        _ip(
            "link",
            "add",
            "pv0",
            "type",
            "veth",
            "peer",
            "name",
            "pv1",
            "netns",
            guest.name,
            namespace=host.name,
        )
        for namespace, device in ((host, "pv0"), (guest, "pv1")):
            _ip("addr", "add", f"{namespace.address}/24", "dev", device, namespace=namespace.name)
            _ip("link", "set", device, "up", namespace=namespace.name)
        yield Lan(host, guest)
    finally:
        for name in created:
            _delete(name)
