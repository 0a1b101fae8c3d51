"""Hub answers and stream chunks rendered as GenerateContentResponse documents, for
clients speaking Gemini generateContent (their requests: `hub_client`)."""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson

from aisonar.gateway.errors import UnreadableUpstream
from aisonar.gateway.wire.gemini.format import gemini_usage_metadata
from aisonar.gateway.wire.hub import JsonObject, usage_from_hub

_FINISH_REASONS = {
    "stop": "STOP",
    "length": "MAX_TOKENS",
    "tool_calls": "STOP",
    "function_call": "STOP",
    "content_filter": "SAFETY",
}


def hub_response_to_gemini(hub: JsonObject, model: str) -> JsonObject:
    response: JsonObject = {"candidates": [_candidate(choice) for choice in hub["choices"]]}
    if isinstance(hub.get("usage"), dict):
        response["usageMetadata"] = gemini_usage_metadata(usage_from_hub(hub["usage"]))
    response["modelVersion"] = model
    if hub.get("id"):
        response["responseId"] = hub["id"]
    return response


def _candidate(choice: JsonObject) -> JsonObject:
    candidate: JsonObject = {
        "content": {"role": "model", "parts": _answer_parts(choice["message"])}
    }
    if choice.get("finish_reason"):
        candidate["finishReason"] = _finish_reason(choice["finish_reason"])
    candidate["index"] = choice.get("index", 0)
    return candidate


def _finish_reason(reason: str) -> str:
    return _FINISH_REASONS.get(reason, "OTHER")


def _answer_parts(message: JsonObject) -> list[JsonObject]:
    parts: list[JsonObject] = []
    if message.get("reasoning_content"):
        parts.append({"text": message["reasoning_content"], "thought": True})
    for name in ("content", "refusal"):
        if message.get(name):
            parts.append({"text": message[name]})
    parts.extend(_function_call_part(call) for call in message.get("tool_calls") or [])
    return parts


def _function_call_part(call: JsonObject) -> JsonObject:
    function = call["function"]
    return {
        "functionCall": {
            "id": call["id"],
            "name": function["name"],
            "args": _arguments(function.get("arguments")),
        }
    }


def _arguments(text: str | None) -> JsonObject:
    """Gemini's args must be an object: an upstream's malformed arguments cannot be sent."""
    try:
        args = orjson.loads(text or "{}")
    except orjson.JSONDecodeError:
        raise UnreadableUpstream() from None
    if not isinstance(args, dict):
        raise UnreadableUpstream()
    return args


def _sse_event(document: JsonObject) -> bytes:
    return b"data: " + orjson.dumps(document) + b"\r\n\r\n"


@dataclass
class _PendingCall:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)

    def add(self, piece: JsonObject) -> None:
        function = piece.get("function") or {}
        self.id = piece.get("id") or self.id
        self.name = function.get("name") or self.name
        if function.get("arguments"):
            self.arguments.append(function["arguments"])

    def part(self) -> JsonObject:
        args = _arguments("".join(self.arguments))
        return {"functionCall": {"id": self.id, "name": self.name, "args": args}}


class HubToGeminiStream:
    """Hub chunks as Gemini stream events. Text and thoughts go out as they come; a tool
    call's arguments come in pieces, so calls go out whole once their choice finishes. The
    last event carries the finish reasons and the usage, which the hub sends after them."""

    def __init__(self, model: str) -> None:
        self._model = model
        self._response_id: str | None = None
        # Tool calls being received, by choice index then tool-call index.
        self._calls: dict[int, dict[int, _PendingCall]] = {}
        self._finish_reasons: dict[int, str] = {}
        self._usage: JsonObject | None = None
        self._done = False

    def feed(self, chunk: JsonObject) -> bytes:
        if self._done:
            return b""
        self._response_id = self._response_id or chunk.get("id")
        events = [
            event for choice in chunk.get("choices") or [] for event in self._choice_events(choice)
        ]
        if isinstance(chunk.get("usage"), dict):
            self._usage = chunk["usage"]
            if self._finish_reasons:
                events.append(self.finish())
        return b"".join(events)

    def finish(self) -> bytes:
        """The calls not sent yet, then the last event; nothing once the stream has ended."""
        if self._done:
            return b""
        self._done = True
        events = [self._calls_event(index) for index in sorted(self._calls)]
        if self._finish_reasons or self._usage is not None:
            events.append(self._last_event())
        return b"".join(events)

    def _choice_events(self, choice: JsonObject) -> list[bytes]:
        index: int = choice.get("index", 0)
        delta = choice.get("delta") or {}
        parts: list[JsonObject] = []
        if delta.get("reasoning_content"):
            parts.append({"text": delta["reasoning_content"], "thought": True})
        for name in ("content", "refusal"):
            if delta.get(name):
                parts.append({"text": delta[name]})
        for piece in delta.get("tool_calls") or []:
            calls = self._calls.setdefault(index, {})
            calls.setdefault(piece.get("index", 0), _PendingCall()).add(piece)
        events = [self._candidate_event(index, parts)] if parts else []
        if choice.get("finish_reason"):
            self._finish_reasons[index] = choice["finish_reason"]
            if index in self._calls:
                events.append(self._calls_event(index))
        return events

    def _calls_event(self, index: int) -> bytes:
        calls = self._calls.pop(index)
        return self._candidate_event(index, [calls[position].part() for position in sorted(calls)])

    def _candidate_event(self, index: int, parts: list[JsonObject]) -> bytes:
        return self._event([{"content": {"role": "model", "parts": parts}, "index": index}])

    def _last_event(self) -> bytes:
        candidates = [
            {
                # Google's last event carries an empty text too; code reading the first
                # part of every event keeps working.
                "content": {"role": "model", "parts": [{"text": ""}]},
                "finishReason": _finish_reason(reason),
                "index": index,
            }
            for index, reason in sorted(self._finish_reasons.items())
        ]
        usage = self._usage
        return self._event(
            candidates, gemini_usage_metadata(usage_from_hub(usage)) if usage is not None else None
        )

    def _event(self, candidates: list[JsonObject], usage: JsonObject | None = None) -> bytes:
        document: JsonObject = {}
        if candidates:
            document["candidates"] = candidates
        if usage is not None:
            document["usageMetadata"] = usage
        document["modelVersion"] = self._model
        if self._response_id:
            document["responseId"] = self._response_id
        return _sse_event(document)
