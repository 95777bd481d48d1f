"""Telling direct, NAT and relayed connections apart from the selected candidate pair."""

from __future__ import annotations

import ipaddress

import pytest

from pairview.host.ice import SelectedPair, classify, credential_expiry, turn_urls
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
