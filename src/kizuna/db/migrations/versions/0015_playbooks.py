"""playbooks: saved versions and enrollments

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kizuna.db.types

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "playbook_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("created_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_playbook_versions_created_by_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playbook_versions")),
        sa.UniqueConstraint("key", "version", name=op.f("uq_playbook_versions_key_version")),
    )
    op.create_index(op.f("ix_playbook_versions_key"), "playbook_versions", ["key"], unique=False)
    op.create_table(
        "playbook_enrollments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("playbook_key", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("holdout", sa.Boolean(), nullable=False),
        sa.Column("entered_on", kizuna.db.types.BoundedDate(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("next_on", kizuna.db.types.BoundedDate(), nullable=True),
        sa.Column("finished_on", kizuna.db.types.BoundedDate(), nullable=True),
        sa.Column("log", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_playbook_enrollments_account_id_accounts"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playbook_enrollments")),
    )
    op.create_index(op.f("ix_playbook_enrollments_account_id"), "playbook_enrollments", ["account_id"], unique=False)
    op.create_index("ix_playbook_enrollments_key_state", "playbook_enrollments", ["playbook_key", "state"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_playbook_enrollments_key_state", table_name="playbook_enrollments")
    op.drop_index(op.f("ix_playbook_enrollments_account_id"), table_name="playbook_enrollments")
    op.drop_table("playbook_enrollments")
    op.drop_index(op.f("ix_playbook_versions_key"), table_name="playbook_versions")
    op.drop_table("playbook_versions")
