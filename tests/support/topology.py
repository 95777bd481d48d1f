"""A small Internet in network namespaces: a public segment and sites behind NAT routers.

The public segment is a bridge inside the `public` namespace, on the
documentation range 198.51.100.0/24 (RFC 5737); the Pairview server and
coturn run in that namespace. Each site is a router namespace with one leg
on the public bridge and a LAN bridge of its own on a 10.x.y.0/24 subnet;
hosts are namespaces on a site's LAN with a default route through its
router. Every address belongs to namespaces this module creates, so no
packet can leave them.

Two kinds of NAT are built with iptables:

- `Nat.CONE`: source NAT that keeps each host's port (endpoint-independent
  mapping) and drops unsolicited inbound UDP, so that UDP hole punching
  works. The drop matters: a peer's check that arrives before the host has
  sent anything would otherwise create a confirmed conntrack entry for
  the router itself, and the host's own packets to that peer would then
  be mapped to another port. A dropped packet's entry is never confirmed.
- `Nat.SYMMETRIC`: MASQUERADE with random ports, a new mapping for every
  destination, so only a TURN relay connects two such sites.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import secrets
import subprocess
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from tests.support.netns import wait_for_links

PUBLIC_SUBNET = "198.51.100"
PUBLIC_PREFIX = 24


class TopologyError(RuntimeError):
    """Building the namespaces failed, most often for lack of root."""


class Nat(StrEnum):
    CONE = "cone"
    SYMMETRIC = "symmetric"


def run(argv: Sequence[str], check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(list(argv), capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise TopologyError(f"{' '.join(argv)} failed: {result.stderr.strip()}")
    return result


@dataclass
class Node:
    """A namespace with one address: the public namespace, a router or a host."""

    name: str
    address: str
    interface: str = "eth0"

    def command(self, argv: Sequence[str]) -> list[str]:
        """Return `argv` wrapped so that it runs inside this namespace."""
        return ["ip", "netns", "exec", self.name, *argv]

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run(self.command(argv), check=check)

    def ip(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run(["ip", "-n", self.name, *args], check=check)

    def wait_up(self, device: str) -> None:
        """Wait until `device` is up, so that a browser started here sees no change later."""
        if wait_for_links([(self.name, device)]):
            raise TopologyError(f"{device} in {self.name} did not come up within 10 s")


@dataclass
class Site:
    """A router with a LAN behind it; `router.address` is its public address."""

    label: str
    router: Node
    nat: Nat
    subnet: str
    hosts: list[Node] = field(default_factory=list)
    next_host: int = 2

    @property
    def gateway(self) -> str:
        return f"{self.subnet}.1"


class Topology:
    """Namespaces for one test; `build()` creates the public segment, `close()` removes all."""

    def __init__(self) -> None:
        self.tag = secrets.token_hex(3)
        self.public = Node(f"pv-pub-{self.tag}", f"{PUBLIC_SUBNET}.1", interface="br0")
        self.sites: list[Site] = []
        self._namespaces: list[str] = []
        self._next_public = 11
        self._next_link = 0
        self._second_octet = 200 + secrets.randbelow(50)

    # building

    def build(self) -> None:
        if os.geteuid() != 0:
            raise TopologyError("network namespaces need root")
        self._add_namespace(self.public.name, forwarding=False)
        self.public.ip("link", "add", "br0", "type", "bridge")
        self.public.ip("addr", "add", f"{self.public.address}/{PUBLIC_PREFIX}", "dev", "br0")
        self.public.ip("link", "set", "br0", "up")

    def add_public_host(self, label: str) -> Node:
        """Add a namespace on the public segment, such as a peer that a relay may reach."""
        node = Node(self._name(label), self._public_address())
        self._add_namespace(node.name, forwarding=False)
        self._link_to_public(node, "eth0")
        node.ip("addr", "add", f"{node.address}/{PUBLIC_PREFIX}", "dev", "eth0")
        node.wait_up("eth0")
        return node

    def add_site(self, label: str, nat: Nat) -> Site:
        """Add a router on the public segment with an empty LAN behind it."""
        router = Node(self._name(label), self._public_address(), interface="wan")
        subnet = f"10.{self._second_octet}.{len(self.sites) + 1}"
        self._add_namespace(router.name, forwarding=True)
        self._link_to_public(router, "wan")
        router.ip("addr", "add", f"{router.address}/{PUBLIC_PREFIX}", "dev", "wan")
        router.ip("link", "add", "lan", "type", "bridge")
        router.ip("addr", "add", f"{subnet}.1/24", "dev", "lan")
        router.ip("link", "set", "lan", "up")
        site = Site(label, router, nat, subnet)
        self._configure_nat(site)
        self.sites.append(site)
        return site

    def add_host(self, label: str, site: Site) -> Node:
        """Add a host namespace on a site's LAN, routed through its router."""
        node = Node(self._name(label), "")
        self._add_namespace(node.name, forwarding=False)
        self._attach(node, site)
        return node

    def move(self, node: Node, site: Site) -> None:
        """Take a host off its LAN and attach it to `site` with a new address.

        Sockets bound to the old address stop working, as they do when a
        laptop moves from one network to another.
        """
        node.ip("link", "del", "eth0")
        for old in self.sites:
            if node in old.hosts:
                old.hosts.remove(node)
        self._attach(node, site)

    def close(self) -> None:
        for name in reversed(self._namespaces):
            run(["ip", "netns", "delete", name], check=False)
        self._namespaces.clear()

    # internals

    def _name(self, label: str) -> str:
        return f"pv-{label}-{self.tag}"

    def _public_address(self) -> str:
        address = f"{PUBLIC_SUBNET}.{self._next_public}"
        self._next_public += 1
        return address

    def _add_namespace(self, name: str, forwarding: bool) -> None:
        run(["ip", "netns", "add", name])
        self._namespaces.append(name)
        run(["ip", "-n", name, "link", "set", "lo", "up"])
        # IPv4 only outside the public namespace keeps candidates predictable.
        if name != self.public.name:
            run(["ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1"])
            run(
                [
                    "ip",
                    "netns",
                    "exec",
                    name,
                    "sysctl",
                    "-qw",
                    "net.ipv6.conf.default.disable_ipv6=1",
                ]
            )
        if forwarding:
            run(["ip", "netns", "exec", name, "sysctl", "-qw", "net.ipv4.ip_forward=1"])

    def _link_to_public(self, node: Node, device: str) -> None:
        self._next_link += 1
        port = f"p{self._next_link}"
        self.public.ip(
            "link", "add", port, "type", "veth", "peer", "name", device, "netns", node.name
        )
        self.public.ip("link", "set", port, "master", "br0")
        self.public.ip("link", "set", port, "up")
        node.ip("link", "set", device, "up")

    def _attach(self, node: Node, site: Site) -> None:
        self._next_link += 1
        port = f"l{self._next_link}"
        address = f"{site.subnet}.{site.next_host}"
        site.next_host += 1
        site.router.ip(
            "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", node.name
        )
        site.router.ip("link", "set", port, "master", "lan")
        site.router.ip("link", "set", port, "up")
        node.ip("addr", "add", f"{address}/24", "dev", "eth0")
        node.ip("link", "set", "eth0", "up")
        node.ip("route", "add", "default", "via", site.gateway)
        node.address = address
        site.hosts.append(node)
        node.wait_up("eth0")

    def _configure_nat(self, site: Site) -> None:
        router = site.router
        lan = f"{site.subnet}.0/24"
        if site.nat is Nat.CONE:
            target = ["-j", "SNAT", "--to-source", router.address]
        else:
            target = ["-j", "MASQUERADE", "--random"]
        router.run("iptables", "-t", "nat", "-A", "POSTROUTING", "-s", lan, "-o", "wan", *target)
        # Unsolicited packets to the router itself are dropped, never answered.
        router.run(
            "iptables",
            "-A",
            "INPUT",
            "-i",
            "wan",
            "-m",
            "conntrack",
            "--ctstate",
            "NEW",
            "-j",
            "DROP",
        )
        # Only replies reach the LAN from outside.
        router.run(
            "iptables",
            "-A",
            "FORWARD",
            "-i",
            "wan",
            "-m",
            "conntrack",
            "!",
            "--ctstate",
            "ESTABLISHED,RELATED",
            "-j",
            "DROP",
        )


def in_subnet(address: str, subnet: str) -> bool:
    return ipaddress.ip_address(address) in ipaddress.ip_network(subnet, strict=False)


@contextlib.contextmanager
def topology() -> Iterator[Topology]:
    """Create a public segment for one test and remove every namespace afterwards."""
    net = Topology()
    try:
        net.build()
        yield net
    finally:
        net.close()
