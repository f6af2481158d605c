"""Tasks (calls to action, CTA): what a CSM has to do about an account.

Created by hand (the 360 page, the worklist, ``POST /api/tasks``, ``kizuna tasks add``), as
the follow-up of a logged activity, or by a signal or playbook (``source`` and ``signal``
say which). Assigned, reassigned, snoozed (hidden from the worklist until a day, still
open), completed and reopened through the functions here; the caller's transaction
commits. Every date has a range, every text a length, every reference is checked, and
each refusal is an ``InvalidInput``/``NotFound`` with a stable code (docs/errors.md).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from kizuna.db import Session
from kizuna.db.queries import customer360 as reads
from kizuna.db.queries import tasks as q
from kizuna.domain.dates import in_range, out_of_range_message
from kizuna.domain.enums import TaskKind, TaskPriority, TaskStatus
from kizuna.errors import InvalidInput, NotFound
from kizuna.i18n import _

TITLE_MAX = 300
NOTES_MAX = 20_000
EXTERNAL_ID_PREFIX = "TASK-"
#: How far ahead a task may be snoozed, and how far from today a due date may be.
SNOOZE_MAX_DAYS = 365
DUE_MAX_YEARS = 5
MAX_PER_PAGE = 200
BULK_MAX = 500
_MAX_ID = 2**31 - 1

@dataclass(frozen=True)
class TaskView:
    """A task as every surface shows it (page, API, CLI)."""

    id: int
    external_id: str
    account_id: int | None
    account_name: str | None
    account_mrr: int | None
    account_currency: str | None
    title: str
    description: str | None
    kind: TaskKind
    priority: TaskPriority
    status: TaskStatus
    due_on: date | None
    snoozed_until: date | None
    assignee_id: int | None
    assignee_name: str | None
    contact_id: int | None
    contact_name: str | None
    source: str
    signal: str | None
    activity_id: int | None
    created_by_id: int | None
    created_by_name: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None

    def overdue_days(self, today: date) -> int:
        """Days past the due date of an open task (0: not overdue)."""
        if self.status != TaskStatus.OPEN or self.due_on is None:
            return 0
        return max(0, (today - self.due_on).days)

    def snoozed(self, today: date) -> bool:
        return self.status == TaskStatus.OPEN and self.snoozed_until is not None and self.snoozed_until > today


@dataclass(frozen=True)
class TaskFilters:
    """What a task list asks for; every field optional."""

    assignee_id: int | None = None
    unassigned: bool = False
    account_id: int | None = None
    status: TaskStatus | None = TaskStatus.OPEN
    overdue: bool = False
    include_snoozed: bool = True
    page: int = 1
    per_page: int = 50

    def __post_init__(self) -> None:
        if self.page < 1 or self.page > 1_000_000:
            raise InvalidInput(_("page must be from 1 to 1,000,000"), code="invalid_page", field="page")
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            raise InvalidInput(
                _("per_page must be from 1 to {n}").format(n=MAX_PER_PAGE), code="invalid_page", field="per_page"
            )


@dataclass(frozen=True)
class TaskPage:
    items: tuple[TaskView, ...]
    total: int
    page: int
    per_page: int


def _view(row: Mapping[str, Any]) -> TaskView:
    return TaskView(**{k: row[k] for k in TaskView.__dataclass_fields__})


def get_task(session: Session, task_id: int) -> TaskView:
    row = q.task_row(session, task_id) if 0 < task_id <= _MAX_ID else None
    if row is None:
        raise NotFound(_("no task with id {id}").format(id=task_id), code="task_not_found", field="task_id")
    return _view(row)


def list_tasks(session: Session, filters: TaskFilters, *, today: date) -> TaskPage:
    total, rows = q.list_tasks(
        session, assignee_id=filters.assignee_id, unassigned=filters.unassigned, account_id=filters.account_id,
        status=filters.status, due_before=today if filters.overdue else None,
        awake_on=None if filters.include_snoozed else today,
        offset=(filters.page - 1) * filters.per_page, limit=filters.per_page,
    )  # fmt: skip
    return TaskPage(tuple(_view(r) for r in rows), total, filters.page, filters.per_page)


# --- checking what comes in ---------------------------------------------------------------


def _choice(enum: Any, value: Any, field: str, code: str) -> Any:
    if isinstance(value, enum):
        return value
    try:
        return enum(str(value).strip().lower())
    except ValueError:
        raise InvalidInput(
            _("{field} must be one of: {values}").format(field=field, values=", ".join(m.value for m in enum)),
            code=code, field=field,
        ) from None  # fmt: skip


def parse_kind(value: Any) -> TaskKind:
    return _choice(TaskKind, value, "kind", "invalid_task_kind")  # type: ignore[no-any-return]


def parse_priority(value: Any) -> TaskPriority:
    return _choice(TaskPriority, value, "priority", "invalid_priority")  # type: ignore[no-any-return]


def _title(value: Any) -> str:
    text = " ".join(str(value or "").split())
    if not text:
        raise InvalidInput(_("a task needs a title"), code="task_title_missing", field="title")
    if len(text) > TITLE_MAX:
        raise InvalidInput(
            _("the title is longer than {n} characters").format(n=TITLE_MAX), code="title_too_long", field="title"
        )
    return text


def _notes(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).replace("\r\n", "\n").strip()
    if len(text) > NOTES_MAX:
        raise InvalidInput(
            _("the notes are longer than {n} characters").format(n=f"{NOTES_MAX:,}"),
            code="notes_too_long", field="description",
        )  # fmt: skip
    return text or None


def check_due(due_on: date | None, today: date) -> date | None:
    """A due date within five years of today (before: a typo, not a plan)."""
    if due_on is None:
        return None
    if not in_range(due_on):
        raise InvalidInput(out_of_range_message(due_on), code="due_on_out_of_range", field="due_on")
    lo, hi = today.replace(year=today.year - DUE_MAX_YEARS), _years_after(today, DUE_MAX_YEARS)
    if not lo <= due_on <= hi:
        raise InvalidInput(
            _("the due date must be from {lo} to {hi}").format(lo=lo.isoformat(), hi=hi.isoformat()),
            code="due_on_out_of_range", field="due_on",
        )  # fmt: skip
    return due_on


def _years_after(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _check_account(session: Session, account_id: int | None) -> None:
    if account_id is None:
        return
    if not 0 < account_id <= _MAX_ID or not reads.account_exists(session, account_id):
        raise NotFound(_("no account with id {id}").format(id=account_id), code="account_not_found", field="account_id")


def _check_assignee(session: Session, user_id: int | None) -> None:
    if user_id is None:
        return
    if not 0 < user_id <= _MAX_ID or not q.active_user(session, user_id):
        raise NotFound(
            _("no active user with id {id}").format(id=user_id), code="user_not_found", field="assignee_id"
        )


def _check_contact(session: Session, contact_id: int | None, account_id: int | None) -> None:
    if contact_id is None:
        return
    owner = reads.contact_account_id(session, contact_id) if 0 < contact_id <= _MAX_ID else None
    if owner is None:
        raise NotFound(_("no contact with id {id}").format(id=contact_id), code="contact_not_found", field="contact_id")
    if owner != account_id:
        raise InvalidInput(
            _("contact {id} belongs to another account").format(id=contact_id),
            code="contact_not_on_account", field="contact_id",
        )  # fmt: skip


# --- changing tasks -------------------------------------------------------------------------


def create_task(
    session: Session, *, today: date, account_id: int | None, title: str, kind: TaskKind | str = TaskKind.OTHER,
    priority: TaskPriority | str = TaskPriority.NORMAL, due_on: date | None = None, assignee_id: int | None = None,
    contact_id: int | None = None, description: str | None = None, created_by_id: int | None = None,
    source: str = "manual", signal: str | None = None, activity_id: int | None = None,
    external_id: str | None = None,
) -> TaskView:  # fmt: skip
    """Add a task and return it (flushed). With no assignee it goes to the account's owner
    when the account has one; otherwise it stays unassigned (the lead's view lists it)."""
    values = {
        "title": _title(title), "kind": parse_kind(kind), "priority": parse_priority(priority),
        "due_on": check_due(due_on, today), "description": _notes(description),
    }  # fmt: skip
    _check_account(session, account_id)
    _check_contact(session, contact_id, account_id)
    if assignee_id is None and account_id is not None:
        assignee_id = reads.account_owner_id(session, account_id)
    else:
        _check_assignee(session, assignee_id)
    if len(source or "") > 100 or len(signal or "") > 40:
        raise InvalidInput(_("source or signal is too long"), code="invalid_task_source", field="source")
    task_id = q.insert_task(
        session, external_id=external_id or f"{EXTERNAL_ID_PREFIX}{uuid.uuid4()}", account_id=account_id,
        assignee_id=assignee_id, contact_id=contact_id, created_by_id=created_by_id, source=source or "manual",
        signal=signal, activity_id=activity_id, status=TaskStatus.OPEN, **values,
    )  # fmt: skip
    return get_task(session, task_id)


def follow_up(
    session: Session, activity_id: int, *, today: date, title: str, due_on: date | None = None,
    kind: TaskKind | str = TaskKind.OTHER, priority: TaskPriority | str = TaskPriority.NORMAL,
    assignee_id: int | None = None, created_by_id: int | None = None, description: str | None = None,
) -> TaskView:  # fmt: skip
    """A task that follows up a logged activity, on the same account."""
    account_id = q.activity_account(session, activity_id) if 0 < activity_id <= _MAX_ID else None
    if account_id is None:
        raise NotFound(
            _("no activity with id {id}").format(id=activity_id), code="activity_not_found", field="activity_id"
        )
    return create_task(
        session, today=today, account_id=account_id, title=title, kind=kind, priority=priority, due_on=due_on,
        assignee_id=assignee_id or created_by_id, created_by_id=created_by_id, description=description,
        activity_id=activity_id, source="follow_up",
    )  # fmt: skip


#: The fields :func:`update_task` changes; None clears the optional ones.
EDITABLE = ("title", "description", "kind", "priority", "due_on", "assignee_id", "contact_id")


def update_task(session: Session, task_id: int, changes: Mapping[str, Any], *, today: date) -> TaskView:
    """Change the fields given (of :data:`EDITABLE`): reassign, reprioritise, move the due date…"""
    task = get_task(session, task_id)
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise InvalidInput(
            _("these fields cannot be changed: {fields}").format(fields=", ".join(unknown)),
            code="unknown_field", field=unknown[0],
        )  # fmt: skip
    values: dict[str, Any] = {}
    for name, value in changes.items():
        if name == "title":
            values[name] = _title(value)
        elif name == "description":
            values[name] = _notes(value)
        elif name in ("kind", "priority") and value is None:
            raise InvalidInput(_("{field} cannot be empty").format(field=name), code="field_required", field=name)
        elif name == "kind":
            values[name] = parse_kind(value)
        elif name == "priority":
            values[name] = parse_priority(value)
        elif name == "due_on":
            values[name] = check_due(value, today)
        elif name == "assignee_id":
            _check_assignee(session, value)
            values[name] = value
        elif name == "contact_id":
            _check_contact(session, value, task.account_id)
            values[name] = value
    q.update_task(session, task_id, values)
    return get_task(session, task_id)


def _ids(session: Session, task_ids: Sequence[int]) -> list[int]:
    ids = sorted({int(i) for i in task_ids})
    if not ids:
        raise InvalidInput(_("choose at least one task"), code="no_tasks", field="task_ids")
    if len(ids) > BULK_MAX:
        raise InvalidInput(
            _("at most {n} tasks at once").format(n=BULK_MAX), code="too_many_tasks", field="task_ids"
        )
    missing = [i for i in ids if not 0 < i <= _MAX_ID] or sorted(set(ids) - q.existing_ids(session, ids))
    if missing:
        raise NotFound(
            _("no task with id {id}").format(id=missing[0]), code="task_not_found", field="task_ids"
        )
    return ids


def complete(session: Session, task_ids: Sequence[int], *, now: datetime | None = None) -> int:
    """Mark open tasks done (done ones stay as they were); returns how many changed."""
    return q.set_status(session, _ids(session, task_ids), TaskStatus.DONE, completed_at=now or datetime.now(UTC),
                        only_from=TaskStatus.OPEN)  # fmt: skip


def reopen(session: Session, task_ids: Sequence[int]) -> int:
    """Open done or canceled tasks again; returns how many changed."""
    ids = _ids(session, task_ids)
    return q.set_status(session, ids, TaskStatus.OPEN, completed_at=None, only_from=TaskStatus.DONE) + q.set_status(
        session, ids, TaskStatus.OPEN, completed_at=None, only_from=TaskStatus.CANCELED
    )


def cancel(session: Session, task_ids: Sequence[int], *, now: datetime | None = None) -> int:
    return q.set_status(session, _ids(session, task_ids), TaskStatus.CANCELED,
                        completed_at=now or datetime.now(UTC), only_from=TaskStatus.OPEN)  # fmt: skip


def check_snooze(until: date, today: date) -> date:
    """A snooze ends tomorrow at the earliest and within a year."""
    if not today < until <= today + timedelta(days=SNOOZE_MAX_DAYS):
        raise InvalidInput(
            _("snooze until a day from {lo} to {hi}").format(
                lo=(today + timedelta(days=1)).isoformat(), hi=(today + timedelta(days=SNOOZE_MAX_DAYS)).isoformat()
            ),
            code="snooze_out_of_range", field="until",
        )  # fmt: skip
    return until


def snooze(session: Session, task_ids: Sequence[int], until: date, *, today: date) -> int:
    """Hide open tasks from the worklist until ``until`` (they stay open); returns how many."""
    return q.snooze(session, _ids(session, task_ids), check_snooze(until, today))


__all__ = [
    "TaskFilters",
    "TaskPage",
    "TaskView",
    "cancel",
    "complete",
    "create_task",
    "follow_up",
    "get_task",
    "list_tasks",
    "reopen",
    "snooze",
    "update_task",
]
