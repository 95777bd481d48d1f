"""ICE for the host app: checking the TURN URLs, and telling how a guest is connected.

aiortc 1.16 uses only the first STUN URL and the first TURN URL it finds in
its configuration, and when the relay rejects the credentials it gathers no
relay candidate and says nothing. So the host allocates once on every TURN
URL it is given, puts the first one that works at the front, in the order
UDP, TCP, TLS, and reports a rejected or expired credential in plain words.

aiortc also has no candidate-pair statistics; the pair ICE nominated is
read from aioice's Connection beneath the peer connection.

A guest's page often sends no candidate with an address, for example when
the browser hides them behind mDNS names, and its checks then arrive as
peer-reflexive candidates. `RemoteCandidates` keeps aioice from failing such
a connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import psutil
from aioice import Candidate, stun
from aioice.turn import create_turn_endpoint
from aiortc import RTCIceCandidate, RTCIceServer, RTCPeerConnection
from aiortc.rtcicetransport import parse_stun_turn_uri

from pairview.protocol.signaling import ConnectionType, IceServerInfo

logger = logging.getLogger(__name__)

# Long enough for a TCP and TLS handshake and two STUN round trips to a
# distant relay, short enough that a guest joining at once waits little.
PROBE_TIMEOUT = 4.0
TRANSPORT_ORDER = {"udp": 0, "tcp": 1, "tls": 2}


class RemoteCandidates:
    """Pass a guest's trickled candidates to a peer connection.

    aioice 0.13 handles end-of-candidates by dropping every component no
    remote candidate arrived for. When that leaves none, a guest's check that
    succeeds afterwards, from a peer-reflexive candidate, makes aioice report
    that ICE failed, and the guest reconnects a second later. So
    end-of-candidates goes through only after a candidate with an IP address.
    Without it, a guest with no path is noticed by the page, which requests a
    new connection when the old one has not opened within its setup timeout.
    """

    def __init__(self, pc: RTCPeerConnection) -> None:
        self._pc = pc
        self.addresses = 0

    async def add(self, candidate: RTCIceCandidate | None) -> None:
        """Add `candidate`, or signal end-of-candidates with None."""
        if candidate is None:
            if self.addresses:
                await self._pc.addIceCandidate(None)
            else:
                logger.debug("end-of-candidates held back: no remote candidate had an address")
            return
        await self._pc.addIceCandidate(candidate)
        # An mDNS name (a .local host) may fail to resolve, so it does not count.
        with contextlib.suppress(ValueError):
            ipaddress.ip_address(candidate.ip)
            self.addresses += 1


class ProbeOutcome(StrEnum):
    WORKS = "works"
    REJECTED = "rejected"
    EXPIRED = "expired"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True, slots=True)
class TurnUrl:
    url: str
    host: str
    port: int
    transport: str  # "udp", "tcp" or "tls"
    username: str
    credential: str


@dataclass(frozen=True, slots=True)
class ProbeResult:
    turn: TurnUrl
    outcome: ProbeOutcome
    detail: str = ""


@dataclass(frozen=True, slots=True)
class IcePlan:
    """What the host hands aiortc, and what the probe found out on the way."""

    servers: list[RTCIceServer]
    results: list[ProbeResult]

    @property
    def relay(self) -> TurnUrl | None:
        """The TURN URL aiortc will use, if any works."""
        for result in self.results:
            if result.outcome is ProbeOutcome.WORKS:
                return result.turn
        return None


def turn_urls(servers: Iterable[IceServerInfo]) -> list[TurnUrl]:
    """Every TURN URL aiortc can use, in the order UDP, TCP, TLS."""
    found: list[TurnUrl] = []
    for server in servers:
        if server.username is None or server.credential is None:
            continue
        for url in server.urls:
            if not url.startswith("turn"):
                continue
            try:
                parsed = parse_stun_turn_uri(url)
            except ValueError:
                logger.warning("ignoring a TURN URL aiortc cannot parse: %s", url)
                continue
            transport = "tls" if parsed["scheme"] == "turns" else parsed["transport"]
            if transport not in TRANSPORT_ORDER or (
                transport == "tls" and parsed["transport"] != "tcp"
            ):
                continue
            found.append(
                TurnUrl(
                    url,
                    parsed["host"],
                    parsed["port"],
                    transport,
                    server.username,
                    server.credential,
                )
            )
    return sorted(found, key=lambda turn: TRANSPORT_ORDER[turn.transport])


def credential_expiry(username: str) -> int | None:
    """The expiry of a TURN REST username ("<expiry>:<user>"), if it has one."""
    head, separator, _ = username.partition(":")
    return int(head) if separator and head.isdigit() else None


class _Sink(asyncio.DatagramProtocol):
    """Receives nothing of interest: a probe allocation only has to succeed."""


async def probe_turn(turn: TurnUrl) -> ProbeResult:
    """Allocate on one TURN URL and release the allocation again."""
    try:
        transport, _ = await asyncio.wait_for(
            create_turn_endpoint(
                _Sink,
                server_addr=(turn.host, turn.port),
                username=turn.username,
                password=turn.credential,
                ssl=turn.transport == "tls",
                transport="udp" if turn.transport == "udp" else "tcp",
                lifetime=60,
            ),
            PROBE_TIMEOUT,
        )
    except stun.TransactionFailed as error:
        code, reason = error.response.attributes.get("ERROR-CODE", (0, ""))
        if code == 401:
            expiry = credential_expiry(turn.username)
            if expiry is not None and expiry <= time.time():
                return ProbeResult(turn, ProbeOutcome.EXPIRED, f"{code} {reason}")
            return ProbeResult(turn, ProbeOutcome.REJECTED, f"{code} {reason}")
        return ProbeResult(turn, ProbeOutcome.UNREACHABLE, f"error {code} {reason}".strip())
    except (TimeoutError, stun.TransactionTimeout):
        return ProbeResult(turn, ProbeOutcome.UNREACHABLE, "no answer")
    except (OSError, ConnectionError) as error:
        return ProbeResult(turn, ProbeOutcome.UNREACHABLE, error.strerror or str(error))
    # Deleting the allocation waits for an answer; it needs none here.
    transport.close()
    return ProbeResult(turn, ProbeOutcome.WORKS)


async def plan_ice_servers(servers: list[IceServerInfo]) -> IcePlan:
    """Order the ICE servers for aiortc: one STUN URL, then the first TURN URL that works."""
    stun_urls = [url for server in servers for url in server.urls if url.startswith("stun:")]
    turns = turn_urls(servers)
    results = list(await asyncio.gather(*(probe_turn(turn) for turn in turns)))

    planned: list[RTCIceServer] = []
    if stun_urls:
        planned.append(RTCIceServer(urls=stun_urls[0]))
    working = [result.turn for result in results if result.outcome is ProbeOutcome.WORKS]
    # Failing URLs stay listed after the working one, in case the probe was unlucky.
    ordered = working + [turn for turn in turns if turn not in working]
    for turn in ordered:
        planned.append(
            RTCIceServer(urls=turn.url, username=turn.username, credential=turn.credential)
        )
    return IcePlan(planned, results)


def describe_problems(plan: IcePlan) -> list[str]:
    """Plain sentences about relays that do not work, for the host's terminal."""
    if not plan.results or plan.relay is not None:
        return []
    lines = []
    for result in plan.results:
        where = f"{result.turn.transport.upper()} ({result.turn.host}:{result.turn.port})"
        if result.outcome is ProbeOutcome.EXPIRED:
            lines.append(
                f"The TURN relay rejected the credentials over {where}: they have expired. "
                "Check the clocks of this machine, the server and the relay."
            )
        elif result.outcome is ProbeOutcome.REJECTED:
            lines.append(
                f"The TURN relay rejected the credentials over {where} ({result.detail}). "
                "The server's PAIRVIEW_TURN_SECRET must equal coturn's static-auth-secret."
            )
        else:
            lines.append(f"The TURN relay is unreachable over {where}: {result.detail}.")
    lines.append("Guests behind strict NATs or firewalls cannot connect until the relay works.")
    return lines


