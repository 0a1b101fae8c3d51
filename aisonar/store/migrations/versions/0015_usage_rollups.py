"""usage rollups per minute, hour and day; the provider and source of each usage event

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# As they were when this revision was written (tables.py may move on).
_DIMENSIONS = (
    "org_id",
    "user_id",
    "key_id",
    "model",
    "provider",
    "channel_id",
    "status_class",
    "source",
)
_SUMS = (
    "requests",
    "errors",
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cost",
    "latency_ms_sum",
    "ttft_ms_sum",
    "ttft_count",
    "generation_ms_sum",
    "generated_tokens",
    *(f"latency_b{index:02d}" for index in range(32)),
    *(f"ttft_b{index:02d}" for index in range(32)),
)


def upgrade() -> None:
    with op.batch_alter_table("usage_events") as batch:
        batch.add_column(sa.Column("provider", sa.String(length=32), nullable=True))
        batch.add_column(
            sa.Column("source", sa.String(length=16), server_default="gateway", nullable=False)
        )
    op.create_table(
        "rollup_dimensions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        *(
            sa.Column(name, sa.String(length=200 if name == "model" else 32), nullable=False)
            for name in _DIMENSIONS
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollup_dimensions")),
        sa.UniqueConstraint(*_DIMENSIONS, name="uq_rollup_dimensions_combination"),
    )
    op.create_index(
        op.f("ix_rollup_dimensions_org_id"), "rollup_dimensions", ["org_id"], unique=False
    )
    op.create_table(
        "usage_rollups",
        sa.Column("granularity", sa.Integer(), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dimensions_id", sa.Integer(), nullable=False),
        *(sa.Column(name, sa.BigInteger(), server_default="0", nullable=False) for name in _SUMS),
        sa.PrimaryKeyConstraint(
            "granularity", "org_id", "bucket_start", "dimensions_id", name=op.f("pk_usage_rollups")
        ),
    )
    op.create_index(
        op.f("ix_usage_rollups_granularity_bucket_start"),
        "usage_rollups",
        ["granularity", "bucket_start"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("usage_rollups")
    op.drop_table("rollup_dimensions")
    with op.batch_alter_table("usage_events") as batch:
        batch.drop_column("source")
        batch.drop_column("provider")
