"""usage partitions: on PostgreSQL, raw usage events partitioned by day of started_at
(usage/partitions.py creates and drops the days), with a default partition for events
that have no day of their own; the primary key becomes (id, started_at), as PostgreSQL
requires of a partitioned table. SQLite is left as it is.

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_INDEXES = (
    ("ix_usage_events_org_id_started_at", "org_id, started_at"),
    ("ix_usage_events_user_id_started_at", "user_id, started_at"),
    ("ix_usage_events_key_id_started_at", "key_id, started_at"),
    ("ix_usage_events_started_at", "started_at"),
)


def _set_aside(table: str, primary_key: str) -> None:
    op.execute(f"ALTER TABLE usage_events RENAME TO {table}")
    op.execute(f"ALTER TABLE {table} RENAME CONSTRAINT pk_usage_events TO {primary_key}")
    for name, _ in _INDEXES:
        op.execute(f"ALTER INDEX {name} RENAME TO {name}_old")


def _indexed(primary_key: str) -> None:
    op.execute(
        f"ALTER TABLE usage_events ADD CONSTRAINT pk_usage_events PRIMARY KEY ({primary_key})"
    )
    for name, columns in _INDEXES:
        op.execute(f"CREATE INDEX {name} ON usage_events ({columns})")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _set_aside("usage_events_unpartitioned", "pk_usage_events_unpartitioned")
    op.execute(
        "CREATE TABLE usage_events (LIKE usage_events_unpartitioned INCLUDING DEFAULTS) "
        "PARTITION BY RANGE (started_at)"
    )
    _indexed("id, started_at")
    op.execute("CREATE TABLE usage_events_default PARTITION OF usage_events DEFAULT")
    op.execute("INSERT INTO usage_events SELECT * FROM usage_events_unpartitioned")
    op.execute("DROP TABLE usage_events_unpartitioned")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _set_aside("usage_events_partitioned", "pk_usage_events_partitioned")
    op.execute("CREATE TABLE usage_events (LIKE usage_events_partitioned INCLUDING DEFAULTS)")
    _indexed("id")
    op.execute("INSERT INTO usage_events SELECT * FROM usage_events_partitioned")
    op.execute("DROP TABLE usage_events_partitioned")
