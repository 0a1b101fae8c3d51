"""site analytics: the console's page views, counted per day and combination of path,
referrer domain, browser family, device type and country; aggregates only

Revision ID: 0025
Revises: 0024
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "site_page_views",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("path", sa.String(length=200), nullable=False),
        sa.Column("referrer_domain", sa.String(length=253), nullable=False),
        sa.Column("browser_family", sa.String(length=64), nullable=False),
        sa.Column("device_type", sa.String(length=16), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("views", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "day",
            "path",
            "referrer_domain",
            "browser_family",
            "device_type",
            "country",
            name=op.f("pk_site_page_views"),
        ),
    )


def downgrade() -> None:
    op.drop_table("site_page_views")
