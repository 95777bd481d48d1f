"""The host's video bitrate controller, fed REMB estimates as Chromium sends them."""

from __future__ import annotations

from pairview.host.bitrate import MIN_CHANGE_INTERVAL, BitrateController

MAX = 8_000_000
MIN = 300_000


def test_rising_estimate_below_sent_keeps_maximum() -> None:
    # Chromium's estimate starts near 50 kbit/s and climbs while a keyframe
    # has just pushed the sent bitrate far above it.
    controller = BitrateController(MIN, MAX)
    estimate = 55_000
    for step in range(40):
        assert controller.estimate("guest", estimate, 1_500_000, now=step * 0.25) is None
        estimate = int(estimate * 1.02)
    assert controller.target == MAX


def test_falling_estimate_below_sent_limits() -> None:
    controller = BitrateController(MIN, MAX)
    assert controller.estimate("guest", 3_000_000, 2_500_000, now=0.0) is None
    assert controller.estimate("guest", 2_000_000, 2_500_000, now=1.0) == 2_000_000
    assert controller.target == 2_000_000


def test_falling_estimate_above_sent_keeps_maximum() -> None:
    controller = BitrateController(MIN, MAX)
    controller.estimate("guest", 3_000_000, 500_000, now=0.0)
    assert controller.estimate("guest", 2_000_000, 500_000, now=1.0) is None
    assert controller.target == MAX


def test_limit_rises_then_lifts_at_maximum() -> None:
    controller = BitrateController(MIN, MAX)
    controller.estimate("guest", 3_000_000, 2_500_000, now=0.0)
    controller.estimate("guest", 2_000_000, 2_500_000, now=1.0)

    later = 1.0 + MIN_CHANGE_INTERVAL
    assert controller.estimate("guest", 4_000_000, 2_000_000, now=later) == 4_000_000
    assert controller.estimate("guest", MAX, 3_000_000, now=later + MIN_CHANGE_INTERVAL) == MAX


def test_limit_never_below_minimum() -> None:
    controller = BitrateController(MIN, MAX)
    controller.estimate("guest", 400_000, 1_000_000, now=0.0)
    assert controller.estimate("guest", 100_000, 1_000_000, now=1.0) == MIN


def test_slowest_guest_sets_pace_until_gone() -> None:
    controller = BitrateController(MIN, MAX)
    controller.estimate("fast", 6_000_000, 2_500_000, now=0.0)
    controller.estimate("slow", 3_000_000, 2_500_000, now=0.0)
    assert controller.estimate("slow", 1_000_000, 2_500_000, now=1.0) == 1_000_000
    assert controller.forget("slow", now=1.0 + MIN_CHANGE_INTERVAL) == MAX
