"""Telling direct, NAT and relayed connections apart from the selected candidate pair."""

from __future__ import annotations

import ipaddress
import socket
from types import SimpleNamespace

import psutil
import pytest

from pairview.host.ice import (
    SelectedPair,
    classify,
    credential_expiry,
    interface_network,
    local_networks,
    turn_urls,
)
from pairview.protocol.signaling import ConnectionType, IceServerInfo

LAN = [ipaddress.ip_network("10.1.2.0/24")]


@pytest.mark.parametrize(
    ("pair", "expected"),
    [
        (SelectedPair("host", "10.1.2.5", "host", "10.1.2.9"), ConnectionType.DIRECT),
        # Chromium's mDNS-hidden host candidate shows up as peer-reflexive.
        (SelectedPair("host", "10.1.2.5", "prflx", "10.1.2.9"), ConnectionType.DIRECT),
        # A guest on this machine, sending from another interface's address.
        (SelectedPair("host", "172.17.0.1", "prflx", "10.1.2.9"), ConnectionType.DIRECT),
        (SelectedPair("srflx", "198.51.100.7", "prflx", "10.1.2.9"), ConnectionType.NAT),
        (SelectedPair("host", "10.1.2.5", "prflx", "198.51.100.12"), ConnectionType.NAT),
        (SelectedPair("host", "10.1.2.5", "srflx", "198.51.100.12"), ConnectionType.NAT),
        (SelectedPair("host", "10.1.2.5", "host", "198.51.100.12"), ConnectionType.NAT),
        (SelectedPair("host", "8.8.4.4", "host", "1.1.1.1"), ConnectionType.DIRECT),
        (SelectedPair("relay", "198.51.100.1", "prflx", "198.51.100.12"), ConnectionType.RELAY),
        (SelectedPair("host", "10.1.2.5", "relay", "198.51.100.1"), ConnectionType.RELAY),
    ],
    ids=[
        "lan",
        "lan-mdns",
        "other-interface",
        "reflexive-local",
        "prflx-remote",
        "srflx",
        "public-remote",
        "both-public",
        "local-relay",
        "remote-relay",
    ],
)
def test_pair_classified(pair: SelectedPair, expected: ConnectionType) -> None:
    assert classify(pair, LAN) is expected


@pytest.mark.parametrize(
    ("address", "netmask", "expected"),
    [
        ("192.168.1.20", "255.255.255.0", "192.168.1.0/24"),
        ("127.0.0.1", "255.0.0.0", "127.0.0.0/8"),
        ("fd00::2", "ffff:ffff:ffff:ffff::", "fd00::/64"),
        ("fe80::fc:ff:fe00:1%eth0", "ffff:ffff:ffff:ffff::", "fe80::/64"),
        ("::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "::1/128"),
        ("fd00::2", "255.255.255.0", None),
        ("192.168.1.20", "255.0.255.0", None),
        ("not an address", "255.255.255.0", None),
    ],
)
def test_interface_network(address: str, netmask: str, expected: str | None) -> None:
    network = interface_network(address, netmask)

    assert (None if network is None else str(network)) == expected


def test_local_networks_keep_ipv6(monkeypatch: pytest.MonkeyPatch) -> None:
    interfaces = {
        "eth0": [
            SimpleNamespace(family=socket.AF_INET, address="192.0.2.2", netmask="255.255.255.0"),
            SimpleNamespace(
                family=socket.AF_INET6, address="fd00::2", netmask="ffff:ffff:ffff:ffff::"
            ),
            SimpleNamespace(family=psutil.AF_LINK, address="02:fc:00:00:00:01", netmask=None),
        ]
    }
    monkeypatch.setattr(psutil, "net_if_addrs", lambda: interfaces)

    networks = local_networks()

    assert [str(network) for network in networks] == ["192.0.2.0/24", "fd00::/64"]
    # A guest on the same IPv6 LAN, or on this machine, is reached directly.
    pair = SelectedPair("host", "fd00::2", "prflx", "fd00::9")
    assert classify(pair, networks) is ConnectionType.DIRECT


def test_turn_urls_ordered_udp_tcp_tls() -> None:
    server = IceServerInfo(
        urls=[
            "turns:relay.example.com:5349?transport=tcp",
            "turn:relay.example.com:3478?transport=tcp",
            "stun:relay.example.com:3478",
            "turn:relay.example.com:3478?transport=udp",
        ],
        username="1:p",
        credential="c",
    )

    found = turn_urls([server])

    assert [turn.transport for turn in found] == ["udp", "tcp", "tls"]
    assert found[2].port == 5349


def test_turn_urls_need_credentials() -> None:
    assert turn_urls([IceServerInfo(urls=["turn:relay.example.com"])]) == []


@pytest.mark.parametrize(("username", "expiry"), [("1700000000:p", 1700000000), ("alice", None)])
def test_credential_expiry(username: str, expiry: int | None) -> None:
    assert credential_expiry(username) == expiry
