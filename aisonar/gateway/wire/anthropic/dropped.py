"""What the translation of an Anthropic request into the hub drops, by path (`Dropped`),
and the cache hints it carries all the same (see `delivery`)."""

from __future__ import annotations

import re

from aisonar.gateway.wire.hub import (
    CACHE_BREAKPOINT,
    CARRIED_CACHE_HINTS,
    JsonObject,
    note_dropped,
)

_INDEX = re.compile(r"\[\d+\]")


class Dropped:
    """The delivery-only fields dropped, as paths without indexes (`tools[].cache_control`),
    in the order first met. A `cache_control` on a text or image block, a tool result or a
    tool is also carried, as the `prompt_cache_breakpoint` of its hub part or tool, to the
    providers that take one (`delivery`): its path is then not named, unless a block the
    hub cannot mark (a `tool_use`) had one at the same path."""

    def __init__(self) -> None:
        self._paths: list[str] = []
        self._carried: list[str] = []
        self._uncarried: set[str] = set()

    def note(self, *paths: str) -> None:
        for path in paths:
            generic = _INDEX.sub("[]", path)
            if generic not in self._paths:
                self._paths.append(generic)

    def cache_hint(self, block: JsonObject, path: str) -> None:
        if "cache_control" in block:
            self.note(f"{path}.cache_control")
            self._uncarried.add(_INDEX.sub("[]", f"{path}.cache_control"))

    def carry_cache_hint(self, block: JsonObject, path: str, part: JsonObject) -> JsonObject:
        """`part`, marked as a cache breakpoint when `block` asks for one."""
        if "cache_control" in block:
            self.note(f"{path}.cache_control")
            generic = _INDEX.sub("[]", f"{path}.cache_control")
            if generic not in self._carried:
                self._carried.append(generic)
            part["prompt_cache_breakpoint"] = dict(CACHE_BREAKPOINT)
        return part

    def record(self, hub: JsonObject) -> None:
        if self._paths:
            note_dropped(hub, *self._paths)
        carried = [path for path in self._carried if path not in self._uncarried]
        if carried:
            hub[CARRIED_CACHE_HINTS] = carried
