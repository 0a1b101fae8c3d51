"""Who is calling the management API, and what their role lets them reach: an operator
the whole installation, an org admin their organization, a user themselves."""

from __future__ import annotations

from dataclasses import dataclass

from aisonar.store.roles import Role


@dataclass(frozen=True)
class Principal:
    user_id: str
    org_id: str
    email: str
    role: Role

    @property
    def is_operator(self) -> bool:
        return self.role is Role.OPERATOR

    def administers(self, org_id: str) -> bool:
        """May manage the organization: its members, keys, limits and spend."""
        return self.is_operator or (self.role is Role.ORG_ADMIN and org_id == self.org_id)

    def reaches(self, user_id: str, org_id: str) -> bool:
        """May act for this user: themselves, or as their organization's admin."""
        return user_id == self.user_id or self.administers(org_id)
