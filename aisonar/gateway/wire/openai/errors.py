"""OpenAI's error shape: `{"error": {"message", "type", "param", "code"}}`."""

from __future__ import annotations

import orjson

from aisonar.errors import AISonarError


def render_openai_error(error: AISonarError) -> bytes:
    return orjson.dumps(
        {
            "error": {
                "message": error.message,
                "type": error.kind,
                "param": error.param,
                "code": error.code,
            }
        }
    )


def openai_stream_error_event(error: AISonarError) -> bytes:
    """The event that ends a stream which failed after its first byte."""
    return b"data: " + render_openai_error(error) + b"\n\n"
