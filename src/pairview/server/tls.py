"""A self-signed certificate for servers bound beyond loopback with none given.

Browsers allow microphones and the clipboard only on secure pages, so a
LAN server speaks HTTPS by default. Guests check the certificate's SHA-256
fingerprint, printed beside the link, against what their browser shows.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

CERT_FILE = "tls-cert.pem"
KEY_FILE = "tls-key.pem"
VALIDITY = timedelta(days=365)
# Renew a month before expiry, so a running server never serves an expired one.
RENEW_BEFORE = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class Certificate:
    cert_path: Path
    key_path: Path
    fingerprint: str


def fingerprint(cert: x509.Certificate) -> str:
    """Return the SHA-256 fingerprint as browsers show it: colon-separated hex pairs."""
    digest = cert.fingerprint(hashes.SHA256()).hex().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def load_fingerprint(cert_path: Path) -> str:
    return fingerprint(x509.load_pem_x509_certificate(cert_path.read_bytes()))


def ensure_self_signed(
    data_dir: Path, names: list[str], now: datetime | None = None
) -> Certificate:
    """Reuse the data directory's certificate if it covers `names`, else make a new one.

    `names` are host names and IP addresses the server is reached by.
    """
    now = now or datetime.now(UTC)
    cert_path, key_path = data_dir / CERT_FILE, data_dir / KEY_FILE
    if cert_path.exists() and key_path.exists():
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        if _covers(cert, names) and cert.not_valid_after_utc - RENEW_BEFORE > now:
            return Certificate(cert_path, key_path, fingerprint(cert))

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Pairview server")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName(_general_names(names)), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    _write_private(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return Certificate(cert_path, key_path, fingerprint(cert))


def _general_names(names: list[str]) -> list[x509.GeneralName]:
    result: list[x509.GeneralName] = []
    for name in dict.fromkeys(names):
        try:
            result.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            result.append(x509.DNSName(name))
    return result


def _covers(cert: x509.Certificate, names: list[str]) -> bool:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    present = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    present.update(san.get_values_for_type(x509.DNSName))
    return all(name in present for name in names)


def _write_private(path: Path, data: bytes) -> None:
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(data)
    temporary.replace(path)
