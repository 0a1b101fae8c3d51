"""The attribution rollups: an organization's usage summed per hour and day by end user,
and by each custom property the organization marks as a dimension
(`organizations.dimension_properties`), so that a summary grouped or filtered by one reads
a row per value and bucket instead of the raw events (`usage/attribution_rollups.py`).
Part of `tables.metadata`; `tables` re-exports it."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, String, Table

from aisonar.store.metadata import metadata
from aisonar.store.rollup_columns import ROLLUP_SUMS

# `dimension` is "end_user", or "property:<name>" for a marked property; `value` the end
# user's id or the property's value, "" for the requests without one. The sums are those
# of `usage_rollups`.
attribution_rollups = Table(
    "attribution_rollups",
    metadata,
    Column("granularity", Integer, primary_key=True),
    Column("org_id", String(32), primary_key=True),
    Column("dimension", String(80), primary_key=True),
    Column("value", String(500), primary_key=True),
    Column("bucket_start", DateTime(timezone=True), primary_key=True),
    *(Column(name, BigInteger, nullable=False, server_default="0") for name in ROLLUP_SUMS),
    Index("ix_attribution_rollups_range", "granularity", "org_id", "dimension", "bucket_start"),
)
