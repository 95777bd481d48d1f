"""Bitrate control from REMB estimates."""

from __future__ import annotations

import pytest

from pairview.host.bitrate import MIN_CHANGE_INTERVAL, BitrateController


def test_starts_at_maximum() -> None:
    assert BitrateController(300_000, 8_000_000).target == 8_000_000


def test_estimate_above_sent_rate_changes_nothing() -> None:
    # A still screen sends little, so REMB stays low without meaning congestion.
    controller = BitrateController(300_000, 8_000_000)

    assert controller.estimate("a", 500_000, sent_bitrate=200_000, now=10) is None
    assert controller.target == 8_000_000


def test_congestion_lowers_target_to_estimate() -> None:
    controller = BitrateController(300_000, 8_000_000)

    target = controller.estimate("a", 2_000_000, sent_bitrate=5_000_000, now=10)

    assert target == 2_000_000
    assert controller.target == 2_000_000


def test_target_never_below_minimum() -> None:
    controller = BitrateController(300_000, 8_000_000)

    assert controller.estimate("a", 50_000, sent_bitrate=5_000_000, now=10) == 300_000


def test_slowest_guest_sets_pace_and_departure_lifts_it() -> None:
    controller = BitrateController(300_000, 8_000_000)
    controller.estimate("slow", 1_000_000, sent_bitrate=4_000_000, now=10)
    controller.estimate("fast", 6_000_000, sent_bitrate=4_000_000, now=20)

    assert controller.target == 1_000_000
    assert controller.forget("slow", now=30) == 8_000_000


def test_changes_rate_limited_and_small_ones_ignored() -> None:
    controller = BitrateController(300_000, 8_000_000)
    controller.estimate("a", 2_000_000, sent_bitrate=5_000_000, now=10)

    too_soon = controller.estimate(
        "a", 1_000_000, sent_bitrate=2_000_000, now=10 + MIN_CHANGE_INTERVAL / 2
    )
    too_small = controller.estimate("a", 1_900_000, sent_bitrate=2_200_000, now=100)

    assert too_soon is None
    assert too_small is None
    assert controller.target == 2_000_000


def test_recovers_as_estimates_rise() -> None:
    controller = BitrateController(300_000, 8_000_000)
    controller.estimate("a", 1_000_000, sent_bitrate=3_000_000, now=0)

    rising = controller.estimate("a", 4_000_000, sent_bitrate=1_000_000, now=10)
    lifted = controller.estimate("a", 9_000_000, sent_bitrate=4_000_000, now=20)

    assert rising == 4_000_000
    assert lifted == 8_000_000


def test_min_above_max_rejected() -> None:
    with pytest.raises(ValueError, match="min bitrate 9000000 is above max bitrate 1000000"):
        BitrateController(9_000_000, 1_000_000)
