"""ingestion: keys that can only report usage, and what an application reports with its
events (its own event id, its end user, custom properties)

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("scope", sa.String(16), server_default="all", nullable=False))
    with op.batch_alter_table("usage_events") as batch:
        batch.add_column(sa.Column("external_id", sa.String(200), nullable=True))
        batch.add_column(sa.Column("end_user", sa.String(200), nullable=True))
        batch.add_column(sa.Column("properties", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("usage_events") as batch:
        batch.drop_column("properties")
        batch.drop_column("end_user")
        batch.drop_column("external_id")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("scope")
