"""health scores: daily snapshots, CSM sentiment entries, scorecard versions

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kizuna.db.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "health_snapshots",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("scorecard", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column(
            "grade",
            sa.Enum("green", "yellow", "red", name="health_snapshot_grade", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column(
            "letter",
            sa.Enum("A", "B", "C", "D", "F", name="health_snapshot_letter", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("change_7d", sa.Float(), nullable=True),
        sa.Column("change_30d", sa.Float(), nullable=True),
        sa.Column("measures", _JSON, nullable=False),
        sa.Column("explanation", _JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_health_snapshots_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("account_id", "day", name=op.f("pk_health_snapshots")),
    )
    with op.batch_alter_table("health_snapshots", schema=None) as batch_op:
        batch_op.create_index("ix_health_snapshots_day_grade", ["day", "grade"], unique=False)

    op.create_table(
        "health_sentiments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("entered_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("value >= 1 AND value <= 5", name=op.f("ck_health_sentiments_value_1_to_5")),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_health_sentiments_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_health_sentiments_author_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_sentiments")),
    )
    with op.batch_alter_table("health_sentiments", schema=None) as batch_op:
        batch_op.create_index("ix_health_sentiments_account_time", ["account_id", "entered_at"], unique=False)

    op.create_table(
        "health_scorecard_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=500), nullable=True),
        sa.Column("created_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_health_scorecard_versions_author_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_scorecard_versions")),
    )


def downgrade() -> None:
    op.drop_table("health_scorecard_versions")
    with op.batch_alter_table("health_sentiments", schema=None) as batch_op:
        batch_op.drop_index("ix_health_sentiments_account_time")
    op.drop_table("health_sentiments")
    with op.batch_alter_table("health_snapshots", schema=None) as batch_op:
        batch_op.drop_index("ix_health_snapshots_day_grade")
    op.drop_table("health_snapshots")
