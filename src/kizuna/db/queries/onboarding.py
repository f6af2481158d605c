"""Onboarding plans: templates, the accounts' plan milestones (set-based writes for the
daily step and the benchmark), ticking, progress and the rows the KPIs read."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, delete, func, insert, select, update
from sqlalchemy.orm import Session

from kizuna.db.models import Account, OnboardingMilestone, OnboardingTemplate, User
from kizuna.db.types import utcnow

_CHUNK = 5_000
M = OnboardingMilestone


def _chunks(values: Sequence[int]) -> Iterable[list[int]]:
    for start in range(0, len(values), _CHUNK):
        yield list(values[start : start + _CHUNK])


# --- templates ------------------------------------------------------------------------------


def templates(session: Session) -> list[OnboardingTemplate]:
    return list(session.scalars(select(OnboardingTemplate).order_by(OnboardingTemplate.key)))


def template(session: Session, key: str) -> OnboardingTemplate | None:
    return session.scalar(select(OnboardingTemplate).where(OnboardingTemplate.key == key))


def save_template(session: Session, key: str, name: str, tier: str | None, milestones: list[dict[str, Any]]) -> bool:
    """Insert or replace; True when it was new."""
    row = template(session, key)
    if row is None:
        session.add(OnboardingTemplate(key=key, name=name, tier=tier, milestones=milestones))
        session.flush()
        return True
    row.name, row.tier, row.milestones = name, tier, milestones
    session.flush()
    return False


def delete_template(session: Session, key: str) -> bool:
    return bool(session.execute(delete(OnboardingTemplate).where(OnboardingTemplate.key == key)).rowcount)  # type: ignore[attr-defined]


# --- applying -------------------------------------------------------------------------------


def account_tiers(session: Session, account_ids: Sequence[int]) -> dict[int, str | None]:
    out: dict[int, str | None] = {}
    for chunk in _chunks(account_ids):
        for i, tier in session.execute(select(Account.id, Account.touch_tier).where(Account.id.in_(chunk))):
            out[int(i)] = None if tier is None else str(getattr(tier, "value", tier))
    return out


def accounts_with_plan(session: Session, account_ids: Sequence[int]) -> set[int]:
    """The accounts that already have milestones from a template."""
    out: set[int] = set()
    for chunk in _chunks(account_ids):
        out.update(session.scalars(select(M.account_id).where(M.account_id.in_(chunk), M.template_key.is_not(None))
                                   .distinct()))  # fmt: skip
    return out


def drop_open_plan(session: Session, account_ids: Sequence[int]) -> None:
    """Remove the open (not ticked) template milestones of these accounts (a plan re-applied)."""
    for chunk in _chunks(account_ids):
        session.execute(delete(M).where(M.account_id.in_(chunk), M.template_key.is_not(None), M.completed_at.is_(None)))


def add_milestones(session: Session, rows: list[dict[str, Any]]) -> None:
    now = utcnow()
    for start in range(0, len(rows), _CHUNK):
        batch = [{**r, "created_at": now, "updated_at": now} for r in rows[start : start + _CHUNK]]
        session.execute(insert(M), batch)


# --- ticking --------------------------------------------------------------------------------


def milestone(session: Session, milestone_id: int) -> dict[str, Any] | None:
    row = session.execute(select(M.id, M.account_id, M.completed_at).where(M.id == milestone_id)).mappings().first()
    return dict(row) if row else None


def set_completed(session: Session, milestone_id: int, at: datetime | None, by: int | None) -> None:
    session.execute(update(M).where(M.id == milestone_id).values(completed_at=at, completed_by_id=by, updated_at=utcnow()))


def account_milestones(session: Session, account_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(M.id, M.name, M.position, M.due_on, M.completed_at, M.owner, M.template_key, M.started_on,
               M.first_value, M.completed_by_id, User.name.label("completed_by"))
        .outerjoin(User, User.id == M.completed_by_id)
        .where(M.account_id == account_id)
        .order_by(M.position, M.due_on, M.id)
    ).mappings()  # fmt: skip
    return [dict(r) for r in rows]


def progress(session: Session, account_ids: Sequence[int], today: date) -> dict[int, tuple[int, int, int]]:
    """account id → (done, total, overdue) of its milestones."""
    done = func.sum(case((M.completed_at.is_not(None), 1), else_=0))
    late = func.sum(case((and_(M.completed_at.is_(None), M.due_on < today), 1), else_=0))
    out: dict[int, tuple[int, int, int]] = {}
    for chunk in _chunks(account_ids):
        query = select(M.account_id, done, func.count(), late).where(M.account_id.in_(chunk)).group_by(M.account_id)
        for i, d, n, o in session.execute(query):
            out[int(i)] = (int(d or 0), int(n), int(o or 0))
    return out


def oldest_overdue(session: Session, today: date) -> dict[int, date]:
    """account id → the earliest due day of its open milestones due before ``today``."""
    query = (select(M.account_id, func.min(M.due_on))
             .where(M.completed_at.is_(None), M.due_on.is_not(None), M.due_on < today).group_by(M.account_id))  # fmt: skip
    return {int(i): d for i, d in session.execute(query) if d is not None}


def plan_rows(session: Session) -> list[dict[str, Any]]:
    """Per account with a plan: tier, start, milestones, completed, last completion and the
    first-value milestone's completion (what the onboarding KPIs read)."""
    done = func.sum(case((M.completed_at.is_not(None), 1), else_=0))
    first = func.max(case((M.first_value.is_(True), M.completed_at), else_=None))
    has_first = func.max(case((M.first_value.is_(True), 1), else_=0))
    query = (
        select(M.account_id, Account.touch_tier.label("tier"), func.min(M.started_on).label("started_on"),
               func.count().label("milestones"), done.label("completed"), func.max(M.completed_at).label("last_done"),
               first.label("first_value_at"), has_first.label("has_first_value"))
        .join(Account, Account.id == M.account_id)
        .where(M.template_key.is_not(None), M.started_on.is_not(None))
        .group_by(M.account_id, Account.touch_tier)
    )  # fmt: skip
    out = []
    for r in session.execute(query).mappings():
        row = dict(r)
        row["tier"] = None if row["tier"] is None else str(getattr(row["tier"], "value", row["tier"]))
        out.append(row)
    return out
