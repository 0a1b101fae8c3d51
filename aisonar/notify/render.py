"""A notice (or another message, such as the code that confirms a new email address) as
a person reads it: a subject, a plain-text and an HTML body, from the kind's templates
(`templates/<kind>.txt` and `.html`) in the person's language."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from typing import Any, Literal

from babel.dates import format_timedelta
from babel.numbers import format_percent
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from aisonar.i18n import Language, format_time, translations
from aisonar.notify.notices import SECURITY_KINDS, Notice
from aisonar.store.roles import Role


def N_(message: str) -> str:
    """Marks a message for extraction; it is translated where it is shown."""
    return message


_ROLE_NAMES = {
    Role.OPERATOR: N_("operator"),
    Role.ORG_ADMIN: N_("organization admin"),
    Role.USER: N_("user"),
}
# The fields a `profile_changed` notice names.
_PROFILE_FIELD_NAMES = {
    "name": N_("name"),
    "company": N_("company"),
    "language": N_("language"),
}


_BLANK_RUNS = re.compile(r"\n{3,}")


def _tidy(text: str) -> str:
    """Paragraphs one blank line apart, whatever blank lines the template tags left."""
    lines = "\n".join(line.rstrip() for line in text.splitlines())
    return _BLANK_RUNS.sub("\n\n", lines).strip() + "\n"


_DURATION_UNITS: tuple[tuple[Literal["day", "hour", "minute"], int], ...] = (
    ("day", 86400),
    ("hour", 3600),
    ("minute", 60),
)


def _duration(seconds: int, language: Language) -> str:
    """15 minutes, 90 minutes, 2 hours, 7 days: in the largest unit that counts it whole."""
    unit = next(name for name, size in _DURATION_UNITS if seconds % size == 0)
    return format_timedelta(
        timedelta(seconds=seconds), granularity=unit, threshold=math.inf, locale=language.locale
    )


@dataclass(frozen=True)
class RenderedNotice:
    subject: str
    text: str
    html: str


@cache
def environment(language: Language) -> Environment:
    env = Environment(
        loader=PackageLoader("aisonar.notify", "templates"),
        extensions=["jinja2.ext.i18n"],
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.policies["ext.i18n.trimmed"] = True
    catalog = translations(language)
    env.install_gettext_translations(catalog, newstyle=True)  # type: ignore[attr-defined]
    env.filters["moment"] = lambda iso: format_time(datetime.fromisoformat(iso), language)
    env.filters["role"] = lambda role: catalog.gettext(_ROLE_NAMES.get(role) or role)
    env.filters["profile_field"] = lambda field: catalog.gettext(
        _PROFILE_FIELD_NAMES.get(field) or field
    )
    env.filters["duration"] = lambda seconds: _duration(seconds, language)
    env.filters["percent"] = lambda fraction: format_percent(
        Decimal(fraction), "#,##0.##%", locale=language.locale
    )
    return env


def render_notice(
    notice: Notice,
    *,
    language: Language,
    recipient_name: str,
    org_name: str,
    currency: str,
) -> RenderedNotice:
    return render_mail(
        notice.kind,
        notice.data,
        language=language,
        recipient_name=recipient_name,
        org_name=org_name,
        at=notice.created_at,
        security=notice.kind in SECURITY_KINDS,
        currency=currency,
    )


def render_mail(
    template: str,
    data: dict[str, Any],
    *,
    language: Language,
    recipient_name: str,
    org_name: str,
    at: datetime,
    security: bool,
    currency: str = "",
) -> RenderedNotice:
    """`templates/<template>.txt` (its `subject` block and body) and `.html`; a notice's
    template is its kind, a message sent outside notices names its own."""
    env = environment(language)
    context: dict[str, Any] = {
        "data": data,
        "recipient_name": recipient_name,
        "org_name": org_name,
        "currency": currency,
        "created_at": format_time(at, language),
        "security": security,
        "language": language.value,
    }
    text = env.get_template(f"{template}.txt")
    subject = "".join(text.blocks["subject"](text.new_context(context))).strip()
    return RenderedNotice(
        subject=subject,
        text=_tidy(text.render(context)),
        html=env.get_template(f"{template}.html").render({**context, "subject": subject}),
    )
