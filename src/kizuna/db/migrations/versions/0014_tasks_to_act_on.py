"""tasks to act on: kind, contact, snooze, the signal that made a task, who made it, the activity it follows up

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kizuna.db.types

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = ("call", "meeting", "email", "review", "renewal_prep", "other")


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "kind", sa.Enum(*KINDS, name="task_kind", native_enum=False, create_constraint=True, length=12),
                nullable=False, server_default="other",
            )
        )
        batch_op.add_column(sa.Column("contact_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("snoozed_until", kizuna.db.types.BoundedDate(), nullable=True))
        batch_op.add_column(sa.Column("signal", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("created_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("activity_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_tasks_contact_id_contacts"), "contacts", ["contact_id"], ["id"], ondelete="SET NULL"
        )
        batch_op.create_foreign_key(
            op.f("fk_tasks_created_by_id_users"), "users", ["created_by_id"], ["id"], ondelete="SET NULL"
        )
        batch_op.create_foreign_key(
            op.f("fk_tasks_activity_id_activities"), "activities", ["activity_id"], ["id"], ondelete="SET NULL"
        )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.alter_column("kind", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_tasks_activity_id_activities"), type_="foreignkey")
        batch_op.drop_constraint(op.f("fk_tasks_created_by_id_users"), type_="foreignkey")
        batch_op.drop_constraint(op.f("fk_tasks_contact_id_contacts"), type_="foreignkey")
        batch_op.drop_column("activity_id")
        batch_op.drop_column("created_by_id")
        batch_op.drop_column("signal")
        batch_op.drop_column("snoozed_until")
        batch_op.drop_column("contact_id")
        batch_op.drop_column("kind")
