"""Token usage in one normalized shape, whatever format the upstream reported it in: what
the gateway's wire formats read, billing prices and usage records, so it sits in the base
layer beneath them all.

`input_tokens` counts all input, cached reads and cache writes included (OpenAI's
convention); `output_tokens` counts all output, reasoning included."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TokenUsage:
    input_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    estimated: bool = False
