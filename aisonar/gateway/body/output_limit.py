"""The fields that bound an answer (output tokens, choices), as every dialect reads them,
and the gateway's own limit added to a body that names none."""

from __future__ import annotations

from typing import Annotated

import msgspec

# Past any model's output limit (the model's own is checked once the route is known), and
# within a 32-bit integer, which some upstreams parse it into.
_MOST_OUTPUT_TOKENS = 2**31 - 1

OutputTokens = Annotated[int, msgspec.Meta(ge=1, le=_MOST_OUTPUT_TOKENS)]
# OpenAI takes `n` up to 128, Gemini `candidateCount` up to 8.
OpenAIChoices = Annotated[int, msgspec.Meta(ge=1, le=128)]
GeminiCandidates = Annotated[int, msgspec.Meta(ge=1, le=8)]


def insert_field(body: bytes, name: str, value: int) -> bytes:
    """`body`, a JSON object that lacks `name`, with `name: value` added as its first
    member, without parsing the rest."""
    start = body.index(b"{") + 1
    separator = b"" if body[start:].lstrip().startswith(b"}") else b","
    return b'%s"%s":%d%s%s' % (body[:start], name.encode(), value, separator, body[start:])
