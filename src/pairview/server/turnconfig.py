"""A hardened coturn configuration for Pairview's TURN relay.

The relay must carry media between guests and hosts and nothing else. A
TURN client chooses the peer addresses it sends to, so an open relay is a
door into the operator's network: to loopback services, the LAN, a cloud
provider's metadata service. The configuration therefore denies every
range that is not public unicast, for IPv4, IPv6 and IPv4-mapped IPv6,
and the operator re-allows a range only on purpose (`--allow-peer`).

Denying private ranges also keeps relayed sessions alive: ICE checks
reach for the other side's private host candidates too, and coturn 4.6
closes the whole allocation when its relay socket fails to send to an
unreachable address ("Network is unreachable"). With those peers denied,
the ChannelBind is refused (403) and the allocation survives.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field

from pairview.errors import ConfigError

# Ranges a relay must not reach, with the reason each one is denied.
DENIED_PEER_RANGES: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "unspecified, 'this network'"),
    ("10.0.0.0/8", "private (RFC 1918)"),
    ("100.64.0.0/10", "carrier-grade NAT (RFC 6598)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("169.254.169.254/32", "cloud metadata service"),
    ("172.16.0.0/12", "private (RFC 1918)"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.168.0.0/16", "private (RFC 1918)"),
    ("198.18.0.0/15", "benchmarking (RFC 2544)"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved, with the broadcast address 255.255.255.255"),
    # NOTE: coturn 4.6 matches every IPv4 peer against an IPv6 range that
    # starts at "::", so neither "::" nor "::/96" can be listed without
    # cutting off all of IPv4. coturn refuses the peers "::" and "::1" by
    # itself; tests/e2e/test_relay.py checks both.
    ("::1/128", "loopback"),
    ("::ffff:0:0/96", "IPv4-mapped IPv6"),
    ("64:ff9b::/96", "NAT64, which reaches IPv4 addresses"),
    ("64:ff9b:1::/48", "local-use NAT64"),
    ("100::/64", "discard-only"),
    ("2002::/16", "6to4, which embeds IPv4 addresses"),
    ("fc00::/7", "unique local (private)"),
    ("fd00:ec2::254/128", "cloud metadata service"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local (deprecated)"),
    ("ff00::/8", "multicast"),
)


def coturn_range(network: str) -> str:
    """Write a CIDR network in coturn's syntax: one address, or "first-last"."""
    parsed = ipaddress.ip_network(network, strict=True)
    first, last = parsed[0], parsed[-1]
    return str(first) if first == last else f"{first}-{last}"


def parse_peer_range(text: str) -> str:
    """Check an address, CIDR network or "first-last" range and return it in coturn's syntax."""
    value = text.strip()
    try:
        if "-" in value:
            first_text, _, last_text = value.partition("-")
            first = ipaddress.ip_address(first_text.strip())
            last = ipaddress.ip_address(last_text.strip())
            if first.version != last.version or int(first) > int(last):
                raise ValueError
            return f"{first}-{last}"
        if "/" in value:
            return coturn_range(str(ipaddress.ip_network(value, strict=False)))
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ConfigError(
            f"Invalid peer range {text!r}: expected an IP address, a CIDR network such as "
            "10.1.0.0/16, or a range such as 10.1.0.1-10.1.0.9."
        ) from None


