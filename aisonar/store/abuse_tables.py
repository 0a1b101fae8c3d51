"""The tables of abuse detection (`abuse/`): findings, and the tallies each server's
detection job flushes from its in-memory counters. Part of `tables.metadata`; `tables`
re-exports them."""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, ForeignKey, Index, Integer, String, Table

from aisonar.store.metadata import metadata

# A signal that fired: its kind, its subject (a key, or a client address), the figures
# that made it fire, and its review. One per kind, subject and window (`dedupe`), so the
# servers sharing the database record it once.
abuse_findings = Table(
    "abuse_findings",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("kind", String(32), nullable=False),
    # Null for an address no organization owns (a key scan, a stuffing run): operators'.
    Column("org_id", String(32), ForeignKey("organizations.id")),
    Column("user_id", String(32)),
    # key or address; the key's id or the address.
    Column("subject_kind", String(16), nullable=False),
    Column("subject_id", String(64), nullable=False),
    Column("evidence", JSON, nullable=False),
    Column("detected_at", DateTime(timezone=True), nullable=False),
    Column("dedupe", String(200), nullable=False, unique=True),
    # open, dismissed or confirmed.
    Column("status", String(16), nullable=False),
    Column("reviewed_at", DateTime(timezone=True)),
    Column("reviewed_by", String(320)),
    Index(None, "org_id", "detected_at"),
    Index(None, "status", "detected_at"),
)

# What one server counted in one flush: refused key presentations per client address.
# Detection sums the rows of its window; rows older than a day are deleted.
abuse_tallies = Table(
    "abuse_tallies",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("subject", String(64), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("count", Integer, nullable=False),
    Index(None, "at"),
)
