"""contract terms: a subscription line's term in months, an account's main contract term

The account summaries (renewal_on, contract_term_months) follow at the next daily job.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("contract_term_months", sa.Integer(), nullable=True))

    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("term_months", sa.Integer(), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_subscriptions_term_months_range"),
            "term_months IS NULL OR (term_months >= 1 AND term_months <= 120)",
        )


def downgrade() -> None:
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_subscriptions_term_months_range"), type_="check")
        batch_op.drop_column("term_months")

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("contract_term_months")
