"""Random tokens, their hashes, and values sealed or signed with the server's key.

Every token handed out carries 256 random bits. The server keeps only its
SHA-256 hash: a token that random needs no slow hash, and a stolen table
of hashes lets no one sign in.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

TOKEN_BYTES = 32
ID_BYTES = 16


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_id() -> str:
    return secrets.token_urlsafe(ID_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def derive_key(secret_key: bytes, purpose: str) -> bytes:
    """Derive a 256-bit key for one purpose, so that no two uses share a key."""
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"pairview " + purpose.encode()
    ).derive(secret_key)


class Sealer:
    """Encrypts and authenticates small JSON values (AES-256-GCM) for cookies and storage.

    A sealed value made for one purpose does not open for another, and one
    older than the `max_age` given to `open` does not open at all.
    """

    def __init__(self, secret_key: bytes) -> None:
        self._secret_key = secret_key

    def seal(self, purpose: str, value: dict[str, Any], now: float | None = None) -> str:
        body = json.dumps({"t": int(now if now is not None else time.time()), "v": value})
        nonce = os.urandom(12)
        cipher = AESGCM(derive_key(self._secret_key, "seal " + purpose))
        return _b64encode(nonce + cipher.encrypt(nonce, body.encode(), purpose.encode()))

    def open(
        self, purpose: str, sealed: str, max_age: float | None = None, now: float | None = None
    ) -> dict[str, Any] | None:
        """Return the value, or None if it was forged, changed, made elsewhere or too old."""
        try:
            raw = _b64decode(sealed)
        except ValueError:
            return None
        if len(raw) < 13:
            return None
        cipher = AESGCM(derive_key(self._secret_key, "seal " + purpose))
        try:
            body = json.loads(cipher.decrypt(raw[:12], raw[12:], purpose.encode()))
        except (InvalidTag, ValueError):
            return None
        issued = body.get("t")
        value = body.get("v")
        if not isinstance(issued, int) or not isinstance(value, dict):
            return None
        current = now if now is not None else time.time()
        if max_age is not None and not 0 <= current - issued <= max_age:
            return None
        return value


class Signer:
    """HMAC-SHA256 signatures for one purpose."""

    def __init__(self, secret_key: bytes, purpose: str) -> None:
        self._key = derive_key(secret_key, "sign " + purpose)

    def sign(self, message: str) -> str:
        return _b64encode(hmac.new(self._key, message.encode(), hashlib.sha256).digest())

    def verify(self, message: str, signature: str) -> bool:
        return hmac.compare_digest(self.sign(message), signature)


class JoinTickets:
    """Guest tokens for one room, valid until a time, given out when an invitation is used.

    The room page joins with a ticket exactly as with the room's own guest
    token, and can rejoin with it after a dropped connection.
    """

    PREFIX = "t1"

    def __init__(self, secret_key: bytes) -> None:
        self._signer = Signer(secret_key, "join ticket")

    def issue(self, room_id: str, expires_at: float) -> str:
        expiry = str(int(expires_at))
        return f"{self.PREFIX}.{expiry}.{self._signer.sign(room_id + chr(0) + expiry)}"

    def valid(self, ticket: str, room_id: str, now: float | None = None) -> bool:
        prefix, _, rest = ticket.partition(".")
        expiry, _, signature = rest.partition(".")
        if prefix != self.PREFIX or not expiry.isdigit() or not signature:
            return False
        if not self._signer.verify(room_id + chr(0) + expiry, signature):
            return False
        return int(expiry) > (now if now is not None else time.time())
