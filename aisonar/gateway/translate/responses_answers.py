"""Hub answers and stream chunks rendered as OpenAI Responses, for clients of
`POST /v1/responses` whose model another format serves (their requests: `responses_inbound`).

An answer's thinking becomes a `reasoning` item with a summary (no encrypted content: the
gateway has none to give), its text an output `message`, its tool calls `function_call`
items named as the client named them. A stream follows OpenAI's event sequence: the
Response created and in progress, each item added, its parts and deltas, done, and the
Response completed (or incomplete) with its usage; every event has its `sequence_number`."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import orjson

from aisonar.gateway.formats.responses import responses_usage_block
from aisonar.gateway.translate.hub import JsonObject, usage_from_hub
from aisonar.gateway.translate.responses_inbound import ToolNames

# Request fields a Response shows, with the value it shows when the request has none.
_ECHOED: JsonObject = {
    "instructions": None,
    "max_output_tokens": None,
    "max_tool_calls": None,
    "metadata": {},
    "parallel_tool_calls": True,
    "previous_response_id": None,
    "prompt_cache_key": None,
    "reasoning": {"effort": None, "summary": None},
    "safety_identifier": None,
    "temperature": None,
    "text": {"format": {"type": "text"}},
    "tool_choice": "auto",
    "tools": [],
    "top_p": None,
    "truncation": "disabled",
    "user": None,
}
_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}


def _item_id(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


@dataclass(frozen=True, slots=True)
class ResponseFrame:
    """What every state of one Response shows of its request."""

    model: str
    names: ToolNames
    echoed: JsonObject

    @classmethod
    def of(cls, document: JsonObject, model: str, names: ToolNames) -> ResponseFrame:
        echoed = {
            name: document[name] if document.get(name) is not None else default
            for name, default in _ECHOED.items()
        }
        return cls(model, names, echoed)

    def response(
        self,
        response_id: str,
        created_at: int,
        status: str,
        output: list[JsonObject],
        usage: JsonObject | None,
        reason: str | None = None,
    ) -> JsonObject:
        return {
            "id": response_id,
            "object": "response",
            "created_at": created_at,
            "status": status,
            "background": False,
            "error": None,
            "incomplete_details": {"reason": reason} if status == "incomplete" else None,
            "model": self.model,
            "output": output,
            **self.echoed,
            "service_tier": "default",
            "store": False,
            "usage": _usage(usage),
        }

    def function_call(
        self, call_id: str, name: str, arguments: str, status: str, item_id: str | None = None
    ) -> JsonObject:
        namespace, original = self.names.original(name)
        item: JsonObject = {
            "id": item_id or _item_id("fc_"),
            "type": "function_call",
            "status": status,
            "arguments": arguments,
            "call_id": call_id,
            "name": original,
        }
        if namespace is not None:
            item["namespace"] = namespace
        return item


def _usage(hub: JsonObject | None) -> JsonObject | None:
    return responses_usage_block(usage_from_hub(hub)) if isinstance(hub, dict) else None


def _status(finish_reason: str | None) -> tuple[str, str | None]:
    """The Response's status for a hub finish reason, and why it is incomplete."""
    if finish_reason in _INCOMPLETE:
        return "incomplete", _INCOMPLETE[finish_reason]
    if finish_reason is None:
        return "incomplete", None
    return "completed", None


def _reasoning_item(item_id: str, text: str, status: str) -> JsonObject:
    summary = [{"type": "summary_text", "text": text}] if text else []
    return {"id": item_id, "type": "reasoning", "summary": summary, "status": status}


def _text_part(text: str) -> JsonObject:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _message_item(item_id: str, parts: list[JsonObject], status: str) -> JsonObject:
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": parts,
    }


def hub_response_to_responses(hub: JsonObject, frame: ResponseFrame) -> JsonObject:
    # An answer with no choice (every candidate blocked) is an empty, incomplete one.
    choice: JsonObject = next(iter(hub.get("choices") or []), {})
    message = choice.get("message") or {}
    status, reason = _status(choice.get("finish_reason"))
    output: list[JsonObject] = []
    if message.get("reasoning_content"):
        output.append(_reasoning_item(_item_id("rs_"), message["reasoning_content"], status))
    parts = [_text_part(message["content"])] if message.get("content") else []
    if message.get("refusal"):
        parts.append({"type": "refusal", "refusal": message["refusal"]})
    if parts:
        output.append(_message_item(_item_id("msg_"), parts, status))
    for call in message.get("tool_calls") or []:
        function = call["function"]
        arguments = function.get("arguments") or ""
        output.append(frame.function_call(call["id"], function["name"], arguments, status))
    return frame.response(
        "resp_" + str(hub.get("id") or secrets.token_hex(16)),
        int(hub.get("created") or time.time()),
        status,
        output,
        hub.get("usage"),
        reason,
    )


# --- streams ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Open:
    """An output item being streamed."""

    kind: str
    item_id: str
    index: int
    text: str = ""
    # function calls only
    call_id: str = ""
    name: str = ""


