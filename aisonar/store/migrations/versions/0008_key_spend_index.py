"""usage events indexed by key and time, for a key's spend in a period

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("usage_events") as batch:
        batch.create_index(
            batch.f("ix_usage_events_key_id_started_at"), ["key_id", "started_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("usage_events") as batch:
        batch.drop_index(batch.f("ix_usage_events_key_id_started_at"))
