"""How late the event loop runs what is due: a task asks to wake every `interval_s` and
records by how much it overslept. Anything that holds the loop (a long synchronous step,
a thread holding the GIL, a garbage collection) shows up here before it shows up in the
requests' latency."""

from __future__ import annotations

import asyncio
import time

from prometheus_client import CollectorRegistry, Histogram

LAG_BUCKETS_S = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


def lag_histogram(registry: CollectorRegistry) -> Histogram:
    return Histogram(
        "aisonar_event_loop_lag_seconds",
        "How late the event loop woke a task that asked to run every 10 ms: what any "
        "request waiting on the loop waited for too.",
        buckets=LAG_BUCKETS_S,
        registry=registry,
    )


async def keep_measuring_lag(histogram: Histogram, interval_s: float = 0.01) -> None:
    clock = time.perf_counter
    while True:
        due = clock() + interval_s
        await asyncio.sleep(interval_s)
        histogram.observe(max(clock() - due, 0.0))