# Telling how a guest is connected.


@dataclass(frozen=True, slots=True)
class SelectedPair:
    local_type: str
    local_address: str
    remote_type: str
    remote_address: str
    relay_transport: str | None = None


def selected_pair(pc: RTCPeerConnection) -> SelectedPair | None:
    """The candidate pair ICE nominated on a peer connection, or None before there is one."""
    connection = _ice_connection(pc)
    if connection is None:
        return None
    # NOTE: aiortc has no candidate-pair statistics, so this reads aioice's
    # private nominated pairs; bundling puts everything on component 1.
    nominated: dict[int, Any] = getattr(connection, "_nominated", {})
    pair = nominated.get(1)
    if pair is None:
        return None
    local: Candidate = pair.local_candidate
    remote: Candidate = pair.remote_candidate
    relay_transport = None
    if local.type == "relay":
        relay_transport = "tcp" if getattr(connection, "turn_transport", "udp") == "tcp" else "udp"
        if getattr(connection, "turn_ssl", False):
            relay_transport = "tls"
    return SelectedPair(local.type, local.host, remote.type, pair.remote_addr[0], relay_transport)


def _ice_connection(pc: RTCPeerConnection) -> Any:
    for transceiver in pc.getTransceivers():
        dtls = transceiver.sender.transport
        if dtls is not None:
            return dtls.transport._connection
    if pc.sctp is not None:
        return pc.sctp.transport.transport._connection
    return None


