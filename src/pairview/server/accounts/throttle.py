"""Throttling of failed sign-ins, per account and per client address, without I/O.

Failures are counted in a sliding window. Too many for one account, or
from one address, and further attempts are refused (HTTP 429) until
enough failures have aged out of the window. An account is keyed by the
address typed, so unknown addresses are throttled exactly like known ones.

The real owner is not locked out by someone guessing their password: a
browser or host app that signed in to the account before carries a device
token, and its attempts are counted on their own, apart from the account's
and the address's counts (the OWASP "device cookie" scheme).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass

# Keys kept at most; the least recently touched are forgotten first.
MAX_KEYS = 100_000


class SlidingWindow:
    """Failure times per key, each key forgetting what is older than the window."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self.window = window
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str, now: float) -> deque[float] | None:
        times = self._failures.get(key)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        return times

    def retry_after(self, key: str, now: float) -> float | None:
        times = self._recent(key, now)
        if times is None or len(times) < self.limit:
            return None
        # Allowed again once the oldest failure that keeps the count at the limit ages out.
        return times[len(times) - self.limit] + self.window - now

    def add(self, key: str, now: float) -> None:
        times = self._recent(key, now)
        if times is None:
            times = deque(maxlen=self.limit)
            self._failures[key] = times
        times.append(now)
        self._failures.move_to_end(key)
        while len(self._failures) > MAX_KEYS:
            self._failures.popitem(last=False)

    def clear(self, key: str) -> None:
        self._failures.pop(key, None)


@dataclass(frozen=True, slots=True)
class Attempt:
    """A sign-in attempt: the account typed, the client address, and a trusted device."""

    account: str
    address: str
    device: str | None = None


class SignInThrottle:
    def __init__(self, per_account: int, per_address: int, window: float) -> None:
        self._accounts = SlidingWindow(per_account, window)
        self._addresses = SlidingWindow(per_address, window)
        self._devices = SlidingWindow(per_account, window)

    def retry_after(self, attempt: Attempt, now: float) -> float | None:
        """Return the seconds to wait before `attempt` may be made, or None if it may be now."""
        if attempt.device is not None:
            return self._devices.retry_after(attempt.device, now)
        waits = [
            self._accounts.retry_after(attempt.account, now),
            self._addresses.retry_after(attempt.address, now),
        ]
        known = [wait for wait in waits if wait is not None]
        return max(known) if known else None

    def failed(self, attempt: Attempt, now: float) -> None:
        if attempt.device is not None:
            self._devices.add(attempt.device, now)
            return
        self._accounts.add(attempt.account, now)
        self._addresses.add(attempt.address, now)

    def succeeded(self, attempt: Attempt) -> None:
        # The account's and the address's counts stay: a guesser who also
        # owns an account must not reset them by signing in to it.
        if attempt.device is not None:
            self._devices.clear(attempt.device)
