"""lifetime value per account (issue 21): ltv_segment_fits (the sBG fit of each segment) and
account_ltv (each running account's residual value and how it was found)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kizuna.db.types

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ltv_segment_fits",
        sa.Column("segment", sa.String(length=200), nullable=False),
        sa.Column("term_months", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("contracts", sa.Integer(), nullable=False),
        sa.Column("cohorts", sa.Integer(), nullable=False),
        sa.Column("churned", sa.Integer(), nullable=False),
        sa.Column("alpha", sa.Float(), nullable=True),
        sa.Column("beta", sa.Float(), nullable=True),
        sa.Column("log_likelihood", sa.Float(), nullable=True),
        sa.Column("pooled", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column(
            "observed", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("fitted_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("segment", "term_months", name=op.f("pk_ltv_segment_fits")),
    )
    op.create_table(
        "account_ltv",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("segment", sa.String(length=200), nullable=False),
        sa.Column("term_months", sa.Integer(), nullable=False),
        sa.Column("renewals", sa.Integer(), nullable=False),
        sa.Column("pooled", sa.Boolean(), nullable=False),
        sa.Column("alpha", sa.Float(), nullable=True),
        sa.Column("beta", sa.Float(), nullable=True),
        sa.Column("retention", sa.Float(), nullable=True),
        sa.Column("derl", sa.Float(), nullable=True),
        sa.Column("payment", sa.BigInteger(), nullable=False),
        sa.Column("mrr", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("discount_rate", sa.Float(), nullable=False),
        sa.Column("margin", sa.Float(), nullable=False),
        sa.Column("revenue_to_date", sa.BigInteger(), nullable=False),
        sa.Column("residual_value", sa.BigInteger(), nullable=True),
        sa.Column("ltv", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_account_ltv_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_account_ltv")),
    )
    with op.batch_alter_table("account_ltv", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_account_ltv_ltv"), ["ltv"], unique=False)
        batch_op.create_index(batch_op.f("ix_account_ltv_residual_value"), ["residual_value"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("account_ltv", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_ltv_residual_value"))
        batch_op.drop_index(batch_op.f("ix_account_ltv_ltv"))

    op.drop_table("account_ltv")
    op.drop_table("ltv_segment_fits")
