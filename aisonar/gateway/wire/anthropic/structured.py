"""A hub `response_format` for an Anthropic upstream: structured outputs, or a forced tool.

- `json_schema`, to a model with structured outputs (the catalogue's `structured_output`):
  `output_config.format` `{"type": "json_schema", "schema": ...}`, the schema adjusted to
  what Anthropic enforces (`anthropic_schema`). The answer is the JSON in a text block.
- `json_object`, or `json_schema` to a model without structured outputs: a forced call of a
  tool named `JSON_TOOL` whose input schema is the one asked for (`{"type": "object"}` for
  `json_object`: Anthropic's structured outputs take no free-form object). The call's input
  comes back as the message's JSON text, finish reason `stop` (`is_json_tool`). Anthropic
  refuses a forced tool with thinking, so that combination is refused here.
- With the client's own tools the model may still call one of them: the choice becomes
  `any` (some tool, the JSON one included), unless the client forces a tool itself.
"""

from __future__ import annotations

from typing import Any

from aisonar.billing.output_limits import model_structured_output
from aisonar.gateway.errors import InvalidRequest
from aisonar.gateway.wire.hub import JsonObject, UnsupportedFeature

TARGET = "Anthropic"
# Reserved: the answer reader turns this tool's calls into text, so a client's tool of this
# name would be misread.
JSON_TOOL = "aisonar_json_answer"
_JSON_TOOL_DESCRIPTION = "Give your whole answer as this tool's input."
_FORMAT_TYPES = ("text", "json_object", "json_schema")

# What Anthropic's structured outputs enforce; other keywords go into the description,
# where the model can still read them.
_KEPT_KEYWORDS = frozenset(
    {
        "type",
        "description",
        "title",
        "properties",
        "required",
        "items",
        "enum",
        "const",
        "anyOf",
        "allOf",
        "$ref",
        "$defs",
        "definitions",
    }
)
_STRING_FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "uri", "ipv4", "ipv6", "uuid"}
)


def structured_request(hub: JsonObject, tools: list[JsonObject], thinking: bool) -> JsonObject:
    """The Messages fields that carry `hub["response_format"]` (none for `text`): an
    `output_config`, or `tools` (the client's `tools`, translated, plus the JSON tool) and
    `tool_choice`. `thinking`: whether the request thinks."""
    response_format = hub.get("response_format") or {"type": "text"}
    kind = response_format.get("type")
    if kind not in _FORMAT_TYPES:
        raise UnsupportedFeature("response_format.type", TARGET, f"`{kind}` response formats")
    if any(tool["name"] == JSON_TOOL for tool in tools):
        raise InvalidRequest(f"The tool name `{JSON_TOOL}` is reserved.", param="tools")
    if kind == "text":
        return {}
    structured = _structured_schema(hub)
    if structured is not None:
        output_format = {"type": "json_schema", "schema": anthropic_schema(structured)}
        return {"output_config": {"format": output_format}}
    spec = response_format.get("json_schema") or {}
    schema = (spec.get("schema") if kind == "json_schema" else None) or {"type": "object"}
    return _forced_tool(hub, tools, schema, spec.get("description"), thinking)


def _forced_tool(
    hub: JsonObject,
    tools: list[JsonObject],
    schema: Any,
    description: str | None,
    thinking: bool,
) -> JsonObject:
    if not isinstance(schema, dict) or schema.get("type", "object") != "object":
        detail = "without structured outputs a model answers JSON as a tool's input, an object"
        raise UnsupportedFeature("response_format", TARGET, detail)
    if thinking:
        detail = (
            "this model answers JSON through a forced tool call, which Anthropic does not "
            "allow with thinking"
        )
        raise UnsupportedFeature("response_format", TARGET, detail)
    choice = hub.get("tool_choice")
    forced_by_client = choice == "required" or isinstance(choice, dict)
    if tools and forced_by_client:
        # The answer is a call of the client's tool: there is no text for the format to shape.
        return {}
    json_tool = {
        "name": JSON_TOOL,
        "description": description or _JSON_TOOL_DESCRIPTION,
        "input_schema": schema,
    }
    if tools and choice != "none":
        tool_choice: JsonObject = {"type": "any"}
        if hub.get("parallel_tool_calls") is False:
            tool_choice["disable_parallel_tool_use"] = True
        return {"tools": [*tools, json_tool], "tool_choice": tool_choice}
    return {"tools": [*tools, json_tool], "tool_choice": {"type": "tool", "name": JSON_TOOL}}


