"""Hub stream chunks rendered as an OpenAI Responses stream (whole answers:
`answers`), in OpenAI's event sequence: the Response created and in progress,
each output item added, its parts and deltas, done, and the Response completed (or
incomplete) with its usage; every event has its `sequence_number`. Items follow each other:
a reasoning summary, the text, the function calls (which may stream side by side)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import orjson

from aisonar.errors import AISonarError
from aisonar.gateway.wire.hub import JsonObject
from aisonar.gateway.wire.responses.answers import (
    ResponseFrame,
    message_item,
    new_item_id,
    reasoning_item,
    response_status,
    text_part,
)
from aisonar.gateway.wire.responses.compaction import compaction_item
from aisonar.gateway.wire.responses.format import responses_error_fields


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
        self._id = new_item_id("resp_")
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
            events.extend(self._delta(choice.get("delta") or {}))
            if choice.get("finish_reason"):
                self._finish_reason = choice["finish_reason"]
        return b"".join(events)

    def _delta(self, delta: JsonObject) -> list[bytes]:
        events: list[bytes] = []
        if delta.get("reasoning_content"):
            events.extend(self._reasoning(delta["reasoning_content"]))
        for name in ("content", "refusal"):
            if delta.get(name):
                events.extend(self._text(delta[name]))
        for piece in delta.get("tool_calls") or []:
            events.extend(self._call(piece))
        return events

    def finish(self) -> bytes:
        events = self._start()
        status, reason = response_status(self._finish_reason)
        events.extend(self._close_all(status))
        response = self._frame.response(
            self._id, self._created_at, status, self._output, self._usage, reason
        )
        events.append(self._event("response." + status, response=response))
        return b"".join(events)

    def fail(self, error: AISonarError) -> bytes:
        """The events that end the stream when `error` broke it off."""
        events = self._start()
        events.extend(self._close_all("incomplete"))
        code = error.code or "server_error"
        failure = {"code": code, "message": error.message}
        response = self._frame.response(
            self._id, self._created_at, "failed", self._output, self._usage, error=failure
        )
        events.append(self._event("response.failed", response=response))
        events.append(self._event("error", **responses_error_fields(error)))
        return b"".join(events)

    # --- items ---------------------------------------------------------------------------

    def _open_item(self, kind: str, prefix: str, item: JsonObject) -> tuple[_Open, bytes]:
        opened = _Open(kind, str(item.get("id") or new_item_id(prefix)), len(self._output))
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
            item, added = self._open_item("reasoning", "rs_", reasoning_item("", "", "in_progress"))
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
            item, added = self._open_item("message", "msg_", message_item("", [], "in_progress"))
            where = self._where(item, content_index=0)
            events += [
                added,
                self._event("response.content_part.added", **where, part=text_part("")),
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
            call_id, name = str(piece.get("id") or new_item_id("call_")), function.get("name") or ""
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
            done = reasoning_item(item.item_id, item.text, status)
            events = [
                self._event("response.reasoning_summary_text.done", **where, text=item.text),
                self._event("response.reasoning_summary_part.done", **where, part=part),
            ]
        elif item.kind == "message":
            where = self._where(item, content_index=0)
            part = text_part(item.text)
            done = message_item(item.item_id, [part], status)
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


class HubToCompactionStream(HubToResponsesStream):
    """Codex's compaction (`compaction`): the summary the model streams is held
    back and given, once it is whole, as the Response's one `compaction` item; thinking and
    tool calls are left out. A summary cut short (or broken off) gives no item."""

    def __init__(self, frame: ResponseFrame) -> None:
        super().__init__(frame)
        self._summary: list[str] = []

    def _delta(self, delta: JsonObject) -> list[bytes]:
        if delta.get("content"):
            self._summary.append(delta["content"])
        return []

    def _close_all(self, status: str) -> list[bytes]:
        if status != "completed":
            return []
        item = compaction_item("".join(self._summary))
        index = len(self._output)
        self._output.append(item)
        return [
            self._event("response.output_item.added", output_index=index, item=item),
            self._event("response.output_item.done", output_index=index, item=item),
        ]
