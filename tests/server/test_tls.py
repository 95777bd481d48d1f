"""HTTPS planning and the self-signed certificate."""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509

from pairview.errors import ConfigError
from pairview.server.runner import plan_tls
from pairview.server.tls import ensure_self_signed
from pairview.settings import ServerSettings


def test_self_signed_covers_names_and_is_private(tmp_path: Path) -> None:
    certificate = ensure_self_signed(tmp_path, ["10.1.2.3", "127.0.0.1", "desk.local"])

    cert = x509.load_pem_x509_certificate(certificate.cert_path.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("10.1.2.3") in names.get_values_for_type(x509.IPAddress)
    assert "desk.local" in names.get_values_for_type(x509.DNSName)
    assert certificate.key_path.stat().st_mode & 0o777 == 0o600
    assert len(certificate.fingerprint.split(":")) == 32


def test_self_signed_reused_then_renewed(tmp_path: Path) -> None:
    first = ensure_self_signed(tmp_path, ["10.1.2.3"])
    same = ensure_self_signed(tmp_path, ["10.1.2.3"])
    other_address = ensure_self_signed(tmp_path, ["10.9.9.9"])
    near_expiry = ensure_self_signed(
        tmp_path, ["10.9.9.9"], now=datetime.now(UTC) + timedelta(days=350)
    )

    assert same.fingerprint == first.fingerprint
    assert other_address.fingerprint != first.fingerprint
    assert near_expiry.fingerprint != other_address.fingerprint


def test_loopback_serves_plain_http(tmp_path: Path) -> None:
    assert plan_tls(ServerSettings(data_dir=tmp_path, host="127.0.0.1")) is None


def test_beyond_loopback_gets_self_signed(tmp_path: Path) -> None:
    plan = plan_tls(ServerSettings(data_dir=tmp_path, host="0.0.0.0"))

    assert plan is not None
    assert plan.self_signed
    assert Path(plan.cert_path).is_file()


def test_plain_http_beyond_loopback_only_when_asked(tmp_path: Path) -> None:
    assert plan_tls(ServerSettings(data_dir=tmp_path, host="0.0.0.0", insecure_http=True)) is None


def test_given_certificate_used(tmp_path: Path) -> None:
    made = ensure_self_signed(tmp_path / "made", ["pairview.example"])

    plan = plan_tls(
        ServerSettings(
            data_dir=tmp_path, host="0.0.0.0", tls_cert=made.cert_path, tls_key=made.key_path
        )
    )

    assert plan is not None
    assert not plan.self_signed
    assert plan.fingerprint == made.fingerprint


def test_half_certificate_rejected(tmp_path: Path) -> None:
    made = ensure_self_signed(tmp_path, ["x"])

    with pytest.raises(ConfigError, match="both --tls-cert and --tls-key"):
        plan_tls(ServerSettings(data_dir=tmp_path, tls_cert=made.cert_path))


def test_missing_certificate_file_named(tmp_path: Path) -> None:
    absent = tmp_path / "absent.pem"

    with pytest.raises(ConfigError, match=re.escape(str(absent))):
        plan_tls(ServerSettings(data_dir=tmp_path, tls_cert=absent, tls_key=absent))


def test_non_pem_certificate_named(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")

    with pytest.raises(ConfigError, match="not a PEM certificate"):
        plan_tls(ServerSettings(data_dir=tmp_path, tls_cert=junk, tls_key=junk))
