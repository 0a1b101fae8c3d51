"""An organization's alert rules for a signed-in caller, for every front end (the API, the
console): its admins (and operators) list, create, read, change and delete them, and read
their firing history; a member is refused, anyone else finds nothing. The rules of each
setting people type are here too, which the API's bodies follow."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field
from pydantic.dataclasses import dataclass
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts.access import administered_org
from aisonar.accounts.listing import EVERY, Page
from aisonar.accounts.models import Organization
from aisonar.accounts.principal import Principal
from aisonar.alerts import services as alerts
from aisonar.alerts.history import firings
from aisonar.alerts.models import AlertKind, AlertRule, Firing, RuleSettings
from aisonar.audit.models import Actor
from aisonar.errors import Forbidden, InvalidInput, NotFound
from aisonar.i18n import N_

Percentile = Literal["p50", "p90", "p95", "p99"]
Source = Literal["gateway", "ingest", "otel"]
AlertChannel = Literal["email", "inbox", "webhook"]
Channels = Annotated[tuple[AlertChannel, ...], Field(min_length=1, max_length=3)]
Threshold = Annotated[str, Field(min_length=1, max_length=40)]
Window = Annotated[str, Field(max_length=10)]
MinRequests = Annotated[int, Field(ge=1, le=alerts.MAX_MIN_REQUESTS)]
ModelName = Annotated[str, Field(max_length=alerts.MAX_MODEL)]
RuleName = Annotated[str, Field(max_length=alerts.MAX_NAME)]
EndUser = Annotated[str, Field(max_length=alerts.MAX_END_USER)]
# name=value
Property = Annotated[
    str, Field(max_length=alerts.MAX_PROPERTY_NAME + 1 + alerts.MAX_PROPERTY_VALUE)
]
_NOT_NULL = ("threshold", "name", "enabled", "channels")


@dataclass(frozen=True)
class NewRule:
    """A rule as people type it, each setting checked alone (the rule is checked whole
    when it is created)."""

    kind: AlertKind
    threshold: Threshold
    window: Window | None = None
    percentile: Percentile | None = None
    min_requests: MinRequests | None = None
    model: ModelName | None = None
    source: Source | None = None
    name: RuleName = ""
    enabled: bool = True
    channels: Channels | None = None
    end_user: EndUser | None = None
    property: Property | None = None

    def settings(self) -> RuleSettings:
        return RuleSettings(**{name: getattr(self, name) for name in self.__dataclass_fields__})


def rule_changes(given: dict[str, Any]) -> dict[str, Any]:
    """The settings a change gives (any but the kind): None lifts a filter or returns a
    setting to its default, but the threshold, name, enabled and channels cannot be
    None."""
    for name in _NOT_NULL:
        if name in given and given[name] is None:
            raise InvalidInput(N_("{name} cannot be null"), param=name, name=name)
    return given


async def administered_rule(conn: AsyncConnection, caller: Principal, rule_id: str) -> AlertRule:
    rule = await alerts.get_rule(conn, rule_id)
    if not caller.administers(rule.org_id):
        if caller.org_id == rule.org_id:
            raise Forbidden(N_("Only the organization's admins may do this."))
        raise NotFound(N_("no alert rule with id {rule_id!r}"), rule_id=rule_id)
    return rule


async def org_rule(
    conn: AsyncConnection, caller: Principal, org_id: str, rule_id: str
) -> tuple[Organization, AlertRule]:
    """An organization the caller administers and its rule; a rule of another
    organization is NotFound, as no rule at all."""
    org = await administered_org(conn, caller, org_id)
    rule = await administered_rule(conn, caller, rule_id)
    if rule.org_id != org.id:
        raise NotFound(N_("no alert rule with id {alert_id!r}"), alert_id=rule_id)
    return org, rule


async def rules_of(
    conn: AsyncConnection, caller: Principal, org_id: str, page: Page = EVERY
) -> list[AlertRule]:
    """The organization's rules, oldest first, from the page's start."""
    await administered_org(conn, caller, org_id)
    return await alerts.list_rules(conn, org_id, page)


async def create_rule_in(
    conn: AsyncConnection, caller: Principal, actor: Actor, org_id: str, settings: RuleSettings
) -> AlertRule:
    await administered_org(conn, caller, org_id)
    return await alerts.create_rule(conn, org_id, settings, actor=actor)


async def change_rule_of(
    conn: AsyncConnection, caller: Principal, actor: Actor, rule_id: str, changes: dict[str, Any]
) -> AlertRule:
    """Change the given settings (`rule_changes`); the rule is checked whole."""
    await administered_rule(conn, caller, rule_id)
    return await alerts.update_rule(conn, rule_id, changes, actor=actor)


async def delete_rule_of(
    conn: AsyncConnection, caller: Principal, actor: Actor, rule_id: str
) -> AlertRule:
    await administered_rule(conn, caller, rule_id)
    return await alerts.delete_rule(conn, rule_id, actor=actor)


async def history_of(
    conn: AsyncConnection,
    caller: Principal,
    rule_id: str,
    *,
    before_id: int | None = None,
    limit: int = 100,
) -> list[Firing]:
    """The rule's firings, newest first, from before `before_id`."""
    await administered_rule(conn, caller, rule_id)
    return await firings(conn, rule_id=rule_id, before_id=before_id, limit=limit)
