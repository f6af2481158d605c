"""Reads and writes behind touch tiers, lifecycle stages, at-risk flags and fit.

Whole-store reads are one grouped query each; writes are ``executemany`` UPDATEs
that touch only the rows whose value changed (so a daily recompute that changes
nothing writes nothing), and history rows are inserted in bulk.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, case, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from kizuna.db.models import (
    Account,
    HealthSnapshot,
    OnboardingMilestone,
    Product,
    SegmentChange,
    SegmentOverride,
    Subscription,
    UsageDaily,
    User,
)
from kizuna.domain.enums import BillingInterval, SubscriptionStatus
from kizuna.domain.segments import Dimension

_LIVE = (SubscriptionStatus.TRIAL, SubscriptionStatus.ACTIVE)


# --- whole-store reads ------------------------------------------------------------------------


def account_facts(session: Session) -> list[dict[str, Any]]:
    """Every account's summary columns the rules read, with its current plan's code."""
    rows = session.execute(
        select(
            Account.id, Account.status, Account.mrr, Account.customer_since, Account.churned_on, Account.renewal_on,
            Account.industry, Account.employee_count, Account.custom_fields, Product.code.label("plan_code"),
            Account.health_grade, Account.health_score, Account.touch_tier, Account.touch_tier_rule,
            Account.lifecycle_stage, Account.lifecycle_stage_rule, Account.fit_score, Account.fit_band,
            Account.at_risk,
        )
        .outerjoin(Product, Product.id == Account.plan_id)
        .order_by(Account.id)
        .execution_options(yield_per=10_000)
    ).mappings()  # fmt: skip
    return [dict(r) for r in rows]


def product_info(session: Session) -> dict[int, tuple[str, int | None]]:
    """Product id → (code, seats included)."""
    return {pid: (code, seats) for pid, code, seats in session.execute(
        select(Product.id, Product.code, Product.seats_included))}  # fmt: skip


def milestone_progress(session: Session) -> dict[int, tuple[int, int, Any]]:
    """Account id → (milestones, completed, when the last was completed)."""
    done = case((OnboardingMilestone.completed_at.is_not(None), 1), else_=0)
    rows = session.execute(
        select(
            OnboardingMilestone.account_id, func.count(), func.sum(done), func.max(OnboardingMilestone.completed_at)
        ).group_by(OnboardingMilestone.account_id)
    )
    return {a: (int(n), int(d or 0), last) for a, n, d, last in rows}


def live_terms(session: Session, as_of: date) -> dict[int, tuple[date | None, date | None]]:
    """Account id → (nearest future term end of a live yearly line, of any live line)."""
    yearly = func.min(case((Subscription.billing_interval == BillingInterval.YEAR, Subscription.current_term_end)))
    rows = session.execute(
        select(Subscription.account_id, yearly, func.min(Subscription.current_term_end))
        .where(
            Subscription.status.in_(_LIVE),
            or_(Subscription.ended_on.is_(None), Subscription.ended_on > as_of),
            Subscription.current_term_end >= as_of,
        )
        .group_by(Subscription.account_id)
    )  # fmt: skip
    return {a: (y, any_) for a, y, any_ in rows}


def live_plan_seats(session: Session, as_of: date) -> dict[int, int]:
    """Account id → seats bought on its main live plan line (the largest): the line's
    quantity, times the product's ``seats_included`` when it has one."""
    rows = session.execute(
        select(Subscription.account_id, Subscription.quantity, Subscription.monthly_amount, Product.seats_included)
        .join(Product, Product.id == Subscription.product_id)
        .where(
            Product.kind == "plan",
            Subscription.status.in_(_LIVE),
            Subscription.started_on <= as_of,
            or_(Subscription.ended_on.is_(None), Subscription.ended_on > as_of),
        )
        .order_by(Subscription.account_id, Subscription.monthly_amount.desc(), Subscription.id)
    )  # fmt: skip
    out: dict[int, int] = {}
    for account_id, quantity, _amount, included in rows:
        if account_id not in out:
            out[account_id] = int(quantity or 1) * int(included) if included else int(quantity or 1)
    return out


