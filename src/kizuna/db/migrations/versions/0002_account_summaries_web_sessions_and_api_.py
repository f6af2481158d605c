"""account summaries, web sessions and API keys

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kizuna.db.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "scope",
            sa.Enum("read", "write", "ingest", name="api_key_scope", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_api_keys_created_by_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_prefix"), ["prefix"], unique=False)

    op.create_table(
        "web_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_web_sessions_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_web_sessions_token_hash")),
    )
    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_web_sessions_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_web_sessions_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "status",
                sa.Enum(
                    "prospect",
                    "trial",
                    "active",
                    "churned",
                    name="account_status",
                    native_enum=False,
                    create_constraint=True,
                ),
                nullable=False,
                server_default="prospect",  # existing rows; refresh_account_summaries fills the truth
            )
        )
        batch_op.add_column(sa.Column("mrr", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("currency", sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column("plan_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("renewal_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("customer_since", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("churned_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("summary_as_of", sa.Date(), nullable=True))
        batch_op.create_index(batch_op.f("ix_accounts_mrr"), ["mrr"], unique=False)
        batch_op.create_index(batch_op.f("ix_accounts_plan_id"), ["plan_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_accounts_renewal_on"), ["renewal_on"], unique=False)
        batch_op.create_index(batch_op.f("ix_accounts_status"), ["status"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_accounts_plan_id_products"), "products", ["plan_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_accounts_plan_id_products"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_accounts_status"))
        batch_op.drop_index(batch_op.f("ix_accounts_renewal_on"))
        batch_op.drop_index(batch_op.f("ix_accounts_plan_id"))
        batch_op.drop_index(batch_op.f("ix_accounts_mrr"))
        batch_op.drop_column("summary_as_of")
        batch_op.drop_column("churned_on")
        batch_op.drop_column("customer_since")
        batch_op.drop_column("renewal_on")
        batch_op.drop_column("plan_id")
        batch_op.drop_column("currency")
        batch_op.drop_column("mrr")
        batch_op.drop_column("status")

    with op.batch_alter_table("web_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_web_sessions_user_id"))
        batch_op.drop_index(batch_op.f("ix_web_sessions_expires_at"))

    op.drop_table("web_sessions")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_prefix"))

    op.drop_table("api_keys")
