"""Model names as operators write them: exact names, and patterns with one `*`
(`claude-*`, `gpt-4o*`, `*-latest`) that stand for every name they match."""

from __future__ import annotations

from collections.abc import Iterable

WILDCARD = "*"


def is_pattern(name: str) -> bool:
    return WILDCARD in name


def wildcard_part(pattern: str, name: str) -> str | None:
    """What the `*` of `pattern` stands for in `name`, or None when it does not match."""
    prefix, _, suffix = pattern.partition(WILDCARD)
    if len(name) < len(prefix) + len(suffix) or not name.startswith(prefix):
        return None
    if not name.endswith(suffix):
        return None
    return name[len(prefix) : len(name) - len(suffix)]


def substitute(upstream: str, part: str) -> str:
    """The upstream name for a match: its own `*`, if any, replaced by the matched part."""
    return upstream.replace(WILDCARD, part, 1)


def allows(names: Iterable[str], model: str) -> bool:
    """Whether a list of allowed names (exact or patterns) admits `model`."""
    return any(
        name == model or (is_pattern(name) and wildcard_part(name, model) is not None)
        for name in names
    )