def trial_starts(session: Session) -> dict[int, date]:
    rows = session.execute(
        select(Subscription.account_id, func.min(Subscription.started_on))
        .where(Subscription.status == SubscriptionStatus.TRIAL)
        .group_by(Subscription.account_id)
    )
    return dict(rows.all())


def usage_totals(session: Session, metric: str, first: date, last: date, *, peak: bool = False) -> dict[int, float]:
    """Account id → the sum (or, with ``peak``, the highest day) of ``metric`` over ``first``..``last``."""
    agg = func.max(UsageDaily.value) if peak else func.sum(UsageDaily.value)
    rows = session.execute(
        select(UsageDaily.account_id, agg)
        .where(UsageDaily.metric == metric, UsageDaily.day >= first, UsageDaily.day <= last)
        .group_by(UsageDaily.account_id)
    )
    return {a: float(v or 0.0) for a, v in rows}


def health_scores_on(session: Session, day: date) -> dict[int, float]:
    """Account id → its health score snapshot of ``day`` (the health scores step writes them)."""
    rows = session.execute(select(HealthSnapshot.account_id, HealthSnapshot.score).where(HealthSnapshot.day == day))
    return dict(rows.all())


def overrides(session: Session, dimension: Dimension) -> dict[int, str]:
    rows = session.execute(
        select(SegmentOverride.account_id, SegmentOverride.value).where(SegmentOverride.dimension == dimension)
    )
    return dict(rows.all())


def open_changes(
    session: Session, dimension: Dimension, account_ids: Sequence[int] | None = None
) -> dict[int, tuple[int, str, date]]:
    """Account id → (history row id, value, from_on) of its current period (``account_ids``:
    of these accounts only)."""
    query = select(SegmentChange.account_id, SegmentChange.id, SegmentChange.value, SegmentChange.from_on).where(
        SegmentChange.dimension == dimension, SegmentChange.to_on.is_(None)
    )
    if account_ids is not None:
        query = query.where(SegmentChange.account_id.in_(list(account_ids)))
    return {a: (i, v, f) for a, i, v, f in session.execute(query)}


def first_periods(session: Session, dimension: Dimension) -> dict[int, date]:
    """Account id → the day its first period of ``dimension`` began (accounts without one: absent)."""
    rows = session.execute(
        select(SegmentChange.account_id, func.min(SegmentChange.from_on))
        .where(SegmentChange.dimension == dimension)
        .group_by(SegmentChange.account_id)
    )
    return {int(a): d for a, d in rows}


def owner_facts(session: Session, account_ids: Sequence[int] | None = None) -> list[tuple[int, int | None, date | None]]:
    """``(account id, owner id, customer_since)`` of every account (or of these)."""
    query = select(Account.id, Account.owner_id, Account.customer_since).order_by(Account.id)
    if account_ids is not None:
        query = query.where(Account.id.in_(list(account_ids)))
    return [(a, o, c) for a, o, c in session.execute(query)]


# --- writes ----------------------------------------------------------------------------------


