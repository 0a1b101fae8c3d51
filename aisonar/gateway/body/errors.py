"""A body the decoders refuse, as the client's 400 naming the field."""

from __future__ import annotations

import re

import msgspec

from aisonar.gateway.errors import InvalidRequest

_FIELD_PATH = re.compile(r"at `\$\.([A-Za-z_][\w.]*)")
_MISSING_FIELD = re.compile(r"missing required field `(\w+)`")


def invalid_body(error: msgspec.ValidationError | msgspec.DecodeError) -> InvalidRequest:
    text = str(error)
    if isinstance(error, msgspec.ValidationError):
        found = _FIELD_PATH.search(text) or _MISSING_FIELD.search(text)
        param = found.group(1) if found else None
        return InvalidRequest(f"Invalid request body: {text}", param=param)
    return InvalidRequest(f"Request body is not valid JSON: {text}")
