"""Success plans (サクセスプラン): the customer's own objectives — metric, baseline, target,
due date — with milestones and tasks (the ``tasks`` table) under each, the on track / at
risk / off track status (:mod:`kizuna.domain.success_plans` has the rule), and the
one-page, customer-facing summary for a business review (HTML and PDF).

Authored on the 360 page and through ``/api/accounts/{id}/success-plan``; the caller's
transaction commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from kizuna.db import Session
from kizuna.db.queries import success_plans as q
from kizuna.domain import success_plans as rules
from kizuna.domain.enums import TaskStatus
from kizuna.domain.success_plans import Track
from kizuna.errors import InvalidInput, NotFound
from kizuna.i18n import _
from kizuna.services import tasks

_MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class GoalMilestoneView:
    id: int
    name: str
    due_on: date | None
    completed_at: datetime | None

    @property
    def done(self) -> bool:
        return self.completed_at is not None


@dataclass(frozen=True)
class GoalTaskView:
    id: int
    title: str
    status: TaskStatus
    due_on: date | None


@dataclass(frozen=True)
class ObjectiveView:
    id: int
    title: str
    metric: str | None
    baseline_value: float | None
    target_value: float | None
    current_value: float | None
    started_on: date | None
    due_on: date | None
    track: Track | None  # None: an imported goal without baseline, target or due date
    milestones: tuple[GoalMilestoneView, ...]
    tasks: tuple[GoalTaskView, ...]


@dataclass(frozen=True)
class SuccessPlan:
    account_id: int
    account_name: str
    as_of: date
    objectives: tuple[ObjectiveView, ...]

    def count(self, status: str) -> int:
        return sum(1 for o in self.objectives if o.track is not None and o.track.status == status)


def _track(r: dict[str, Any], today: date) -> Track | None:
    base, target, due = r["baseline_value"], r["target_value"], r["due_on"]
    if base is None or target is None or due is None or base == target:
        return None
    start = r["started_on"] or (r["created_at"].date() if r.get("created_at") else today)
    return rules.track(baseline=base, target=target, current=r["current_value"], started_on=min(start, due),
                       due_on=due, today=today)  # fmt: skip


def plan(session: Session, account_id: int, today: date) -> SuccessPlan:
    header = q.account_header(session, account_id) if 0 < account_id <= _MAX_ID else None
    if header is None:
        raise NotFound(_("no account with id {id}").format(id=account_id), code="account_not_found", field="account_id")
    rows = q.goals(session, account_id)
    ids = [int(r["id"]) for r in rows]
    ms: dict[int, list[GoalMilestoneView]] = {}
    for m in q.milestones(session, ids):
        ms.setdefault(m["goal_id"], []).append(GoalMilestoneView(m["id"], m["name"], m["due_on"], m["completed_at"]))
    ts: dict[int, list[GoalTaskView]] = {}
    for t in q.goal_tasks(session, ids):
        ts.setdefault(t["goal_id"], []).append(GoalTaskView(t["id"], t["title"], t["status"], t["due_on"]))
    objectives = tuple(
        ObjectiveView(id=r["id"], title=r["title"], metric=r["metric"], baseline_value=r["baseline_value"],
                      target_value=r["target_value"], current_value=r["current_value"], started_on=r["started_on"],
                      due_on=r["due_on"], track=_track(r, today), milestones=tuple(ms.get(r["id"], ())),
                      tasks=tuple(ts.get(r["id"], ())))
        for r in rows
    )  # fmt: skip
    return SuccessPlan(account_id, header["name"], today, objectives)


def _goal(session: Session, goal_id: int) -> Any:
    row = q.goal(session, goal_id) if 0 < goal_id <= _MAX_ID else None
    if row is None:
        raise NotFound(_("no success-plan objective with id {id}").format(id=goal_id), code="objective_not_found",
                       field="goal_id")  # fmt: skip
    return row


def goal_account_id(session: Session, goal_id: int) -> int:
    """The account an objective belongs to (``NotFound`` when there is no such objective)."""
    return int(_goal(session, goal_id).account_id)


def create_objective(session: Session, account_id: int, values: dict[str, Any], *, today: date) -> int:
    """Add an objective (title, metric, baseline_value, target_value, current_value,
    started_on (default today), due_on); returns its id."""
    plan(session, account_id, today)  # the account exists
    o = rules.check_objective(values, today=today)
    return q.add_goal(session, external_id=f"GOAL-{uuid.uuid4().hex}", account_id=account_id, title=o.title,
                      metric=o.metric, baseline_value=o.baseline, target_value=o.target, current_value=o.current,
                      started_on=o.started_on, due_on=o.due_on)  # fmt: skip


def update_objective(session: Session, goal_id: int, changes: dict[str, Any], *, today: date) -> int:
    """Change the fields sent (the whole objective is checked again); returns its account id."""
    row = _goal(session, goal_id)
    current = {"title": row.title, "metric": row.metric, "baseline_value": row.baseline_value,
               "target_value": row.target_value, "current_value": row.current_value,
               "started_on": row.started_on or row.created_at.date(), "due_on": row.due_on}  # fmt: skip
    unknown = sorted(set(changes) - set(current))
    if unknown:
        raise InvalidInput(_("{field}: unknown field").format(field=unknown[0]), code="unknown_field", field=unknown[0])
    o = rules.check_objective({**current, **changes}, today=today)
    q.update_goal(session, goal_id, title=o.title, metric=o.metric, baseline_value=o.baseline, target_value=o.target,
                  current_value=o.current, started_on=o.started_on, due_on=o.due_on)  # fmt: skip
    return int(row.account_id)


def add_milestone(session: Session, goal_id: int, name: Any, due_on: Any) -> int:
    _goal(session, goal_id)
    text = rules.text(name, "name", 200)
    return q.add_milestone(session, goal_id=goal_id, name=text, due_on=rules.day(due_on, "due_on", required=False))


def tick_milestone(session: Session, milestone_id: int, *, done: bool, now: datetime) -> int:
    """Tick (or untick) an objective's milestone; returns the account id."""
    found = q.milestone_goal(session, milestone_id) if 0 < milestone_id <= _MAX_ID else None
    if found is None:
        raise NotFound(_("no success-plan milestone with id {id}").format(id=milestone_id),
                       code="milestone_not_found", field="milestone_id")  # fmt: skip
    q.set_milestone_done(session, milestone_id, now.astimezone(UTC) if done else None)
    return found[1]


def add_task(session: Session, goal_id: int, title: Any, due_on: Any, *, today: date,
             created_by_id: int | None = None) -> int:  # fmt: skip
    """A task (in the worklist like any other) working towards the objective; returns its id."""
    row = _goal(session, goal_id)
    task = tasks.create_task(session, today=today, account_id=int(row.account_id), title=title,
                             due_on=rules.day(due_on, "due_on", required=False), created_by_id=created_by_id,
                             source="success_plan")  # fmt: skip
    q.link_task(session, task.id, goal_id)
    return task.id
