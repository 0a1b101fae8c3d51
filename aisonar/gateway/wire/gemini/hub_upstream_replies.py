"""A Gemini upstream's answers (generateContent and its stream) read into the hub; the
requests sent to it are `hub_upstream`'s."""

from __future__ import annotations

import secrets
import time
from typing import Any

import orjson

from aisonar.gateway.errors import UpstreamUnavailable
from aisonar.gateway.sse import event_data
from aisonar.gateway.wire.gemini.format import gemini_usage
from aisonar.gateway.wire.hub import JsonObject, hub_chunk, hub_usage
from aisonar.token_usage import TokenUsage

# Finish reasons of an answer its filters stopped.
_FILTERED = frozenset(
    {
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
        "IMAGE_PROHIBITED_CONTENT",
        "IMAGE_RECITATION",
    }
)


def _new_call_id() -> str:
    # Random, not `call_<n>`: clients send ids back in later requests, next to the ids of
    # other answers, and some upstreams (Anthropic) refuse a conversation that repeats one.
    return f"call_{secrets.token_hex(12)}"


def _new_response_id() -> str:
    return f"chatcmpl-{secrets.token_hex(12)}"


def _finish_reason(reason: str | None, called: bool) -> str:
    if reason == "MAX_TOKENS":
        return "length"
    if reason in _FILTERED:
        return "content_filter"
    return "tool_calls" if called else "stop"


def _blocked(doc: JsonObject) -> bool:
    feedback = doc.get("promptFeedback")
    return isinstance(feedback, dict) and bool(feedback.get("blockReason"))


def _tool_call(call: JsonObject) -> JsonObject:
    return {
        "id": call.get("id") or _new_call_id(),
        "type": "function",
        "function": {
            "name": call["name"],
            "arguments": orjson.dumps(call.get("args") or {}).decode(),
        },
    }


def gemini_response_to_hub(doc: JsonObject, *, model: str) -> JsonObject:
    candidates = doc.get("candidates") or []
    choices = [_choice(candidate, position) for position, candidate in enumerate(candidates)]
    if not choices:
        reason = "content_filter" if _blocked(doc) else "stop"
        message = {"role": "assistant", "content": None}
        choices = [{"index": 0, "message": message, "finish_reason": reason, "logprobs": None}]
    hub: JsonObject = {
        "id": doc.get("responseId") or _new_response_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
    }
    if isinstance(doc.get("usageMetadata"), dict):
        hub["usage"] = hub_usage(gemini_usage(doc["usageMetadata"]))
    return hub


def _choice(candidate: JsonObject, position: int) -> JsonObject:
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[JsonObject] = []
    # Other parts (code execution, images) answer features a hub request cannot ask for.
    for part in (candidate.get("content") or {}).get("parts") or []:
        if "functionCall" in part:
            calls.append(_tool_call(part["functionCall"]))
        elif isinstance(part.get("text"), str):
            (thoughts if part.get("thought") else texts).append(part["text"])
    message: JsonObject = {"role": "assistant", "content": "".join(texts) if texts else None}
    if thoughts:
        message["reasoning_content"] = "".join(thoughts)
    if calls:
        message["tool_calls"] = calls
    return {
        "index": candidate.get("index", position),
        "message": message,
        "finish_reason": _finish_reason(candidate.get("finishReason"), bool(calls)),
        "logprobs": None,
    }


class UpstreamStreamError(UpstreamUnavailable):
    """Gemini reported an error in the middle of a stream."""

    def __init__(self, status: str, message: str) -> None:
        super().__init__(message or "The upstream provider failed mid-stream.")
        self.upstream_status = status

    @property
    def recorded_message(self) -> str:
        # The upstream's text may quote the request; keep only what we know is safe.
        return f"upstream stream error ({self.upstream_status})"


def _stream_error(error: Any) -> UpstreamStreamError:
    if not isinstance(error, dict):
        return UpstreamStreamError("UNKNOWN", "")
    status, message = error.get("status"), error.get("message")
    return UpstreamStreamError(
        status if isinstance(status, str) else "UNKNOWN",
        message if isinstance(message, str) else "",
    )


class GeminiStreamToHub:
    """Gemini stream events as hub chunks. Each event is a GenerateContentResponse: parts
    go out as deltas (a function call whole, as Gemini sends it); finish reasons and the
    latest (running) usage are kept for `finish`. Candidate `index` is the choice index.
    The running usage becomes the stream's usage only once a finish reason arrived: a
    stream cut before that is estimated from what was delivered."""

    def __init__(self, model: str) -> None:
        self._model = model
        self._id = _new_response_id()
        self._created = int(time.time())
        self._identified = False
        # Tool calls so far, by choice index: their count numbers the next one.
        self._calls: dict[int, int] = {}
        self._finish_reasons: dict[int, str] = {}
        # Read only when needed: every chunk carries one, and only the last one counts.
        self._metadata: JsonObject | None = None

    @property
    def usage(self) -> TokenUsage | None:
        if self._metadata is None or not self._finish_reasons:
            return None
        return gemini_usage(self._metadata)

    def feed(self, event: bytes) -> list[JsonObject]:
        data = event_data(event)
        if not data.strip():
            return []
        doc = orjson.loads(data)
        if "error" in doc:
            raise _stream_error(doc["error"])
        if not self._identified:
            self._identified = True
            self._id = doc.get("responseId") or self._id
        if isinstance(doc.get("usageMetadata"), dict):
            self._metadata = doc["usageMetadata"]
        candidates = doc.get("candidates") or []
        if not candidates and _blocked(doc):
            self._finish_reasons[0] = "content_filter"
        return [
            chunk
            for position, candidate in enumerate(candidates)
            for chunk in self._candidate_chunks(candidate, candidate.get("index", position))
        ]

    def finish(self) -> list[JsonObject]:
        chunks = [
            self._chunk(index, finish_reason=reason)
            for index, reason in sorted(self._finish_reasons.items())
        ]
        usage = self.usage
        if usage is not None:
            chunks.append(hub_chunk(self._id, self._model, self._created, usage=hub_usage(usage)))
        return chunks

    def _candidate_chunks(self, candidate: JsonObject, index: int) -> list[JsonObject]:
        chunks: list[JsonObject] = []
        if index not in self._calls:
            self._calls[index] = 0
            chunks.append(self._chunk(index, delta={"role": "assistant", "content": ""}))
        for part in (candidate.get("content") or {}).get("parts") or []:
            delta = self._delta(part, index)
            if delta:
                chunks.append(self._chunk(index, delta=delta))
        if candidate.get("finishReason"):
            called = self._calls[index] > 0
            self._finish_reasons[index] = _finish_reason(candidate["finishReason"], called)
        return chunks

    def _delta(self, part: JsonObject, index: int) -> JsonObject | None:
        if "functionCall" in part:
            call = {"index": self._calls[index], **_tool_call(part["functionCall"])}
            self._calls[index] += 1
            return {"tool_calls": [call]}
        text = part.get("text")
        if not isinstance(text, str) or not text:
            return None
        return {"reasoning_content": text} if part.get("thought") else {"content": text}

    def _chunk(
        self, index: int, *, delta: JsonObject | None = None, finish_reason: str | None = None
    ) -> JsonObject:
        chunk = hub_chunk(
            self._id, self._model, self._created, delta=delta, finish_reason=finish_reason
        )
        chunk["choices"][0]["index"] = index
        return chunk
