"""abuse findings: each signal of abuse that fired (a key shared or scanned for, a
credential stuffing run) with its evidence and review, and the tallies of refused key
presentations each server flushes

Revision ID: 0034
Revises: 0033
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "abuse_findings",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=True),
        sa.Column("user_id", sa.String(length=32), nullable=True),
        sa.Column("subject_kind", sa.String(length=16), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("dedupe", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by", sa.String(length=320), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_abuse_findings_org_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_abuse_findings")),
        sa.UniqueConstraint("dedupe", name=op.f("uq_abuse_findings_dedupe")),
    )
    op.create_index(
        op.f("ix_abuse_findings_org_id_detected_at"), "abuse_findings", ["org_id", "detected_at"]
    )
    op.create_index(
        op.f("ix_abuse_findings_status_detected_at"), "abuse_findings", ["status", "detected_at"]
    )
    op.create_table(
        "abuse_tallies",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_abuse_tallies")),
    )
    op.create_index(op.f("ix_abuse_tallies_at"), "abuse_tallies", ["at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_abuse_tallies_at"), table_name="abuse_tallies")
    op.drop_table("abuse_tallies")
    op.drop_index(op.f("ix_abuse_findings_status_detected_at"), table_name="abuse_findings")
    op.drop_index(op.f("ix_abuse_findings_org_id_detected_at"), table_name="abuse_findings")
    op.drop_table("abuse_findings")
