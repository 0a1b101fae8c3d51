"""invitations: a token mailed to a new member to choose their first password, kept
beside the password reset tokens with what each is for

Revision ID: 0028
Revises: 0027
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every token issued before the upgrade reset a forgotten password.
    with op.batch_alter_table("password_resets") as batch:
        batch.add_column(
            sa.Column("purpose", sa.String(length=16), nullable=False, server_default="reset")
        )


def downgrade() -> None:
    op.execute("DELETE FROM password_resets WHERE purpose <> 'reset'")
    with op.batch_alter_table("password_resets") as batch:
        batch.drop_column("purpose")
