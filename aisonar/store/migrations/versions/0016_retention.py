"""retention: days of raw usage per plan (Free 7, Pro 90, Scale 365, Enterprise 365 unless
the organization sets its own)

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

_DAYS = {"free": 7, "pro": 90, "scale": 365, "enterprise": 365}


def upgrade() -> None:
    with op.batch_alter_table("plans") as batch:
        batch.add_column(
            sa.Column("retention_days", sa.Integer(), server_default="90", nullable=False)
        )
    with op.batch_alter_table("organizations") as batch:
        batch.add_column(sa.Column("retention_days", sa.Integer(), nullable=True))
    plans = sa.table("plans", sa.column("name", sa.String), sa.column("retention_days", sa.Integer))
    for name, days in _DAYS.items():
        op.execute(plans.update().where(plans.c.name == name).values(retention_days=days))


def downgrade() -> None:
    with op.batch_alter_table("organizations") as batch:
        batch.drop_column("retention_days")
    with op.batch_alter_table("plans") as batch:
        batch.drop_column("retention_days")
