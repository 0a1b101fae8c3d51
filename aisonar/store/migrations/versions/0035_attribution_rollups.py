"""attribution rollups: usage summed per hour and day by end user and by the custom
properties an organization marks as dimensions (`organizations.dimension_properties`),
built here by end user from the events already stored

Revision ID: 0035
Revises: 0034
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from aisonar.store.rollup_columns import ROLLUP_SUMS
from aisonar.usage.attribution_rollups import END_USER, rebuild_statements

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("organizations", sa.Column("dimension_properties", sa.JSON, nullable=True))
    op.create_table(
        "attribution_rollups",
        sa.Column("granularity", sa.Integer, primary_key=True),
        sa.Column("org_id", sa.String(32), primary_key=True),
        sa.Column("dimension", sa.String(80), primary_key=True),
        sa.Column("value", sa.String(500), primary_key=True),
        sa.Column("bucket_start", sa.DateTime(timezone=True), primary_key=True),
        *(
            sa.Column(name, sa.BigInteger, nullable=False, server_default="0")
            for name in ROLLUP_SUMS
        ),
    )
    op.create_index(
        "ix_attribution_rollups_range",
        "attribution_rollups",
        ["granularity", "org_id", "dimension", "bucket_start"],
    )
    bind = op.get_bind()
    for statement in rebuild_statements(bind.dialect.name, None, END_USER):
        bind.execute(statement)


def downgrade() -> None:
    op.drop_table("attribution_rollups")
    with op.batch_alter_table("organizations") as batch:
        batch.drop_column("dimension_properties")
