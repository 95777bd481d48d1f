"""Addresses the server is reached by, for links and certificates."""

from __future__ import annotations

import ipaddress
import socket

import psutil


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_wildcard(host: str) -> bool:
    return host in ("0.0.0.0", "::", "")  # noqa: S104 - compared, not bound


def local_addresses() -> list[str]:
    """Return this machine's non-loopback interface addresses, IPv4 first."""
    ipv4: list[str] = []
    ipv6: list[str] = []
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family == socket.AF_INET:
                ip = ipaddress.ip_address(address.address)
                if not ip.is_loopback and not ip.is_link_local:
                    ipv4.append(str(ip))
            elif address.family == socket.AF_INET6:
                ip6 = ipaddress.ip_address(address.address.split("%")[0])
                if not ip6.is_loopback and not ip6.is_link_local:
                    ipv6.append(str(ip6))
    return ipv4 + ipv6


def reachable_hosts(bind: str) -> list[str]:
    """Return the hosts by which guests can reach a server bound to `bind`."""
    if is_wildcard(bind):
        return local_addresses() or ["127.0.0.1"]
    return [bind]


def url_host(host: str) -> str:
    """Bracket an IPv6 literal for use in a URL."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