def write_columns(session: Session, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> int:
    """``UPDATE accounts SET <columns> WHERE id = :account_id`` for the rows given
    (the caller passes only rows that changed). ``updated_at`` is left alone: derived
    figures are not edits."""
    if not rows:
        return 0
    t = Account.__table__
    stmt = (
        update(t)  # type: ignore[arg-type]
        .where(t.c.id == bindparam("account_id"))
        .values({**{c: bindparam(f"new_{c}", type_=t.c[c].type) for c in columns}, "updated_at": t.c.updated_at})
    )
    session.connection().execute(stmt, [{"account_id": r["account_id"], **{f"new_{c}": r[c] for c in columns}}
                                        for r in rows])  # fmt: skip
    return len(rows)


def close_changes(session: Session, closes: Sequence[tuple[int, date]]) -> None:
    """Set ``to_on`` of these history rows: ``(row id, to_on)``."""
    if not closes:
        return
    t = SegmentChange.__table__
    stmt = update(t).where(t.c.id == bindparam("row_id")).values(to_on=bindparam("new_to_on"))  # type: ignore[arg-type]
    session.connection().execute(stmt, [{"row_id": i, "new_to_on": d} for i, d in closes])


def add_changes(session: Session, rows: Iterable[Mapping[str, Any]]) -> None:
    """Insert history rows: ``account_id, dimension, value, from_on, reason, set_by``."""
    batch = [dict(r) for r in rows]
    if batch:
        session.execute(insert(SegmentChange), batch)


# --- one account -----------------------------------------------------------------------------


def account_segments(session: Session, account_id: int) -> dict[str, Any] | None:
    row = session.execute(
        select(
            Account.id, Account.name, Account.external_id, Account.status, Account.touch_tier, Account.touch_tier_rule,
            Account.lifecycle_stage, Account.lifecycle_stage_rule, Account.at_risk, Account.fit_score,
            Account.fit_band, Account.health_score, Account.health_grade, Account.health_as_of,
        ).where(Account.id == account_id)
    ).mappings().first()  # fmt: skip
    return dict(row) if row is not None else None


def account_overrides(session: Session, account_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(
            SegmentOverride.dimension, SegmentOverride.value, SegmentOverride.reason, SegmentOverride.set_by,
            SegmentOverride.set_by_id, SegmentOverride.set_at,
        ).where(SegmentOverride.account_id == account_id)
    ).mappings()  # fmt: skip
    return [dict(r) for r in rows]


def account_history(session: Session, account_id: int, limit: int = 200) -> list[dict[str, Any]]:
    """The account's tier and stage periods, newest first."""
    rows = session.execute(
        select(
            SegmentChange.dimension, SegmentChange.value, SegmentChange.from_on, SegmentChange.to_on,
            SegmentChange.reason, SegmentChange.set_by,
        )
        .where(SegmentChange.account_id == account_id, SegmentChange.dimension.in_((Dimension.TIER, Dimension.STAGE)))
        .order_by(SegmentChange.from_on.desc(), SegmentChange.id.desc())
        .limit(limit)
    ).mappings()  # fmt: skip
    return [dict(r) for r in rows]



def put_override(
    session: Session, account_id: int, dimension: Dimension, value: str, reason: str, set_by: str,
    set_by_id: int | None,
) -> None:  # fmt: skip
    session.execute(
        delete(SegmentOverride).where(SegmentOverride.account_id == account_id, SegmentOverride.dimension == dimension)
    )
    session.add(SegmentOverride(account_id=account_id, dimension=dimension, value=value, reason=reason,
                                set_by=set_by, set_by_id=set_by_id))  # fmt: skip
    session.flush()


def remove_override(session: Session, account_id: int, dimension: Dimension) -> bool:
    result = session.execute(
        delete(SegmentOverride).where(SegmentOverride.account_id == account_id, SegmentOverride.dimension == dimension)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def user_exists(session: Session, user_id: int) -> bool:
    return session.get(User, user_id) is not None


# --- reports ---------------------------------------------------------------------------------


def churn_by_fit_band(session: Session, as_of: date) -> list[tuple[str | None, int, int]]:
    """``(fit band, customers, churned)``: accounts that were customers by ``as_of``
    (``customer_since`` on or before it), and of them those churned by then."""
    churned = case((and_(Account.churned_on.is_not(None), Account.churned_on <= as_of), 1), else_=0)
    rows = session.execute(
        select(Account.fit_band, func.count(), func.sum(churned))
        .where(Account.customer_since.is_not(None), Account.customer_since <= as_of)
        .group_by(Account.fit_band)
    )
    return [(str(b.value) if b is not None else None, int(n), int(c or 0)) for b, n, c in rows]


def counts_by(session: Session, column: str) -> dict[str | None, int]:
    """How many accounts have each value of ``column`` (touch_tier, lifecycle_stage, fit_band, at_risk)."""
    col = Account.__table__.c[column]
    return {(None if v is None else str(getattr(v, "value", v))): int(n)
            for v, n in session.execute(select(col, func.count()).group_by(col))}  # fmt: skip


def days_ago(as_of: date, days: int) -> date:
    return as_of - timedelta(days=days)
