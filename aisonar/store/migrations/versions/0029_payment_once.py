"""payments: an event id credits once across every organization (a unique partial index
on the ledger's payment keys, which also finds an event's entry without its organization)

Revision ID: 0029
Revises: 0028
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

_PAYMENT_KEYS = sa.text("idempotency_key LIKE 'payment:%'")


def upgrade() -> None:
    op.create_index(
        "ix_ledger_entries_payment_key",
        "ledger_entries",
        ["idempotency_key"],
        unique=True,
        sqlite_where=_PAYMENT_KEYS,
        postgresql_where=_PAYMENT_KEYS,
    )


def downgrade() -> None:
    op.drop_index("ix_ledger_entries_payment_key", table_name="ledger_entries")
