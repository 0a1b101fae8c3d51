"""Hub answers and stream chunks rendered as OpenAI Responses, for clients of
`POST /v1/responses` whose model another format serves (their requests: `hub_client`).

An answer's thinking becomes a `reasoning` item with a summary (no encrypted content: the
gateway has none to give), its text an output `message`, its tool calls `function_call`
items named as the client named them. Streams: `stream`."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from aisonar.gateway.wire.hub import JsonObject, usage_from_hub
from aisonar.gateway.wire.responses.compaction import compaction_item
from aisonar.gateway.wire.responses.format import responses_usage_block
from aisonar.gateway.wire.responses.hub_client import ToolNames

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


def new_item_id(prefix: str) -> str:
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
        error: JsonObject | None = None,
    ) -> JsonObject:
        """The Response; a failed one (`status` "failed") says why in `error`: its `code`
        and `message`."""
        return {
            "id": response_id,
            "object": "response",
            "created_at": created_at,
            "status": status,
            "background": False,
            "error": error,
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
            "id": item_id or new_item_id("fc_"),
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


def response_status(finish_reason: str | None) -> tuple[str, str | None]:
    """The Response's status for a hub finish reason, and why it is incomplete."""
    if finish_reason in _INCOMPLETE:
        return "incomplete", _INCOMPLETE[finish_reason]
    if finish_reason is None:
        return "incomplete", None
    return "completed", None


def reasoning_item(item_id: str, text: str, status: str) -> JsonObject:
    summary = [{"type": "summary_text", "text": text}] if text else []
    return {"id": item_id, "type": "reasoning", "summary": summary, "status": status}


def text_part(text: str) -> JsonObject:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def message_item(item_id: str, parts: list[JsonObject], status: str) -> JsonObject:
    return {
        "id": item_id,
        "type": "message",
        "role": "assistant",
        "status": status,
        "content": parts,
    }


def hub_response_to_responses(
    hub: JsonObject, frame: ResponseFrame, *, compacting: bool = False
) -> JsonObject:
    """The Response of a hub answer; of Codex's compaction (`compacting`), the answer's text
    as one compaction item (`compaction`)."""
    # An answer with no choice (every candidate blocked) is an empty, incomplete one.
    choice: JsonObject = next(iter(hub.get("choices") or []), {})
    message = choice.get("message") or {}
    status, reason = response_status(choice.get("finish_reason"))
    output: list[JsonObject] = []
    if compacting:
        if status == "completed":
            output.append(compaction_item(message.get("content") or ""))
    else:
        output.extend(_answer_items(message, frame, status))
    return frame.response(
        "resp_" + str(hub.get("id") or secrets.token_hex(16)),
        int(hub.get("created") or time.time()),
        status,
        output,
        hub.get("usage"),
        reason,
    )


def _answer_items(message: JsonObject, frame: ResponseFrame, status: str) -> list[JsonObject]:
    """A hub answer's thinking, text and tool calls as output items."""
    output: list[JsonObject] = []
    if message.get("reasoning_content"):
        output.append(reasoning_item(new_item_id("rs_"), message["reasoning_content"], status))
    parts = [text_part(message["content"])] if message.get("content") else []
    if message.get("refusal"):
        parts.append({"type": "refusal", "refusal": message["refusal"]})
    if parts:
        output.append(message_item(new_item_id("msg_"), parts, status))
    for call in message.get("tool_calls") or []:
        function = call["function"]
        arguments = function.get("arguments") or ""
        output.append(frame.function_call(call["id"], function["name"], arguments, status))
    return output
