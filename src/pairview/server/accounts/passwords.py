"""Password hashing with Argon2id, in PHC string form.

The parameters come from the settings and never go below the OWASP
minimum (m=19456 KiB, t=2, p=1), which the settings enforce. A stored
hash with weaker parameters, or of another Argon2 type, is upgraded at
the next successful sign-in; a stronger one is left as it is.
"""

from __future__ import annotations

import asyncio
import secrets

import argon2
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from pairview.settings import ServerSettings


class PasswordHasher:
    """Hashes and checks passwords in worker threads, so that the event loop keeps serving."""

    def __init__(self, memory_kib: int, iterations: int, parallelism: int) -> None:
        self.parameters = argon2.Parameters(
            type=argon2.Type.ID,
            version=argon2.low_level.ARGON2_VERSION,
            salt_len=16,
            hash_len=32,
            time_cost=iterations,
            memory_cost=memory_kib,
            parallelism=parallelism,
        )
        self._hasher = argon2.PasswordHasher.from_parameters(self.parameters)
        # Checked against for unknown accounts, so that they cost the same time.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    @classmethod
    def from_settings(cls, settings: ServerSettings) -> PasswordHasher:
        return cls(
            settings.argon2_memory_kib, settings.argon2_iterations, settings.argon2_parallelism
        )

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, stored_hash: str | None, password: str) -> bool:
        """Check `password` against `stored_hash`; with no hash, spend the same time and fail."""
        if stored_hash is None:
            await asyncio.to_thread(self._verify, self._dummy_hash, "")
            return False
        return await asyncio.to_thread(self._verify, stored_hash, password)

    def _verify(self, stored_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(stored_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def is_weaker(self, stored_hash: str) -> bool:
        """Return whether `stored_hash` falls short of the configured parameters."""
        try:
            stored = argon2.extract_parameters(stored_hash)
        except InvalidHashError:
            return True
        wanted = self.parameters
        return (
            stored.type is not argon2.Type.ID
            or stored.version < wanted.version
            or stored.memory_cost < wanted.memory_cost
            or stored.time_cost < wanted.time_cost
            or stored.parallelism < wanted.parallelism
            or stored.hash_len < wanted.hash_len
            or stored.salt_len < wanted.salt_len
        )
