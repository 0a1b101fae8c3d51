"""Pages from the console's Jinja2 templates, in the visitor's language (gettext through
`aisonar.i18n`), autoescaped, with what every page's layout needs: the visitor, the
navigation for their role, the session's CSRF token for forms."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from typing import Any

from babel.numbers import format_decimal, format_percent
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from aisonar.accounts.models import Role
from aisonar.billing.money import format_amount
from aisonar.console.navigation import INBOX_PATH, N_, navigation_for
from aisonar.console.visit import MemberVisit, Visit
from aisonar.errors import AISonarError
from aisonar.i18n import Language, format_time, translations

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


def error_text(error: AISonarError, language: Language) -> str:
    """A domain error's message in the visitor's language."""
    return translations(language).gettext(error.message)


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
            navigation=[
                (
                    item.path,
                    catalog.gettext(item.label),
                    visit.unread_notices if item.path == INBOX_PATH else 0,
                )
                for item in (navigation_for(member.principal.role) if member else [])
            ],
            csrf_token=member.csrf_token if member else "",
            settings=visit.request.app.state.settings,
            **(context or {}),
        )
    )
    response = HTMLResponse(html, status_code=status)
    response.headers["content-language"] = visit.language.value
    return response
