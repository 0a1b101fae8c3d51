"""The names of the rollups' dimensions and sums, which several tables share."""

from __future__ import annotations

# Latency distributions are counts per fixed bucket (usage/histogram.py has the bounds).
HISTOGRAM_BUCKETS = 32
ROLLUP_DIMENSIONS = (
    "org_id",
    "user_id",
    "key_id",
    "model",
    "provider",
    "channel_id",
    "status_class",
    "source",
)
ROLLUP_SUMS = (
    "requests",
    "errors",
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cost",
    "latency_ms_sum",
    "ttft_ms_sum",
    "ttft_count",
    # Time spent generating (latency after the first byte) where output came back, and
    # the output tokens of those requests: output tokens per second.
    "generation_ms_sum",
    "generated_tokens",
    *(f"latency_b{index:02d}" for index in range(HISTOGRAM_BUCKETS)),
    *(f"ttft_b{index:02d}" for index in range(HISTOGRAM_BUCKETS)),
)
