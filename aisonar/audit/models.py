"""Audit entries: who did what, to which object, when, from where, and what changed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Actor:
    """Who acts: a signed-in user (by id and email), or the command line or the system,
    with the address the request came from when there was one."""

    label: str
    user_id: str | None = None
    ip: str | None = None


# The operator at the server's command line, and the server's own work.
COMMAND_LINE = Actor("command line")
SYSTEM = Actor("system")

# What a change's fields held before and after; secrets never appear in it.
Changes = dict[str, list[Any]]


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    actor_user_id: str | None
    ip: str | None
    action: str
    object_kind: str
    object_id: str
    # The organization the object belongs to (none for installation-wide objects).
    org_id: str | None
    changes: Changes
