"""Network namespaces that tests create, so that every packet stays between the test's own hosts.

Each namespace gets its own loopback and a veth link to the other, and no
route leads beyond the two namespaces.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
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


def _output(*argv: str) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=False).stdout.strip()


def link_is_up(namespace: str, device: str) -> bool:
    """Return whether `device` in `namespace` is up, as `ip -brief link` reports it."""
    fields = _output("ip", "-n", namespace, "-br", "link", "show", "dev", device).split()
    return len(fields) > 1 and fields[1] == "UP"


def wait_for_links(
    devices: Sequence[tuple[str, str]],
    ready: Callable[[str, str], bool] = link_is_up,
    timeout: float = 10.0,
) -> list[str]:
    """Wait until `ready` is true for every (namespace, device); return those still not ready.

    Chromium treats any later change of a link or an address as a network
    change and aborts the page loads in flight with ERR_NETWORK_CHANGED, so
    the links must be settled before a browser starts inside them.
    """
    deadline = time.monotonic() + timeout
    while True:
        pending = [f"{ns}/{device}" for ns, device in devices if not ready(ns, device)]
        if not pending or time.monotonic() > deadline:
            return pending
        time.sleep(0.1)


def _settled(namespace: str, device: str) -> bool:
    """Return whether `device` is up with its IPv6 link-local address in place and valid."""
    return (
        link_is_up(namespace, device)
        and bool(
            _output("ip", "-n", namespace, "-6", "addr", "show", "dev", device, "scope", "link")
        )
        and not _output("ip", "-n", namespace, "addr", "show", "tentative")
    )


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
            # Without duplicate address detection, IPv6 link-local addresses
            # are valid at once instead of changing state a second later.
            for scope in ("all", "default"):
                _ip(
                    "netns",
                    "exec",
                    namespace.name,
                    "sysctl",
                    "-q",
                    "-w",
                    f"net.ipv6.conf.{scope}.accept_dad=0",
                )
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
        pending = wait_for_links(((host.name, "pv0"), (guest.name, "pv1")), _settled)
        if pending:
            raise NetnsUnavailable(f"{', '.join(pending)} did not come up within 10 s")
        yield Lan(host, guest)
    finally:
        for name in created:
            _delete(name)


# Destinations that stay inside the test's namespaces: the veth link's own
# subnet, loopback and link-local addresses, and link-local multicast (such
# as Chromium's mDNS announcements of its host candidates).
_INSIDE_V4 = ["224.0.0.0/24"]
_INSIDE_V6 = ["fe80::/10", "ff02::/16"]


@dataclass(frozen=True)
class EgressCounter:
    """Counts, and drops, packets that processes in a `Lan` send anywhere outside it."""

    lan: Lan

    def _lines(self, namespace: Namespace, tool: str) -> list[str]:
        result = subprocess.run(
            ["ip", "netns", "exec", namespace.name, tool, "-w", "-L", "OUTPUT", "-v", "-x", "-n"],
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout.splitlines()

    def _counts(self, comment: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for namespace in (self.lan.host, self.lan.guest):
            total = 0
            for tool in ("iptables", "ip6tables"):
                for line in self._lines(namespace, tool):
                    if f"/* {comment} */" in line:
                        total += int(line.split()[0])
            counts[namespace.name] = total
        return counts

    def outside(self) -> dict[str, int]:
        """Return, per namespace, how many packets were sent to an address outside the lan."""
        return self._counts("pairview-test-outside")

    def inside(self) -> dict[str, int]:
        """Return, per namespace, how many packets went to the other namespace of the lan."""
        return self._counts("pairview-test-lan")

    def reset(self) -> None:
        for namespace in (self.lan.host, self.lan.guest):
            for tool in ("iptables", "ip6tables"):
                _run_in(namespace, tool, "-w", "-Z", "OUTPUT")


def _run_in(namespace: Namespace, *argv: str) -> None:
    result = subprocess.run(namespace.command(argv), capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise NetnsUnavailable(
            f"{' '.join(argv)} in {namespace.name} failed: {result.stderr.strip()}"
        )


def count_egress(lan: Lan) -> EgressCounter:
    """Make every packet bound outside `lan` visible, counted and dropped.

    Each namespace gets a default route to the other one, so that a packet
    for any address reaches the OUTPUT chain instead of failing with "network
    unreachable" before any firewall rule applies. There a last rule counts and
    drops it. The namespaces do not forward, so even without the rule such a
    packet would end at the other namespace.
    """
    subnet = lan.host.address.rsplit(".", 1)[0] + ".0/24"
    for namespace, peer in ((lan.host, lan.guest), (lan.guest, lan.host)):
        _run_in(namespace, "ip", "route", "add", "default", "via", peer.address)
        for tool, inside in (("iptables", [subnet, *_INSIDE_V4]), ("ip6tables", _INSIDE_V6)):
            _run_in(namespace, tool, "-w", "-A", "OUTPUT", "-o", "lo", "-j", "ACCEPT")
            for destination in inside:
                _run_in(
                    namespace,
                    tool,
                    "-w",
                    "-A",
                    "OUTPUT",
                    "-d",
                    destination,
                    "-m",
                    "comment",
                    "--comment",
                    "pairview-test-lan",
                    "-j",
                    "ACCEPT",
                )
            _run_in(
                namespace,
                tool,
                "-w",
                "-A",
                "OUTPUT",
                "-m",
                "comment",
                "--comment",
                "pairview-test-outside",
                "-j",
                "DROP",
            )
    return EgressCounter(lan)


def kill_tcp_connections(namespace: Namespace, address: str, port: int) -> None:
    """Abort every TCP connection from `namespace` to `address`:`port`, as a network fault would.

    The kernel resets each connection at once (`ss -K`), so the process that
    owned it gets an error on its next read or write. Nothing is sent beyond
    the namespaces.
    """
    # ss prints "Invalid argument" for sockets it cannot abort, such as those
    # in TIME-WAIT, and still aborts the rest. Its exit code is no reliable
    # result, so callers check the effect instead.
    subprocess.run(
        namespace.command(["ss", "-K", "-t", "dst", address, "dport", "=", str(port)]),
        capture_output=True,
        check=False,
    )


@contextlib.contextmanager
def tcp_rejected(namespace: Namespace, address: str, port: int) -> Iterator[None]:
    """Reject new TCP connections from `namespace` to `address`:`port` while the block runs.

    Only connection attempts (SYN) are rejected, so resets of connections
    that are aborted meanwhile still reach the other side.
    """
    rule = ["OUTPUT", "-d", address, "-p", "tcp", "--dport", str(port), "--syn"]
    rule += ["-j", "REJECT", "--reject-with", "tcp-reset"]
    _run_in(namespace, "iptables", "-w", "-I", *rule)
    try:
        yield
    finally:
        _run_in(namespace, "iptables", "-w", "-D", *rule)


def addresses(namespace: Namespace) -> set[str]:
    """Return every IP address configured inside `namespace`."""
    result = subprocess.run(
        ["ip", "-n", namespace.name, "-j", "addr", "show"],
        capture_output=True,
        text=True,
        check=True,
    )
    return {
        info["local"] for link in json.loads(result.stdout) for info in link.get("addr_info", [])
    }


def pids(namespace: Namespace) -> set[int]:
    """Return the ids of the processes running inside `namespace`."""
    result = subprocess.run(
        ["ip", "netns", "pids", namespace.name], capture_output=True, text=True, check=True
    )
    return {int(pid) for pid in result.stdout.split()}
