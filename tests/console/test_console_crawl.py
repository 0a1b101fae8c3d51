"""Every page each role can reach renders without JavaScript: starting from the role's
navigation, following every console link found on the way, each page answers 200 with
the console's headers, no inline script or style, and every form that posts carries the
session's CSRF token and posts to the console. A page in the navigation of other roles
only is refused."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urldefrag, urlsplit

import aiohttp
import pytest

from aisonar.console.navigation import NAVIGATION, navigation_for
from aisonar.privacy.policies import PolicyKind, publish_policy
from aisonar.store.roles import Role
from aisonar.testing.gateway_server import RunningGateway
from tests.console.forms import make_a_request
from tests.console.people import console_person, sign_in_over_http
from tests.console.test_console_without_script import assert_console_headers
from tests.support import Backend

# Enough for every page of a small installation, few enough to finish in seconds.
MAX_PAGES = 150
# Links that end the session or leave the HTML pages.
_NOT_CRAWLED = ("/console/sign-out",)


@dataclass
class PageParts(HTMLParser):
    """The links, forms and inline scripts or styles of one page."""

    links: list[str] = field(default_factory=list)
    posting_forms: list[tuple[str, str]] = field(default_factory=list)
    inline: list[str] = field(default_factory=list)
    _form: list[str] | None = None

    def __post_init__(self) -> None:
        super().__init__()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = {name: value or "" for name, value in attrs}
        if "style" in named or any(name.startswith("on") for name in named):
            self.inline.append(tag)
        if tag == "script" and "src" not in named and named.get("type") != "application/json":
            self.inline.append("script")
        if tag == "a" and "href" in named:
            self.links.append(named["href"])
        if tag == "form" and named.get("method", "get").lower() == "post":
            self._form = [named.get("action", ""), ""]
        if tag == "input" and self._form is not None and named.get("name") == "csrf_token":
            self._form[1] = named.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._form is not None:
            self.posting_forms.append((self._form[0], self._form[1]))
            self._form = None


def console_link(href: str) -> str | None:
    """The path of a link to a console page of this site, else None."""
    parts = urlsplit(urldefrag(href)[0])
    if parts.scheme or parts.netloc or not parts.path.startswith("/console"):
        return None
    if parts.path in _NOT_CRAWLED:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


async def crawl(http: aiohttp.ClientSession, url: str, role: Role) -> dict[str, int]:
    """Each HTML page reached from the role's navigation (downloads are checked, not
    kept), with its status; asserts each page's rules on the way."""
    waiting = [item.path for item in navigation_for(role)]
    seen: dict[str, int] = {}
    downloads: set[str] = set()
    while waiting and len(seen) < MAX_PAGES:
        path = waiting.pop(0)
        if path in seen:
            continue
        async with http.get(url + path, allow_redirects=False) as answer:
            seen[path] = answer.status
            assert answer.status in (200, 303), (role, path, answer.status)
            assert_console_headers(answer.headers)
            if answer.status == 303:
                waiting.append(answer.headers["location"])
                continue
            if not answer.content_type.startswith("text/html"):
                downloads.add(path)
                continue
            html = await answer.text()
        parts = PageParts()
        parts.feed(html)
        assert parts.inline == [], (role, path, parts.inline)
        for action, token in parts.posting_forms:
            assert action.startswith("/console"), (role, path, action)
            assert token, (role, path, action)
        waiting.extend(link for link in map(console_link, parts.links) if link)
    return {path: status for path, status in seen.items() if path not in downloads}


@pytest.mark.parametrize("role", list(Role))
async def test_every_page_a_role_reaches_renders_without_script(
    gateway: RunningGateway, backend: Backend, role: Role
) -> None:
    person = await console_person(backend.engine, role=role)
    await make_a_request(gateway, backend, person.email)
    async with backend.engine.begin() as conn:
        await publish_policy(conn, PolicyKind.PRIVACY, f"We keep little. ({secrets.token_hex(4)})")
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        await sign_in_over_http(http, gateway.url, person.email)
        seen = await crawl(http, gateway.url, role)
        assert {item.path for item in navigation_for(role)} <= set(seen)
        assert "/console/policies/privacy" in seen
        for item in NAVIGATION:
            if role in item.roles:
                continue
            async with http.get(gateway.url + item.path, allow_redirects=False) as refused:
                assert refused.status in (403, 404), (role, item.path, refused.status)
