"""the churn model (issue 16): churn_models (trained models with their feature schema) and
churn_scores (each account's probability of churning within the horizon, with drivers)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kizuna.db.types

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _json() -> Any:
    return sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "churn_models",
        sa.Column("version", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("trained_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("horizon_days", sa.Integer(), nullable=False),
        sa.Column("booster", sa.Text(), nullable=False),
        sa.Column("spec", _json(), nullable=False),
        sa.Column("evaluation", _json(), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_churn_models")),
    )
    op.create_table(
        "churn_scores",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("horizon_days", sa.Integer(), nullable=False),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("drivers_json", _json(), nullable=False),
        sa.Column("scored_by", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_churn_scores_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("account_id", "as_of", "horizon_days", name=op.f("pk_churn_scores")),
    )
    op.create_index("ix_churn_scores_as_of_probability", "churn_scores", ["as_of", "probability"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_churn_scores_as_of_probability", table_name="churn_scores")
    op.drop_table("churn_scores")
    op.drop_table("churn_models")
