"""Converse answers read back into the hub: a whole answer (`converse`), and a ConverseStream
answer, an AWS event stream (`application/vnd.amazon.eventstream`: binary frames, each a
prelude, headers, a JSON payload and CRC32 checksums), decoded with botocore's
`EventStreamBuffer` and turned into hub chunks frame by frame.

A stream's frames: `messageStart`, then per content block `contentBlockStart` (tool calls
only), `contentBlockDelta`s and `contentBlockStop`, then `messageStop` (the stop reason) and
`metadata` (the usage). An `exception` frame (`throttlingException`, ...) ends the stream."""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

import orjson
from botocore.eventstream import EventStreamBuffer, EventStreamMessage, ParserError

from aisonar.gateway.errors import UnreadableUpstream, UpstreamUnavailable
from aisonar.gateway.wire.bedrock.format import converse_usage, finish_reason
from aisonar.gateway.wire.hub import JsonObject, hub_chunk, hub_usage
from aisonar.token_usage import TokenUsage


class UpstreamStreamError(UpstreamUnavailable):
    """Bedrock sent an exception frame in the middle of a stream."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"The upstream provider failed mid-stream ({kind}): {message}")
        self.upstream_kind = kind

    @property
    def recorded_message(self) -> str:
        # The upstream's text may quote the request; keep only what we know is safe.
        return f"upstream stream error ({self.upstream_kind})"


def _response_id() -> str:
    # Converse answers carry no id of their own (the request id is a header).
    return f"chatcmpl-{uuid.uuid4().hex}"


def converse_response_to_hub(doc: JsonObject, model: str) -> JsonObject:
    """A Converse answer as a hub `chat.completion`."""
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[JsonObject] = []
    for block in doc["output"]["message"]["content"]:
        if "text" in block:
            texts.append(block["text"])
        elif "toolUse" in block:
            use = block["toolUse"]
            arguments = orjson.dumps(use["input"]).decode()
            function = {"name": use["name"], "arguments": arguments}
            calls.append({"id": use["toolUseId"], "type": "function", "function": function})
        elif "reasoningContent" in block:
            thoughts.append(block["reasoningContent"].get("reasoningText", {}).get("text", ""))
    message: JsonObject = {
        "role": "assistant",
        "content": None if calls and not texts else "".join(texts),
    }
    if any(thoughts):
        message["reasoning_content"] = "".join(thoughts)
    if calls:
        message["tool_calls"] = calls
    choice = {"index": 0, "message": message, "finish_reason": finish_reason(doc["stopReason"])}
    hub: JsonObject = {
        "id": _response_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [choice],
    }
    if isinstance(doc.get("usage"), dict):
        hub["usage"] = hub_usage(converse_usage(doc["usage"]))
    return hub


class ConverseStreamToHub:
    """ConverseStream bytes in, hub chunks out: a `RawStreamReader`, it takes the bytes as
    they arrive, in pieces of any size, and frames them itself.

    `usage` stays None until the `metadata` frame: a stream cut before it is estimated."""

    raw_stream: Literal[True] = True

    def __init__(self, model: str) -> None:
        self.usage: TokenUsage | None = None
        self._buffer = EventStreamBuffer()
        self._id = _response_id()
        self._model = model
        self._created = int(time.time())
        self._stop_reason: str | None = None
        # Converse's content block index -> the hub's tool-call index.
        self._tool_indexes: dict[int, int] = {}
        self._ended = False
        # An exception frame, raised once what came before it in the same bytes is out.
        self._failure: UpstreamStreamError | None = None

    def feed(self, data: bytes) -> list[JsonObject]:
        self._raise_failure()
        self._buffer.add_data(data)
        chunks: list[JsonObject] = []
        try:
            for message in self._buffer:
                if self._failure is not None:
                    break
                chunks.extend(self._frame(message))
        except ParserError as error:
            raise UnreadableUpstream() from error
        if self._failure is not None and not chunks:
            self._raise_failure()
        return chunks

    def finish(self) -> list[JsonObject]:
        """What is owed when the stream ended: its exception, or, for a stream that stopped
        but lost its metadata frame (complete in substance), its end (its usage is then
        estimated)."""
        self._raise_failure()
        return self._end() if self._stop_reason is not None else []

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure

    def _frame(self, message: EventStreamMessage) -> list[JsonObject]:
        headers = message.headers
        kind = headers.get(":message-type")
        if kind == "exception" or kind == "error":
            name = headers.get(":exception-type") or headers.get(":error-code") or "error"
            text = _payload(message.payload).get("message") or headers.get(":error-message", "")
            self._failure = UpstreamStreamError(str(name), str(text))
            return []
        payload = _payload(message.payload)
        match headers.get(":event-type"):
            case "messageStart":
                return [self._chunk({"role": "assistant", "content": ""})]
            case "contentBlockStart":
                return self._block_start(payload["contentBlockIndex"], payload["start"])
            case "contentBlockDelta":
                return self._block_delta(payload["contentBlockIndex"], payload["delta"])
            case "messageStop":
                self._stop_reason = payload["stopReason"]
                return []
            case "metadata":
                self.usage = converse_usage(payload["usage"])
                return self._end()
        # contentBlockStop and events newer than this reader: nothing to pass on.
        return []

    def _chunk(self, delta: JsonObject | None = None, finish: str | None = None) -> JsonObject:
        return hub_chunk(self._id, self._model, self._created, delta=delta, finish_reason=finish)

    def _block_start(self, index: int, start: JsonObject) -> list[JsonObject]:
        use = start.get("toolUse")
        if use is None:
            return []
        tool_index = self._tool_indexes[index] = len(self._tool_indexes)
        call = {
            "index": tool_index,
            "id": use["toolUseId"],
            "type": "function",
            "function": {"name": use["name"], "arguments": ""},
        }
        return [self._chunk({"tool_calls": [call]})]

    def _block_delta(self, index: int, delta: JsonObject) -> list[JsonObject]:
        if "text" in delta:
            return [self._chunk({"content": delta["text"]})] if delta["text"] else []
        if "toolUse" in delta and delta["toolUse"].get("input"):
            piece = {
                "index": self._tool_indexes[index],
                "function": {"arguments": delta["toolUse"]["input"]},
            }
            return [self._chunk({"tool_calls": [piece]})]
        reasoning = delta.get("reasoningContent") or {}
        if reasoning.get("text"):
            return [self._chunk({"reasoning_content": reasoning["text"]})]
        # Signatures, redacted reasoning, citations: nothing to pass on.
        return []

    def _end(self) -> list[JsonObject]:
        if self._ended:
            return []
        self._ended = True
        chunks = [self._chunk(finish=finish_reason(self._stop_reason))]
        if self.usage is not None:
            usage = hub_usage(self.usage)
            chunks.append(hub_chunk(self._id, self._model, self._created, usage=usage))
        return chunks


def _payload(payload: bytes) -> Any:
    return orjson.loads(payload) if payload else {}
