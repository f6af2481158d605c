"""Onboarding milestones, success-plan goals and CSM tasks."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from kizuna.db.base import Base, Timestamped
from kizuna.db.types import BoundedDate, JsonDoc, UTCDateTime, str_enum
from kizuna.domain.enums import GoalStatus, TaskKind, TaskPriority, TaskStatus


class OnboardingMilestone(Timestamped, Base):
    """A step of an account's onboarding (e.g. kickoff meeting, training, first report)."""

    __tablename__ = "onboarding_milestones"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)
    due_on: Mapped[date | None] = mapped_column(BoundedDate)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: Who does it: ``csm`` or ``customer`` (None: imported without one).
    owner: Mapped[str | None] = mapped_column(String(16))
    #: The onboarding template it came from (None: imported or added by hand).
    template_key: Mapped[str | None] = mapped_column(String(64))
    #: The day the account's onboarding plan started (due = start + the milestone's offset).
    started_on: Mapped[date | None] = mapped_column(BoundedDate)
    #: Reaching it is the account's first value (time to first value counts to it).
    first_value: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class OnboardingTemplate(Timestamped, Base):
    """An onboarding plan for a touch tier: milestones with due offsets and owners
    (``milestones``: a list of ``{name, offset_days, owner, first_value}``)."""

    __tablename__ = "onboarding_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    tier: Mapped[str | None] = mapped_column(String(16))
    milestones: Mapped[list[dict[str, Any]]] = mapped_column(JsonDoc)


class SuccessGoal(Timestamped, Base):
    """A success-plan goal: what success means to this customer, in their own metric."""

    __tablename__ = "success_goals"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    metric: Mapped[str | None] = mapped_column(String(200))
    baseline_value: Mapped[float | None] = mapped_column(Float)
    target_value: Mapped[float | None] = mapped_column(Float)
    current_value: Mapped[float | None] = mapped_column(Float)
    due_on: Mapped[date | None] = mapped_column(BoundedDate)
    status: Mapped[GoalStatus] = mapped_column(str_enum(GoalStatus, "goal_status"), default=GoalStatus.NOT_STARTED)
    #: When the customer started on it (the "time elapsed" of the on-track rule counts from here).
    started_on: Mapped[date | None] = mapped_column(BoundedDate)


class SuccessMilestone(Timestamped, Base):
    """A step towards a success-plan objective."""

    __tablename__ = "success_milestones"

    id: Mapped[int] = mapped_column(primary_key=True)
    goal_id: Mapped[int] = mapped_column(ForeignKey("success_goals.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    due_on: Mapped[date | None] = mapped_column(BoundedDate)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Task(Timestamped, Base):
    """A to-do for the CS team (a CTA), usually about one account."""

    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), unique=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[TaskPriority] = mapped_column(str_enum(TaskPriority, "task_priority"), default=TaskPriority.NORMAL)
    status: Mapped[TaskStatus] = mapped_column(str_enum(TaskStatus, "task_status"), default=TaskStatus.OPEN)
    due_on: Mapped[date | None] = mapped_column(BoundedDate, index=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(100), default="manual")
    kind: Mapped[TaskKind] = mapped_column(str_enum(TaskKind, "task_kind"), default=TaskKind.OTHER)
    #: Who it is about (a contact of the same account).
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    #: Hidden from the worklist until this local day (the task stays open).
    snoozed_until: Mapped[date | None] = mapped_column(BoundedDate)
    #: The signal that made it (``at_risk``, ``health_red``, ``renewal``…), else None.
    signal: Mapped[str | None] = mapped_column(String(40))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    #: The logged activity this task follows up.
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activities.id", ondelete="SET NULL"))
    #: The success-plan objective it works towards.
    success_goal_id: Mapped[int | None] = mapped_column(ForeignKey("success_goals.id", ondelete="SET NULL"), index=True)
