"""Reads and writes of the data feeds' freshness: the days each source has data, its
last day, and the ``source_freshness`` rows the daily job keeps."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, exists, func, insert, select
from sqlalchemy.orm import Session

from kizuna.db.models import Activity, SourceFreshness, Subscription, SurveyResponse, Ticket, UsageDaily

_TIMED = {"tickets": Ticket.opened_at, "surveys": SurveyResponse.answered_at, "activities": Activity.occurred_at}


def _instant(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def days_with_data(session: Session, source: str, first: date, last: date, zone: ZoneInfo) -> list[date]:
    """The days from ``first`` to ``last`` (local days in ``zone``) on which ``source`` has data."""
    if source == "usage":
        # one index probe per day: cheaper than a DISTINCT over the whole rollup
        out = []
        day = first
        while day <= last:
            if session.scalar(select(exists().where(UsageDaily.day == day))):
                out.append(day)
            day += timedelta(days=1)
        return out
    if source == "subscriptions":
        days: set[date] = set()
        for column in (Subscription.started_on, Subscription.ended_on):
            days.update(d for d in session.scalars(select(column).where(column >= first, column <= last).distinct())
                        if d is not None)
        return sorted(days)
    column = _TIMED[source]
    rows = session.scalars(
        select(column).where(column >= _instant(first, zone), column < _instant(last + timedelta(days=1), zone))
    )
    return sorted({value.astimezone(zone).date() for value in rows})


def last_day(session: Session, source: str, as_of: date, zone: ZoneInfo) -> date | None:
    """The last local day up to ``as_of`` on which ``source`` has data."""
    if source == "usage":
        day: date | None = session.scalar(select(func.max(UsageDaily.day)).where(UsageDaily.day <= as_of))
        return day
    if source == "subscriptions":
        found = [session.scalar(select(func.max(c)).where(c <= as_of))
                 for c in (Subscription.started_on, Subscription.ended_on)]  # fmt: skip
        days = [d for d in found if d is not None]
        return max(days) if days else None
    column = _TIMED[source]
    latest = session.scalar(select(func.max(column)).where(column < _instant(as_of + timedelta(days=1), zone)))
    if latest is None:
        return None
    if latest.tzinfo is None:  # SQLite's MAX() returns the stored text, read back as UTC
        latest = latest.replace(tzinfo=UTC)
    return latest.astimezone(zone).date()


def save(session: Session, rows: Iterable[Mapping[str, Any]]) -> None:
    """Replace the stored freshness with these rows (one per source)."""
    session.execute(delete(SourceFreshness))
    batch = [dict(r) for r in rows]
    if batch:
        session.execute(insert(SourceFreshness), batch)


def stored(session: Session) -> list[dict[str, Any]]:
    """The freshness rows the daily job last wrote."""
    rows = session.execute(
        select(SourceFreshness.source, SourceFreshness.as_of, SourceFreshness.last_day,
               SourceFreshness.expected_gap_days, SourceFreshness.gap_is_set, SourceFreshness.stale,
               SourceFreshness.checked_at)
    ).mappings()  # fmt: skip
    return [dict(r) for r in rows]
