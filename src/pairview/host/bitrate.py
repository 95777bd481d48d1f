"""The video bitrate, from the host's limits and the guests' bandwidth estimates.

Guests' browsers send REMB, a receive-side bandwidth estimate. For screen
content it is no ceiling to aim at: while the screen is still, little is
sent and the estimate stays near what arrives, which would starve the
next burst of scrolling. Nor does an estimate below the sent bitrate mean
congestion by itself: Chromium 156's estimate starts near 50 kbit/s and
climbs by under a tenth a second, far behind the first keyframe and
behind every burst after a still screen. So an estimate limits the
encoder only when it fell since the guest's previous one, as it does
when the receiver detects overuse, and is below what is actually being
sent. A limit then rises with later estimates and is lifted when it
reaches the maximum. All guests share one encoder, so the lowest limit
sets the pace. The encoder restarts on every change with a keyframe, so
small changes are ignored and changes come at most every few seconds.
"""

from __future__ import annotations

# A falling estimate below this fraction of the sent bitrate means congestion.
CONGESTION_RATIO = 0.9
# An estimate below this fraction of the guest's previous one has fallen.
FALL_RATIO = 0.95
# Ignore targets that differ from the current one by less than this fraction.
HYSTERESIS = 0.25
MIN_CHANGE_INTERVAL = 4.0


class BitrateController:
    def __init__(self, min_bitrate: int, max_bitrate: int) -> None:
        if min_bitrate > max_bitrate:
            raise ValueError(f"min bitrate {min_bitrate} is above max bitrate {max_bitrate}")
        self.min_bitrate = min_bitrate
        self.max_bitrate = max_bitrate
        self.target = max_bitrate
        self._limits: dict[str, int] = {}
        self._estimates: dict[str, int] = {}
        self._changed_at = float("-inf")

    def estimate(self, peer_id: str, estimate: int, sent_bitrate: float, now: float) -> int | None:
        """Record a guest's REMB estimate; return a new encoder target, or None to keep it."""
        limit = self._limits.get(peer_id)
        previous = self._estimates.get(peer_id)
        self._estimates[peer_id] = estimate
        fell = previous is not None and estimate < FALL_RATIO * previous
        if fell and estimate < CONGESTION_RATIO * sent_bitrate:
            self._limits[peer_id] = estimate
        elif limit is not None:
            if max(limit, estimate) >= self.max_bitrate:
                del self._limits[peer_id]
            else:
                self._limits[peer_id] = max(limit, estimate)
        return self._retarget(now)

    def forget(self, peer_id: str, now: float) -> int | None:
        """Drop a guest that left; return a new target or None."""
        self._limits.pop(peer_id, None)
        self._estimates.pop(peer_id, None)
        return self._retarget(now)

    def _retarget(self, now: float) -> int | None:
        wanted = min(self._limits.values(), default=self.max_bitrate)
        wanted = max(self.min_bitrate, min(self.max_bitrate, wanted))
        if wanted == self.target or abs(wanted - self.target) < HYSTERESIS * self.target:
            return None
        if now - self._changed_at < MIN_CHANGE_INTERVAL:
            return None
        self.target = wanted
        self._changed_at = now
        return wanted