class HubToResponsesStream:
    """Hub chunks in, Responses stream events out."""

    def __init__(self, frame: ResponseFrame) -> None:
        self._frame = frame
        self._id = _item_id("resp_")
        self._created_at = int(time.time())
        self._sequence = 0
        self._started = False
        self._output: list[JsonObject] = []
        self._open: list[_Open] = []
        # The hub's tool-call index -> its open item.
        self._calls: dict[int, _Open] = {}
        self._finish_reason: str | None = None
        self._usage: JsonObject | None = None

    def _event(self, kind: str, **fields: Any) -> bytes:
        data = {"type": kind, **fields, "sequence_number": self._sequence}
        self._sequence += 1
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"

    def _start(self) -> list[bytes]:
        if self._started:
            return []
        self._started = True
        response = self._frame.response(self._id, self._created_at, "in_progress", [], None)
        return [
            self._event("response.created", response=response),
            self._event("response.in_progress", response=response),
        ]

    def feed(self, chunk: JsonObject) -> bytes:
        events = self._start()
        if isinstance(chunk.get("usage"), dict):
            self._usage = chunk["usage"]
        for choice in chunk.get("choices") or []:
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if delta.get("reasoning_content"):
                events.extend(self._reasoning(delta["reasoning_content"]))
            for name in ("content", "refusal"):
                if delta.get(name):
                    events.extend(self._text(delta[name]))
            for piece in delta.get("tool_calls") or []:
                events.extend(self._call(piece))
            if choice.get("finish_reason"):
                self._finish_reason = choice["finish_reason"]
        return b"".join(events)

    def finish(self) -> bytes:
        events = self._start()
        status, reason = _status(self._finish_reason)
        events.extend(self._close_all(status))
        response = self._frame.response(
            self._id, self._created_at, status, self._output, self._usage, reason
        )
        events.append(self._event("response." + status, response=response))
        return b"".join(events)

    # --- items ---------------------------------------------------------------------------

    def _open_item(self, kind: str, prefix: str, item: JsonObject) -> tuple[_Open, bytes]:
        opened = _Open(kind, str(item.get("id") or _item_id(prefix)), len(self._output))
        item = {**item, "id": opened.item_id}
        self._output.append(item)
        self._open.append(opened)
        added = self._event("response.output_item.added", output_index=opened.index, item=item)
        return opened, added

    def _current(self, kind: str) -> _Open | None:
        """The open item a delta of `kind` continues; others are closed first."""
        if len(self._open) == 1 and self._open[0].kind == kind:
            return self._open[0]
        return None

    def _reasoning(self, text: str) -> list[bytes]:
        events: list[bytes] = []
        item = self._current("reasoning")
        if item is None:
            events.extend(self._close_all("completed"))
            item, added = self._open_item(
                "reasoning", "rs_", _reasoning_item("", "", "in_progress")
            )
            part = {"type": "summary_text", "text": ""}
            events += [
                added,
                self._event(
                    "response.reasoning_summary_part.added",
                    **self._where(item, summary_index=0),
                    part=part,
                ),
            ]
        item.text += text
        events.append(
            self._event(
                "response.reasoning_summary_text.delta",
                **self._where(item, summary_index=0),
                delta=text,
            )
        )
        return events

    def _text(self, text: str) -> list[bytes]:
        events: list[bytes] = []
        item = self._current("message")
        if item is None:
            events.extend(self._close_all("completed"))
            item, added = self._open_item("message", "msg_", _message_item("", [], "in_progress"))
            where = self._where(item, content_index=0)
            events += [
                added,
                self._event("response.content_part.added", **where, part=_text_part("")),
            ]
        item.text += text
        where = self._where(item, content_index=0)
        events.append(self._event("response.output_text.delta", **where, delta=text, logprobs=[]))
        return events

    def _call(self, piece: JsonObject) -> list[bytes]:
        events: list[bytes] = []
        function = piece.get("function") or {}
        index = piece.get("index", 0)
        item = self._calls.get(index)
        if item is None or (piece.get("id") and piece["id"] != item.call_id):
            if any(opened.kind != "function_call" for opened in self._open):
                events.extend(self._close_all("completed"))
            call_id, name = str(piece.get("id") or _item_id("call_")), function.get("name") or ""
            shown = self._frame.function_call(call_id, name, "", "in_progress")
            item, added = self._open_item("function_call", "fc_", shown)
            item.call_id, item.name = call_id, name
            self._calls[index] = item
            events.append(added)
        arguments = function.get("arguments")
        if arguments and any(opened is item for opened in self._open):
            item.text += arguments
            events.append(
                self._event(
                    "response.function_call_arguments.delta", **self._where(item), delta=arguments
                )
            )
        return events

    @staticmethod
    def _where(item: _Open, **more: int) -> JsonObject:
        return {"item_id": item.item_id, "output_index": item.index, **more}

    def _close_all(self, status: str) -> list[bytes]:
        events: list[bytes] = []
        for item in self._open:
            events.extend(self._close(item, status))
        self._open.clear()
        return events

    def _close(self, item: _Open, status: str) -> list[bytes]:
        if item.kind == "reasoning":
            where = self._where(item, summary_index=0)
            part = {"type": "summary_text", "text": item.text}
            done = _reasoning_item(item.item_id, item.text, status)
            events = [
                self._event("response.reasoning_summary_text.done", **where, text=item.text),
                self._event("response.reasoning_summary_part.done", **where, part=part),
            ]
        elif item.kind == "message":
            where = self._where(item, content_index=0)
            part = _text_part(item.text)
            done = _message_item(item.item_id, [part], status)
            events = [
                self._event("response.output_text.done", **where, text=item.text, logprobs=[]),
                self._event("response.content_part.done", **where, part=part),
            ]
        else:
            done = self._frame.function_call(
                item.call_id, item.name, item.text, status, item.item_id
            )
            events = [
                self._event(
                    "response.function_call_arguments.done",
                    **self._where(item),
                    arguments=item.text,
                )
            ]
        self._output[item.index] = done
        events.append(self._event("response.output_item.done", output_index=item.index, item=done))
        return events
