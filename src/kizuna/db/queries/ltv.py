"""Lifetime value per account (issue 21): what the fit reads (each account's facts and
subscription lines) and what the daily ``ltv`` step writes (segment fits, account values)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from kizuna.db.bulk import insert_many
from kizuna.db.models import Account, AccountLtv, LtvSegmentFit, Product, UsageDaily


def account_facts(session: Session) -> dict[int, dict[str, Any]]:
    """Account id → the facts a segment can be made of (industry, touch tier)."""
    rows = session.execute(select(Account.id, Account.industry, Account.touch_tier)).mappings()
    return {r["id"]: dict(r) for r in rows}


def first_usage_day(session: Session) -> date | None:
    """The earliest day with a usage figure (an index seek on ``ix_usage_daily_day``)."""
    return session.execute(select(func.min(UsageDaily.day))).scalar_one_or_none()


def first_churn_day(session: Session) -> date | None:
    """The earliest churn day among the accounts (their summaries' ``churned_on``)."""
    return session.execute(select(func.min(Account.churned_on))).scalar_one_or_none()


def product_codes(session: Session) -> dict[int, str]:
    return {int(pid): str(code) for pid, code in session.execute(select(Product.id, Product.code)).all()}


def replace_fits(session: Session, rows: list[dict[str, Any]]) -> None:
    session.execute(delete(LtvSegmentFit))
    if rows:
        session.execute(insert(LtvSegmentFit), rows)


def replace_values(session: Session, rows: Iterable[dict[str, Any]]) -> None:
    session.execute(delete(AccountLtv))
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= 10_000:
            insert_many(session, "account_ltv", batch)
            batch = []
    insert_many(session, "account_ltv", batch)


_FIT_COLUMNS = ("segment", "term_months", "as_of", "contracts", "cohorts", "churned", "alpha", "beta",
                "log_likelihood", "pooled", "reason", "observed")  # fmt: skip


def fits(session: Session) -> list[dict[str, Any]]:
    t = LtvSegmentFit.__table__
    rows = session.execute(
        select(*(t.c[c] for c in _FIT_COLUMNS)).order_by(t.c.term_months, t.c.segment)
    ).mappings()
    return [dict(r) for r in rows]


def _value_query() -> Any:
    t = AccountLtv.__table__
    return select(*t.c, Account.name, Account.external_id).join(Account, Account.id == t.c.account_id)


def value_of(session: Session, account_id: int) -> dict[str, Any] | None:
    row = session.execute(_value_query().where(AccountLtv.account_id == account_id)).mappings().first()
    return dict(row) if row is not None else None


def values(session: Session) -> list[dict[str, Any]]:
    """Every scored account, the largest lifetime value first."""
    query = _value_query().order_by(AccountLtv.ltv.is_(None), AccountLtv.ltv.desc(), AccountLtv.account_id)
    return [dict(r) for r in session.execute(query.execution_options(yield_per=10_000)).mappings()]


def residual_values(session: Session) -> dict[int, tuple[int | None, int | None]]:
    """Account id → (lifetime value, residual value)."""
    rows = session.execute(select(AccountLtv.account_id, AccountLtv.ltv, AccountLtv.residual_value))
    return {a: (ltv, residual) for a, ltv, residual in rows}
