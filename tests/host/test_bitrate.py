"""Bitrate control from REMB estimates."""

from __future__ import annotations

import pytest

from pairview.host.bitrate import MIN_CHANGE_INTERVAL, SUSTAIN, WARMUP, BitrateController

# A time after every guest's warm-up in these tests.
T = WARMUP + 100


def congest(
    controller: BitrateController, peer: str, estimate: int, sent: float, at: float
) -> int | None:
    """Report the same congestion twice, `SUSTAIN` seconds apart; return the last answer."""
    controller.estimate(peer, estimate, sent_bitrate=sent, now=at)
    return controller.estimate(peer, estimate, sent_bitrate=sent, now=at + SUSTAIN)


def seen(controller: BitrateController, *peers: str) -> None:
    for peer in peers:
        controller.estimate(peer, 10**9, sent_bitrate=0, now=0)


def test_starts_at_maximum() -> None:
    assert BitrateController(300_000, 8_000_000).target == 8_000_000


def test_estimate_above_sent_rate_changes_nothing() -> None:
    # A still screen sends little, so REMB stays low without meaning congestion.
    controller = BitrateController(300_000, 8_000_000)
    seen(controller, "a")

    assert controller.estimate("a", 500_000, sent_bitrate=200_000, now=T) is None
    assert controller.target == 8_000_000


def test_new_guest_low_estimates_ignored() -> None:
    # A receiver starts low and ramps up: its first estimates mean nothing.
    controller = BitrateController(300_000, 8_000_000)

    answers = [
        controller.estimate("a", 300_000, sent_bitrate=5_000_000, now=t) for t in range(int(WARMUP))
    ]

    assert answers == [None] * int(WARMUP)
    assert controller.target == 8_000_000


def test_brief_dip_ignored() -> None:
    controller = BitrateController(300_000, 8_000_000)
    seen(controller, "a")

    first = controller.estimate("a", 1_000_000, sent_bitrate=5_000_000, now=T)
    recovered = controller.estimate("a", 9_000_000, sent_bitrate=5_000_000, now=T + 1)
    again = controller.estimate("a", 1_000_000, sent_bitrate=5_000_000, now=T + SUSTAIN)

    assert (first, recovered, again) == (None, None, None)
    assert controller.target == 8_000_000


def test_sustained_congestion_lowers_target_to_estimate() -> None:
    controller = BitrateController(300_000, 8_000_000)
    seen(controller, "a")

    assert congest(controller, "a", 2_000_000, 5_000_000, T) == 2_000_000
    assert controller.target == 2_000_000


def test_target_never_below_minimum() -> None:
    controller = BitrateController(300_000, 8_000_000)
    seen(controller, "a")

    assert congest(controller, "a", 50_000, 5_000_000, T) == 300_000


def test_slowest_guest_sets_pace_and_departure_lifts_it() -> None:
    controller = BitrateController(300_000, 8_000_000)
    seen(controller, "slow", "fast")
    congest(controller, "slow", 1_000_000, 4_000_000, T)
    controller.estimate("fast", 6_000_000, sent_bitrate=4_000_000, now=T + 10)

    assert controller.target == 1_000_000
    assert controller.forget("slow", now=T + 20) == 8_000_000


def test_changes_rate_limited_and_small_ones_ignored() -> None:
    controller = BitrateController(300_000, 8_000_000)
    seen(controller, "a")
    congest(controller, "a", 2_000_000, 5_000_000, T)

    too_soon = controller.estimate(
        "a", 1_000_000, sent_bitrate=2_000_000, now=T + SUSTAIN + MIN_CHANGE_INTERVAL / 2
    )
    too_small = congest(controller, "a", 1_900_000, 2_200_000, T + 100)

    assert too_soon is None
    assert too_small is None
    assert controller.target == 2_000_000


def test_recovers_as_estimates_rise() -> None:
    controller = BitrateController(300_000, 8_000_000)
    seen(controller, "a")
    congest(controller, "a", 1_000_000, 3_000_000, T)

    rising = controller.estimate("a", 4_000_000, sent_bitrate=1_000_000, now=T + 10)
    lifted = controller.estimate("a", 9_000_000, sent_bitrate=4_000_000, now=T + 20)

    assert rising == 4_000_000
    assert lifted == 8_000_000


def test_min_above_max_rejected() -> None:
    with pytest.raises(ValueError, match="min bitrate 9000000 is above max bitrate 1000000"):
        BitrateController(9_000_000, 1_000_000)
