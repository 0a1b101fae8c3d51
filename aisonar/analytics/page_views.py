"""The console's page views, as aggregates: each view counted adds one to the row of its
day and combination of path, referrer domain, browser family, device type and country.
Nothing else of the visitor is stored: no address, no person, no cookie."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from urllib.parse import urlsplit

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from aisonar.errors import InvalidInput
from aisonar.i18n import N_
from aisonar.store.tables import site_page_views

LONGEST_PATH = 200
_PAGE_PATH = re.compile(r"/[A-Za-z0-9/._~%-]*")
# The server's own endpoints: never pages of the console, whatever the prefixes say.
_NOT_PAGES = ("/api", "/v1", "/v1beta", "/metrics", "/healthz", "/readyz")
_HOST = re.compile(r"[a-z0-9.:-]{1,253}")
_COUNTRY = re.compile(r"[A-Z]{2}")
# What proxies send when they do not know (Cloudflare's "XX").
_UNKNOWN_COUNTRY = "XX"


@dataclass(frozen=True)
class PageView:
    day: date
    path: str
    # Empty: none, or this site itself.
    referrer_domain: str
    browser_family: str
    device_type: str
    # ISO 3166 alpha-2; empty: unknown.
    country: str


def _under(path: str, prefix: str) -> bool:
    base = prefix.rstrip("/")
    return path == base or path.startswith(base + "/")


def page_path(raw: str, prefixes: Sequence[str]) -> str:
    """The page's path without its query or fragment (and without a trailing slash);
    InvalidInput when it is not the path of one of the console's pages."""
    path = raw.split("#", 1)[0].split("?", 1)[0]
    segments = path.split("/")
    if not _PAGE_PATH.fullmatch(path) or "//" in path or "." in segments or ".." in segments:
        raise InvalidInput(
            N_("path: not a page's path (/ then letters, digits and - . _ ~ %)"), param="path"
        )
    if len(path) > 1:
        path = path.rstrip("/")
    if len(path) > LONGEST_PATH:
        raise InvalidInput(
            N_("path: longer than {longest_path} characters"),
            param="path",
            longest_path=LONGEST_PATH,
        )
    if any(_under(path, other) for other in _NOT_PAGES) or not any(
        _under(path, prefix) for prefix in prefixes
    ):
        raise InvalidInput(N_("path: not a page of the console"), param="path")
    return path


def referrer_domain(referrer: str | None, own_host: str | None) -> str:
    """The host of the page the visitor came from; empty for none, for anything that is
    not a web address, and for this site itself."""
    if not referrer:
        return ""
    try:
        parts = urlsplit(referrer.strip())
        host = parts.hostname
    except ValueError:
        return ""
    if parts.scheme not in ("http", "https") or not host or not _HOST.fullmatch(host):
        return ""
    return "" if host == (own_host or "").lower() else host


def _trusted(peer: str | None, proxies: Sequence[str]) -> bool:
    if peer is None:
        return False
    if "*" in proxies:
        return True
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(proxy, strict=False) for proxy in proxies)


def country_of(
    headers: Mapping[str, str], header: str, peer: str | None, proxies: Sequence[str]
) -> str:
    """The visitor's country as the named header gives it, believed only when the
    connection came from a trusted proxy (anyone else could send the header); empty
    when there is no header, no such proxy, or no country in it."""
    if not header or not _trusted(peer, proxies):
        return ""
    value = headers.get(header, "").strip().upper()
    return value if _COUNTRY.fullmatch(value) and value != _UNKNOWN_COUNTRY else ""


async def count_view(conn: AsyncConnection, view: PageView) -> None:
    """One more view of the view's combination on its day; one statement, so that views
    counted at once on any number of servers all add up."""
    insert = postgresql_insert if conn.dialect.name == "postgresql" else sqlite_insert
    statement = insert(site_page_views).values(**asdict(view), views=1)
    await conn.execute(
        statement.on_conflict_do_update(
            index_elements=list(site_page_views.primary_key.columns),
            set_={"views": site_page_views.c.views + 1},
        )
    )


async def delete_views_before(conn: AsyncConnection, day: date) -> int:
    """Forget the days before `day`; how many rows went."""
    result = await conn.execute(delete(site_page_views).where(site_page_views.c.day < day))
    return result.rowcount
