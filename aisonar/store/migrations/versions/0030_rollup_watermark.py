"""rollup watermark: the hour and day rollups hold every minute before
`rollup_compaction.compacted_through` and none after, so that readers take the minutes
from it on. Set here to the hour three hours back, before which the previous compaction
(which rebuilt the last three hours each run) had left hours complete; the hours from it
on are dropped (the next run rebuilds them from their minutes) and that day rebuilt from
the hours before it.

Revision ID: 0030
Revises: 0029
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from alembic import op

from aisonar.usage.compaction import bound, floor, summary_statements
from aisonar.usage.rollups import DAY, HOUR

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "rollup_compaction",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("compacted_through", sa.DateTime(timezone=True), nullable=False),
    )
    through = floor(datetime.now(UTC) - timedelta(hours=3), HOUR)
    day = floor(through, DAY)
    bind = op.get_bind()
    bind.execute(sa.insert(table).values(id=1, compacted_through=through))
    times = sa.DateTime(timezone=True)
    for granularity, start in ((HOUR, through), (DAY, day)):
        bind.execute(
            sa.text(
                f"DELETE FROM usage_rollups WHERE granularity = {granularity} "
                "AND bucket_start >= :start"
            ).bindparams(sa.bindparam("start", type_=times)),
            {"start": start},
        )
    for sql in summary_statements(bind.dialect.name, DAY, HOUR):
        bind.execute(bound(sql), {"since": day, "through": through})


def downgrade() -> None:
    op.drop_table("rollup_compaction")
