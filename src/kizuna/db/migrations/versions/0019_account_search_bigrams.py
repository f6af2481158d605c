"""account search: a bigram index of names and domains, kept by triggers

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from kizuna.db import bigrams

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "account_bigrams",
        sa.Column("bigram", sa.String(length=2), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("bigram", "account_id", name=op.f("pk_account_bigrams")),
        sqlite_with_rowid=False,
    )
    op.create_index(op.f("ix_account_bigrams_account_id"), "account_bigrams", ["account_id"], unique=False)
    op.create_table(
        "search_positions",
        sa.Column("i", sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("i", name=op.f("pk_search_positions")),
    )
    # the positions, the triggers, and the index of every account there is
    bigrams.install(op.get_bind())


def downgrade() -> None:
    bigrams.drop_triggers(op.get_bind())
    op.drop_index(op.f("ix_account_bigrams_account_id"), table_name="account_bigrams")
    op.drop_table("account_bigrams")
    op.drop_table("search_positions")
