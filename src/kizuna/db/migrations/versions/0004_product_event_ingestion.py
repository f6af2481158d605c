"""product event ingestion: parked events, ingestion counters, active users per day

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kizuna.db.types

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ingest_counts",
        sa.Column("hour", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("hour", "source", "outcome", "reason", name=op.f("pk_ingest_counts")),
    )
    op.create_table(
        "ingest_parked",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("message_id", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("group_id", sa.String(length=128), nullable=True),
        sa.Column("user_id", sa.String(length=128), nullable=True),
        sa.Column("anonymous_id", sa.String(length=128), nullable=True),
        sa.Column("event", sa.String(length=200), nullable=True),
        sa.Column("timestamp", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "payload", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_parked")),
        sa.UniqueConstraint("source", "message_id", name=op.f("uq_ingest_parked_source_message_id")),
    )
    with op.batch_alter_table("ingest_parked", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ingest_parked_group_id"), ["group_id"], unique=False)
        batch_op.create_index("ix_ingest_parked_reason_id", ["reason", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_ingest_parked_user_id"), ["user_id"], unique=False)

    op.create_table(
        "usage_daily_users",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("user_key", sa.String(length=140), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_usage_daily_users_account_id_accounts"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("account_id", "day", "user_key", name=op.f("pk_usage_daily_users")),
    )
    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rolled_up", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index("ix_usage_events_pending", ["account_id"], unique=False,
                              sqlite_where=sa.text("NOT rolled_up"), postgresql_where=sa.text("NOT rolled_up"))  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("usage_events", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_events_pending")
        batch_op.drop_column("rolled_up")
    op.drop_table("usage_daily_users")
    with op.batch_alter_table("ingest_parked", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ingest_parked_user_id"))
        batch_op.drop_index("ix_ingest_parked_reason_id")
        batch_op.drop_index(batch_op.f("ix_ingest_parked_group_id"))
    op.drop_table("ingest_parked")
    op.drop_table("ingest_counts")
