"""Every message the code and templates mark for translation has a Simplified Chinese
translation, and none is left over from a message that no longer exists."""

from __future__ import annotations

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from aisonar.i18n import LOCALES, Language, catalog_path

ROOT = LOCALES.parent.parent


def marked_messages() -> set[str]:
    with (LOCALES / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)  # type: ignore[no-untyped-call]
    found = set()
    for _, _, message, _, _ in extract_from_dir(ROOT, method_map, options_map):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_marked_message_is_translated_and_none_is_stale() -> None:
    marked = marked_messages()
    assert "New API key created" in marked
    with catalog_path(Language.SIMPLIFIED_CHINESE).open("rb") as po:
        catalog = read_po(po)
    translated = {
        (message.id if isinstance(message.id, str) else message.id[0])
        for message in catalog
        if message.id
        and all(message.string if isinstance(message.string, tuple) else [message.string])
        and not message.fuzzy
    }
    assert sorted(marked - translated) == []
    assert sorted(translated - marked) == []
