"""Whose usage a caller may see, for the API's analytics and the console's usage figures:
a user their own, an org admin their organization's, an operator everyone's."""

from __future__ import annotations

from aisonar.accounts.services import Principal
from aisonar.errors import NotFound
from aisonar.i18n import N_
from aisonar.web.errors import Forbidden


def scoped(
    caller: Principal, org_id: str | None, user_id: str | None
) -> tuple[str | None, str | None]:
    """The organization and user a caller may see usage of."""
    if caller.is_operator:
        return org_id, user_id
    if org_id not in (None, caller.org_id):
        raise NotFound(N_("no organization with id {org_id!r}"), org_id=org_id)
    if caller.administers(caller.org_id):
        return caller.org_id, user_id
    if user_id not in (None, caller.user_id):
        raise Forbidden(N_("A user sees only their own usage."))
    return caller.org_id, caller.user_id
