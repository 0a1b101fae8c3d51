"""An organization's alert rules: created, changed and deleted by its admins (each change
audited, none that is refused), listed with their current state. For a signed-in caller,
as the API and the console ask: its admins (and operators) list, create, read, change
and delete them, and read their firing history; a member is refused, anyone else finds
nothing. The rules of each setting people type are here too, which the API's bodies
follow."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, replace
from typing import Annotated, Any, Literal

from pydantic import Field
from pydantic.dataclasses import dataclass
from sqlalchemy import case, delete, func, insert, literal, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.accounts.access import administered_org
from aisonar.accounts.listing import EVERY, Page, paged
from aisonar.accounts.models import Organization
from aisonar.accounts.principal import Principal

# The firing history and the balance forecast are named again (`as`) for the front ends,
# which reach them here.
from aisonar.alerts.forecast import recent_burn as recent_burn
from aisonar.alerts.forecast import shown_days as shown_days
from aisonar.alerts.history import close_firing, forget_rule
from aisonar.alerts.history import firings as firings
from aisonar.alerts.history import forget_before as forget_before
from aisonar.alerts.models import (
    CHANNELS,
    PERCENTILE_KINDS,
    PERCENTILES,
    SOURCES,
    VOLUME_GUARDED,
    WINDOW_KINDS,
    WINDOWED,
    AlertKind,
    AlertRule,
    AlertState,
    Firing,
    RuleSettings,
)
from aisonar.alerts.units import format_threshold, format_window, parse_threshold, parse_window
from aisonar.audit import services as audit
from aisonar.audit.models import SYSTEM, Actor
from aisonar.clock import as_utc, new_id, utcnow
from aisonar.errors import Forbidden, InvalidInput, NotFound
from aisonar.i18n import N_
from aisonar.store.tables import alert_rules

DEFAULT_WINDOW = "15m"
# A forecast's spend rate is read over a week, or the organization's life if shorter.
DEFAULT_FORECAST_WINDOW = "7d"
DEFAULT_PERCENTILE = "p95"
DEFAULT_MIN_REQUESTS = 20
MAX_MIN_REQUESTS = 1_000_000
MAX_NAME = 100
MAX_MODEL = 200
MAX_END_USER = 200
MAX_PROPERTY_NAME = 64
MAX_PROPERTY_VALUE = 256
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_PROPERTY_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
_MAX_RULES_PER_ORG = 50
_LIST_LIMIT = 1000


def _rule(row: Any) -> AlertRule:
    return AlertRule(
        id=row.id,
        org_id=row.org_id,
        name=row.name,
        kind=AlertKind(row.kind),
        threshold=int(row.threshold),
        window_s=row.window_s,
        percentile=row.percentile,
        min_requests=row.min_requests,
        model=row.model,
        source=row.source,
        enabled=bool(row.enabled),
        state=AlertState(row.state),
        state_changed_at=as_utc(row.state_changed_at),
        revision=row.revision,
        created_at=as_utc(row.created_at),
        channels=tuple(sorted(row.channels)),
        end_user=row.end_user,
        property_name=row.property_name,
        property_value=row.property_value,
    )


def settings_of(rule: AlertRule) -> RuleSettings:
    """The rule as people set it, with the defaults it took."""
    return RuleSettings(
        kind=rule.kind,
        threshold=format_threshold(rule.kind, rule.threshold),
        window=None if rule.window_s is None else format_window(rule.window_s),
        percentile=rule.percentile,
        min_requests=rule.min_requests,
        model=rule.model,
        source=rule.source,
        name=rule.name,
        enabled=rule.enabled,
        channels=rule.channels,
        end_user=rule.end_user,
        property=None
        if rule.property_name is None
        else f"{rule.property_name}={rule.property_value}",
    )


def shown(rule: AlertRule) -> dict[str, Any]:
    """A rule as the API and the command line show it: its settings as people write
    them, and its state."""
    return {
        "id": rule.id,
        "org_id": rule.org_id,
        **asdict(settings_of(rule)),
        "state": rule.state,
        "state_changed_at": rule.state_changed_at,
        "created_at": rule.created_at,
    }


def _only_for(kind: AlertKind, field: str, value: object, kinds: frozenset[AlertKind]) -> None:
    if value is not None and kind not in kinds:
        names = ", ".join(sorted(kinds))
        raise InvalidInput(
            N_("{field} applies to {names} rules, not to {kind} rules"),
            param=field,
            field=field,
            names=names,
            kind=kind,
        )


def _text(value: str, field: str, longest: int, *, blank: bool) -> str:
    """Trimmed, within its length, without control characters."""
    trimmed = value.strip()
    if not (blank or trimmed) or len(trimmed) > longest or _CONTROL.search(trimmed):
        least = 0 if blank else 1
        raise InvalidInput(
            N_("{field} is {least} to {longest} characters, none of them control characters"),
            param=field,
            field=field,
            least=least,
            longest=longest,
        )
    return trimmed


def _checked_filters(settings: RuleSettings) -> tuple[str | None, str | None]:
    model = (
        None if settings.model is None else _text(settings.model, "model", MAX_MODEL, blank=False)
    )
    if settings.source is not None and settings.source not in SOURCES:
        raise InvalidInput(
            N_("source is one of {sources}"), param="source", sources=", ".join(SOURCES)
        )
    return model, settings.source


def _fields(settings: RuleSettings) -> dict[str, Any]:
    """What valid settings make of a rule; a clear error for anything else."""
    kind = settings.kind
    for field, kinds in (
        ("window", WINDOW_KINDS),
        ("model", WINDOWED),
        ("source", WINDOWED),
        ("end_user", WINDOWED),
        ("property", WINDOWED),
        ("percentile", PERCENTILE_KINDS),
        ("min_requests", VOLUME_GUARDED),
    ):
        _only_for(kind, field, getattr(settings, field), kinds)
    if settings.percentile is not None and settings.percentile not in PERCENTILES:
        raise InvalidInput(
            N_("percentile is one of {percentiles}"),
            param="percentile",
            percentiles=", ".join(PERCENTILES),
        )
    if settings.min_requests is not None and not 1 <= settings.min_requests <= MAX_MIN_REQUESTS:
        raise InvalidInput(
            N_("min_requests is 1 to {max_min_requests}"),
            param="min_requests",
            max_min_requests=MAX_MIN_REQUESTS,
        )
    name = _text(settings.name, "name", MAX_NAME, blank=True)
    model, source = _checked_filters(settings)
    return {
        "kind": kind,
        "name": name,
        "threshold": parse_threshold(kind, settings.threshold),
        "window_s": _window_s(kind, settings.window),
        "percentile": (settings.percentile or DEFAULT_PERCENTILE)
        if kind in PERCENTILE_KINDS
        else None,
        "min_requests": (settings.min_requests or DEFAULT_MIN_REQUESTS)
        if kind in VOLUME_GUARDED
        else None,
        "model": model,
        "source": source,
        "enabled": settings.enabled,
        "channels": _checked_channels(settings.channels),
        **_checked_scope(settings),
    }


def _checked_scope(settings: RuleSettings) -> dict[str, str | None]:
    """The end user and the custom property (`name=value`) a rule may watch alone, as the
    gateway keeps them: a name of letters, digits, `.`, `_` or `-`, in lower case."""
    end_user = (
        None
        if settings.end_user is None
        else _text(settings.end_user, "end_user", MAX_END_USER, blank=False)
    )
    name = value = None
    if settings.property is not None:
        typed_name, equals, typed_value = settings.property.partition("=")
        name = typed_name.strip().lower()
        if not (equals and _PROPERTY_NAME.fullmatch(name)):
            raise InvalidInput(
                N_("property is name=value, the name 1 to 64 letters, digits, `.`, `_` or `-`"),
                param="property",
            )
        value = _text(typed_value, "property", MAX_PROPERTY_VALUE, blank=False)
    return {"end_user": end_user, "property_name": name, "property_value": value}


def _window_s(kind: AlertKind, window: str | None) -> int | None:
    if kind is AlertKind.FORECAST:
        return parse_window(window or DEFAULT_FORECAST_WINDOW)
    return parse_window(window or DEFAULT_WINDOW) if kind in WINDOWED else None


def _checked_channels(channels: tuple[str, ...] | None) -> tuple[str, ...]:
    """One or more of email, inbox and webhook, sorted; None: every one."""
    if channels is None:
        return CHANNELS
    chosen = tuple(sorted(set(channels)))
    if not chosen or not set(chosen) <= set(CHANNELS):
        raise InvalidInput(
            N_("channels are one or more of {channels}"),
            param="channels",
            channels=", ".join(CHANNELS),
        )
    return chosen


def _stored(value: Any) -> Any:
    """An enum as its value and a tuple as a list, as the database and the audit log keep
    them."""
    if isinstance(value, AlertKind | AlertState):
        return value.value
    return list(value) if isinstance(value, tuple) else value


def _plain(fields: dict[str, Any]) -> dict[str, Any]:
    return {name: _stored(value) for name, value in fields.items()}


def _audited(rule: AlertRule) -> dict[str, Any]:
    return _plain(asdict(settings_of(rule)))


async def create_rule(
    conn: AsyncConnection, org_id: str, settings: RuleSettings, *, actor: Actor = SYSTEM
) -> AlertRule:
    """A new rule, ok until its first evaluation finds otherwise."""
    fields = _fields(settings)
    count = select(func.count()).select_from(alert_rules).where(alert_rules.c.org_id == org_id)
    if (await conn.execute(count)).scalar_one() >= _MAX_RULES_PER_ORG:
        raise InvalidInput(
            N_("an organization has at most {max_rules_per_org} alert rules"),
            max_rules_per_org=_MAX_RULES_PER_ORG,
        )
    now = utcnow()
    rule = AlertRule(
        id=new_id("alr"),
        org_id=org_id,
        state=AlertState.OK,
        state_changed_at=now,
        revision=0,
        created_at=now,
        **fields,
    )
    await conn.execute(insert(alert_rules).values(**_plain(asdict(rule))))
    await audit.record(
        conn,
        actor,
        "alert.create",
        object_kind="alert_rule",
        object_id=rule.id,
        org_id=org_id,
        changes=audit.created(_audited(rule)),
    )
    return rule


async def get_rule(conn: AsyncConnection, rule_id: str) -> AlertRule:
    row = (await conn.execute(select(alert_rules).where(alert_rules.c.id == rule_id))).first()
    if row is None:
        raise NotFound(N_("no alert rule with id {rule_id!r}"), rule_id=rule_id)
    return _rule(row)


async def list_rules(
    conn: AsyncConnection, org_id: str | None = None, page: Page = EVERY
) -> list[AlertRule]:
    """An organization's rules (or everyone's), oldest first, from the page's start (at
    most 1,000)."""
    query = select(alert_rules)
    if org_id is not None:
        query = query.where(alert_rules.c.org_id == org_id)
    bounded = replace(page, limit=min(page.limit or _LIST_LIMIT, _LIST_LIMIT + 1))
    return [
        _rule(row) for row in await conn.execute(await paged(conn, alert_rules, query, bounded))
    ]


async def enabled_rules(conn: AsyncConnection, *, after_id: str, limit: int) -> list[AlertRule]:
    """A page of the rules to evaluate, in id order from after `after_id`."""
    query = (
        select(alert_rules)
        .where(alert_rules.c.enabled.is_(True), alert_rules.c.id > after_id)
        .order_by(alert_rules.c.id)
        .limit(limit)
    )
    return [_rule(row) for row in await conn.execute(query)]


async def update_rule(
    conn: AsyncConnection, rule_id: str, changes: Mapping[str, Any], *, actor: Actor = SYSTEM
) -> AlertRule:
    """Change the given settings (any but the kind); the rule is checked whole. A disabled
    rule goes back to ok, without a notice (its firing resolved then), and is not
    evaluated until enabled again."""
    rule = await get_rule(conn, rule_id)
    if "kind" in changes:
        raise InvalidInput(N_("a rule's kind cannot change: create another rule"), param="kind")
    fields = _fields(replace(settings_of(rule), **changes))
    changed = audit.changed(_audited(rule), _audited(replace(rule, **fields)))
    if not changed:
        return rule
    values = {name: value for name, value in _plain(fields).items() if name != "kind"}
    if not fields["enabled"]:
        # Back to ok, whatever state an evaluation may have set since the rule was read.
        firing = alert_rules.c.state == AlertState.FIRING.value
        values["state"] = AlertState.OK.value
        now = utcnow()
        moment = literal(now, alert_rules.c.state_changed_at.type)
        values["state_changed_at"] = case((firing, moment), else_=alert_rules.c.state_changed_at)
        await close_firing(conn, rule_id, now)
    await conn.execute(
        update(alert_rules)
        .where(alert_rules.c.id == rule_id)
        .values(**values, revision=alert_rules.c.revision + 1)
    )
    await audit.record(
        conn,
        actor,
        "alert.update",
        object_kind="alert_rule",
        object_id=rule_id,
        org_id=rule.org_id,
        changes=changed,
    )
    return await get_rule(conn, rule_id)


async def delete_rule(conn: AsyncConnection, rule_id: str, *, actor: Actor = SYSTEM) -> AlertRule:
    """Delete a rule and its history."""
    rule = await get_rule(conn, rule_id)
    await forget_rule(conn, rule_id)
    await conn.execute(delete(alert_rules).where(alert_rules.c.id == rule_id))
    await audit.record(
        conn,
        actor,
        "alert.delete",
        object_kind="alert_rule",
        object_id=rule_id,
        org_id=rule.org_id,
        changes=audit.changed(_audited(rule), {}),
    )
    return rule


# For a signed-in caller: who may read and change which rules, and the rules of each
# setting as people type it.
Percentile = Literal["p50", "p90", "p95", "p99"]
Source = Literal["gateway", "ingest", "otel"]
AlertChannel = Literal["email", "inbox", "webhook"]
Channels = Annotated[tuple[AlertChannel, ...], Field(min_length=1, max_length=3)]
Threshold = Annotated[str, Field(min_length=1, max_length=40)]
Window = Annotated[str, Field(max_length=10)]
MinRequests = Annotated[int, Field(ge=1, le=MAX_MIN_REQUESTS)]
ModelName = Annotated[str, Field(max_length=MAX_MODEL)]
RuleName = Annotated[str, Field(max_length=MAX_NAME)]
EndUser = Annotated[str, Field(max_length=MAX_END_USER)]
# name=value
Property = Annotated[str, Field(max_length=MAX_PROPERTY_NAME + 1 + MAX_PROPERTY_VALUE)]
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
    rule = await get_rule(conn, rule_id)
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
    return await list_rules(conn, org_id, page)


async def create_rule_in(
    conn: AsyncConnection, caller: Principal, actor: Actor, org_id: str, settings: RuleSettings
) -> AlertRule:
    await administered_org(conn, caller, org_id)
    return await create_rule(conn, org_id, settings, actor=actor)


async def change_rule_of(
    conn: AsyncConnection, caller: Principal, actor: Actor, rule_id: str, changes: dict[str, Any]
) -> AlertRule:
    """Change the given settings (`rule_changes`); the rule is checked whole."""
    await administered_rule(conn, caller, rule_id)
    return await update_rule(conn, rule_id, changes, actor=actor)


async def delete_rule_of(
    conn: AsyncConnection, caller: Principal, actor: Actor, rule_id: str
) -> AlertRule:
    await administered_rule(conn, caller, rule_id)
    return await delete_rule(conn, rule_id, actor=actor)


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
