"""segments: touch tiers, lifecycle stages, at-risk, fit and health columns on accounts;
segment overrides and history

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kizuna.db.types

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True)


_TIERS = ("high", "low", "tech")
_STAGES = ("onboarding", "adoption", "expansion", "renewal", "churned")


def upgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("touch_tier", _enum("touch_tier", *_TIERS), nullable=True))
        batch_op.add_column(sa.Column("touch_tier_rule", _enum("touch_tier_rule", *_TIERS), nullable=True))
        batch_op.add_column(sa.Column("lifecycle_stage", _enum("lifecycle_stage", *_STAGES), nullable=True))
        batch_op.add_column(sa.Column("lifecycle_stage_rule", _enum("lifecycle_stage_rule", *_STAGES), nullable=True))
        batch_op.add_column(sa.Column("at_risk", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("fit_score", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("fit_band", _enum("fit_band", "strong", "moderate", "weak"), nullable=True))
        batch_op.add_column(sa.Column("health_score", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("health_grade", _enum("health_grade", "green", "yellow", "red"), nullable=True))
        batch_op.add_column(sa.Column("health_as_of", sa.Date(), nullable=True))
        batch_op.create_index(batch_op.f("ix_accounts_touch_tier"), ["touch_tier"], unique=False)
        batch_op.create_index(batch_op.f("ix_accounts_lifecycle_stage"), ["lifecycle_stage"], unique=False)
        batch_op.create_index(batch_op.f("ix_accounts_at_risk"), ["at_risk"], unique=False)
        batch_op.create_index(batch_op.f("ix_accounts_fit_band"), ["fit_band"], unique=False)
        batch_op.create_index(batch_op.f("ix_accounts_health_score"), ["health_score"], unique=False)
        batch_op.create_index(batch_op.f("ix_accounts_health_grade"), ["health_grade"], unique=False)

    op.create_table(
        "segment_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("dimension", _enum("segment_dimension", "tier", "stage"), nullable=False),
        sa.Column("value", sa.String(length=20), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("set_by_id", sa.Integer(), nullable=True),
        sa.Column("set_by", sa.String(length=200), nullable=False),
        sa.Column("set_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_segment_overrides_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["set_by_id"], ["users.id"], name=op.f("fk_segment_overrides_set_by_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment_overrides")),
        sa.UniqueConstraint("account_id", "dimension", name=op.f("uq_segment_overrides_account_id_dimension")),
    )
    op.create_table(
        "segment_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("dimension", _enum("segment_dimension", "tier", "stage"), nullable=False),
        sa.Column("value", sa.String(length=20), nullable=False),
        sa.Column("from_on", sa.Date(), nullable=False),
        sa.Column("to_on", sa.Date(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("set_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_segment_changes_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segment_changes")),
    )
    with op.batch_alter_table("segment_changes", schema=None) as batch_op:
        batch_op.create_index("ix_segment_changes_account", ["account_id", "dimension", "from_on"], unique=False)
        batch_op.create_index("ix_segment_changes_open", ["dimension", "to_on"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("segment_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_segment_changes_open")
        batch_op.drop_index("ix_segment_changes_account")
    op.drop_table("segment_changes")
    op.drop_table("segment_overrides")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounts_health_grade"))
        batch_op.drop_index(batch_op.f("ix_accounts_health_score"))
        batch_op.drop_index(batch_op.f("ix_accounts_fit_band"))
        batch_op.drop_index(batch_op.f("ix_accounts_at_risk"))
        batch_op.drop_index(batch_op.f("ix_accounts_lifecycle_stage"))
        batch_op.drop_index(batch_op.f("ix_accounts_touch_tier"))
        batch_op.drop_column("health_as_of")
        batch_op.drop_column("health_grade")
        batch_op.drop_column("health_score")
        batch_op.drop_column("fit_band")
        batch_op.drop_column("fit_score")
        batch_op.drop_column("at_risk")
        batch_op.drop_column("lifecycle_stage_rule")
        batch_op.drop_column("lifecycle_stage")
        batch_op.drop_column("touch_tier_rule")
        batch_op.drop_column("touch_tier")
