"""the ingestion write path: rollup journals (contributions not yet in usage_daily), and
usage_events.contact_id without its foreign key and index

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "usage_daily_pending",
        sa.Column("id", _ID, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("metric", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_daily_pending")),
    )
    op.create_table(
        "usage_daily_users_pending",
        sa.Column("id", _ID, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("user_key", sa.String(length=140), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_daily_users_pending")),
    )
    # The contact who sent an event is kept as history, not as a reference to keep in
    # step: its index cost an ingestion commit a page write per event, and the foreign
    # key's ON DELETE SET NULL a scan of every event per contact deleted.
    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_events_contact_id")
        batch_op.drop_constraint("fk_usage_events_contact_id_contacts", type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.create_foreign_key("fk_usage_events_contact_id_contacts", "contacts", ["contact_id"], ["id"],
                                    ondelete="SET NULL")  # fmt: skip
        batch_op.create_index("ix_usage_events_contact_id", ["contact_id"], unique=False)
    op.drop_table("usage_daily_users_pending")
    op.drop_table("usage_daily_pending")
