"""The console's navigation: each page a signed-in person can reach, and the roles that
see it. A new page adds its entry here."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from aisonar.i18n import N_ as N_
from aisonar.store.roles import Role

EVERYONE = frozenset(Role)
HOME_PATH = "/console"
# The inbox: its entry shows how many notices are unread.
INBOX_PATH = "/console/notices"


class NavGroup(StrEnum):
    """The sections of the navigation, by who sees an entry."""

    PERSONAL = "personal"
    ORGANIZATION = "organization"
    OPERATOR = "operator"


GROUP_LABELS = {
    NavGroup.PERSONAL: N_("Your account"),
    NavGroup.ORGANIZATION: N_("Your organization"),
    NavGroup.OPERATOR: N_("Installation"),
}


@dataclass(frozen=True)
class NavItem:
    path: str
    label: str
    roles: frozenset[Role] = EVERYONE
    # Other path prefixes whose pages belong to this entry.
    also: tuple[str, ...] = ()

    @property
    def group(self) -> NavGroup:
        if self.roles == frozenset({Role.OPERATOR}):
            return NavGroup.OPERATOR
        if Role.USER not in self.roles:
            return NavGroup.ORGANIZATION
        return NavGroup.PERSONAL

    def covers(self, path: str) -> bool:
        """Whether the page at `path` is this entry's or under it."""
        if path == self.path or path.startswith(self.also):
            return True
        return self.path != HOME_PATH and path.startswith(self.path + "/")


NAVIGATION = (
    NavItem("/console", N_("Dashboard")),
    NavItem("/console/keys", N_("API keys")),
    NavItem("/console/usage", N_("Usage log")),
    NavItem("/console/billing", N_("Billing")),
    NavItem("/console/quickstart", N_("Quick start")),
    NavItem(INBOX_PATH, N_("Notices")),
    NavItem("/console/profile", N_("Profile")),
    NavItem("/console/privacy", N_("Privacy")),
    NavItem("/console/support", N_("Support")),
    NavItem(
        "/console/org",
        N_("Organization"),
        frozenset({Role.ORG_ADMIN, Role.OPERATOR}),
        also=("/console/orgs/",),
    ),
    NavItem("/console/operator/support", N_("Support inbox"), frozenset({Role.OPERATOR})),
    NavItem("/console/operator/orgs", N_("Organizations"), frozenset({Role.OPERATOR})),
    NavItem("/console/operator/plans", N_("Plans"), frozenset({Role.OPERATOR})),
    NavItem("/console/operator/users", N_("Users"), frozenset({Role.OPERATOR})),
    NavItem("/console/operator/recharges", N_("Recharges"), frozenset({Role.OPERATOR})),
    NavItem("/console/operator/codes", N_("Redemption codes"), frozenset({Role.OPERATOR})),
    NavItem("/console/operator/prices", N_("Prices and markups"), frozenset({Role.OPERATOR})),
    NavItem("/console/audit", N_("Audit log"), frozenset({Role.ORG_ADMIN, Role.OPERATOR})),
    NavItem("/console/abuse", N_("Abuse findings"), frozenset({Role.ORG_ADMIN, Role.OPERATOR})),
    NavItem("/console/operator/channels", N_("Channels"), frozenset({Role.OPERATOR})),
    NavItem("/console/operator/deletions", N_("Deletion requests"), frozenset({Role.OPERATOR})),
    NavItem("/console/operator/site", N_("Site analytics"), frozenset({Role.OPERATOR})),
    NavItem("/console/operator/status", N_("System status"), frozenset({Role.OPERATOR})),
)


def navigation_for(role: Role) -> list[NavItem]:
    return [item for item in NAVIGATION if role in item.roles]


def current_entry(items: list[NavItem], path: str) -> NavItem | None:
    """The entry the page at `path` belongs to: the most specific one covering it."""
    covering = [item for item in items if item.covers(path)]
    return max(covering, key=lambda item: len(item.path), default=None)
