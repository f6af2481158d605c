"""The worklist's ranking factors and reason phrases, worked by hand (fast, no store):
the oracle for mutation testing of ``services/worklist.py``'s pure part."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from kizuna.domain.enums import TaskKind, TaskPriority, TaskStatus
from kizuna.domain.health import HealthGrade
from kizuna.services import worklist as w
from kizuna.services.tasks import TaskView

TODAY = date(2026, 11, 20)


def task(due: date | None, priority: TaskPriority = TaskPriority.NORMAL, status: TaskStatus = TaskStatus.OPEN,
         snoozed: date | None = None) -> TaskView:  # fmt: skip
    now = datetime(2026, 11, 1, tzinfo=UTC)
    return TaskView(1, "TASK-1", 1, "A", 100, "JPY", "t", None, TaskKind.CALL, priority, status, due, snoozed, None,
                    None, None, None, "manual", None, None, None, None, now, now, None)  # fmt: skip


@pytest.mark.parametrize(
    ("due", "priority", "expected"),
    [
        (None, TaskPriority.NORMAL, 0.5),
        (TODAY, TaskPriority.NORMAL, 2.0),
        (TODAY + timedelta(days=1), TaskPriority.NORMAL, 2 - 1 / 7),
        (TODAY + timedelta(days=7), TaskPriority.NORMAL, 1.0),
        (TODAY + timedelta(days=8), TaskPriority.NORMAL, 0.5),
        (TODAY - timedelta(days=1), TaskPriority.NORMAL, 2 + 1 / 7),
        (TODAY - timedelta(days=14), TaskPriority.NORMAL, 4.0),
        (TODAY - timedelta(days=40), TaskPriority.NORMAL, 4.0),
        (TODAY, TaskPriority.HIGH, 3.0),
        (TODAY, TaskPriority.LOW, 1.4),
        (None, TaskPriority.HIGH, 0.75),
    ],
)
def test_task_urgency(due: date | None, priority: TaskPriority, expected: float) -> None:
    assert w.task_urgency(task(due, priority), TODAY) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("renewal_in", "expected"),
    [(None, 1.0), (0, 3.0), (45, 2.0), (90, 1.0), (91, 1.0), (-1, 1.0), (30, 1 + 60 / 45)],
)
def test_signal_urgency(renewal_in: int | None, expected: float) -> None:
    assert w.signal_urgency(renewal_in) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("score", "at_risk", "expected"),
    [(None, False, 0.3), (None, True, 0.6), (40.0, False, 0.6), (40.0, True, 0.9), (10.0, True, 1.0),
     (100.0, False, 0.0), (120.0, False, 0.0), (-5.0, False, 1.0), (80.0, True, 0.5)],
)  # fmt: skip
def test_risk(score: float | None, at_risk: bool, expected: float) -> None:
    assert w.risk_of(score, at_risk) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("mrr", "median", "expected"),
    [(0, 100.0, 0.25), (100, 0.0, 0.25), (100, 100.0, 1.0), (400, 100.0, 2.0), (25, 100.0, 0.5),
     (1, 100.0, 0.25), (10_000, 100.0, 4.0), (1600, 100.0, 4.0), (-5, 100.0, 0.25)],
)  # fmt: skip
def test_revenue_weight(mrr: int, median: float, expected: float) -> None:
    assert w.revenue_weight(mrr, median) == pytest.approx(expected)


def test_the_reason_phrases() -> None:
    assert w._due_phrase(task(TODAY - timedelta(days=2)), TODAY) == "2 days overdue"
    assert w._due_phrase(task(TODAY), TODAY) == "due today"
    assert w._due_phrase(task(TODAY + timedelta(days=3)), TODAY) == "due in 3 days"
    assert w._due_phrase(task(None), TODAY) is None
    assert w._grade_phrase(41.6, HealthGrade.RED) == "health 42 (red)"
    assert w._grade_phrase(65.0, HealthGrade.YELLOW) == "health 65 (yellow)"
    assert w._grade_phrase(90.0, HealthGrade.GREEN) is None
    assert w._grade_phrase(None, HealthGrade.RED) is None
    assert w._grade_phrase(50.0, None) is None
    assert w._reason(["a", None, "", "b"]) == "a · b"


def test_a_task_view_knows_overdue_and_snoozed() -> None:
    assert task(TODAY - timedelta(days=5)).overdue_days(TODAY) == 5
    assert task(TODAY).overdue_days(TODAY) == 0
    assert task(None).overdue_days(TODAY) == 0
    assert task(TODAY - timedelta(days=5), status=TaskStatus.DONE).overdue_days(TODAY) == 0
    assert task(TODAY, snoozed=TODAY + timedelta(days=1)).snoozed(TODAY)
    assert not task(TODAY, snoozed=TODAY).snoozed(TODAY)
    assert not task(TODAY, snoozed=None).snoozed(TODAY)
    assert not task(TODAY, snoozed=TODAY + timedelta(days=1), status=TaskStatus.DONE).snoozed(TODAY)


def test_the_median_counts_paying_accounts_only() -> None:
    assert w._median([0, 0, 100, 300]) == 200.0
    assert w._median([0, 0]) == 0.0
    assert w._median([5, 1, 9]) == 5.0
