"""`aisonar site-analytics`: the console's page views, as operators see them in the API."""

from __future__ import annotations

from datetime import date

import click
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.analytics.services import SiteBy, SiteViews, day_range, site_views
from aisonar.cli.context import json_option, run_in_database
from aisonar.cli.output import emit
from aisonar.clock import utcnow


def _day(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise click.BadParameter(
            f"{value!r} is not a day (YYYY-MM-DD)", param_hint=option
        ) from error


@click.command("site-analytics")
@click.option("--since", help="First day, YYYY-MM-DD (UTC); default: 29 days before --until.")
@click.option("--until", help="Last day, YYYY-MM-DD (UTC), included; default: today.")
@click.option(
    "--by",
    type=click.Choice([by.value for by in SiteBy]),
    default=SiteBy.PATH.value,
    show_default=True,
    help="What to count the views per.",
)
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True)
@json_option
def site_analytics(
    since: str | None, until: str | None, by: str, limit: int, as_json: bool
) -> None:
    """The console's page views (counted with consent), per path, referrer domain,
    browser family, device type, country or day; an empty key is none or unknown."""
    first_day, last_day = _day(since, "--since"), _day(until, "--until")

    async def work(conn: AsyncConnection) -> list[SiteViews]:
        first, last = day_range(first_day, last_day, utcnow().date())
        return await site_views(conn, SiteBy(by), first, last, limit=limit)

    emit(run_in_database(work), ("key", "views"), as_json=as_json)
