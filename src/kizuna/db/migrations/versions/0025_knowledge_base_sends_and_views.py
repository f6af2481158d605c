"""knowledge-base articles sent by a playbook step (kb_sends) and the signed links opened (kb_views)

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kizuna.db.types

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kb_sends",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("playbook_key", sa.String(length=64), nullable=True),
        sa.Column("enrollment_id", sa.Integer(), nullable=True),
        sa.Column("sent_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_kb_sends_account_id_accounts"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["article_id"], ["kb_articles.id"], name=op.f("fk_kb_sends_article_id_kb_articles"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name=op.f("fk_kb_sends_contact_id_contacts"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["enrollment_id"], ["playbook_enrollments.id"],
                                name=op.f("fk_kb_sends_enrollment_id_playbook_enrollments"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_sends")),
    )  # fmt: skip
    op.create_index(op.f("ix_kb_sends_article_id"), "kb_sends", ["article_id"])
    op.create_index(op.f("ix_kb_sends_account_id"), "kb_sends", ["account_id"])
    op.create_index(op.f("ix_kb_sends_contact_id"), "kb_sends", ["contact_id"])
    op.create_index(op.f("ix_kb_sends_playbook_key"), "kb_sends", ["playbook_key"])
    op.create_table(
        "kb_views",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("send_id", sa.Integer(), nullable=False),
        sa.Column("viewed_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["send_id"], ["kb_sends.id"], name=op.f("fk_kb_views_send_id_kb_sends"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kb_views")),
    )  # fmt: skip
    op.create_index(op.f("ix_kb_views_send_id"), "kb_views", ["send_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_kb_views_send_id"), table_name="kb_views")
    op.drop_table("kb_views")
    for column in ("playbook_key", "contact_id", "account_id", "article_id"):
        op.drop_index(op.f(f"ix_kb_sends_{column}"), table_name="kb_sends")
    op.drop_table("kb_sends")
