"""Queries over subscriptions and the account summaries derived from them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session

from kizuna.db.models import Account, Product, Subscription
from kizuna.domain.enums import ProductKind
from kizuna.domain.subscriptions import Line, term_months


def account_ids(session: Session, only: Sequence[int] | None = None) -> list[int]:
    query = select(Account.id).order_by(Account.id)
    if only is not None:
        query = query.where(Account.id.in_(list(only)))
    return list(session.scalars(query))


def lines_by_account(session: Session, only: Sequence[int] | None = None) -> Iterator[tuple[int, list[Line]]]:
    """Every account's subscription lines, account by account (streamed in id order)."""
    query = (
        select(
            Subscription.account_id, Subscription.product_id, Subscription.status, Subscription.monthly_amount,
            Subscription.currency, Subscription.started_on, Subscription.trial_ends_on, Subscription.ended_on,
            Subscription.current_term_end, Product.kind, Subscription.term_months, Subscription.billing_interval,
        )
        .join(Product, Product.id == Subscription.product_id)
        .order_by(Subscription.account_id, Subscription.id)
    )  # fmt: skip
    if only is not None:
        query = query.where(Subscription.account_id.in_(list(only)))
    current: int | None = None
    lines: list[Line] = []
    for row in session.execute(query.execution_options(yield_per=10_000)):
        if row.account_id != current:
            if current is not None:
                yield current, lines
            current, lines = row.account_id, []
        lines.append(Line(
            row.product_id, row.status, row.monthly_amount, row.currency, row.started_on,
            row.trial_ends_on, row.ended_on, row.current_term_end, row.kind == ProductKind.PLAN,
            term_months(row.term_months, row.billing_interval),
        ))  # fmt: skip
    if current is not None:
        yield current, lines


_SUMMARY = ("status", "mrr", "currency", "plan_id", "renewal_on", "contract_term_months", "customer_since",
            "churned_on")  # fmt: skip


def write_summaries(session: Session, rows: list[dict[str, Any]], as_of: date) -> None:
    """``UPDATE accounts SET status, mrr, … WHERE id = :id`` for each row whose summary
    changed (executemany). Derived figures are not edits: ``updated_at`` is left alone."""
    if not rows:
        return
    t = Account.__table__
    changed = or_(*(t.c[c].is_distinct_from(bindparam(f"new_{c}", type_=t.c[c].type)) for c in _SUMMARY))
    stmt = (
        update(t)  # type: ignore[arg-type]
        .where(t.c.id == bindparam("account_id"), changed)
        .values({**{c: bindparam(f"new_{c}", type_=t.c[c].type) for c in _SUMMARY},
                 "summary_as_of": as_of, "updated_at": t.c.updated_at})
    )  # fmt: skip
    session.connection().execute(
        stmt, [{"account_id": r["account_id"], **{f"new_{c}": r[c] for c in _SUMMARY}} for r in rows]
    )
