"""attribution: a usage event's session, beside its end user and properties (which
reported events had already), and the indexes that read an organization's events by end
user or session

Revision ID: 0032
Revises: 0031
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

_INDEXES = {
    "ix_usage_events_org_id_end_user_started_at": ["org_id", "end_user", "started_at"],
    "ix_usage_events_org_id_session_id_started_at": ["org_id", "session_id", "started_at"],
}


def upgrade() -> None:
    op.add_column("usage_events", sa.Column("session_id", sa.String(128), nullable=True))
    for name, columns in _INDEXES.items():
        op.create_index(name, "usage_events", columns)


def downgrade() -> None:
    for name in _INDEXES:
        op.drop_index(name, table_name="usage_events")
    with op.batch_alter_table("usage_events") as batch:
        batch.drop_column("session_id")
