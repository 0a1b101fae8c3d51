"""A value that satisfies a JSON schema, for the fake providers' structured answers and
tool calls: what a real model returns under a schema or a forced tool is valid against
it, so a client that validates the answer (LangChain, instructor, pydantic-ai) works
against the fake, and one that is sent the wrong schema fails.

Covers what structured outputs use: `$ref` into `$defs`/`definitions`, `anyOf`,
`oneOf`, `allOf`, `const`, `enum`, type lists, objects (every property, as strict mode
requires), arrays (`minItems`), strings (`format`, `minLength`, `maxLength`), numbers
within `minimum`/`maximum`, booleans and null; Gemini's OpenAPI schemas spell types in
capitals (`OBJECT`)."""

from __future__ import annotations

from typing import Any

_MAX_DEPTH = 12
# Past this depth an array without `minItems` is empty, so recursive schemas end.
_ARRAY_DEPTH = 4
_FORMATS = {
    "date": "2026-01-01",
    "date-time": "2026-01-01T00:00:00Z",
    "time": "00:00:00",
    "email": "echo@example.com",
    "uri": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


def schema_instance(schema: Any, text: str) -> Any:
    """A value valid against `schema`, its strings built from `text`."""
    root = schema if isinstance(schema, dict) else {}
    return _Builder(root, text).build(root, 0)


class _Builder:
    def __init__(self, root: dict[str, Any], text: str) -> None:
        self._root = root
        self._text = text

    def build(self, schema: Any, depth: int) -> Any:
        if not isinstance(schema, dict) or depth > _MAX_DEPTH:
            return None
        if "$ref" in schema:
            return self.build(self._resolve(schema["$ref"]), depth + 1)
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            return schema["enum"][0]
        for choice in ("anyOf", "oneOf"):
            options = schema.get(choice)
            if isinstance(options, list) and options:
                return self.build(_first_not_null(options), depth + 1)
        if isinstance(schema.get("allOf"), list):
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                merged = _merge(merged, self._resolved(part))
            return self.build(merged, depth + 1)
        return self._typed(schema, _type_of(schema), depth)

    def _typed(self, schema: dict[str, Any], kind: str, depth: int) -> Any:
        if kind == "object":
            properties = schema.get("properties") or {}
            return {name: self.build(sub, depth + 1) for name, sub in properties.items()}
        if kind == "array":
            least = int(schema.get("minItems") or 0)
            count = least if least or depth > _ARRAY_DEPTH else 1
            return [self.build(schema.get("items") or {}, depth + 1) for _ in range(count)]
        if kind == "integer":
            return int(_number(schema))
        if kind == "number":
            return _number(schema)
        if kind == "boolean":
            return True
        if kind == "null":
            return None
        return self._string(schema)

    def _string(self, schema: dict[str, Any]) -> str:
        value = _FORMATS.get(str(schema.get("format")), self._text)
        shortest, longest = schema.get("minLength"), schema.get("maxLength")
        if isinstance(shortest, int) and len(value) < shortest:
            value = value.ljust(shortest, ".")
        if isinstance(longest, int):
            value = value[:longest]
        return value

    def _resolve(self, reference: Any) -> Any:
        if not isinstance(reference, str) or not reference.startswith("#/"):
            return {}
        found: Any = self._root
        for part in reference[2:].split("/"):
            found = found.get(part) if isinstance(found, dict) else None
        return found if isinstance(found, dict) else {}

    def _resolved(self, schema: Any) -> dict[str, Any]:
        if isinstance(schema, dict) and "$ref" in schema:
            resolved: dict[str, Any] = self._resolve(schema["$ref"])
            return resolved
        return schema if isinstance(schema, dict) else {}


def _type_of(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if str(k).lower() != "null"), "null")
    if kind is None:
        return "object" if "properties" in schema else "string"
    return str(kind).lower()


def _first_not_null(options: list[Any]) -> Any:
    for option in options:
        if not (isinstance(option, dict) and str(option.get("type")).lower() == "null"):
            return option
    return options[0]


def _merge(into: dict[str, Any], part: dict[str, Any]) -> dict[str, Any]:
    merged = {**into, **part}
    if "properties" in into and "properties" in part:
        merged["properties"] = {**into["properties"], **part["properties"]}
    return merged


def _number(schema: dict[str, Any]) -> float:
    low, high = schema.get("minimum"), schema.get("maximum")
    above, below = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if isinstance(low, int | float):
        return float(low)
    if isinstance(above, int | float):
        return float(above) + 1
    if isinstance(high, int | float) and high < 0:
        return float(high)
    if isinstance(below, int | float) and below <= 0:
        return float(below) - 1
    return 0.0


def answer_value(schema: Any, text: str) -> Any:
    """What a fake model answers under `schema` (a tool's parameters, a response format):
    a value valid against it, or `{"echo": text}` when it asks for no particular shape (no
    schema, or an object that declares no properties)."""
    if not isinstance(schema, dict) or not _shaped(schema):
        return {"echo": text}
    return schema_instance(schema, text)


def _shaped(schema: dict[str, Any]) -> bool:
    if any(key in schema for key in ("$ref", "anyOf", "oneOf", "allOf", "const", "enum")):
        return True
    return _type_of(schema) != "object" or bool(schema.get("properties"))
