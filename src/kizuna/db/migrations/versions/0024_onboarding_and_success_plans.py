"""onboarding plans (templates, who owns and who ticked a milestone) and success plans
(an objective's start, its milestones, the tasks under it)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kizuna.db.types

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "onboarding_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=True),
        sa.Column("milestones", _JSON, nullable=False),
        sa.Column("created_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_onboarding_templates")),
        sa.UniqueConstraint("key", name=op.f("uq_onboarding_templates_key")),
    )
    with op.batch_alter_table("onboarding_milestones") as batch:
        batch.add_column(sa.Column("owner", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("template_key", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("started_on", kizuna.db.types.BoundedDate(), nullable=True))
        batch.add_column(sa.Column("first_value", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch.add_column(sa.Column("completed_by_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_onboarding_milestones_completed_by_id_users"), "users",
                                 ["completed_by_id"], ["id"], ondelete="SET NULL")
    with op.batch_alter_table("success_goals") as batch:
        batch.add_column(sa.Column("started_on", kizuna.db.types.BoundedDate(), nullable=True))
    op.create_table(
        "success_milestones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("goal_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("due_on", kizuna.db.types.BoundedDate(), nullable=True),
        sa.Column("completed_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["goal_id"], ["success_goals.id"], name=op.f("fk_success_milestones_goal_id_success_goals"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_success_milestones")),
    )
    op.create_index(op.f("ix_success_milestones_goal_id"), "success_milestones", ["goal_id"], unique=False)
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("success_goal_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(op.f("fk_tasks_success_goal_id_success_goals"), "success_goals",
                                 ["success_goal_id"], ["id"], ondelete="SET NULL")
        batch.create_index(batch.f("ix_tasks_success_goal_id"), ["success_goal_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_index(batch.f("ix_tasks_success_goal_id"))
        batch.drop_constraint(op.f("fk_tasks_success_goal_id_success_goals"), type_="foreignkey")
        batch.drop_column("success_goal_id")
    op.drop_index(op.f("ix_success_milestones_goal_id"), table_name="success_milestones")
    op.drop_table("success_milestones")
    with op.batch_alter_table("success_goals") as batch:
        batch.drop_column("started_on")
    with op.batch_alter_table("onboarding_milestones") as batch:
        batch.drop_constraint(op.f("fk_onboarding_milestones_completed_by_id_users"), type_="foreignkey")
        for name in ("completed_by_id", "first_value", "started_on", "template_key", "owner"):
            batch.drop_column(name)
    op.drop_table("onboarding_templates")
