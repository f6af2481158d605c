"""Tasks (calls to action) and the worklist."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import Field

from kizuna.api.schemas.common import Day, Id, InputModel, OutputModel, PageOut, PatchModel, Text20000
from kizuna.domain.enums import TaskKind, TaskPriority, TaskStatus
from kizuna.domain.health import HealthGrade


class TaskCreate(InputModel):
    """A task about an account (or about nobody in particular: leave `account_id` out).
    With `activity_id` it is the follow-up of that logged activity, on its account."""

    account_id: Id | None = None
    activity_id: Id | None = Field(None, description="The activity this task follows up (its account is used).")
    title: str = Field(max_length=300, description="1–300 characters.")
    kind: TaskKind = TaskKind.OTHER
    priority: TaskPriority = TaskPriority.NORMAL
    due_on: Day | None = Field(None, description="Within five years of today.")
    assignee_id: Id | None = Field(None, description="Default: the account's owner (else nobody).")
    contact_id: Id | None = Field(None, description="A contact of the same account.")
    description: Text20000 | None = None


class TaskUpdate(PatchModel):
    """Reassign, reprioritise, move the due date, rename…; status changes have their own calls."""

    not_null = frozenset({"title", "kind", "priority"})

    title: str | None = Field(None, max_length=300)
    kind: TaskKind | None = None
    priority: TaskPriority | None = None
    due_on: Day | None = None
    assignee_id: Id | None = None
    contact_id: Id | None = None
    description: Text20000 | None = None


class SnoozeIn(InputModel):
    until: Day = Field(description="Back on the worklist on this day: from tomorrow to a year ahead.")


class TaskOut(OutputModel):
    id: int
    external_id: str
    account_id: int | None
    account_name: str | None
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
    source: str = Field(description="manual, follow_up, or the playbook or signal that made it.")
    signal: str | None
    activity_id: int | None
    created_by_id: int | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


class TaskPage(PageOut[TaskOut]):
    pass


class WorkItemOut(OutputModel):
    kind: Literal["task", "signal"]
    rank: float = Field(description="urgency × (0.5 + risk) × revenue: the list's order, highest first.")
    urgency: float
    risk: float
    revenue: float
    account_id: int | None
    account_name: str | None
    mrr: int = Field(description="In minor units of `currency`.")
    currency: str | None
    owner_name: str | None
    reason: str = Field(description="Why it is on the list, one line, in the caller's language.")
    signals: list[str] = Field(description="at_risk, health_red, renewal (signal items), or the task's signal.")
    task: TaskOut | None
    due_on: date | None
    renewal_in: int | None = Field(description="Days to the renewal of a committed term, when within 90.")
    health_score: float | None
    health_grade: HealthGrade | None


class WorklistOut(OutputModel):
    user_id: int | None = Field(description="Whose list; null: the whole team.")
    as_of: date
    total: int
    overdue: int
    due_today: int
    signals: int
    items: list[WorkItemOut]
