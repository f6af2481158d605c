"""Tasks (calls to action): reads with the names a list shows, and set-based writes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from kizuna.db.models import Account, Activity, Contact, Task, User
from kizuna.domain.enums import TaskStatus

_assignee = aliased(User)
_creator = aliased(User)


def _select() -> Any:
    return (
        select(
            Task.id, Task.external_id, Task.account_id, Account.name.label("account_name"),
            Account.mrr.label("account_mrr"), Account.currency.label("account_currency"), Task.title,
            Task.description, Task.kind, Task.priority, Task.status, Task.due_on, Task.snoozed_until,
            Task.assignee_id, _assignee.name.label("assignee_name"), Task.contact_id,
            Contact.name.label("contact_name"), Task.source, Task.signal, Task.activity_id, Task.created_by_id,
            _creator.name.label("created_by_name"), Task.created_at, Task.updated_at, Task.completed_at,
        )
        .outerjoin(Account, Account.id == Task.account_id)
        .outerjoin(_assignee, _assignee.id == Task.assignee_id)
        .outerjoin(_creator, _creator.id == Task.created_by_id)
        .outerjoin(Contact, Contact.id == Task.contact_id)
    )  # fmt: skip


def task_row(session: Session, task_id: int) -> dict[str, Any] | None:
    row = session.execute(_select().where(Task.id == task_id)).mappings().first()
    return dict(row) if row is not None else None


def _filters(
    *, assignee_id: int | None, unassigned: bool, account_id: int | None, status: TaskStatus | None,
    due_before: date | None, awake_on: date | None, ids: Sequence[int] | None,
) -> list[Any]:  # fmt: skip
    where: list[Any] = []
    if assignee_id is not None:
        where.append(Task.assignee_id == assignee_id)
    if unassigned:
        where.append(Task.assignee_id.is_(None))
    if account_id is not None:
        where.append(Task.account_id == account_id)
    if status is not None:
        where.append(Task.status == status)
    if due_before is not None:
        where.append(and_(Task.due_on.is_not(None), Task.due_on < due_before))
    if awake_on is not None:  # not snoozed past that day
        where.append(or_(Task.snoozed_until.is_(None), Task.snoozed_until <= awake_on))
    if ids is not None:
        where.append(Task.id.in_(list(ids)))
    return where


def list_tasks(
    session: Session, *, assignee_id: int | None = None, unassigned: bool = False, account_id: int | None = None,
    status: TaskStatus | None = None, due_before: date | None = None, awake_on: date | None = None,
    ids: Sequence[int] | None = None, offset: int = 0, limit: int = 50,
) -> tuple[int, list[dict[str, Any]]]:  # fmt: skip
    """(how many match, one page of them): open ones by due date (none last), then by id."""
    where = _filters(assignee_id=assignee_id, unassigned=unassigned, account_id=account_id, status=status,
                     due_before=due_before, awake_on=awake_on, ids=ids)  # fmt: skip
    total = session.scalar(select(func.count()).select_from(Task).where(*where)) or 0
    rows = session.execute(
        _select().where(*where)
        .order_by(Task.due_on.is_(None), Task.due_on, Task.id)
        .offset(offset).limit(limit)
    ).mappings()  # fmt: skip
    return total, [dict(r) for r in rows]


def insert_task(session: Session, **values: Any) -> int:
    """Add one task and flush it; returns its id (the caller commits)."""
    task = Task(**values)
    session.add(task)
    session.flush()
    return task.id


def update_task(session: Session, task_id: int, values: dict[str, Any]) -> None:
    if values:
        session.execute(update(Task).where(Task.id == task_id).values(**values))


def set_status(
    session: Session, task_ids: Sequence[int], status: TaskStatus, *, completed_at: datetime | None,
    only_from: TaskStatus | None = None,
) -> int:  # fmt: skip
    """Change the status of these tasks (those in ``only_from`` when given); returns how many changed."""
    where: list[Any] = [Task.id.in_(list(task_ids))]
    if only_from is not None:
        where.append(Task.status == only_from)
    result = session.execute(
        update(Task).where(*where).values(status=status, completed_at=completed_at, snoozed_until=None)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def snooze(session: Session, task_ids: Sequence[int], until: date) -> int:
    result = session.execute(
        update(Task).where(Task.id.in_(list(task_ids)), Task.status == TaskStatus.OPEN).values(snoozed_until=until)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def existing_ids(session: Session, task_ids: Sequence[int]) -> set[int]:
    return set(session.scalars(select(Task.id).where(Task.id.in_(list(task_ids)))))


def activity_account(session: Session, activity_id: int) -> int | None:
    return session.scalar(select(Activity.account_id).where(Activity.id == activity_id))


def active_user(session: Session, user_id: int) -> bool:
    return session.scalar(select(User.id).where(User.id == user_id, User.is_active.is_(True))) is not None


def accounts_with_open_tasks(session: Session, account_ids: Sequence[int]) -> set[int]:
    """Those of the accounts that have an open task (snoozed or not, anybody's)."""
    found: set[int] = set()
    ids = list(account_ids)
    for start in range(0, len(ids), 5000):
        found.update(session.scalars(
            select(Task.account_id).where(Task.account_id.in_(ids[start:start + 5000]), Task.status == TaskStatus.OPEN)
            .distinct()
        ))  # fmt: skip
    return found


def team_load(session: Session, today: date, week_end: date) -> list[dict[str, Any]]:
    """Per active user: open tasks, overdue, due by ``week_end``, and the accounts they own
    (at risk, MRR) — the lead's view of the team."""
    open_ = Task.status == TaskStatus.OPEN
    tasks = (
        select(
            Task.assignee_id.label("user_id"),
            func.count().label("open"),
            func.sum(case((and_(Task.due_on.is_not(None), Task.due_on < today), 1), else_=0)).label("overdue"),
            func.sum(case((and_(Task.due_on.is_not(None), Task.due_on <= week_end), 1), else_=0)).label("due_week"),
        )
        .where(open_, Task.assignee_id.is_not(None))
        .group_by(Task.assignee_id)
        .subquery()
    )
    book = (
        select(
            Account.owner_id.label("user_id"),
            func.count().label("accounts"),
            func.sum(case((Account.at_risk.is_(True), 1), else_=0)).label("at_risk"),
            func.sum(Account.mrr).label("mrr"),
        )
        .where(Account.owner_id.is_not(None), Account.churned_on.is_(None))
        .group_by(Account.owner_id)
        .subquery()
    )
    rows = session.execute(
        select(
            User.id, User.name, User.email, User.role,
            func.coalesce(tasks.c.open, 0).label("open"), func.coalesce(tasks.c.overdue, 0).label("overdue"),
            func.coalesce(tasks.c.due_week, 0).label("due_week"), func.coalesce(book.c.accounts, 0).label("accounts"),
            func.coalesce(book.c.at_risk, 0).label("at_risk"), func.coalesce(book.c.mrr, 0).label("mrr"),
        )
        .outerjoin(tasks, tasks.c.user_id == User.id)
        .outerjoin(book, book.c.user_id == User.id)
        .where(User.is_active.is_(True))
        .order_by(User.name, User.id)
    ).mappings()  # fmt: skip
    return [dict(r) for r in rows]
