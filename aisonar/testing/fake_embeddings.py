"""Deterministic embeddings for the fake upstream.

Each input is hashed into a unit vector, so the same text always embeds the same way. Vectors
are float lists, or base64 of little-endian float32 as the `openai` SDK requests by default.
"""

from __future__ import annotations

import base64
import hashlib
import math
import struct
from typing import Any

import orjson

from aisonar.testing.fake_replies import (
    JsonObject,
    OpenAIError,
    invalid_param,
    json_object,
    optional_int,
    required_param,
)
from aisonar.usage.tokens import count_text_tokens

DEFAULT_DIMENSIONS = 1536
_DIMENSIONS = {"text-embedding-3-large": 3072}
_FORMATS = ("float", "base64")

EmbeddingInput = str | list[int]


def _is_tokens(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(item, int) and not isinstance(item, bool) for item in value
    )


def _inputs(value: Any) -> list[EmbeddingInput]:
    """Normalise `input`: a string, a token array, or a non-empty list of either."""
    if isinstance(value, str) or (_is_tokens(value) and value):
        return [value]
    error = invalid_param("input", "a string, an array of strings, or token arrays")
    if not isinstance(value, list) or not value:
        raise error
    if all(isinstance(item, str) for item in value) or all(map(_is_tokens, value)):
        return value
    raise error


def _vector(item: EmbeddingInput, dimensions: int) -> bytes:
    """A unit vector derived from the input's hash, packed as little-endian float32."""
    key = item.encode() if isinstance(item, str) else orjson.dumps(item)
    raw = struct.unpack(f"<{dimensions}h", hashlib.shake_256(key).digest(2 * dimensions))
    norm = math.sqrt(sum(value * value for value in raw)) or 1.0
    return struct.pack(f"<{dimensions}f", *(value / norm for value in raw))


def unit_vector(text: str, dimensions: int) -> list[float]:
    """The fake's embedding of a text, as floats."""
    packed = _vector(text, dimensions)
    return list(struct.unpack(f"<{dimensions}f", packed))


def _encode(packed: bytes, encoding_format: str) -> list[float] | str:
    if encoding_format == "base64":
        return base64.b64encode(packed).decode()
    return list(struct.unpack(f"<{len(packed) // 4}f", packed))


def _tokens(item: EmbeddingInput, model: str) -> int:
    return count_text_tokens(item, model) if isinstance(item, str) else len(item)


def build_embeddings(body: Any) -> JsonObject:
    body = json_object(body)
    model = required_param(body, "model")
    if not isinstance(model, str):
        raise invalid_param("model", "a string")
    inputs = _inputs(required_param(body, "input"))
    dimensions = optional_int(body, "dimensions") or _DIMENSIONS.get(model, DEFAULT_DIMENSIONS)
    encoding_format = body.get("encoding_format") or "float"
    if encoding_format not in _FORMATS:
        raise OpenAIError(
            400,
            f"Invalid 'encoding_format': expected one of {', '.join(_FORMATS)}.",
            param="encoding_format",
            code="invalid_value",
        )
    data = [
        {
            "object": "embedding",
            "index": index,
            "embedding": _encode(_vector(item, dimensions), encoding_format),
        }
        for index, item in enumerate(inputs)
    ]
    tokens = sum(_tokens(item, model) for item in inputs)
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
