"""usage_monthly: each account's calendar months of usage_daily, kept by triggers (issue 19)

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kizuna.db.types
from kizuna.db import usage_months

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "usage_monthly",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("month", kizuna.db.types.BoundedDate(), nullable=False),
        sa.Column("active_rows", sa.Integer(), nullable=False),
        sa.Column("events", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_usage_monthly_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("account_id", "month", name=op.f("pk_usage_monthly")),
    )
    op.create_index("ix_usage_monthly_month", "usage_monthly", ["month", "account_id", "active_rows", "events"])
    # the triggers, and the months of every usage figure there is
    usage_months.install(op.get_bind())


def downgrade() -> None:
    usage_months.drop_triggers(op.get_bind())
    op.drop_index("ix_usage_monthly_month", table_name="usage_monthly")
    op.drop_table("usage_monthly")
