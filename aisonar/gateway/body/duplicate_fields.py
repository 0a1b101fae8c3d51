"""Refuse a body that names a billed field twice. Parsers disagree on duplicate keys (the
gateway's keep the last, some upstreams the first), so with two `model` or `max_tokens`
keys an upstream could run, or write, more than was admitted and held.

The common body is checked with one scan of its bytes; only a body where a guarded name
appears twice, or a key is spelt with escapes, is parsed to see which object holds it."""

from __future__ import annotations

import json
import re
from typing import Any

from aisonar.gateway.errors import InvalidRequest

GUARDED_FIELDS = frozenset(
    {
        "model",
        "stream",
        "n",
        "max_tokens",
        "max_completion_tokens",
        "max_output_tokens",
        "generationConfig",
        "generation_config",
        "maxOutputTokens",
        "candidateCount",
        "candidate_count",
    }
)
_GUARDED_KEY = re.compile(
    rb'"(' + b"|".join(name.encode() for name in sorted(GUARDED_FIELDS)) + rb')"\s*:'
)
# A key written with an escape (`"m\u006fdel"`) may spell a guarded name: a string that
# follows `{` or `,` and holds a backslash. One character class up to the first quote or
# backslash keeps the scan linear (the body is valid JSON by now, so each string is
# scanned once); strings inside strings (tool arguments) have their quotes escaped.
_ESCAPED_KEY = re.compile(rb'[{,]\s*"[^"\\]*\\')


class DuplicateField(InvalidRequest):
    def __init__(self, name: str) -> None:
        super().__init__(
            f"The request names `{name}` more than once; send each field once.", param=name
        )


def _refuse_guarded_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for name, _ in pairs:
        if name in seen and name in GUARDED_FIELDS:
            raise DuplicateField(name)
        seen.add(name)
    return dict(pairs)


def refuse_duplicate_fields(body: bytes) -> None:
    """Raise DuplicateField when one object of the body holds a guarded name twice."""
    names = _GUARDED_KEY.findall(body)
    if len(names) == len(set(names)) and not _ESCAPED_KEY.search(body):
        return
    try:
        json.loads(body, object_pairs_hook=_refuse_guarded_duplicates)
    except RecursionError:
        raise InvalidRequest("The request body is nested too deeply.") from None
    except ValueError:
        # Not JSON the parsers accept: they refuse it themselves.
        return
