"""Renewals (issue 16 item 3): what the daily ``renewals`` step reads and writes, the
pipeline as the page, API and CLI read it, the CSM's stage and call with their audit,
and the probabilities other features keep (the churn model's scores, the LTV retention)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from kizuna.db.bulk import insert_many
from kizuna.db.models import Account, AccountLtv, Renewal, RenewalChange, User

_KEYS = ("currency", "arr_due", "arr_after", "owner_id", "touch_tier", "stage", "stage_source", "detected_on")


def account_facts(session: Session) -> dict[int, tuple[int | None, str | None]]:
    """Account id → (owner id, touch tier) as they are today."""
    rows = session.execute(select(Account.id, Account.owner_id, Account.touch_tier))
    return {int(i): (o, str(t) if t is not None else None) for i, o, t in rows}


def stored(session: Session, since: date) -> dict[tuple[int, date], dict[str, Any]]:
    """The rows the step may change: term ends on or after ``since`` (open ones are all later)."""
    t = Renewal.__table__
    rows = session.execute(select(t).where(t.c.term_end >= since)).mappings()
    return {(int(r["account_id"]), r["term_end"]): dict(r) for r in rows}


def insert_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), 10_000):
        insert_many(session, "renewals", rows[start:start + 10_000])


def update_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    """Set the step's columns (and, for re-keyed rows, ``term_end``) by id."""
    if not rows:
        return
    t = Renewal.__table__
    cols = (*_KEYS, "term_end", "updated_on")
    stmt = (
        update(t)  # type: ignore[arg-type]
        .where(t.c.id == bindparam("row_id"))
        .values({c: bindparam(f"new_{c}") for c in cols})
    )
    session.connection().execute(stmt, [{"row_id": r["id"], **{f"new_{c}": r[c] for c in cols}} for r in rows])


def delete_rows(session: Session, ids: Sequence[int]) -> None:
    ids = list(ids)
    for start in range(0, len(ids), 5_000):
        session.execute(delete(Renewal).where(Renewal.id.in_(ids[start:start + 5_000])))


def churn_probabilities(session: Session, as_of: date) -> dict[int, float]:
    """Account id → the churn model's newest probability on or before ``as_of`` (from
    ``churn_scores``, which the churn model's daily step writes)."""
    rows = session.execute(text(
        "SELECT s.account_id, s.probability FROM churn_scores s JOIN ("
        " SELECT account_id, MAX(as_of) AS newest FROM churn_scores WHERE as_of <= :as_of GROUP BY account_id"
        ") n ON n.account_id = s.account_id AND n.newest = s.as_of"
    ), {"as_of": as_of})  # fmt: skip
    return {int(a): float(p) for a, p in rows if p is not None}


def ltv_retention(session: Session) -> dict[int, float]:
    """Account id → the fitted sBG probability that it renews at its next renewal."""
    rows = session.execute(select(AccountLtv.account_id, AccountLtv.retention).where(AccountLtv.retention.is_not(None)))
    return {int(a): float(r) for a, r in rows if r is not None}


def closed_counts(session: Session, since: date, until: date) -> list[tuple[str | None, str, int]]:
    """(touch tier, stage, count) of the renewals closed with a term end in [since, until]."""
    t = Renewal.__table__
    rows = session.execute(
        select(t.c.touch_tier, t.c.stage, func.count())
        .where(t.c.term_end.between(since, until), t.c.stage.in_(("renewed", "downsold", "churned")))
        .group_by(t.c.touch_tier, t.c.stage)
    )
    return [(tier, str(stage), int(n)) for tier, stage, n in rows]


def pipeline(
    session: Session, start: date | None, end: date | None, *, owner_id: int | None = None,
    tier: str | None = None, account_id: int | None = None, renewal_id: int | None = None,
) -> list[dict[str, Any]]:
    """The renewals with a term end in [start, end], each with its account's name, external
    id and health grade and its owner's name, by term end then ARR (largest first)."""
    t = Renewal.__table__
    query = (
        select(t, Account.name, Account.external_id, Account.health_grade, User.name.label("owner_name"))
        .join(Account, Account.id == t.c.account_id)
        .outerjoin(User, User.id == t.c.owner_id)
        .order_by(t.c.term_end, t.c.arr_due.desc(), t.c.id)
    )
    if start is not None:
        query = query.where(t.c.term_end >= start)
    if end is not None:
        query = query.where(t.c.term_end <= end)
    if owner_id is not None:
        query = query.where(t.c.owner_id == owner_id)
    if tier is not None:
        query = query.where(t.c.touch_tier == tier)
    if account_id is not None:
        query = query.where(t.c.account_id == account_id)
    if renewal_id is not None:
        query = query.where(t.c.id == renewal_id)
    return [dict(r) for r in session.execute(query).mappings()]


def renewal(session: Session, renewal_id: int) -> dict[str, Any] | None:
    row = session.execute(select(Renewal.__table__).where(Renewal.id == renewal_id)).mappings().first()
    return dict(row) if row else None


def set_stage(session: Session, renewal_id: int, stage: str, actor: str, at: datetime, row: dict[str, Any]) -> None:
    session.execute(update(Renewal).where(Renewal.id == renewal_id).values(
        stage=stage, stage_source="csm" if stage != "upcoming" else "default", stage_by=actor, stage_at=at))
    session.execute(insert(RenewalChange).values(
        account_id=row["account_id"], term_end=row["term_end"], kind="stage", stage=stage, actor=actor, at=at))


def set_call(
    session: Session, renewal_id: int, probability: float | None, reason: str | None, actor: str, at: datetime,
    row: dict[str, Any],
) -> None:
    """The call on the row (cleared with ``probability`` None) and, in the audit, the reason either way."""
    session.execute(update(Renewal).where(Renewal.id == renewal_id).values(
        call_probability=probability, call_reason=reason if probability is not None else None, call_by=actor,
        call_at=at))
    session.execute(insert(RenewalChange).values(
        account_id=row["account_id"], term_end=row["term_end"], kind="call", probability=probability,
        reason=reason, actor=actor, at=at))  # fmt: skip


def changes(session: Session, account_id: int, term_end: date) -> list[dict[str, Any]]:
    """The audit of one renewal, newest first."""
    t = RenewalChange.__table__
    rows = session.execute(
        select(t).where(t.c.account_id == account_id, t.c.term_end == term_end).order_by(t.c.at.desc(), t.c.id.desc())
    ).mappings()
    return [dict(r) for r in rows]


def owner_ids(session: Session) -> dict[str, int]:
    """Owner email → id, for filters that name the owner."""
    return {str(e): int(i) for i, e in session.execute(select(User.id, User.email)) if e}
