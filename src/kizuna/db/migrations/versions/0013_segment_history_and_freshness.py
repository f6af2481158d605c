"""owner and fit history: segment_changes (and overrides' check) accept the dimensions
owner and fit; each account's current owner and fit band are backfilled as one open period;
source_freshness: each data feed's last data day and whether it is late

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import kizuna.db.types

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = ("tier", "stage")
_NEW = ("tier", "stage", "owner", "fit")


def _check(table: str, values: tuple[str, ...]) -> None:
    name = f"ck_{table}_segment_dimension"
    allowed = ", ".join(f"'{v}'" for v in values)
    if op.get_bind().dialect.name == "sqlite":
        # SQLite cannot alter a constraint: the table is copied with the new one
        with op.batch_alter_table(table, recreate="always") as batch_op:
            batch_op.alter_column(
                "dimension",
                existing_type=sa.String(5),
                type_=sa.Enum(*values, name="segment_dimension", native_enum=False, create_constraint=True,
                              length=5),
                existing_nullable=False,
            )  # fmt: skip
    else:
        op.drop_constraint(op.f(name), table, type_="check")
        op.create_check_constraint(op.f(name), table, f"dimension IN ({allowed})")


def upgrade() -> None:
    op.create_table(
        "source_freshness",
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=True),
        sa.Column("expected_gap_days", sa.Integer(), nullable=True),
        sa.Column("gap_is_set", sa.Boolean(), nullable=False),
        sa.Column("stale", sa.Boolean(), nullable=False),
        sa.Column("checked_at", kizuna.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", name=op.f("pk_source_freshness")),
    )
    for table in ("segment_changes", "segment_overrides"):
        _check(table, _NEW)
    # one open period per account from what exists: its owner and its fit band now,
    # dated from when it became a customer (else from when it was created)
    day = "date(created_at)" if op.get_bind().dialect.name == "sqlite" else "CAST(created_at AS DATE)"
    # the reasons are the rules' msgids (kizuna.domain.segments.REASONS), translated when shown
    for dimension, column, reason in (("owner", "owner_id", "the account's owner"), ("fit", "fit_band", "by the fit rules")):
        op.execute(
            sa.text(
                "INSERT INTO segment_changes (account_id, dimension, value, from_on, to_on, reason, set_by, created_at) "
                f"SELECT id, :dimension, CAST({column} AS VARCHAR(20)), COALESCE(customer_since, {day}), "
                "NULL, :reason, NULL, CURRENT_TIMESTAMP FROM accounts a "
                f"WHERE {column} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM segment_changes c "
                "WHERE c.account_id = a.id AND c.dimension = :dimension)"
            ).bindparams(dimension=dimension, reason=reason)
        )


def downgrade() -> None:
    op.drop_table("source_freshness")
    op.execute(sa.text("DELETE FROM segment_changes WHERE dimension IN ('owner', 'fit')"))
    op.execute(sa.text("DELETE FROM segment_overrides WHERE dimension IN ('owner', 'fit')"))
    for table in ("segment_changes", "segment_overrides"):
        _check(table, _OLD)
