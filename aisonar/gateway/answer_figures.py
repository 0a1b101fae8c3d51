"""What an answer tells its client about itself, beside the answer: the exact charge
(`x-aisonar-cost`, a decimal of the operator's currency, as the ledger has it) and the time
the gateway itself spent on the request (`x-aisonar-overhead-ms`, the wait on upstreams
left out). A stream's head goes out before its charge is known, so a stream ends with its
charge in an SSE comment instead, where its client's SDKs skip comments."""

from __future__ import annotations

from aisonar.billing.money import format_amount

COST_HEADER = b"x-aisonar-cost"
OVERHEAD_HEADER = b"x-aisonar-overhead-ms"
COST_COMMENT = b": x-aisonar-cost="


def answer_headers(cost: int, overhead_ms: float) -> list[tuple[bytes, bytes]]:
    """The headers of a whole answer: `cost` in micro-units as a decimal (123 ->
    "0.000123"), and the overhead."""
    return [(COST_HEADER, format_amount(cost).encode()), overhead_header(overhead_ms)]


def overhead_header(overhead_ms: float) -> tuple[bytes, bytes]:
    return OVERHEAD_HEADER, f"{overhead_ms:.2f}".encode()


def cost_comment(cost: int) -> bytes:
    """The SSE event that ends a stream with its charge: a comment, which SSE parsers skip."""
    return COST_COMMENT + format_amount(cost).encode() + b"\n\n"
