"""The operators' site analytics: the console's page views per day (a chart, and a table
with the same numbers), the most viewed pages, referrers, browsers and devices over a
window of days, as `GET /api/site-analytics` reads them (`privacy/site_reports.py`:
aggregates, nothing about any one visitor); and how many accounts consent to analytics,
the only consent that is recorded (a visitor's banner choice stays in their cookie)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import Query, Response

from aisonar.analytics.services import SiteBy, SiteViews, analytics_consent, day_range, site_views
from aisonar.clock import utcnow
from aisonar.console.render import error_text, page
from aisonar.console.routing import console_router
from aisonar.console.visit import Member
from aisonar.errors import AISonarError, InvalidInput
from aisonar.i18n import N_
from aisonar.web.deps import Engine, operator

router = console_router()

SITE_PATH = "/console/operator/site"
# As many rows as `GET /api/site-analytics` answers at most: one a day.
MAX_DAYS = 1000
_TOP = 20
_SMALL = 10


def _day(value: str, param: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(N_("a day is a date, YYYY-MM-DD"), param=param) from None


def every_day(found: list[SiteViews], first: date, last: date) -> list[SiteViews]:
    """Each day of the window, those without views at zero."""
    by_day = {views.key: views.views for views in found}
    days = (last - first).days + 1
    return [
        SiteViews(day.isoformat(), by_day.get(day.isoformat(), 0))
        for day in (first + timedelta(days=offset) for offset in range(days))
    ]


def window_of(since: str, until: str) -> tuple[date, date]:
    first, last = day_range(_day(since, "since"), _day(until, "until"), utcnow().date())
    if (last - first).days + 1 > MAX_DAYS:
        raise InvalidInput(N_("choose at most {max_days} days"), param="since", max_days=MAX_DAYS)
    return first, last


@router.get(SITE_PATH)
async def site_page(
    member: Member,
    db: Engine,
    since: Annotated[str, Query(max_length=20)] = "",
    until: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    await operator(member.principal)
    typed = {"since": since, "until": until}
    try:
        first, last = window_of(since, until)
    except AISonarError as error:
        refused = {"typed": typed, "error": error_text(error, member.language)}
        return page(member, "operator_site.html", refused, status=error.status)
    days = (last - first).days + 1
    async with db.connect() as conn:
        per_day = every_day(
            await site_views(conn, SiteBy.DAY, first, last, limit=days), first, last
        )
        tables = {
            by.value: await site_views(conn, by, first, last, limit=limit)
            for by, limit in (
                (SiteBy.PATH, _TOP),
                (SiteBy.REFERRER, _SMALL),
                (SiteBy.BROWSER, _SMALL),
                (SiteBy.DEVICE, _SMALL),
            )
        }
        consent = await analytics_consent(conn)
    context: dict[str, Any] = {
        "typed": {"since": first.isoformat(), "until": last.isoformat()},
        "error": None,
        "first": first,
        "last": last,
        "per_day": per_day,
        "total": sum(views.views for views in per_day),
        "tables": tables,
        "consent": consent,
        "chart": {
            "labels": [views.key for views in per_day],
            "values": [views.views for views in per_day],
        },
    }
    return page(member, "operator_site.html", context)
