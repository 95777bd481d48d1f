"""The short authentication string of a host-guest connection.

Both ends derive six digits from the two DTLS certificate fingerprints of
their connection, the host's first. Each end takes its own fingerprint
from its local description and the other's from the remote description,
which the DTLS handshake has checked against the certificate it actually
received. If a signaling server swapped the fingerprints to sit in the
middle, each end talks to a certificate of the attacker's, and the two
codes differ. The web client computes the same code in
`web/static/js/sas.js`.
"""

from __future__ import annotations

import hashlib
import re

SAS_LABEL = "pairview-sas:1:"
_FINGERPRINT = re.compile(r"^a=fingerprint:sha-256 ([0-9A-Fa-f:]+)\s*$", re.MULTILINE)
_OTHER_FINGERPRINT = re.compile(r"^a=fingerprint:(?!sha-256 )[^\r\n]*(\r\n|\n)", re.MULTILINE)


def sha256_fingerprint(sdp: str) -> str | None:
    """Return the first SHA-256 certificate fingerprint in an SDP, in upper case, or None."""
    match = _FINGERPRINT.search(sdp)
    return match.group(1).upper() if match else None


def keep_sha256_fingerprint(sdp: str) -> str:
    """Remove every certificate fingerprint but the SHA-256 one from an SDP that has one.

    aiortc offers SHA-256, SHA-384 and SHA-512 fingerprints, and Chromium
    keeps only one of them (the SHA-512 one, seen in Chromium 156) in its
    remote description. A page can only compute the code from the SHA-256
    fingerprint that the host uses if the offer carries no other.
    """
    if sha256_fingerprint(sdp) is None:
        return sdp
    return _OTHER_FINGERPRINT.sub("", sdp)


def short_authentication_string(host_fingerprint: str, guest_fingerprint: str) -> str:
    """Return six digits, as "123 456", from the host's and the guest's fingerprints."""
    text = f"{SAS_LABEL}{host_fingerprint.upper()}:{guest_fingerprint.upper()}"
    digest = hashlib.sha256(text.encode("ascii")).digest()
    number = int.from_bytes(digest[:4], "big") % 1_000_000
    digits = f"{number:06d}"
    return f"{digits[:3]} {digits[3:]}"


def connection_code(local_sdp: str, remote_sdp: str, *, local_is_host: bool) -> str | None:
    """Return the code from the local and remote SDP, or None if either lacks a SHA-256 hash."""
    local = sha256_fingerprint(local_sdp)
    remote = sha256_fingerprint(remote_sdp)
    if local is None or remote is None:
        return None
    if local_is_host:
        return short_authentication_string(local, remote)
    return short_authentication_string(remote, local)
