"""Pages from the console's Jinja2 templates, in the visitor's language (gettext through
`aisonar.i18n`), autoescaped, with what every page's layout needs: the visitor, the
navigation for their role, the session's CSRF token for forms."""

from __future__ import annotations

import gettext
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from babel.numbers import format_decimal, format_percent
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from aisonar.billing.services import format_amount
from aisonar.console.navigation import (
    GROUP_LABELS,
    INBOX_PATH,
    N_,
    NavGroup,
    current_entry,
    navigation_for,
)
from aisonar.console.visit import MemberVisit, Visit
from aisonar.errors import AISonarError
from aisonar.i18n import Language, format_time, translations
from aisonar.store.roles import Role

LANGUAGE_NAMES = {Language.ENGLISH: "English", Language.SIMPLIFIED_CHINESE: "简体中文"}
_ROLE_NAMES = {
    Role.OPERATOR: N_("operator"),
    Role.ORG_ADMIN: N_("organization admin"),
    Role.USER: N_("user"),
}


def _number(value: float | int | None, language: Language) -> str:
    return "—" if value is None else format_decimal(value, locale=language.locale)


@cache
def environment(language: Language) -> Environment:
    env = Environment(
        loader=PackageLoader("aisonar.console", "templates"),
        extensions=["jinja2.ext.i18n"],
        autoescape=select_autoescape(["html"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.policies["ext.i18n.trimmed"] = True
    catalog = translations(language)
    env.install_gettext_translations(catalog, newstyle=True)  # type: ignore[attr-defined]
    env.filters["number"] = lambda value: _number(value, language)
    env.filters["milliseconds"] = lambda value: (
        "—" if value is None else _number(value, language) + " ms"
    )
    env.filters["money"] = lambda units: format_amount(units)
    env.filters["moment"] = lambda moment: "—" if moment is None else format_time(moment, language)
    env.filters["percent"] = lambda fraction: format_percent(
        Decimal(str(fraction)), "#,##0.##%", locale=language.locale
    )
    env.filters["role"] = lambda role: catalog.gettext(_ROLE_NAMES[Role(role)])
    env.globals["language_names"] = LANGUAGE_NAMES
    return env


@dataclass(frozen=True)
class ShownEntry:
    path: str
    label: str
    # Unread notices, for the inbox's entry.
    count: int
    current: bool


def _navigation(
    visit: Visit, member: MemberVisit | None, catalog: gettext.NullTranslations
) -> list[tuple[str, list[ShownEntry]]]:
    """The member's navigation by section, the current page's entry marked."""
    if member is None:
        return []
    items = navigation_for(member.principal.role)
    current = current_entry(items, visit.request.url.path)
    sections: dict[NavGroup, list[ShownEntry]] = {}
    for item in items:
        count = visit.unread_notices if item.path == INBOX_PATH else 0
        shown = ShownEntry(item.path, catalog.gettext(item.label), count, item is current)
        sections.setdefault(item.group, []).append(shown)
    return [(catalog.gettext(GROUP_LABELS[group]), entries) for group, entries in sections.items()]


def error_text(error: AISonarError, language: Language) -> str:
    """A domain error's message in the visitor's language: its template translated, then
    filled with its values. In English, `error.message`: word for word what the API says."""
    if language is Language.ENGLISH:
        return error.message
    return error.translated(translations(language).gettext)


def page(
    visit: Visit, name: str, context: Mapping[str, Any] | None = None, *, status: int = 200
) -> HTMLResponse:
    """The template `name` rendered for the visitor, as an HTML response."""
    member = visit if isinstance(visit, MemberVisit) else None
    catalog = translations(visit.language)
    html = (
        environment(visit.language)
        .get_template(name)
        .render(
            visit=visit,
            member=member,
            language=visit.language,
            path=visit.request.url.path,
            navigation=_navigation(visit, member, catalog),
            csrf_token=member.csrf_token if member else "",
            settings=visit.request.app.state.settings,
            **(context or {}),
        )
    )
    response = HTMLResponse(html, status_code=status)
    response.headers["content-language"] = visit.language.value
    return response
