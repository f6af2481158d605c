"""The reads behind a health history (many days at once): the raw rows the measures
come from, read once for a whole range of days instead of one aggregate per day.

Timestamps are returned as their UTC calendar day: a row counts "as of" a day when it
happened before the next UTC midnight, as in :mod:`kizuna.db.queries.health`.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kizuna.db.models import (
    HealthSentiment,
    HealthSnapshot,
    OnboardingMilestone,
    SurveyResponse,
    Ticket,
    UsageDaily,
)
from kizuna.db.queries.health import usage_metrics
from kizuna.domain.enums import SurveyKind, TicketPriority
from kizuna.domain.usage import BASELINE_METRICS, FEATURE_PREFIX, RECENT_METRICS


def _utc_day(values: pd.Series) -> pd.Series:
    """Aware (or naive UTC) datetimes → their UTC calendar day as ``datetime64[ns]``."""
    stamps = pd.to_datetime(values, utc=True)
    return stamps.dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize()


def _frame(session: Session, query: Any, columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame.from_records(session.execute(query).all(), columns=columns)


def usage_rows(session: Session, after: date, upto: date) -> pd.DataFrame:
    """``account_id, day, metric, value`` of the metrics the measures read (logins,
    active users, session minutes, every ``feature.*``), days in ``(after, upto]``."""
    metrics = [*BASELINE_METRICS, *RECENT_METRICS, *usage_metrics(session, FEATURE_PREFIX)]
    conn = session.connection()
    frames = []
    for metric in metrics:  # one index range scan on (metric, day) each
        query = select(UsageDaily.account_id, UsageDaily.day, UsageDaily.value).where(
            UsageDaily.metric == metric, UsageDaily.day > after, UsageDaily.day <= upto
        )
        part = pd.DataFrame.from_records(conn.execute(query).all(), columns=["account_id", "day", "value"])
        frames.append(part.assign(metric=metric))
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["account_id", "day", "value"])
    frame["day"] = pd.to_datetime(frame["day"])
    frame["value"] = frame["value"].astype("float64")
    return frame


def survey_rows(session: Session) -> pd.DataFrame:
    """``account_id, kind, score, day`` of every NPS and CSAT answer with a score."""
    query = select(SurveyResponse.account_id, SurveyResponse.kind, SurveyResponse.score,
                   SurveyResponse.answered_at).where(
        SurveyResponse.kind.in_([SurveyKind.NPS, SurveyKind.CSAT]), SurveyResponse.score.is_not(None))  # fmt: skip
    frame = _frame(session, query, ["account_id", "kind", "score", "day"])
    frame["kind"] = frame["kind"].map(lambda k: str(getattr(k, "value", k)))
    frame["day"] = _utc_day(frame["day"])
    return frame


def ticket_rows(session: Session) -> pd.DataFrame:
    """``account_id, opened, resolved, escalated`` of every ticket (days; resolved NaT
    while unresolved)."""
    query = select(Ticket.account_id, Ticket.opened_at, Ticket.resolved_at, Ticket.priority)
    frame = _frame(session, query, ["account_id", "opened", "resolved", "priority"])
    frame["opened"] = _utc_day(frame["opened"])
    frame["resolved"] = _utc_day(frame["resolved"])
    urgent = {TicketPriority.HIGH.value, TicketPriority.URGENT.value}
    frame["escalated"] = frame["priority"].map(lambda p: str(getattr(p, "value", p)) in urgent)
    return frame.drop(columns=["priority"])


def milestone_rows(session: Session) -> pd.DataFrame:
    """``account_id, completed, due`` of every onboarding milestone (days; NaT: not
    completed, no due day)."""
    query = select(OnboardingMilestone.account_id, OnboardingMilestone.completed_at, OnboardingMilestone.due_on)
    frame = _frame(session, query, ["account_id", "completed", "due"])
    frame["completed"] = _utc_day(frame["completed"])
    frame["due"] = pd.to_datetime(frame["due"])
    return frame


def sentiment_rows(session: Session) -> pd.DataFrame:
    """``account_id, entered_at, day, value`` of every CSM sentiment entry."""
    query = select(HealthSentiment.account_id, HealthSentiment.entered_at, HealthSentiment.value)
    frame = _frame(session, query, ["account_id", "entered_at", "value"])
    frame["entered_at"] = pd.to_datetime(frame["entered_at"], utc=True)
    frame["day"] = _utc_day(frame["entered_at"])
    return frame


def recent_snapshots(session: Session, account_id: int, days: int) -> list[dict[str, Any]]:
    """The account's snapshots of the ``days`` days up to its newest one, oldest first:
    day, score, grade, letter, 30-day change and explanation."""
    newest = session.scalar(select(func.max(HealthSnapshot.day)).where(HealthSnapshot.account_id == account_id))
    if newest is None:
        return []
    query = (
        select(HealthSnapshot.day, HealthSnapshot.score, HealthSnapshot.grade, HealthSnapshot.letter,
               HealthSnapshot.change_30d, HealthSnapshot.explanation)
        .where(HealthSnapshot.account_id == account_id, HealthSnapshot.day > newest - timedelta(days=days))
        .order_by(HealthSnapshot.day)
    )  # fmt: skip
    return [
        {"day": d, "score": s, "grade": str(getattr(g, "value", g)), "letter": str(getattr(lt, "value", lt)),
         "change_30d": c, "explanation": e or []}
        for d, s, g, lt, c, e in session.execute(query).all()
    ]  # fmt: skip
