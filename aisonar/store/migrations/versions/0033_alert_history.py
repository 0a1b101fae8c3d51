"""alert history: the channels each alert rule's notices go by (every channel for the
rules there are), the end user or custom property a rule may watch, the channels of each
notice (every one, as before), and a row for each time a rule fired, with when it
resolved

Revision ID: 0033
Revises: 0032
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None

_NOTICE_CHANNELS = ("by_email", "by_webhook", "to_inbox")
_SCOPES = (("end_user", 200), ("property_name", 64), ("property_value", 256))


def upgrade() -> None:
    for name in _NOTICE_CHANNELS:
        op.add_column(
            "notices", sa.Column(name, sa.Boolean(), nullable=False, server_default=sa.true())
        )
    for name, length in _SCOPES:
        op.add_column("alert_rules", sa.Column(name, sa.String(length=length), nullable=True))
    op.add_column(
        "alert_rules",
        sa.Column(
            "channels",
            sa.JSON(),
            nullable=False,
            server_default=sa.text("""'["email", "inbox", "webhook"]'"""),
        ),
    )
    op.create_table(
        "alert_firings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rule_id", sa.String(length=32), nullable=False),
        sa.Column("org_id", sa.String(length=32), nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("observed", sa.String(length=40), nullable=False),
        sa.Column("threshold", sa.String(length=40), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("fired_notice_id", sa.Integer(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_observed", sa.String(length=40), nullable=True),
        sa.Column("resolved_notice_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["rule_id"], ["alert_rules.id"], name=op.f("fk_alert_firings_rule_id_alert_rules")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organizations.id"], name=op.f("fk_alert_firings_org_id_organizations")
        ),
        sa.ForeignKeyConstraint(
            ["fired_notice_id"],
            ["notices.id"],
            name=op.f("fk_alert_firings_fired_notice_id_notices"),
        ),
        sa.ForeignKeyConstraint(
            ["resolved_notice_id"],
            ["notices.id"],
            name=op.f("fk_alert_firings_resolved_notice_id_notices"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_firings")),
    )
    op.create_index(op.f("ix_alert_firings_rule_id_id"), "alert_firings", ["rule_id", "id"])
    op.create_index(
        op.f("ix_alert_firings_org_id_fired_at"), "alert_firings", ["org_id", "fired_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_alert_firings_org_id_fired_at"), table_name="alert_firings")
    op.drop_index(op.f("ix_alert_firings_rule_id_id"), table_name="alert_firings")
    op.drop_table("alert_firings")
    with op.batch_alter_table("alert_rules") as batch:
        batch.drop_column("channels")
        for name, _ in _SCOPES:
            batch.drop_column(name)
    with op.batch_alter_table("notices") as batch:
        for name in _NOTICE_CHANNELS:
            batch.drop_column(name)
