"""The fields that bound an answer (output tokens, choices), as every dialect reads them,
and the gateway's own limit added to a body that names none."""

from __future__ import annotations

import re
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


# OpenAI's reasoning models refuse `max_tokens` and take `max_completion_tokens`; other
# models, and the OpenAI-compatible hosts, take `max_tokens`.
_COMPLETION_TOKENS_MODEL = re.compile(r"(?:^|/)(?:o\d|gpt-5)")


def output_limit_field(model: str) -> str:
    """The field that limits output tokens for `model` on an OpenAI-format upstream (Azure
    included, by the model a deployment serves)."""
    return "max_completion_tokens" if _COMPLETION_TOKENS_MODEL.search(model) else "max_tokens"
