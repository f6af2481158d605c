"""The churn model (issue 16): what its features read beyond the health measures (each
subscription line's MRR and plan), and the models and scores it keeps."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from kizuna.db.models import Account, ChurnModelRecord, ChurnScore, Product, Subscription, UsageDaily
from kizuna.domain.usage import BASELINE_METRICS


def line_amounts(session: Session) -> pd.DataFrame:
    """Every subscription line: account, dates, MRR (minor units) and the product's code."""
    query = select(
        Subscription.account_id, Subscription.started_on, Subscription.trial_ends_on, Subscription.ended_on,
        Subscription.monthly_amount, Product.code, Product.kind,
    ).join(Product, Product.id == Subscription.product_id)  # fmt: skip
    cols = ["account_id", "started_on", "trial_ends_on", "ended_on", "monthly_amount", "plan", "kind"]
    frame = pd.DataFrame(session.execute(query).all(), columns=cols)
    for col in ("started_on", "trial_ends_on", "ended_on"):
        frame[col] = pd.to_datetime(frame[col])
    frame["monthly_amount"] = frame["monthly_amount"].astype("float64")
    return frame


def activity_days(session: Session, upto: date) -> pd.DataFrame:
    """The days up to ``upto`` on which each account had any login or event
    (``account_id``, ``day``), sorted — for the days since the last activity."""
    query = (
        select(UsageDaily.account_id, UsageDaily.day)
        .where(UsageDaily.metric.in_(BASELINE_METRICS), UsageDaily.value > 0, UsageDaily.day <= upto)
        .distinct()
    )
    frame = pd.DataFrame(session.execute(query).all(), columns=["account_id", "day"])
    frame["day"] = pd.to_datetime(frame["day"])
    return frame.sort_values(["account_id", "day"], ignore_index=True)


def save_model(session: Session, row: dict[str, Any]) -> int:
    record = ChurnModelRecord(**row)
    session.add(record)
    session.flush()
    return int(record.version)


def latest_model(session: Session) -> dict[str, Any] | None:
    row = session.execute(select(ChurnModelRecord).order_by(ChurnModelRecord.version.desc()).limit(1)).scalar()
    if row is None:
        return None
    return {"version": row.version, "trained_at": row.trained_at, "as_of": row.as_of,
            "horizon_days": row.horizon_days, "booster": row.booster, "spec": row.spec,
            "evaluation": row.evaluation}  # fmt: skip


def replace_scores(session: Session, as_of: date, horizon_days: int, rows: Iterable[dict[str, Any]]) -> int:
    """The scores of ``horizon_days`` replaced by ``rows`` (of ``as_of``): the table keeps
    the newest day of each horizon only."""
    session.execute(delete(ChurnScore).where(ChurnScore.horizon_days == horizon_days))
    n = 0
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        n += 1
        if len(batch) >= 10_000:
            session.execute(insert(ChurnScore), batch)
            batch = []
    if batch:
        session.execute(insert(ChurnScore), batch)
    return n


def latest_day(session: Session, horizon_days: int | None = None) -> date | None:
    query = select(func.max(ChurnScore.as_of))
    if horizon_days is not None:
        query = query.where(ChurnScore.horizon_days == horizon_days)
    day: date | None = session.execute(query).scalar()
    return day


def score_of(session: Session, account_id: int) -> dict[str, Any] | None:
    """The account's newest score."""
    row = session.execute(
        select(ChurnScore).where(ChurnScore.account_id == account_id)
        .order_by(ChurnScore.as_of.desc(), ChurnScore.horizon_days).limit(1)
    ).scalar()  # fmt: skip
    if row is None:
        return None
    return {"account_id": row.account_id, "as_of": row.as_of, "horizon_days": row.horizon_days,
            "probability": row.probability, "model_version": row.model_version, "drivers": list(row.drivers_json or [])}  # fmt: skip


def probabilities(session: Session, account_ids: Iterable[int] | None = None) -> dict[int, float]:
    """Account id → probability on the newest scored day (default horizon rows first)."""
    day = latest_day(session)
    if day is None:
        return {}
    query = select(ChurnScore.account_id, ChurnScore.probability).where(ChurnScore.as_of == day)
    if account_ids is not None:
        query = query.where(ChurnScore.account_id.in_(list(account_ids)))
    return {int(a): float(p) for a, p in session.execute(query).all()}


#: The account's churn probability on the newest scored day (the accounts list's column).
_NEWEST = select(func.max(ChurnScore.as_of)).scalar_subquery()
CHURN_RISK = (
    select(func.max(ChurnScore.probability))
    .where(ChurnScore.account_id == Account.id, ChurnScore.as_of == _NEWEST)
    .correlate(Account)
    .scalar_subquery()
)


def churn_risk_at_least(value: float) -> Any:
    """The accounts list's condition: churn probability at least ``value`` on the newest day."""
    return Account.id.in_(select(ChurnScore.account_id).where(ChurnScore.as_of == _NEWEST,
                                                              ChurnScore.probability >= value))  # fmt: skip
