"""Privacy-friendly site analytics: `POST /api/site/pageview`, which the console's script
calls on each page, counts the view in the day's aggregates only with the visitor's
consent (see `privacy/tracking.py`), and answers 204 whether it counted it or not;
`GET /api/site-analytics` lets operators read the aggregates."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from aisonar.analytics.services import (
    PageView,
    PrivacySignals,
    SiteBy,
    SiteViews,
    admit_page_view,
    classify,
    count_view,
    counted,
    country_of,
    day_range,
    page_path,
    person_allows_counting,
    referrer_domain,
    site_views,
    visitor_allows_counting,
)
from aisonar.clock import utcnow
from aisonar.config import split_list
from aisonar.gateway.asgi import PEER
from aisonar.privacy.services import consent_choice
from aisonar.web.cookie_consent import ConsentCookie
from aisonar.web.deps import Config, Engine, Operator, Services, Session, client_ip
from aisonar.web.same_origin import refuse_cross_site

router = APIRouter(tags=["privacy"])


class PageViewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # The page's path (`location.pathname`); a query or fragment is dropped.
    path: str = Field(min_length=1, max_length=2000)
    # `document.referrer`: only its host is kept, and not even that when it is this site.
    referrer: str | None = Field(default=None, max_length=2000)


def _peer(request: Request) -> str | None:
    peer = request.scope.get(PEER)
    return str(peer[0]) if peer else None


@router.post(
    "/api/site/pageview",
    status_code=204,
    dependencies=[Depends(refuse_cross_site)],
    responses={429: {"description": "Too many page views from this address."}},
)
async def page_view(
    body: PageViewIn,
    request: Request,
    running: Services,
    settings: Config,
    signed_in: Session,
    cookie: ConsentCookie = None,
) -> None:
    """Count a view of a console page, if the visitor consented to analytics (the
    consent cookie), sends neither `DNT: 1` nor `Sec-GPC: 1`, is not a bot, and, when
    signed in, has not withdrawn their consent. 204 either way."""
    await admit_page_view(
        running.limiter.store, settings.site_pageviews_per_ip_per_minute, client_ip(request)
    )
    path = page_path(body.path, split_list(settings.site_analytics_paths))
    signals = PrivacySignals.of(request.headers)
    if not visitor_allows_counting(consent_choice(cookie), signals):
        return
    # The parser's first use loads its rules: off the event loop.
    visitor = await asyncio.to_thread(classify, request.headers.get("user-agent", ""))
    if not counted(visitor):
        return
    view = PageView(
        day=utcnow().date(),
        path=path,
        referrer_domain=referrer_domain(body.referrer, request.url.hostname),
        browser_family=visitor.browser,
        device_type=visitor.device.value,
        country=country_of(
            request.headers,
            settings.country_header,
            _peer(request),
            split_list(settings.trusted_proxies),
        ),
    )
    async with running.engine.begin() as conn:
        if signed_in is not None and not await person_allows_counting(
            conn, signed_in.principal.user_id
        ):
            return
        await count_view(conn, view)


@router.get("/api/site-analytics")
async def site_analytics(
    caller: Operator,
    db: Engine,
    by: Annotated[SiteBy, Query(description="What to count the views per.")] = SiteBy.PATH,
    since: Annotated[
        date | None, Query(description="First day (UTC); default: 29 days before until.")
    ] = None,
    until: Annotated[
        date | None, Query(description="Last day (UTC), included; default: today.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[SiteViews]:
    """The console's page views per path, referrer domain, browser family, device type,
    country or day (operators only): aggregates, nothing about any one visitor."""
    first, last = day_range(since, until, utcnow().date())
    async with db.connect() as conn:
        return await site_views(conn, by, first, last, limit=limit)