def _ip(text: str, option: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ConfigError(f"Invalid {option} {text!r}: expected an IP address.") from None


@dataclass(frozen=True)
class TurnConfig:
    """Everything that goes into the coturn configuration file."""

    secret: str
    realm: str
    port: int = 3478
    tls_port: int = 5349
    listening_ips: Sequence[str] = ()
    relay_ips: Sequence[str] = ()
    external_ip: str | None = None
    cert: str | None = None
    pkey: str | None = None
    min_port: int = 49152
    max_port: int = 65535
    user_quota: int = 12
    total_quota: int = 1000
    max_bps: int = 2_000_000
    bps_capacity: int = 100_000_000
    max_allocate_lifetime: int = 3600
    allowed_peers: Sequence[str] = field(default_factory=tuple)

    def validate(self) -> None:
        if len(self.secret) < 16:
            raise ConfigError("The TURN secret must have at least 16 characters.")
        if (self.cert is None) != (self.pkey is None):
            raise ConfigError("Give both --cert and --pkey for TURN over TLS, or neither.")
        if not 1024 <= self.min_port <= self.max_port <= 65535:
            raise ConfigError(
                f"Invalid relay port range {self.min_port}-{self.max_port}: expected "
                "1024 <= --min-port <= --max-port <= 65535."
            )
        for value, name in ((self.user_quota, "--user-quota"), (self.total_quota, "--total-quota")):
            if value < 1:
                raise ConfigError(f"Invalid {name} {value}: expected at least 1.")
        for value, name in ((self.max_bps, "--max-bps"), (self.bps_capacity, "--bps-capacity")):
            if value < 1:
                raise ConfigError(f"Invalid {name} {value}: expected bytes per second, above 0.")
        for ip in (*self.listening_ips, *self.relay_ips):
            _ip(ip, "IP address")
        if self.external_ip is not None:
            public, _, private = self.external_ip.partition("/")
            _ip(public, "--external-ip")
            if private:
                _ip(private, "--external-ip private address")

    def render(self) -> str:
        """Return the configuration file's text."""
        self.validate()
        lines = [
            "# coturn configuration for the Pairview TURN relay, written by",
            "# `pairview turn-config`. It contains the shared secret: keep it",
            "# readable by the turnserver user only.",
            "",
            "# Listening",
            f"listening-port={self.port}",
        ]
        lines += [f"listening-ip={ip}" for ip in self.listening_ips]
        lines += [f"relay-ip={ip}" for ip in self.relay_ips]
        if self.external_ip:
            lines.append(f"external-ip={self.external_ip}")
        lines += [f"min-port={self.min_port}", f"max-port={self.max_port}", ""]

        lines += [
            "# Time-limited credentials minted by the Pairview server (TURN REST).",
            "use-auth-secret",
            f"static-auth-secret={self.secret}",
            f"realm={self.realm}",
            "stale-nonce=600",
            "fingerprint",
            "",
            "# Quotas and bandwidth caps (bytes per second).",
            f"user-quota={self.user_quota}",
            f"total-quota={self.total_quota}",
            f"max-bps={self.max_bps}",
            f"bps-capacity={self.bps_capacity}",
            f"max-allocate-lifetime={self.max_allocate_lifetime}",
            "",
            "# Nothing but UDP relaying for WebRTC: no admin interface, no TCP",
            "# relay to peers, no multicast, and no software version given out.",
            "no-cli",
            "no-tcp-relay",
            "no-multicast-peers",
            "no-software-attribute",
            "no-rfc5780",
            "no-stun-backward-compatibility",
            "response-origin-only-with-rfc5780",
            "",
        ]

        if self.cert and self.pkey:
            lines += [
                "# TURN over TLS (turns:), TLS 1.2 and newer only.",
                f"tls-listening-port={self.tls_port}",
                f"cert={self.cert}",
                f"pkey={self.pkey}",
                "no-tlsv1",
                "no-tlsv1_1",
                "no-dtls",
                "",
            ]
        else:
            lines += ["# No certificate given: TURN over TLS is off.", "no-tls", "no-dtls", ""]

        lines.append("# Peers the relay refuses to reach.")
        for network, reason in DENIED_PEER_RANGES:
            lines.append(f"# {network}: {reason}")
            lines.append(f"denied-peer-ip={coturn_range(network)}")
        if self.allowed_peers:
            lines += ["", "# Ranges the operator allows on purpose, overriding the denials above."]
            lines += [f"allowed-peer-ip={parse_peer_range(peer)}" for peer in self.allowed_peers]
        return "\n".join(lines) + "\n"
