"""The server's secret key and the resume tokens signed with it.

A resume token lets a client whose WebSocket dropped come back as the
same peer. It is an HMAC over room, role and peer id, so it survives a
server restart and works on every instance that shares the key, with no
state kept anywhere.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from pairview.errors import ConfigError
from pairview.protocol.signaling import PEER_ID_PATTERN, Role

SECRET_KEY_FILE = "secret-key"  # noqa: S105 - a file name, not a secret


def load_or_create_secret_key(data_dir: Path) -> bytes:
    """Read the key from the data directory, creating it (owner-only) on first start."""
    path = data_dir / SECRET_KEY_FILE
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        pass
    except ValueError:
        raise ConfigError(
            f"Secret key file {path} is not hexadecimal; delete it to make a new one"
        ) from None
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(key.hex())
    return key


@dataclass(frozen=True, slots=True)
class ResumeClaim:
    room_id: str
    role: Role
    peer_id: str


class ResumeSigner:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def sign(self, claim: ResumeClaim) -> str:
        payload = f"{claim.room_id}:{claim.role.value}:{claim.peer_id}"
        mac = hmac.new(self._key, b"resume\0" + payload.encode(), hashlib.sha256).digest()
        return f"{claim.peer_id}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"

    def verify(self, token: str, room_id: str, role: Role) -> ResumeClaim | None:
        """Return the claim if `token` was signed for this room and role, else None."""
        peer_id, _, _ = token.partition(".")
        if not re.match(PEER_ID_PATTERN, peer_id):
            return None
        claim = ResumeClaim(room_id, role, peer_id)
        if hmac.compare_digest(self.sign(claim), token):
            return claim
        return None
