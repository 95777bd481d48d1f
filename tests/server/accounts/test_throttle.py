"""The sign-in throttle's counting, with a clock passed in and no I/O."""

from __future__ import annotations

from pairview.server.accounts.throttle import MAX_KEYS, Attempt, SignInThrottle, SlidingWindow


def test_account_limit_and_wait() -> None:
    throttle = SignInThrottle(per_account=3, per_address=100, window=60)
    attempt = Attempt("a@example.org", "192.0.2.1")
    for now in (0.0, 10.0, 20.0):
        assert throttle.retry_after(attempt, now) is None
        throttle.failed(attempt, now)

    assert throttle.retry_after(attempt, 30.0) == 30.0
    assert throttle.retry_after(Attempt("a@example.org", "192.0.2.9"), 30.0) == 30.0
    assert throttle.retry_after(attempt, 60.0) is None


def test_address_limit_spans_accounts() -> None:
    throttle = SignInThrottle(per_account=100, per_address=2, window=60)
    throttle.failed(Attempt("a@example.org", "192.0.2.1"), 0.0)
    throttle.failed(Attempt("b@example.org", "192.0.2.1"), 1.0)

    assert throttle.retry_after(Attempt("c@example.org", "192.0.2.1"), 2.0) == 58.0
    assert throttle.retry_after(Attempt("c@example.org", "192.0.2.2"), 2.0) is None


def test_trusted_device_counted_on_its_own() -> None:
    throttle = SignInThrottle(per_account=2, per_address=2, window=60)
    for now in (0.0, 1.0, 2.0):
        throttle.failed(Attempt("a@example.org", "192.0.2.1"), now)
    owner = Attempt("a@example.org", "192.0.2.1", device="device-1")

    assert throttle.retry_after(owner, 3.0) is None
    throttle.failed(owner, 3.0)
    throttle.failed(owner, 4.0)
    assert throttle.retry_after(owner, 5.0) == 58.0
    throttle.succeeded(owner)
    assert throttle.retry_after(owner, 5.0) is None


def test_success_keeps_account_and_address_counts() -> None:
    throttle = SignInThrottle(per_account=2, per_address=2, window=60)
    attempt = Attempt("a@example.org", "192.0.2.1")
    throttle.failed(attempt, 0.0)
    throttle.failed(attempt, 1.0)

    throttle.succeeded(attempt)

    assert throttle.retry_after(attempt, 2.0) == 58.0


def test_window_memory_bounded() -> None:
    window = SlidingWindow(limit=1, window=3600)
    for index in range(MAX_KEYS + 10):
        window.add(f"key-{index}", 0.0)

    assert window.retry_after("key-0", 1.0) is None
    assert window.retry_after(f"key-{MAX_KEYS + 9}", 1.0) is not None
