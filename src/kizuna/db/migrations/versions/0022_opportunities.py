"""upsell and cross-sell opportunities (issue 16 item 4): opportunities

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import kizuna.db.types

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_LIVE = "status IN ('open', 'suppressed')"


def upgrade() -> None:
    op.create_table(
        "opportunities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.Enum("upsell", "cross_sell", name="opportunity_type", native_enum=False,
                                  create_constraint=True, length=10), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("signal", sa.String(length=32), nullable=False),
        sa.Column("reason_params", _JSON, nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("value", sa.BigInteger(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("status", sa.Enum("open", "suppressed", "won", "lost", "dismissed", name="opportunity_status",
                                    native_enum=False, create_constraint=True, length=10), nullable=False),
        sa.Column("suppressed_reason", sa.String(length=32), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("detected_on", sa.Date(), nullable=False),
        sa.Column("last_seen_on", sa.Date(), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("close_reason", sa.Text(), nullable=True),
        sa.Column("close_params", _JSON, nullable=False),
        sa.Column("closed_by_id", sa.Integer(), nullable=True),
        sa.Column("won_mrr", sa.BigInteger(), nullable=True),
        sa.Column("created_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_opportunities_account_id_accounts"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], name=op.f("fk_opportunities_product_id_products"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_opportunities_owner_id_users"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["closed_by_id"], ["users.id"], name=op.f("fk_opportunities_closed_by_id_users"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opportunities")),
    )  # fmt: skip
    with op.batch_alter_table("opportunities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_opportunities_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_opportunities_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index("ix_opportunities_status_type", ["status", "type"], unique=False)
        batch_op.create_index("ux_opportunities_live", ["account_id", "type", "product_id"], unique=True,
                              sqlite_where=sa.text(_LIVE), postgresql_where=sa.text(_LIVE))  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("opportunities", schema=None) as batch_op:
        batch_op.drop_index("ux_opportunities_live")
        batch_op.drop_index("ix_opportunities_status_type")
        batch_op.drop_index(batch_op.f("ix_opportunities_owner_id"))
        batch_op.drop_index(batch_op.f("ix_opportunities_account_id"))
    op.drop_table("opportunities")
