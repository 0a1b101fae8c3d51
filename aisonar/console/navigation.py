"""The console's navigation: each page a signed-in person can reach, and the roles that
see it. A new page adds its entry here."""

from __future__ import annotations

from dataclasses import dataclass

from aisonar.accounts.models import Role


def N_(message: str) -> str:
    """Marks a message for extraction; the template translates it where it is shown."""
    return message


EVERYONE = frozenset(Role)
# The inbox: its entry shows how many notices are unread.
INBOX_PATH = "/console/notices"


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str
    roles: frozenset[Role] = EVERYONE


NAVIGATION = (
    NavItem("/console", N_("Dashboard")),
    NavItem("/console/keys", N_("API keys")),
    NavItem("/console/usage", N_("Usage log")),
    NavItem(INBOX_PATH, N_("Notices")),
    NavItem("/console/profile", N_("Profile")),
    NavItem("/console/org", N_("Organization"), frozenset({Role.ORG_ADMIN, Role.OPERATOR})),
)


def navigation_for(role: Role) -> list[NavItem]:
    return [item for item in NAVIGATION if role in item.roles]
