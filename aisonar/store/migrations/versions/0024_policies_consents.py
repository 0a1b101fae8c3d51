"""policies and consents: the operator's versioned privacy policy and terms, people's
acknowledgements of them, and the history of each person's consents; a user's company

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("company", sa.String(length=200), nullable=True))
    op.create_table(
        "policies",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("material", sa.Boolean(), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(length=320), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("announced_through", sa.String(length=32), nullable=True),
        sa.Column("announced_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_policies")),
        sa.UniqueConstraint("kind", "version", name=op.f("uq_policies_kind_version")),
    )
    op.create_table(
        "policy_acknowledgements",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("policy_id", sa.String(length=32), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_policy_acknowledgements_user_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["policy_id"],
            ["policies.id"],
            name=op.f("fk_policy_acknowledgements_policy_id_policies"),
        ),
        sa.PrimaryKeyConstraint("user_id", "policy_id", name=op.f("pk_policy_acknowledgements")),
    )
    op.create_table(
        "consents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("policy_id", sa.String(length=32), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_consents_user_id_users")),
        sa.ForeignKeyConstraint(
            ["policy_id"], ["policies.id"], name=op.f("fk_consents_policy_id_policies")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    op.create_index(
        op.f("ix_consents_user_id_purpose_id"), "consents", ["user_id", "purpose", "id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_consents_user_id_purpose_id"), table_name="consents")
    op.drop_table("consents")
    op.drop_table("policy_acknowledgements")
    op.drop_table("policies")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("company")
