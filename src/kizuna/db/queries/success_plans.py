"""Success plans: objectives (``success_goals``), their milestones and the tasks under them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from kizuna.db.models import Account, SuccessGoal, SuccessMilestone, Task
from kizuna.db.types import utcnow

G, SM = SuccessGoal, SuccessMilestone


def account_header(session: Session, account_id: int) -> dict[str, Any] | None:
    row = session.execute(select(Account.id, Account.name).where(Account.id == account_id)).mappings().first()
    return dict(row) if row else None


def goals(session: Session, account_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(G.id, G.external_id, G.account_id, G.title, G.metric, G.baseline_value, G.target_value,
               G.current_value, G.due_on, G.started_on, G.status, G.created_at)
        .where(G.account_id == account_id).order_by(G.due_on.is_(None), G.due_on, G.id)
    ).mappings()  # fmt: skip
    return [dict(r) for r in rows]


def goal(session: Session, goal_id: int) -> SuccessGoal | None:
    return session.get(SuccessGoal, goal_id)


def add_goal(session: Session, **values: Any) -> int:
    row = SuccessGoal(**values)
    session.add(row)
    session.flush()
    return int(row.id)


def update_goal(session: Session, goal_id: int, **values: Any) -> None:
    session.execute(update(G).where(G.id == goal_id).values(**values, updated_at=utcnow()))


def milestones(session: Session, goal_ids: list[int]) -> list[dict[str, Any]]:
    if not goal_ids:
        return []
    rows = session.execute(select(SM.id, SM.goal_id, SM.name, SM.due_on, SM.completed_at)
                           .where(SM.goal_id.in_(goal_ids)).order_by(SM.due_on.is_(None), SM.due_on, SM.id)).mappings()  # fmt: skip
    return [dict(r) for r in rows]


def add_milestone(session: Session, **values: Any) -> int:
    row = SuccessMilestone(**values)
    session.add(row)
    session.flush()
    return int(row.id)


def milestone_goal(session: Session, milestone_id: int) -> tuple[int, int] | None:
    """(goal id, account id) of a milestone."""
    row = session.execute(select(SM.goal_id, G.account_id).join(G, G.id == SM.goal_id)
                          .where(SM.id == milestone_id)).first()  # fmt: skip
    return (int(row[0]), int(row[1])) if row else None


def set_milestone_done(session: Session, milestone_id: int, at: datetime | None) -> None:
    session.execute(update(SM).where(SM.id == milestone_id).values(completed_at=at, updated_at=utcnow()))


def link_task(session: Session, task_id: int, goal_id: int) -> None:
    session.execute(update(Task).where(Task.id == task_id).values(success_goal_id=goal_id))


def goal_tasks(session: Session, goal_ids: list[int]) -> list[dict[str, Any]]:
    if not goal_ids:
        return []
    rows = session.execute(select(Task.id, Task.success_goal_id.label("goal_id"), Task.title, Task.status, Task.due_on)
                           .where(Task.success_goal_id.in_(goal_ids)).order_by(Task.due_on.is_(None), Task.due_on,
                                                                                Task.id)).mappings()  # fmt: skip
    return [dict(r) for r in rows]
