"""routing: channel priority, weight and timeouts; organization model lists; attempts

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.add_column(sa.Column("priority", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("weight", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("timeout_connect_s", sa.Float(), nullable=True))
        batch.add_column(sa.Column("timeout_first_byte_s", sa.Float(), nullable=True))
        batch.add_column(sa.Column("timeout_total_s", sa.Float(), nullable=True))
    with op.batch_alter_table("organizations") as batch:
        batch.add_column(sa.Column("models", sa.JSON(), nullable=True))
    with op.batch_alter_table("usage_events") as batch:
        batch.add_column(sa.Column("attempts", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("usage_events") as batch:
        batch.drop_column("attempts")
    with op.batch_alter_table("organizations") as batch:
        batch.drop_column("models")
    with op.batch_alter_table("channels") as batch:
        for column in (
            "timeout_total_s",
            "timeout_first_byte_s",
            "timeout_connect_s",
            "weight",
            "priority",
        ):
            batch.drop_column(column)
