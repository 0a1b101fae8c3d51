"""OpenAI Responses requests (`POST /v1/responses`) as hub requests, for upstreams of
another format (their answers: `answers`).

Choices:
- The gateway stores no content, so what needs a stored Response, conversation, prompt or
  file is refused with a 400 that asks for the whole conversation instead
  (`previous_response_id`, `conversation`, `store: true`, `background`, `prompt`,
  `item_reference` items, `file_id`s).
- Function tools are translated; a `namespace` tool's functions become functions named
  `<namespace>__<name>`, and their calls are named back on the way out (`ToolNames`).
  Hosted tools (`web_search`, `file_search`, ...) run only at OpenAI: they are dropped, and
  so are OpenAI's encrypted `compaction` items and other hints the upstream cannot follow;
  each is named in `dropped` (then in the response's `x-aisonar-dropped-fields` header,
  see `delivery`).
- Codex's `compaction_trigger` makes the request a compaction (`compaction`): the
  trigger asks for a summary, no tool may be called, and the answer is a `compaction` item;
  such an item of the gateway's own is its summary again, as a user message.
- Reasoning items are not sent back (their encrypted content is OpenAI's alone), and
  `include` (`["reasoning.encrypted_content"]` from Codex) is answered without, named.
- Delivery-only fields (`metadata`, `store: false`, `service_tier`, `stream_options`,
  `user`, the prompt cache's) go to the hub, where `delivery` drops and names those the
  provider lacks; Codex's `client_metadata` is dropped and named here.
Any other field is refused by name, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aisonar.gateway.errors import InvalidRequest
from aisonar.gateway.wire.hub import (
    SHAPE_ERRORS,
    JsonObject,
    UnsupportedFeature,
    malformed,
    present,
)
from aisonar.gateway.wire.responses.compaction import (
    COMPACTION_PROMPT,
    summary_message,
    summary_of,
)

TARGET = "this model's provider"
# Joins a namespace and one of its functions into the one name the upstream sees.
NAMESPACE_SEPARATOR = "__"

_SEND_WHOLE_CONVERSATION = (
    "The gateway stores no conversations: send the whole conversation in `input` "
    "(with `store: false`) instead of {what}."
)
_STORED = {
    "previous_response_id": "a `previous_response_id`",
    "conversation": "a `conversation`",
    "prompt": "a stored `prompt`",
}
# Copied to the hub as they are; the delivery-only ones among them (`delivery`) are dropped
# and named there for a provider without them.
_COPIED = (
    *("temperature", "top_p", "stream", "user", "safety_identifier", "metadata", "store"),
    *("service_tier", "stream_options", "prompt_cache_key", "prompt_cache_retention"),
)
_READ = frozenset(
    {
        *("model", "input", "instructions", "max_output_tokens", "tools", "tool_choice"),
        *("parallel_tool_calls", "text", "reasoning", "include", "background", "truncation"),
        *("max_tool_calls", "top_logprobs", "client_metadata"),
        *_COPIED,
    }
)
_ROLES = frozenset({"user", "assistant", "system", "developer"})
_TEXT_PARTS = frozenset({"input_text", "output_text", "text"})


@dataclass(slots=True)
class ToolNames:
    """Flattened function names of namespace tools -> (namespace, function name)."""

    namespaced: dict[str, tuple[str, str]] = field(default_factory=dict)

    def flatten(self, namespace: str, name: str) -> str:
        flat = f"{namespace}{NAMESPACE_SEPARATOR}{name}"
        self.namespaced[flat] = (namespace, name)
        return flat

    def original(self, name: str) -> tuple[str | None, str]:
        """The namespace (if any) and name the client knows a function by."""
        namespace, original = self.namespaced.get(name, (None, name))
        return namespace, original


@dataclass(slots=True)
class HubRequest:
    """A Responses request as a hub request, with what was dropped on the way."""

    hub: JsonObject
    names: ToolNames
    dropped: list[str]
    # Codex's compaction: the answer is one `compaction` item (`compaction`).
    compacting: bool = False


def responses_request_to_hub(document: JsonObject) -> HubRequest:
    """The hub request for a Responses request; refuses what needs stored state or what
    cannot be expressed, names what is dropped."""
    try:
        return _Converter(present(document)).convert()
    except SHAPE_ERRORS as error:
        raise malformed(error) from None


# Hub fields an upstream may refuse, by the names the client sent them under.
_RESPONSES_NAMES = {
    "response_format": "text.format",
    "reasoning_effort": "reasoning.effort",
    "max_tokens": "max_output_tokens",
}


def client_names(fields: list[str]) -> list[str]:
    """Dropped hub fields by the names the client sent them under."""
    return [_RESPONSES_NAMES.get(name, name) for name in fields]


def upstream_request(build: Callable[[JsonObject], bytes], hub: JsonObject) -> bytes:
    """`build(hub)`, its refusals naming the fields as the client sent them."""
    try:
        return build(hub)
    except UnsupportedFeature as error:
        name = _RESPONSES_NAMES.get(error.param or "")
        if name is None:
            raise
        message = error.message.replace(f"`{error.param}`", f"`{name}`", 1)
        raise InvalidRequest(message, param=name) from None


def _text_of(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise InvalidRequest(f"`{where}` must be a string.", param=where)
    return value


class _Converter:
    def __init__(self, document: JsonObject) -> None:
        self.document = document
        self.names = ToolNames()
        self.dropped: list[str] = []
        self.messages: list[JsonObject] = []
        self.compacting = False

    def convert(self) -> HubRequest:
        document = self.document
        self._refuse_stored_state()
        for key in document:
            if key not in _READ and key not in _STORED:
                raise UnsupportedFeature(key, TARGET)
        hub: JsonObject = {"model": document["model"]}
        if document.get("instructions"):
            text = _text_of(document["instructions"], "instructions")
            self.messages.append({"role": "system", "content": text})
        self._input(document.get("input", ""))
        if all(message["role"] in ("system", "developer") for message in self.messages):
            raise InvalidRequest("`input` has nothing to answer.", param="input")
        hub["messages"] = self.messages
        for name in _COPIED:
            if name in document:
                hub[name] = document[name]
        if "max_output_tokens" in document:
            hub["max_tokens"] = document["max_output_tokens"]
        hub.update(self._tools())
        if self.compacting and "tools" in hub:
            # The tools stay (Anthropic wants the calls in the conversation declared), uncalled.
            hub["tool_choice"] = "none"
        hub.update(self._text(document.get("text")))
        effort = (document.get("reasoning") or {}).get("effort")
        if effort is not None:
            hub["reasoning_effort"] = effort
        self._hints()
        return HubRequest(hub, self.names, self.dropped, self.compacting)

    def _refuse_stored_state(self) -> None:
        for name, what in _STORED.items():
            if name in self.document:
                raise InvalidRequest(_SEND_WHOLE_CONVERSATION.format(what=what), param=name)
        if self.document.get("store") is True:
            what = "`store: true` (nothing is stored to continue from)"
            raise InvalidRequest(_SEND_WHOLE_CONVERSATION.format(what=what), param="store")
        if self.document.get("background") is True:
            raise UnsupportedFeature("background", TARGET, "a background Response is stored")

    def _hints(self) -> None:
        """Options the upstream cannot follow that leave the answer usable: dropped, named."""
        document = self.document
        # What `include` asks for (OpenAI's encrypted reasoning, logprobs, hosted tools'
        # sources) no other provider gives.
        if document.get("include"):
            self.dropped.append("include")
        # Codex's tags for OpenAI's own records.
        if "client_metadata" in document:
            self.dropped.append("client_metadata")
        if document.get("truncation", "disabled") != "disabled":
            self.dropped.append("truncation")
        if "max_tool_calls" in document:
            self.dropped.append("max_tool_calls")
        if document.get("top_logprobs"):
            self.dropped.append("top_logprobs")

    # --- input ---------------------------------------------------------------------------

    def _input(self, items: Any) -> None:
        if isinstance(items, str):
            if items:
                self.messages.append({"role": "user", "content": items})
            return
        if not isinstance(items, list):
            raise InvalidRequest("`input` must be a string or a list of items.", param="input")
        for index, item in enumerate(items):
            where = f"input[{index}]"
            if not isinstance(item, dict):
                raise InvalidRequest(f"`{where}` must be an object.", param=where)
            self._item(present(item), where)

    def _item(self, item: JsonObject, where: str) -> None:
        kind = item.get("type", "message")
        if kind == "message":
            self._message(item, where)
        elif kind == "function_call":
            self._function_call(item, where)
        elif kind == "function_call_output":
            self.messages.append(
                {
                    "role": "tool",
                    "tool_call_id": _text_of(item["call_id"], f"{where}.call_id"),
                    "content": self._output(item["output"], f"{where}.output"),
                }
            )
        elif kind == "reasoning":
            return
        elif kind == "compaction_trigger":
            self.compacting = True
            self.messages.append({"role": "user", "content": COMPACTION_PROMPT})
        elif kind == "compaction":
            summary = summary_of(item)
            if summary is None:
                self.dropped.append(where)
            else:
                self.messages.append(summary_message(summary))
        elif kind == "item_reference":
            what = "an `item_reference`"
            raise InvalidRequest(_SEND_WHOLE_CONVERSATION.format(what=what), param=where)
        else:
            raise UnsupportedFeature(f"{where}.type", TARGET, f"`{kind}` items")

    def _message(self, item: JsonObject, where: str) -> None:
        role = item["role"]
        if role not in _ROLES:
            raise InvalidRequest(f"`{where}.role`: unknown role `{role}`.", param=where)
        content = item["content"]
        if not isinstance(content, str):
            content = [
                self._part(present(part), f"{where}.content[{i}]") for i, part in enumerate(content)
            ]
        if role != "assistant":
            self.messages.append({"role": role, "content": content})
            return
        if isinstance(content, list):
            if any(part["type"] != "text" for part in content):
                raise UnsupportedFeature(f"{where}.content", TARGET, "only text is allowed here")
            content = "".join(part["text"] for part in content)
        turn = self._assistant()
        turn["content"] = (turn["content"] or "") + content

    def _assistant(self) -> JsonObject:
        """The assistant turn that the next assistant text or call joins."""
        if not self.messages or self.messages[-1]["role"] != "assistant":
            self.messages.append({"role": "assistant", "content": ""})
        return self.messages[-1]

    def _part(self, part: JsonObject, where: str) -> JsonObject:
        kind = part.get("type")
        if kind in _TEXT_PARTS:
            return {"type": "text", "text": _text_of(part["text"], f"{where}.text")}
        if kind == "refusal":
            return {"type": "text", "text": _text_of(part["refusal"], f"{where}.refusal")}
        if kind == "input_image":
            if "image_url" not in part:
                what = "an image's `file_id` (send it as `image_url`)"
                raise InvalidRequest(_SEND_WHOLE_CONVERSATION.format(what=what), param=where)
            return {"type": "image_url", "image_url": {"url": part["image_url"]}}
        raise UnsupportedFeature(f"{where}.type", TARGET, f"`{kind}` content")

    def _function_call(self, item: JsonObject, where: str) -> None:
        name = _text_of(item["name"], f"{where}.name")
        if "namespace" in item:
            name = self.names.flatten(_text_of(item["namespace"], f"{where}.namespace"), name)
        call = {
            "id": _text_of(item["call_id"], f"{where}.call_id"),
            "type": "function",
            "function": {"name": name, "arguments": item.get("arguments", "")},
        }
        turn = self._assistant()
        turn.setdefault("tool_calls", []).append(call)
        if turn["content"] == "":
            turn["content"] = None

    def _output(self, output: Any, where: str) -> str | list[JsonObject]:
        if isinstance(output, str):
            return output
        if not isinstance(output, list):
            raise InvalidRequest(f"`{where}` must be a string or a list.", param=where)
        return [self._part(present(part), f"{where}[{i}]") for i, part in enumerate(output)]

    # --- tools and output ----------------------------------------------------------------

    def _tools(self) -> JsonObject:
        tools: list[JsonObject] = []
        for index, raw in enumerate(self.document.get("tools") or []):
            tool, where = present(raw), f"tools[{index}]"
            kind = tool.get("type")
            if kind == "function":
                tools.append(_function(tool, tool["name"]))
            elif kind == "namespace":
                tools.extend(self._namespace(tool, where))
            else:
                self.dropped.append(where)
        converted: JsonObject = {"tools": tools} if tools else {}
        choice = self.document.get("tool_choice")
        if tools and choice is not None:
            converted["tool_choice"] = _tool_choice(choice)
        if tools and "parallel_tool_calls" in self.document:
            converted["parallel_tool_calls"] = self.document["parallel_tool_calls"]
        return converted

    def _namespace(self, tool: JsonObject, where: str) -> list[JsonObject]:
        namespace = _text_of(tool["name"], f"{where}.name")
        functions: list[JsonObject] = []
        for index, raw in enumerate(tool.get("tools") or []):
            inner = present(raw)
            if inner.get("type") != "function":
                self.dropped.append(f"{where}.tools[{index}]")
                continue
            name = self.names.flatten(namespace, _text_of(inner["name"], f"{where}.name"))
            functions.append(_function(inner, name))
        return functions

    def _text(self, text: Any) -> JsonObject:
        if not isinstance(text, dict):
            return {}
        if text.get("verbosity") not in (None, "medium"):
            self.dropped.append("text.verbosity")
        output_format = present(text.get("format") or {"type": "text"})
        kind = output_format.get("type")
        if kind == "text":
            return {}
        if kind == "json_object":
            return {"response_format": {"type": "json_object"}}
        if kind == "json_schema":
            schema = {
                key: output_format[key]
                for key in ("name", "schema", "description", "strict")
                if key in output_format
            }
            return {"response_format": {"type": "json_schema", "json_schema": schema}}
        raise InvalidRequest(f"text.format: unknown type `{kind}`.", param="text.format")


def _function(tool: JsonObject, name: str) -> JsonObject:
    function: JsonObject = {"name": name}
    for key in ("description", "parameters", "strict"):
        if key in tool:
            function[key] = tool[key]
    return {"type": "function", "function": function}


def _tool_choice(choice: Any) -> str | JsonObject:
    if isinstance(choice, str):
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function":
        return {"type": "function", "function": {"name": choice["name"]}}
    kind = choice.get("type") if isinstance(choice, dict) else choice
    raise UnsupportedFeature("tool_choice", TARGET, f"`{kind}` tool choice")
