"""Cross-site requests refused, for the endpoints a browser calls without signing in (the
cookie choice, page views), which no CSRF token protects. The browser's own word on
where a request comes from decides: `Sec-Fetch-Site`, or `Origin` where it sends no
`Sec-Fetch-Site`. A client that sends neither is not a browser acting for a visitor
(a script, the command line) and passes; it could only ever act for itself."""

from __future__ import annotations

from fastapi import Request

from aisonar.i18n import N_
from aisonar.web.errors import Forbidden

# `none`: the visitor's own doing (typed, bookmarked), not another site's.
_OWN_FETCH_SITES = frozenset({"same-origin", "none"})


def _own_origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}".lower()


async def refuse_cross_site(request: Request) -> None:
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        if fetch_site.strip().lower() not in _OWN_FETCH_SITES:
            raise Forbidden(N_("Requests from other sites are refused here."))
        return
    origin = request.headers.get("origin")
    if origin is not None and origin.strip().lower() != _own_origin(request):
        raise Forbidden(N_("Requests from other sites are refused here."))
