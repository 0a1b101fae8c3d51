"""email change: each person's pending change of address and the hash of the code that
confirms it; the address an email delivery goes to instead of the user's own

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "email_changes",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_email_changes_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_email_changes")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_email_changes_token_hash")),
    )
    with op.batch_alter_table("notice_deliveries") as batch:
        batch.add_column(sa.Column("address", sa.String(length=320), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notice_deliveries") as batch:
        batch.drop_column("address")
    op.drop_table("email_changes")
