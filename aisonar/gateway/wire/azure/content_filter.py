"""Azure's content filter, for clients of another format. A prompt the filter blocks is
refused with 400 and code `content_filter`: an OpenAI client gets that error as Azure
gave it, while a client of another format is answered as its own provider answers a
refused or blocked request (Anthropic's `stop_reason: refusal`, Gemini's `SAFETY`), from
an empty OpenAI answer ending in `finish_reason: content_filter`, which the translations
map. An answer the filter cut short already ends so, and needs nothing here."""

from __future__ import annotations

import orjson

from aisonar.gateway.wire.hub import JsonObject

_CODE = "content_filter"
_ID = "chatcmpl-content-filter"
_NO_USAGE = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}


def _blocked_prompt(status: int, body: bytes) -> bool:
    if status != 400 or _CODE.encode() not in body:
        return False
    try:
        error = orjson.loads(body).get("error")
    except (orjson.JSONDecodeError, AttributeError):
        return False
    return isinstance(error, dict) and error.get("code") == _CODE


def _chunk(choices: list[JsonObject], **extra: object) -> bytes:
    chunk = {
        "id": _ID,
        "object": "chat.completion.chunk",
        "created": 0,
        "model": "",
        "choices": choices,
        **extra,
    }
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def refused_answer(status: int, body: bytes, stream: bool) -> bytes | None:
    """The answer standing for a blocked prompt, in OpenAI's format (a stream of events
    when `stream`); None for any other error."""
    if not _blocked_prompt(status, body):
        return None
    if stream:
        return b"".join(
            (
                _chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}}]),
                _chunk([{"index": 0, "delta": {}, "finish_reason": _CODE}]),
                _chunk([], usage=_NO_USAGE),
                b"data: [DONE]\n\n",
            )
        )
    answer = {
        "id": _ID,
        "object": "chat.completion",
        "created": 0,
        "model": "",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None},
                "finish_reason": _CODE,
            }
        ],
        "usage": _NO_USAGE,
    }
    return orjson.dumps(answer)
