"""The token bucket that bounds each guest's input rate."""

from __future__ import annotations

import pytest

from pairview.host.ratelimit import TokenBucket


def test_burst_then_rate() -> None:
    bucket = TokenBucket(rate=10, burst=5, now=0)
    assert [bucket.take(0) for _ in range(6)] == [True] * 5 + [False]
    assert not bucket.take(0.05)
    assert bucket.take(0.1)
    assert not bucket.take(0.1)


def test_tokens_never_exceed_burst() -> None:
    bucket = TokenBucket(rate=100, burst=3, now=0)
    assert sum(bucket.take(1000) for _ in range(10)) == 3


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (1, 0)])
def test_invalid_limits_rejected(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match=f"rate={rate}, burst={burst}"):
        TokenBucket(rate, burst, now=0)
