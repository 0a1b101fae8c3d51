"""model tier: each organization's use of each model per hour and day, kept beside the
combinations' rollups (under negated dimension ids) so that breakdowns by model read a
row per organization, model and bucket; built here for the history there is.

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import op

from aisonar.usage.compaction import bound, model_tier_statements
from aisonar.usage.rollups import DAY, HOUR

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_EVER = datetime(1970, 1, 1, tzinfo=UTC)
_NEVER = datetime(9999, 1, 1, tzinfo=UTC)


def upgrade() -> None:
    for granularity in (HOUR, DAY):
        for sql in model_tier_statements(granularity):
            op.get_bind().execute(bound(sql), {"since": _EVER, "through": _NEVER})


def downgrade() -> None:
    op.execute("DELETE FROM usage_rollups WHERE dimensions_id < 0")
    op.execute("DELETE FROM rollup_dimensions WHERE status_class = ''")
