"""The roles a user holds, as the `users.role` column stores them: a user, an organization's
admin, or an operator of the whole installation. Here in the base, beside the table,
so that every layer names the same values: accounts decides what each may reach, and
notify, below accounts, sends an organization's notices to its admins."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    USER = "user"
    ORG_ADMIN = "org_admin"
    OPERATOR = "operator"
