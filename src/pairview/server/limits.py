"""Rate limiting with a token bucket, clock passed in so tests need no sleeping."""

from __future__ import annotations


class TokenBucket:
    """Allows `burst` events at once and `rate` events per second after that."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._updated = now

    def take(self, now: float) -> bool:
        """Spend one token; return False when the bucket is empty."""
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self._burst, self._tokens + elapsed * self._rate)
        self._updated = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True