def is_json_tool(name: str) -> bool:
    return name == JSON_TOOL


def anthropic_schema(schema: Any) -> Any:
    """`schema` as Anthropic's structured outputs take it: every object closed
    (`additionalProperties: false`, which Anthropic requires), `oneOf` read as `anyOf`,
    `minItems` kept when 0 or 1, a string `format` kept when Anthropic knows it; any other
    keyword (`minimum`, `maxLength`, `pattern`, ...) is appended to the description as
    `{keyword: value}`."""
    return _adjusted(schema, "", [])


def unenforced_keywords(hub: JsonObject) -> list[str]:
    """What Anthropic will not hold the answer to when `hub` goes out as structured outputs,
    by path in the schema (`properties.name.minLength`, `anyOf[1].pattern`): each keyword
    moved into a description, an open object's `additionalProperties`, a `oneOf` read as
    `anyOf` and a `$schema` left out. None for a request sent otherwise."""
    schema = _structured_schema(hub)
    notes: list[str] = []
    if schema is not None:
        _adjusted(schema, "", notes)
    return notes


def _structured_schema(hub: JsonObject) -> Any:
    """The JSON schema `hub` asks for when its model has structured outputs, else None."""
    response_format = hub.get("response_format")
    if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
        return None
    spec = response_format.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, dict) else None
    if schema is None or model_structured_output(hub["model"], "anthropic") is False:
        return None
    return schema


def _at(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _adjusted(schema: Any, path: str, notes: list[str]) -> Any:
    """`anthropic_schema` of the schema at `path`, noting in `notes` what it adjusts."""
    if not isinstance(schema, dict):
        return schema
    adjusted: JsonObject = {}
    moved: JsonObject = {}
    for key, value in schema.items():
        where = _at(path, key)
        if key in ("properties", "$defs", "definitions") and isinstance(value, dict):
            adjusted[key] = {
                name: _adjusted(sub, _at(where, name), notes) for name, sub in value.items()
            }
        elif key in ("anyOf", "oneOf", "allOf") and isinstance(value, list):
            if key == "oneOf":
                notes.append(where)
            adjusted["allOf" if key == "allOf" else "anyOf"] = [
                _adjusted(sub, f"{where}[{index}]", notes) for index, sub in enumerate(value)
            ]
        elif key == "items":
            adjusted[key] = _adjusted(value, where, notes)
        elif key == "additionalProperties":
            continue
        elif key == "$schema":
            notes.append(where)
        elif _kept(key, value):
            adjusted[key] = value
        else:
            moved[key] = value
            notes.append(where)
    if _is_object(schema):
        adjusted["additionalProperties"] = False
        extra = schema.get("additionalProperties")
        if extra not in (None, False):
            moved["additionalProperties"] = extra
            notes.append(_at(path, "additionalProperties"))
    if moved:
        note = "{" + ", ".join(f"{key}: {value}" for key, value in moved.items()) + "}"
        described = adjusted.get("description")
        adjusted["description"] = f"{described}\n\n{note}" if described else note
    return adjusted


def _kept(key: str, value: Any) -> bool:
    if key == "minItems":
        return value in (0, 1)
    if key == "format":
        return value in _STRING_FORMATS
    return key in _KEPT_KEYWORDS


def _is_object(schema: JsonObject) -> bool:
    kind = schema.get("type")
    return (
        kind == "object"
        or (isinstance(kind, list) and "object" in kind)
        or (kind is None and "properties" in schema)
    )
