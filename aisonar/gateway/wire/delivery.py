"""The delivery-only rule: when a request is translated for another provider, a field that
changes how the answer is delivered, cached or accounted for (not what it is) and that the
target has no place for is dropped, and named in the `x-aisonar-dropped-fields` response
header. A field that would change the answer is refused instead (`UnsupportedFeature`).

The inbound translators drop their format's own such fields (Anthropic's `cache_control`,
`context_management`, ...) and record them in the hub request (`hub.note_dropped`);
Anthropic's `cache_control` on content is carried all the same to the providers that take
cache breakpoints (Bedrock's `cachePoint`), and only named for the others;
`drop_for_target` drops the hub fields the target provider lacks (`delivery_only` has
the table). docs/translation.md has the whole table.

The same header names the JSON-schema keywords an Anthropic model is not held to: its
structured outputs enforce a subset of JSON Schema, and the rest is moved into the schema's
descriptions (`anthropic/structured.py`), each named by its path in the client's own schema."""

from __future__ import annotations

from collections.abc import Mapping

from aisonar.gateway.http import Exchange
from aisonar.gateway.wire.anthropic.structured import unenforced_keywords
from aisonar.gateway.wire.delivery_only import lacked_by
from aisonar.gateway.wire.hub import (
    CARRIED_CACHE_HINTS,
    DROPPED,
    JsonObject,
    note_dropped,
    take_dropped,
)

DROPPED_FIELDS_HEADER = b"x-aisonar-dropped-fields"

# A hub field's name in each client format that names it otherwise.
_CLIENT_NAMES: Mapping[str, Mapping[str, str]] = {
    "anthropic": {
        "user": "metadata.user_id",
        "parallel_tool_calls": "tool_choice.disable_parallel_tool_use",
        "reasoning_effort": "output_config.effort",
    },
    "gemini": {"reasoning_effort": "generationConfig.thinkingConfig.thinkingLevel"},
}
# Where each client format puts the JSON schema of its structured output. A Gemini client's
# is `generationConfig.` and the field it used, which its translation gives the schema as
# its name (`responseSchema` or `responseJsonSchema`).
_SCHEMA_FIELDS: Mapping[str, str] = {
    "openai": "response_format.json_schema.schema",
    "responses": "text.format.schema",
}
_GEMINI_SCHEMA_FIELDS = frozenset({"responseSchema", "responseJsonSchema"})
# The providers whose translation turns a part's `prompt_cache_breakpoint` into theirs.
_TAKING_CACHE_BREAKPOINTS = frozenset({"anthropic", "bedrock"})


def drop_for_target(
    hub: JsonObject, client: str, provider: str, *, reasons: bool | None = None
) -> list[str]:
    """Every field dropped on the way from a `client` request to `provider`, by the client's
    names: those the inbound translation recorded, and the hub's delivery-only fields the
    provider lacks, now taken out of `hub`. A reasoning effort is a hint a model that does
    not reason (`reasons` False, from the catalogue) has no use for, and would refuse."""
    names = _CLIENT_NAMES.get(client, {})
    _carry_cache_hints(hub, provider)
    dropped = lacked_by(provider, hub)
    if reasons is False and hub.get("reasoning_effort") is not None:
        dropped.append("reasoning_effort")
    for field in dropped:
        del hub[field]
        note_dropped(hub, names.get(field, field))
    if provider == "anthropic":
        field = _schema_field(hub, client)
        note_dropped(hub, *(f"{field}.{path}" for path in unenforced_keywords(hub)))
    return take_dropped(hub)


def _carry_cache_hints(hub: JsonObject, provider: str) -> None:
    """The cache hints a client's translation carried (`hub.CARRIED_CACHE_HINTS`): no longer
    dropped for a provider taking cache breakpoints; for another, its parts and tools
    unmarked (a tool's output, marked in a part of its own, text again) and the hints stay
    named."""
    carried: list[str] = hub.pop(CARRIED_CACHE_HINTS, [])
    if not carried:
        return
    if provider in _TAKING_CACHE_BREAKPOINTS:
        hub[DROPPED] = [path for path in hub.get(DROPPED, []) if path not in carried]
        if not hub[DROPPED]:
            del hub[DROPPED]
        return
    for tool in hub.get("tools") or []:
        tool.pop("prompt_cache_breakpoint", None)
    for message in hub["messages"]:
        content = message.get("content")
        if not isinstance(content, list):
            continue
        for part in content:
            part.pop("prompt_cache_breakpoint", None)
        if message["role"] == "tool" and len(content) == 1 and content[0]["type"] == "text":
            message["content"] = content[0]["text"]


def _schema_field(hub: JsonObject, client: str) -> str:
    """Where the client sent the JSON schema of `hub["response_format"]`."""
    if client != "gemini":
        return _SCHEMA_FIELDS.get(client, _SCHEMA_FIELDS["openai"])
    name = (hub.get("response_format") or {}).get("json_schema", {}).get("name")
    return "generationConfig." + (name if name in _GEMINI_SCHEMA_FIELDS else "responseJsonSchema")


def show_dropped_fields(exchange: Exchange, fields: list[str]) -> None:
    """Name the dropped fields in the response's headers (sent before its first byte, on a
    stream too), replacing what an earlier attempt on another channel dropped."""
    headers = [pair for pair in exchange.extra_headers if pair[0] != DROPPED_FIELDS_HEADER]
    if fields:
        headers.append((DROPPED_FIELDS_HEADER, ", ".join(fields).encode()))
    exchange.extra_headers = headers
