"""Prices as integers: micro-units per million tokens, resolved once per model so the hot
path prices a request with a few integer operations (genai-prices' own Decimal arithmetic
costs about 200 µs a call on this hardware)."""

from __future__ import annotations

from dataclasses import dataclass

from aisonar.token_usage import TokenUsage

TOKENS_PER_PRICE_UNIT = 1_000_000


@dataclass(frozen=True, slots=True)
class Rate:
    """A price per million tokens, which may step up for all tokens once the request's
    input passes a threshold (the "cliff" tiers Google, Anthropic and OpenAI use)."""

    base: int
    tiers: tuple[tuple[int, int], ...] = ()  # (input tokens above which it applies, rate)

    def at(self, input_tokens: int) -> int:
        for start, rate in reversed(self.tiers):
            if input_tokens > start:
                return rate
        return self.base


FREE = Rate(0)


@dataclass(frozen=True, slots=True)
class ModelPrice:
    model: str
    version: str
    input: Rate
    cached_input: Rate
    cache_write: Rate
    output: Rate

    def cost(self, usage: TokenUsage) -> int:
        """Exact cost in micro-units, rounded up once. `input_tokens` counts all input,
        cached reads and cache writes included (OpenAI's convention)."""
        n = usage.input_tokens
        uncached = max(n - usage.cached_input_tokens - usage.cache_write_tokens, 0)
        total = (
            uncached * self.input.at(n)
            + usage.cached_input_tokens * self.cached_input.at(n)
            + usage.cache_write_tokens * self.cache_write.at(n)
            + usage.output_tokens * self.output.at(n)
        )
        return -(-total // TOKENS_PER_PRICE_UNIT)

    def most(self, input_tokens: int, output_tokens: int) -> int:
        """The most a request with these bounds can cost: every input token at the dearest
        of the input rates, as a cache write can cost more than plain input (Anthropic's
        is 1.25 times it), and a request may write its whole prompt to the cache."""
        n = input_tokens
        dearest = max(self.input.at(n), self.cached_input.at(n), self.cache_write.at(n))
        total = n * dearest + output_tokens * self.output.at(n)
        return -(-total // TOKENS_PER_PRICE_UNIT)

    @property
    def is_free(self) -> bool:
        return all(
            rate == FREE for rate in (self.input, self.cached_input, self.cache_write, self.output)
        )
