"""A schema with a constraint and an array, and the value every fake answers under it when
asked "in Oslo"."""

from __future__ import annotations

from typing import Any

FORECAST_SCHEMA: Any = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "days": {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 2},
    },
    "required": ["city", "days"],
    "additionalProperties": False,
}
FORECAST = {"city": "in Oslo", "days": [1, 1]}
