"""api keys: rotation with a grace period, and an address allowlist

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("previous_key_hash", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("previous_valid_until", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("allowed_ips", sa.JSON(), nullable=True))
        batch.create_unique_constraint(
            batch.f("uq_api_keys_previous_key_hash"), ["previous_key_hash"]
        )


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_constraint(batch.f("uq_api_keys_previous_key_hash"), type_="unique")
        batch.drop_column("allowed_ips")
        batch.drop_column("previous_valid_until")
        batch.drop_column("previous_key_hash")
