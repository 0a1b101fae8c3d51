"""Analytics' use cases, as the front ends (`api`, `console`, `cli`) call them: summaries
of the usage rollups (totals, breakdowns and series over a window, for one subject or
many at once); the site's page views, counted with consent (whether a visitor or a
person allows it, the page, referrer, country and User-Agent class of a view) and
reported to operators, with the share of people who allow counting; and deleting page
views past their retention. The front ends import analytics from here, never its other
modules; the use cases live in the modules named below, one concern each."""

from __future__ import annotations

from aisonar.analytics.page_views import (
    PageView,
    count_view,
    country_of,
    delete_views_before,
    page_path,
    referrer_domain,
)
from aisonar.analytics.site_reports import (
    SiteBy,
    SiteViews,
    analytics_consent,
    day_range,
    site_views,
)
from aisonar.analytics.summary import (
    Filters,
    GroupBy,
    Summary,
    property_filter,
    summaries_of,
    summarize,
    window,
)
from aisonar.analytics.tracking import (
    PrivacySignals,
    counted,
    person_allows_counting,
    visitor_allows_counting,
)
from aisonar.analytics.user_agents import classify
from aisonar.errors import Throttled
from aisonar.i18n import N_
from aisonar.limits.store import LimitStore, RateCheck
from aisonar.limits.throttle import count_one

__all__ = [
    "Filters",
    "GroupBy",
    "PageView",
    "PrivacySignals",
    "SiteBy",
    "SiteViews",
    "Summary",
    "TooManyPageViews",
    "admit_page_view",
    "analytics_consent",
    "classify",
    "count_view",
    "counted",
    "country_of",
    "day_range",
    "delete_views_before",
    "page_path",
    "person_allows_counting",
    "property_filter",
    "referrer_domain",
    "site_views",
    "summaries_of",
    "summarize",
    "visitor_allows_counting",
    "window",
]


_MINUTE_S = 60.0


class TooManyPageViews(Throttled):
    code = "too_many_page_views"
    refusal = N_("Too many page views from this address; try again in {seconds} s.")


async def admit_page_view(store: LimitStore, per_minute: int, ip: str | None) -> None:
    """Count one page view reported from the client address `ip` (none: not counted);
    TooManyPageViews past `per_minute` of them, counting nothing."""
    if ip is None:
        return
    check = RateCheck("page views from the address", f"pageview:ip:{ip}", per_minute, _MINUTE_S, 1)
    await count_one(store, [check], TooManyPageViews)