def local_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    """Return the subnets of this machine's interfaces, IPv4 and IPv6."""
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family not in (socket.AF_INET, socket.AF_INET6) or not address.netmask:
                continue
            network = interface_network(address.address, address.netmask)
            if network is not None:
                networks.append(network)
    return networks


def interface_network(
    address: str, netmask: str
) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """Return the subnet of an interface address, or None if either part is invalid.

    psutil gives both families' netmasks as addresses ("255.255.255.0",
    "ffff:ffff:ffff:ffff::"), and `ipaddress` reads such a netmask for IPv4
    only, so the mask is turned into a prefix length first. A link-local
    IPv6 address carries its interface after "%", which is dropped.
    """
    try:
        host = ipaddress.ip_address(address.split("%")[0])
        mask = ipaddress.ip_address(netmask)
    except ValueError:
        return None
    if host.version != mask.version:
        return None
    bits = int(mask)
    prefix = bin(bits).count("1")
    # A netmask is ones followed by zeros, so any other bit pattern is invalid.
    if bits != (1 << mask.max_prefixlen) - (1 << (mask.max_prefixlen - prefix)):
        return None
    return ipaddress.ip_network(f"{host}/{prefix}", strict=False)


def classify(
    pair: SelectedPair, networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network]
) -> ConnectionType:
    """Tell whether a pair is direct, through NAT, or relayed.

    Relayed when either side is a relay candidate. Direct when the remote
    address sits on a subnet of one of this machine's interfaces, whatever
    its type: Chromium hides its host candidates behind mDNS names, so a
    LAN guest often shows up as peer-reflexive, and a guest on this very
    machine may send from another interface than the local candidate's.
    Direct also when neither side is translated: the remote is a host
    candidate and the local address is public. Otherwise some NAT is in
    the path.
    """
    if pair.local_type == "relay" or pair.remote_type == "relay":
        return ConnectionType.RELAY
    try:
        local = ipaddress.ip_address(pair.local_address)
        remote = ipaddress.ip_address(pair.remote_address)
    except ValueError:
        return ConnectionType.NAT
    if pair.local_type == "host" and any(remote in network for network in networks):
        return ConnectionType.DIRECT
    if pair.remote_type == "host" and local.is_global and pair.local_type == "host":
        return ConnectionType.DIRECT
    return ConnectionType.NAT


def describe_connection(kind: ConnectionType, pair: SelectedPair) -> str:
    if kind is ConnectionType.RELAY:
        if pair.relay_transport is None:
            return "through the guest's TURN relay"
        return f"through the TURN relay ({pair.relay_transport.upper()})"
    if kind is ConnectionType.NAT:
        return "through NAT, without a relay"
    return "directly"
