"""``/api/tasks`` and ``/api/worklist``: calls to action and the ranked list of what to do
today — the JSON twins of the worklist page and the task forms, and of ``kizuna tasks`` /
``kizuna worklist``."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query

from kizuna.api.routers._common import READ, READ_ONE, UPDATE, PageNo, PerPage, RecordId, RefFilter, Writer, responses
from kizuna.api.schemas.tasks import SnoozeIn, TaskCreate, TaskOut, TaskPage, TaskUpdate, WorkItemOut, WorklistOut
from kizuna.domain.enums import TaskStatus
from kizuna.http.auth import CurrentPrincipal, State
from kizuna.http.clock import today
from kizuna.http.limits import LimitedRoute
from kizuna.services import tasks, worklist

router = APIRouter(prefix="/api", tags=["tasks"], route_class=LimitedRoute)


def _out(task: tasks.TaskView) -> TaskOut:
    return TaskOut.model_validate(task)


@router.get("/tasks", response_model=TaskPage, responses=READ, summary="List tasks")
def list_tasks(
    state: State, principal: CurrentPrincipal, assignee_id: RefFilter = None, account_id: RefFilter = None,
    status: TaskStatus | None = TaskStatus.OPEN,
    overdue: Annotated[bool, Query(description="Only open tasks past their due date.")] = False,
    page: PageNo = 1, per_page: PerPage = 50,
) -> TaskPage:  # fmt: skip
    """Tasks by due date (undated last). Default: the open ones."""
    filters = tasks.TaskFilters(assignee_id=assignee_id, account_id=account_id, status=status, overdue=overdue,
                                page=page, per_page=per_page)  # fmt: skip
    with state.unit_of_work() as session:
        found = tasks.list_tasks(session, filters, today=today(state.settings))
    return TaskPage(items=[_out(t) for t in found.items], total=found.total, page=found.page, per_page=found.per_page)


@router.get("/tasks/{task_id}", response_model=TaskOut, responses=READ_ONE, summary="Get a task")
def get_task(task_id: RecordId, state: State, principal: CurrentPrincipal) -> TaskOut:
    with state.unit_of_work() as session:
        return _out(tasks.get_task(session, task_id))


@router.post("/tasks", response_model=TaskOut, status_code=201, responses=responses(400, 401, 403, 404, 409, 413, 422),
             summary="Create a task")  # 404: the account, contact, assignee or activity named does not exist
def create_task(body: TaskCreate, state: State, principal: Writer) -> TaskOut:
    """`created_by_id` is the signed-in user (an API key has none)."""
    me = principal.user_id
    values = body.model_dump(exclude={"activity_id", "account_id", "contact_id"})
    with state.unit_of_work() as session:
        day = today(state.settings)
        if body.activity_id is not None:
            values.pop("assignee_id")
            task = tasks.follow_up(session, body.activity_id, today=day, created_by_id=me,
                                   assignee_id=body.assignee_id, **values)  # fmt: skip
        else:
            task = tasks.create_task(session, today=day, account_id=body.account_id, contact_id=body.contact_id,
                                     created_by_id=me, **values)  # fmt: skip
        return _out(task)


@router.patch("/tasks/{task_id}", response_model=TaskOut, responses=UPDATE, summary="Update a task")
def update_task(task_id: RecordId, body: TaskUpdate, state: State, principal: Writer) -> TaskOut:
    """Only the fields sent change; `null` clears `due_on`, `assignee_id`, `contact_id` or `description`."""
    with state.unit_of_work() as session:
        return _out(tasks.update_task(session, task_id, body.model_dump(exclude_unset=True),
                                      today=today(state.settings)))  # fmt: skip


@router.post("/tasks/{task_id}/complete", response_model=TaskOut, responses=UPDATE, summary="Complete a task")
def complete_task(task_id: RecordId, state: State, principal: Writer) -> TaskOut:
    """Open → done (a done task stays as it was)."""
    with state.unit_of_work() as session:
        tasks.complete(session, [task_id])
        return _out(tasks.get_task(session, task_id))


@router.post("/tasks/{task_id}/reopen", response_model=TaskOut, responses=UPDATE, summary="Reopen a task")
def reopen_task(task_id: RecordId, state: State, principal: Writer) -> TaskOut:
    with state.unit_of_work() as session:
        tasks.reopen(session, [task_id])
        return _out(tasks.get_task(session, task_id))


@router.post("/tasks/{task_id}/snooze", response_model=TaskOut, responses=UPDATE, summary="Snooze a task")
def snooze_task(task_id: RecordId, body: SnoozeIn, state: State, principal: Writer) -> TaskOut:
    """Hidden from the worklist until `until` (still open)."""
    with state.unit_of_work() as session:
        tasks.snooze(session, [task_id], body.until, today=today(state.settings))
        return _out(tasks.get_task(session, task_id))


@router.get("/worklist", response_model=WorklistOut, responses=READ, summary="The worklist")
def get_worklist(
    state: State, principal: CurrentPrincipal,
    user_id: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="Whose list (default: the signed-in "
                                         "user's; an API key without it gets the whole team's).")] = None,
    limit: Annotated[int, Query(ge=1, le=worklist.MAX_ITEMS)] = 50,
) -> WorklistOut:  # fmt: skip
    """What to do today, best first, each item with its reason (see docs/tasks.md for the ranking)."""
    who = user_id if user_id is not None else (principal.user_id)
    with state.unit_of_work() as session:
        work = worklist.worklist(session, who, today=today(state.settings), limit=limit)
    items = [WorkItemOut.model_validate({**asdict(i), "signals": list(i.signals),
                                         "task": _out(i.task) if i.task else None}) for i in work.items]  # fmt: skip
    return WorklistOut(user_id=work.user_id, as_of=work.as_of, total=work.total, overdue=work.overdue,
                       due_today=work.due_today, signals=work.signals, items=items)  # fmt: skip
