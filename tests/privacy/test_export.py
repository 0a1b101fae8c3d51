"""The personal data export is complete against the schema: every table holding personal
data is a part of it, and every other table is listed below with why it holds none (or
only an organization's end users, whom no account's export holds).
"Holds personal data" is decided from the columns, so a new table that names a person
fails here until the export covers it."""

from __future__ import annotations

from sqlalchemy import Column, MetaData, String, Table

from aisonar.exports.personal.parts import PARTS
from aisonar.store.tables import metadata

# Tables that hold nothing about any person, each with its reason.
NO_PERSONAL_DATA = {
    # The plans' markups and retention windows.
    "plans": "plan settings: no person",
    # The operator's upstream connections and their (sealed) provider keys.
    "channels": "upstream connections: no person",
    # Ids of changed records, polled by each server to drop stale cache entries.
    "change_log": "cache invalidation: which record changed, nothing about anyone",
    "model_prices": "prices: no person",
    # Where an organization's notices are POSTed: the organization's, not a person's.
    "webhook_endpoints": "an organization's webhook endpoints: no person",
    # When each rule fired and resolved; whom its notices reached is read from their
    # deliveries, which a person's erasure deletes.
    "alert_firings": "an organization's alert history: no person",
    # Page views counted per day, path, referrer domain, browser, device and country.
    "site_page_views": "aggregated page views: no identifier of anyone",
    # How far compaction has rebuilt hour and day rollups: one time.
    "rollup_compaction": "a watermark: no person",
    # Refused key presentations per client address, from no account; deleted after a day.
    "abuse_tallies": "abuse detection's counts per address: no account",
}

# Tables whose only person is an end user of an organization's application (someone its
# application serves, with no account here, so in no account's export): `aisonar privacy
# forget-end-user` forgets them, with why they are kept.
END_USER_DATA = {
    # A rule may watch one end user's usage; forgetting them deletes it.
    "alert_rules": "an organization's alert rules: one may name an end user it watches",
    # Sums per end user (and per marked property); forgetting one rebuilds their days.
    "attribution_rollups": "an organization's usage summed by end user: rebuilt without one",
}

# Columns that name a person, or say where they were, wherever they appear.
PERSON_COLUMNS = {"user_id", "email", "ip", "client_ip", "actor"}
# Columns that do so in a table about people (one with a column above).
PERSON_SUFFIXES = ("_user_id", "_user", "_by", "_email", "_ip")
ABOUT_PEOPLE_COLUMNS = {"name", "address"}


def _names_a_person(column: Column[object]) -> bool:
    return (
        column.name in PERSON_COLUMNS
        or column.name.endswith(PERSON_SUFFIXES)
        or any(key.column.table.name == "users" for key in column.foreign_keys)
    )


def person_columns(table: Table) -> list[str]:
    """The columns that make a table hold personal data (none: it holds none)."""
    found = [column.name for column in table.columns if _names_a_person(column)]
    if table.name == "users" or found:
        found += [c.name for c in table.columns if c.name in ABOUT_PEOPLE_COLUMNS]
    return found


def exported_tables() -> set[str]:
    return {table.name for part in PARTS for table in part.tables}


def unexported_personal_tables(schema: MetaData) -> dict[str, list[str]]:
    """Tables naming a person that no part of the export holds, with the columns that
    name them."""
    return {
        name: person_columns(table)
        for name, table in schema.tables.items()
        if person_columns(table) and name not in exported_tables() | set(END_USER_DATA)
    }


def test_every_table_is_exported_or_holds_no_personal_data() -> None:
    exported = exported_tables()
    assert not exported & set(NO_PERSONAL_DATA)
    unclassified = set(metadata.tables) - exported - set(NO_PERSONAL_DATA) - set(END_USER_DATA)
    assert not unclassified, "export these tables' rows, or list them in NO_PERSONAL_DATA"
    assert set(NO_PERSONAL_DATA) <= set(metadata.tables), "a table listed here is gone"


def test_no_table_naming_a_person_is_left_out_of_the_export() -> None:
    assert unexported_personal_tables(metadata) == {}
    # The rule sees the tables it should.
    for name in ("users", "sessions", "usage_events", "audit_log", "support_messages"):
        assert person_columns(metadata.tables[name]), name
    for name in NO_PERSONAL_DATA:
        assert person_columns(metadata.tables[name]) == [], name
    for name in END_USER_DATA:
        assert set(person_columns(metadata.tables[name])) <= {"end_user", "name"}, name
    # The rollups name end users in their `value` column, under the `end_user` dimension.
    assert "end_user" in person_columns(metadata.tables["alert_rules"])


def test_a_new_table_naming_a_person_fails_until_exported() -> None:
    schema = MetaData()
    for table in metadata.tables.values():
        table.to_metadata(schema)
    Table("favourites", schema, Column("owner_user_id", String(32)), Column("name", String(9)))
    Table("visits", schema, Column("ip", String(64)))
    Table("colours", schema, Column("name", String(9)))
    assert unexported_personal_tables(schema) == {
        "favourites": ["owner_user_id", "name"],
        "visits": ["ip"],
    }


def test_parts_are_distinct_files_each_described() -> None:
    files = [part.file for part in PARTS]
    assert len(files) == len(set(files)) and "README.txt" not in files
    for part in PARTS:
        assert part.description and part.fields, part.file
        assert all(meaning for meaning in part.fields.values()), part.file
