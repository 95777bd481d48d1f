"""`pairview turn-config`: a coturn configuration that locks the relay down."""

from __future__ import annotations

import ipaddress
import stat
from pathlib import Path

import pytest

from pairview.cli import main
from pairview.errors import ConfigError
from pairview.server.turnconfig import TurnConfig, coturn_range, parse_peer_range

SECRET = "correct-horse-battery-staple"


def options(text: str) -> list[tuple[str, str]]:
    pairs = []
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            pairs.append((key, value))
    return pairs


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def denied_ranges(text: str) -> list[tuple[IPAddress, IPAddress]]:
    ranges: list[tuple[IPAddress, IPAddress]] = []
    for key, value in options(text):
        if key == "denied-peer-ip":
            first, _, last = value.partition("-")
            ranges.append((ipaddress.ip_address(first), ipaddress.ip_address(last or first)))
    return ranges


def is_denied(text: str, address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return any(
        first.version == ip.version and int(first) <= int(ip) <= int(last)
        for first, last in denied_ranges(text)
    )


def test_config_hardened() -> None:
    text = TurnConfig(secret=SECRET, realm="example.com").render()
    keys = [key for key, _ in options(text)]

    for flag in (
        "use-auth-secret",
        "no-cli",
        "no-tcp-relay",
        "fingerprint",
        "no-multicast-peers",
        "no-tls",
        "no-dtls",
    ):
        assert flag in keys, flag
    assert ("static-auth-secret", SECRET) in options(text)
    assert ("realm", "example.com") in options(text)
    assert ("user-quota", "12") in options(text)
    assert ("total-quota", "1000") in options(text)
    assert ("max-bps", "2000000") in options(text)
    assert ("bps-capacity", "100000000") in options(text)
    assert "allowed-peer-ip" not in keys
    assert "cli-password" not in keys


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.255.0.9",
        "10.1.2.3",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",
        "169.254.1.1",
        "100.64.0.1",
        "100.127.255.254",
        "0.0.0.0",
        "0.1.2.3",
        "224.0.0.251",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "198.18.0.1",
        "198.19.255.255",
        "::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "64:ff9b::a00:1",
        "fc00::1",
        "fd00:ec2::254",
        "fe80::1",
        "ff02::1",
    ],
)
def test_non_public_peer_denied(address: str) -> None:
    text = TurnConfig(secret=SECRET, realm="r").render()

    assert is_denied(text, address)


@pytest.mark.parametrize(
    "address", ["198.51.100.7", "203.0.113.9", "8.8.8.8", "2001:db8::1", "2a00:1450::1"]
)
def test_public_peer_not_denied(address: str) -> None:
    text = TurnConfig(secret=SECRET, realm="r").render()

    assert not is_denied(text, address)


def test_no_ipv6_range_starts_at_unspecified() -> None:
    # coturn 4.6 would match every IPv4 peer against such a range.
    text = TurnConfig(secret=SECRET, realm="r").render()

    assert all(str(first) != "::" for first, _ in denied_ranges(text))


def test_allowed_peer_written_after_denials() -> None:
    text = TurnConfig(
        secret=SECRET, realm="r", allowed_peers=["10.20.0.0/16", "192.168.5.7", "fd00::1-fd00::9"]
    ).render()
    allowed = [value for key, value in options(text) if key == "allowed-peer-ip"]

    assert allowed == ["10.20.0.0-10.20.255.255", "192.168.5.7", "fd00::1-fd00::9"]
    assert text.index("allowed-peer-ip") > text.rindex("denied-peer-ip")


def test_tls_options_with_certificate() -> None:
    text = TurnConfig(secret=SECRET, realm="r", cert="/etc/c.pem", pkey="/etc/k.pem").render()

    assert ("cert", "/etc/c.pem") in options(text)
    assert ("pkey", "/etc/k.pem") in options(text)
    assert ("tls-listening-port", "5349") in options(text)
    assert ("no-tlsv1", "") in options(text)
    assert ("no-tlsv1_1", "") in options(text)
    assert ("no-tls", "") not in options(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10.0.0.0/8", "10.0.0.0-10.255.255.255"),
        ("10.1.2.3", "10.1.2.3"),
        ("10.1.2.3 - 10.1.2.9", "10.1.2.3-10.1.2.9"),
        ("::ffff:0:0/96", "::ffff:0:0-::ffff:ffff:ffff"),
    ],
)
def test_peer_range_forms(text: str, expected: str) -> None:
    assert parse_peer_range(text) == expected


@pytest.mark.parametrize("text", ["intranet", "10.0.0.9-10.0.0.1", "10.0.0.1-::1", "10.0.0.0/33"])
def test_bad_peer_range_named(text: str) -> None:
    with pytest.raises(ConfigError, match="Invalid peer range") as raised:
        parse_peer_range(text)

    assert repr(text) in str(raised.value)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"secret": "short"}, "at least 16 characters"),
        ({"cert": "/etc/c.pem"}, "both --cert and --pkey"),
        ({"min_port": 60000, "max_port": 50000}, "relay port range"),
        ({"user_quota": 0}, "--user-quota"),
        ({"max_bps": 0}, "--max-bps"),
        ({"relay_ips": ["relay.example.com"]}, "expected an IP address"),
        ({"external_ip": "203.0.113.1/lan"}, "--external-ip"),
    ],
)
def test_bad_option_named(changes: dict[str, object], message: str) -> None:
    values: dict[str, object] = {"secret": SECRET, "realm": "r", **changes}

    with pytest.raises(ConfigError, match=message):
        TurnConfig(**values).render()  # type: ignore[arg-type]


def test_coturn_range_single_address() -> None:
    assert coturn_range("169.254.169.254/32") == "169.254.169.254"


def test_cli_writes_private_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PAIRVIEW_TURN_SECRET", SECRET)
    output = tmp_path / "turnserver.conf"

    code = main(
        [
            "turn-config",
            "--output",
            str(output),
            "--realm",
            "example.com",
            "--relay-ip",
            "198.51.100.1",
            "--allow-peer",
            "10.20.0.0/16",
        ]
    )

    text = output.read_text()
    assert code == 0
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    assert ("relay-ip", "198.51.100.1") in options(text)
    assert ("allowed-peer-ip", "10.20.0.0-10.20.255.255") in options(text)
    assert SECRET not in capsys.readouterr().err


def test_cli_without_secret_explains(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("PAIRVIEW_TURN_SECRET", raising=False)

    code = main(["turn-config"])

    assert code == 2
    assert "PAIRVIEW_TURN_SECRET" in capsys.readouterr().err


def test_cli_bad_range_names_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PAIRVIEW_TURN_SECRET", SECRET)

    code = main(["turn-config", "--allow-peer", "the-lan"])

    assert code == 2
    assert "'the-lan'" in capsys.readouterr().err
