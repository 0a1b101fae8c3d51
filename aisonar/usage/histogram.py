"""Fixed latency buckets, so that distributions from any rows, minutes or servers add up
and percentiles can be read from the sums. Boundaries grow by a factor of sqrt(2) from
10 ms to about 5.5 minutes; every other one is a boundary of OpenTelemetry's GenAI
duration buckets (10 ms doubling), so these re-bin into those exactly."""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

from aisonar.store.tables import HISTOGRAM_BUCKETS

BUCKETS = HISTOGRAM_BUCKETS
# Upper bounds in milliseconds (exclusive); the last bucket has no upper bound.
BOUNDS_MS: tuple[float, ...] = tuple(10 * math.sqrt(2) ** k for k in range(BUCKETS - 1))


def bucket_of(ms: float) -> int:
    return bisect.bisect_right(BOUNDS_MS, ms)


def percentile(counts: Sequence[int], fraction: float) -> float | None:
    """The value below which `fraction` of the observations fall, interpolated
    geometrically inside its bucket; None without observations."""
    total = sum(counts)
    if total == 0:
        return None
    rank = fraction * total
    seen = 0
    for index, count in enumerate(counts):
        if count and seen + count >= rank:
            lower = BOUNDS_MS[index - 1] if index > 0 else 0.0
            if index == len(BOUNDS_MS):
                return lower
            upper = BOUNDS_MS[index]
            share = (rank - seen) / count
            if lower == 0.0:
                return upper * share
            return float(lower * (upper / lower) ** share)
        seen += count
    return BOUNDS_MS[-1]
