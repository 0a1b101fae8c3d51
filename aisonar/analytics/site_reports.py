"""What operators read of the site's page views: the views per path, referrer domain,
browser family, device type, country or day over a range of days; and how many of the
accounts in use consent to analytics now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.errors import InvalidInput
from aisonar.i18n import N_
from aisonar.privacy.consents import Purpose
from aisonar.store.tables import consents, site_page_views, users

DEFAULT_DAYS = 30


class SiteBy(StrEnum):
    PATH = "path"
    REFERRER = "referrer"
    BROWSER = "browser"
    DEVICE = "device"
    COUNTRY = "country"
    DAY = "day"


_COLUMNS: dict[SiteBy, ColumnElement[object]] = {
    SiteBy.PATH: site_page_views.c.path,
    SiteBy.REFERRER: site_page_views.c.referrer_domain,
    SiteBy.BROWSER: site_page_views.c.browser_family,
    SiteBy.DEVICE: site_page_views.c.device_type,
    SiteBy.COUNTRY: site_page_views.c.country,
    SiteBy.DAY: site_page_views.c.day,
}


@dataclass(frozen=True)
class SiteViews:
    # The path, domain, family, type, country (empty: none or unknown) or day (ISO 8601).
    key: str
    views: int


def day_range(since: date | None, until: date | None, today: date) -> tuple[date, date]:
    """The days asked for, both included; by default the 30 days up to today."""
    last = until or today
    first = since or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise InvalidInput(N_("since is after until"), param="since")
    return first, last


async def site_views(
    conn: AsyncConnection, by: SiteBy, first: date, last: date, *, limit: int
) -> list[SiteViews]:
    """The views per `by` from day `first` to `last`: by day in order of days, the
    others most viewed first."""
    column = _COLUMNS[by]
    views = func.sum(site_page_views.c.views)
    query = (
        select(column, views)
        .where(site_page_views.c.day >= first, site_page_views.c.day <= last)
        .group_by(column)
        .order_by(*((column,) if by is SiteBy.DAY else (views.desc(), column)))
        .limit(limit)
    )
    rows = (await conn.execute(query)).all()
    return [
        SiteViews(key.isoformat() if isinstance(key, date) else str(key), int(total))
        for key, total in rows
    ]


@dataclass(frozen=True)
class ConsentShare:
    """How the accounts in use stand on analytics: visitors' banner choices live only in
    their cookies, so the accounts' recorded choices are what can be counted."""

    # Accounts not disabled.
    people: int
    # Of them, those who recorded a choice for analytics, and those whose current one allows it.
    chose: int
    allowed: int

    @property
    def rate(self) -> float:
        """The share of the accounts whose current choice allows analytics."""
        return self.allowed / self.people if self.people else 0.0


async def analytics_consent(conn: AsyncConnection) -> ConsentShare:
    """The accounts in use, and how many of them consent to analytics now (their latest
    choice, as `privacy/consents.py` reads it)."""
    latest = (
        select(consents.c.user_id, func.max(consents.c.id).label("id"))
        .where(consents.c.purpose == Purpose.ANALYTICS.value)
        .group_by(consents.c.user_id)
        .subquery()
    )
    joined = users.outerjoin(latest, latest.c.user_id == users.c.id).outerjoin(
        consents, consents.c.id == latest.c.id
    )
    query = (
        select(
            func.count(users.c.id),
            func.count(latest.c.id),
            func.count(case((consents.c.granted.is_(True), 1))),
        )
        .select_from(joined)
        .where(users.c.disabled_at.is_(None))
    )
    people, chose, allowed = (await conn.execute(query)).one()
    return ConsentShare(int(people), int(chose), int(allowed))
