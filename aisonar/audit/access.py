"""Who reads which part of the audit log, for every front end (the API, the console):
operators every entry, an organization's admins their organization's, anyone else
nothing."""

from __future__ import annotations

from typing import Protocol

from aisonar.errors import Forbidden
from aisonar.i18n import N_


class Reader(Protocol):
    """The signed-in person reading the log (accounts' Principal, which audit sits below)."""

    @property
    def is_operator(self) -> bool: ...

    @property
    def org_id(self) -> str: ...

    def administers(self, org_id: str) -> bool: ...


def audit_scope(reader: Reader) -> str | None:
    """The organization whose entries the reader sees (None: every entry)."""
    if reader.is_operator:
        return None
    if reader.administers(reader.org_id):
        return reader.org_id
    raise Forbidden(N_("Only operators and organization admins may read the audit log."))
