"""The video bitrate, from the host's limits and the guests' bandwidth estimates.

Guests' browsers send REMB, a receive-side bandwidth estimate. For screen
content it is no ceiling to aim at: while the screen is still, little is
sent and the estimate stays near what arrives, which would starve the
next burst of scrolling; and a new receiver starts low and ramps up over
several seconds. So an estimate limits the encoder only once it has stayed
below what is actually being sent for `SUSTAIN` seconds, which means the
path is congested, and never in a guest's first `WARMUP` seconds. A limit
then rises with later estimates and is lifted when it reaches the maximum.
All guests share one encoder, so the lowest limit sets the pace. The
encoder restarts on every change with a keyframe, so small changes are
ignored and changes come at most every few seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

# An estimate below this fraction of the sent bitrate means congestion.
CONGESTION_RATIO = 0.9
# Congestion must last this long, in seconds, before the encoder slows down.
SUSTAIN = 3.0
# Estimates from a guest's first seconds are ignored while its receiver ramps up.
WARMUP = 10.0
# Ignore targets that differ from the current one by less than this fraction.
HYSTERESIS = 0.25
MIN_CHANGE_INTERVAL = 4.0


@dataclass
class _Guest:
    first_seen: float
    congested_since: float | None = None
    limit: int | None = None


class BitrateController:
    def __init__(self, min_bitrate: int, max_bitrate: int) -> None:
        if min_bitrate > max_bitrate:
            raise ValueError(f"min bitrate {min_bitrate} is above max bitrate {max_bitrate}")
        self.min_bitrate = min_bitrate
        self.max_bitrate = max_bitrate
        self.target = max_bitrate
        self._guests: dict[str, _Guest] = {}
        self._changed_at = float("-inf")

    def estimate(self, peer_id: str, estimate: int, sent_bitrate: float, now: float) -> int | None:
        """Record a guest's REMB estimate; return a new encoder target, or None to keep it."""
        guest = self._guests.setdefault(peer_id, _Guest(first_seen=now))
        if now - guest.first_seen < WARMUP:
            return None

        if estimate < CONGESTION_RATIO * sent_bitrate:
            if guest.congested_since is None:
                guest.congested_since = now
            if now - guest.congested_since >= SUSTAIN:
                guest.limit = estimate
        else:
            guest.congested_since = None
            if guest.limit is not None:
                raised = max(guest.limit, estimate)
                guest.limit = None if raised >= self.max_bitrate else raised
        return self._retarget(now)

    def forget(self, peer_id: str, now: float) -> int | None:
        """Drop a guest that left; return a new target or None."""
        self._guests.pop(peer_id, None)
        return self._retarget(now)

    def _retarget(self, now: float) -> int | None:
        limits = [guest.limit for guest in self._guests.values() if guest.limit is not None]
        wanted = max(self.min_bitrate, min(self.max_bitrate, min(limits, default=self.max_bitrate)))
        if wanted == self.target or abs(wanted - self.target) < HYSTERESIS * self.target:
            return None
        if now - self._changed_at < MIN_CHANGE_INTERVAL:
            return None
        self.target = wanted
        self._changed_at = now
        return wanted
