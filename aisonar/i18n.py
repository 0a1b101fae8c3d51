"""The languages people can choose, and their gettext catalogs: `.po` files under
`locales/`, compiled in memory on first use. English is the source language."""

from __future__ import annotations

import gettext
import io
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from pathlib import Path

from babel import Locale
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALES = Path(__file__).parent / "locales"
DOMAIN = "messages"


class Language(StrEnum):
    ENGLISH = "en"
    SIMPLIFIED_CHINESE = "zh-Hans"

    @property
    def locale(self) -> Locale:
        return Locale.parse(self.value, sep="-")


def catalog_path(language: Language) -> Path:
    return LOCALES / str(language.locale) / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translations(language: Language) -> gettext.NullTranslations:
    if language is Language.ENGLISH:
        return gettext.NullTranslations()
    with catalog_path(language).open("rb") as po:
        catalog = read_po(po, locale=language.locale)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def N_(message: str) -> str:
    """Marks an English message for extraction (`babel` finds `N_` calls); it is
    translated where it is shown, through `translations(language).gettext`."""
    return message


def format_time(moment: datetime, language: Language) -> str:
    """A moment as people of that language write it, in UTC and saying so."""
    return format_datetime(moment, "medium", tzinfo=UTC, locale=language.locale) + " UTC"
