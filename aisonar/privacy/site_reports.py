"""What operators read of the site's page views: the views per path, referrer domain,
browser family, device type, country or day over a range of days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.errors import InvalidInput
from aisonar.store.tables import site_page_views

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
        raise InvalidInput("since is after until", param="since")
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
