"""usage rollups by day: a covering index for the KPI engine's monthly usage figures

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_usage_daily_day", "usage_daily", ["day", "account_id", "metric", "value"], unique=False)
    # health scores (issue 6): one metric over a range of days is an index range scan
    op.create_index("ix_usage_daily_metric_day", "usage_daily", ["metric", "day", "account_id", "value"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_usage_daily_metric_day", table_name="usage_daily")
    op.drop_index("ix_usage_daily_day", table_name="usage_daily")
