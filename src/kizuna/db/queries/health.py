"""The reads and writes behind health scores (ヘルススコア).

Measures are computed set-based: one aggregate query per source table for every
account at once (conditional sums over the usage window), read into pandas.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import and_, bindparam, case, delete, func, or_, select, text, update
from sqlalchemy.orm import Session

from kizuna.db import bulk
from kizuna.db.models import (
    Account,
    Contact,
    HealthScorecardVersion,
    HealthSentiment,
    HealthSnapshot,
    OnboardingMilestone,
    Product,
    Subscription,
    SurveyResponse,
    Ticket,
    UsageDaily,
    User,
)
from kizuna.domain.enums import SurveyKind, TicketPriority
from kizuna.domain.usage import (
    BASELINE_METRICS,
    FEATURE_PREFIX,
    METRIC_EVENTS,
    METRIC_LOGINS,
    RECENT_METRICS,
    USAGE_WINDOW_DAYS,
)


def _end_of(day: date) -> datetime:
    """The first instant after ``day`` (UTC midnight): data before it is "as of" the day."""
    return datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)


def _frame(session: Session, query: Any, columns: Sequence[str]) -> pd.DataFrame:
    rows = session.execute(query).all()
    return pd.DataFrame.from_records(rows, columns=list(columns))


def subscription_lines(session: Session) -> pd.DataFrame:
    """Every subscription line with what coverage and seats need (a small table)."""
    query = select(
        Subscription.account_id, Subscription.started_on, Subscription.trial_ends_on, Subscription.ended_on,
        Subscription.billing_interval, Subscription.quantity, Product.seats_included, Product.kind,
        Subscription.product_id,
    ).join(Product, Product.id == Subscription.product_id)  # fmt: skip
    cols = ["account_id", "started_on", "trial_ends_on", "ended_on", "interval", "quantity", "seats_included", "kind",
            "product_id"]  # fmt: skip
    frame = _frame(session, query, cols)
    for col in ("started_on", "trial_ends_on", "ended_on"):
        frame[col] = pd.to_datetime(frame[col])
    frame["interval"] = frame["interval"].astype(str)
    frame["kind"] = frame["kind"].astype(str)
    return frame


WINDOW_COLUMNS = ("last30", "prev30", "base90", "days30", "max30")



def usage_metrics(session: Session, prefix: str = "") -> list[str]:
    """The distinct metrics in ``usage_daily`` (starting with ``prefix``), found by
    skipping along the (metric, day, …) index: one seek per metric, not a scan."""
    steps = text(
        "WITH RECURSIVE m(metric) AS ("
        " SELECT min(metric) FROM usage_daily WHERE metric >= :prefix"
        " UNION ALL"
        " SELECT (SELECT min(u.metric) FROM usage_daily u WHERE u.metric > m.metric)"
        " FROM m WHERE m.metric IS NOT NULL AND m.metric LIKE :like"
        ") SELECT metric FROM m WHERE metric IS NOT NULL"
    )
    like = prefix.replace("%", "").replace("_", "") + "%"
    found = session.execute(steps, {"prefix": prefix, "like": like}).scalars().all()
    return [str(m) for m in found if str(m).startswith(prefix)]


def _metrics_in_window(session: Session, metrics: Sequence[str], first: date, last: date) -> list[str]:
    """Which of ``metrics`` have a row with a day in (first, last] (an index probe each)."""
    out = []
    for metric in metrics:
        probe = select(UsageDaily.metric).where(UsageDaily.metric == metric, UsageDaily.day > first,
                                                UsageDaily.day <= last).limit(1)  # fmt: skip
        if session.execute(probe).first() is not None:
            out.append(metric)
    return out


def _windows(as_of: date, metric: str) -> dict[str, tuple[date, date]]:
    """The day's windows ``(after, up to]`` that ``metric`` is read over."""
    d30 = as_of - timedelta(days=30)
    if metric not in BASELINE_METRICS:
        return {"last30": (d30, as_of)}
    return {
        "last30": (d30, as_of),
        "prev30": (as_of - timedelta(days=60), d30),
        "base90": (as_of - timedelta(days=USAGE_WINDOW_DAYS), d30),
    }


def _segments(windows: Iterable[tuple[date, date]]) -> list[tuple[date, date]]:
    """The windows cut at every edge into disjoint pieces, keeping those inside a window."""
    spans = list(windows)
    edges = sorted({d for span in spans for d in span})
    return [(a, b) for a, b in itertools.pairwise(edges) if any(lo <= a and b <= hi for lo, hi in spans)]


def usage_windows(session: Session, days: Sequence[date]) -> dict[date, pd.DataFrame]:
    """For each day, per account and metric: sums over the last 30 days (``last30``),
    the 30 before (``prev30``), the 90 before the last 30 (``base90``), the days with a
    value in the last 30 (``days30``) and the largest daily value in the last 30
    (``max30``); the frame's ``attrs["features"]`` lists the ``feature.*`` metrics with
    data in the day's 120-day window.

    Only the metrics the measures use are read (logins and events over the baseline windows; active
    users, session minutes and features over the last 30 days), and each row once for all
    the days: the windows are cut into disjoint day ranges, each summed per account by a
    plain ``GROUP BY`` over an index range scan on (metric, day) — on SQLite several times
    cheaper than one full scan, and cheaper than conditional sums (no ``CASE`` per row).
    The pieces are then added up per window in pandas."""
    wanted = sorted(set(days))
    if not wanted:
        return {}
    features = usage_metrics(session, FEATURE_PREFIX)
    metrics = [*BASELINE_METRICS, *RECENT_METRICS, *features]
    value = UsageDaily.value
    conn = session.connection()  # Core rows: no ORM overhead on the pieces
    pieces: list[tuple[str, date, date, np.ndarray]] = []  # metric, after, up to, [account, sum, days, max]
    for metric in metrics:
        spans = [span for as_of in wanted for span in _windows(as_of, metric).values()]
        for after, upto in _segments(spans):
            query = (
                select(UsageDaily.account_id, func.sum(value), func.sum(case((value > 0, 1), else_=0)), func.max(value))
                .where(UsageDaily.metric == metric, UsageDaily.day > after, UsageDaily.day <= upto)
                .group_by(UsageDaily.account_id)
            )
            found = np.array([tuple(r) for r in conn.execute(query).all()], dtype="float64").reshape(-1, 4)
            pieces.append((metric, after, upto, found))
    out = {}
    for as_of in wanted:
        parts = []
        for metric in metrics:
            columns: dict[str, pd.Series] = {}
            for name, (lo, hi) in _windows(as_of, metric).items():
                chosen = [arr for m, a, u, arr in pieces if m == metric and lo <= a and u <= hi]
                stacked = np.concatenate(chosen) if chosen else np.empty((0, 4))
                sums = pd.DataFrame(
                    stacked[:, 1:], index=stacked[:, 0].astype("int64"), columns=["total", "days", "top"]
                )
                agg = sums.groupby(level=0, sort=False).agg({"total": "sum", "days": "sum", "top": "max"})
                columns[name] = agg["total"]
                if name == "last30":
                    columns["days30"], columns["max30"] = agg["days"], agg["top"]
            part = pd.concat(columns, axis=1).reindex(columns=list(WINDOW_COLUMNS)).astype("float64").fillna(0.0)
            parts.append(part.rename_axis("account_id").reset_index().assign(metric=metric))
        frame = pd.concat(parts, ignore_index=True)[["account_id", "metric", *WINDOW_COLUMNS]]
        frame.attrs["features"] = _metrics_in_window(
            session, features, as_of - timedelta(days=USAGE_WINDOW_DAYS), as_of
        )
        out[as_of] = frame
    return out


def survey_answers(session: Session, as_of: date, days: int) -> pd.DataFrame:
    """The NPS and CSAT answers of the ``days`` up to the day: account_id, kind, score and
    age_days (0 on the day itself, by UTC date), for the time-decayed survey measures."""
    end = _end_of(as_of)
    query = select(SurveyResponse.account_id, SurveyResponse.kind, SurveyResponse.score,
                   SurveyResponse.answered_at).where(
        SurveyResponse.kind.in_([SurveyKind.NPS, SurveyKind.CSAT]), SurveyResponse.answered_at < end,
        SurveyResponse.answered_at >= end - timedelta(days=days), SurveyResponse.score.is_not(None),
    )  # fmt: skip
    frame = _frame(session, query, ["account_id", "kind", "score", "answered_at"])
    answered = pd.to_datetime(frame["answered_at"], utc=True).dt.tz_localize(None).dt.normalize()
    frame["age_days"] = (pd.Timestamp(as_of) - answered).dt.days.astype("float64")
    frame["kind"] = frame["kind"].map(lambda k: str(getattr(k, "value", k)))
    return frame.drop(columns=["answered_at"])


def contact_counts(session: Session) -> pd.DataFrame:
    """The contacts of each account (the users the data tracks, for the seat measures)."""
    query = select(Contact.account_id, func.count()).group_by(Contact.account_id)
    return _frame(session, query, ["account_id", "contacts"])


def ticket_counts(session: Session, as_of: date) -> pd.DataFrame:
    """Tickets open at the end of the day (opened by then, not resolved by then), and
    those of them with high or urgent priority."""
    end = _end_of(as_of)
    escalated = Ticket.priority.in_([TicketPriority.HIGH, TicketPriority.URGENT])
    query = (
        select(Ticket.account_id, func.count(), func.sum(case((escalated, 1), else_=0)))
        .where(Ticket.opened_at < end, or_(Ticket.resolved_at.is_(None), Ticket.resolved_at >= end))
        .group_by(Ticket.account_id)
    )
    return _frame(session, query, ["account_id", "open_tickets", "escalated_tickets"])


def onboarding_counts(session: Session, as_of: date) -> pd.DataFrame:
    """Per account: milestones, those completed by the day, those due by the day, and of
    those the ones completed by the end of their due day."""
    end = _end_of(as_of)
    m = OnboardingMilestone
    done = and_(m.completed_at.is_not(None), m.completed_at < end)
    due = and_(m.due_on.is_not(None), m.due_on <= as_of)
    on_time = and_(due, m.completed_at.is_not(None), m.completed_at < end,
                   func.date(m.completed_at) <= m.due_on)  # fmt: skip
    query = select(m.account_id, func.count(), func.sum(case((done, 1), else_=0)), func.sum(case((due, 1), else_=0)),
                   func.sum(case((on_time, 1), else_=0))).group_by(m.account_id)  # fmt: skip
    return _frame(session, query, ["account_id", "milestones", "milestones_done", "milestones_due", "milestones_on_time"])


def latest_sentiments(session: Session, as_of: date, days: int = 180) -> pd.DataFrame:
    """Each account's latest CSM sentiment entered in the ``days`` up to the day."""
    end = _end_of(as_of)
    window = and_(HealthSentiment.entered_at < end, HealthSentiment.entered_at >= end - timedelta(days=days))
    latest = (
        select(HealthSentiment.account_id, func.max(HealthSentiment.entered_at).label("at"))
        .where(window)
        .group_by(HealthSentiment.account_id)
        .subquery()
    )
    query = (
        select(HealthSentiment.account_id, func.max(HealthSentiment.value))
        .join(
            latest, and_(latest.c.account_id == HealthSentiment.account_id, latest.c.at == HealthSentiment.entered_at)
        )
        .group_by(HealthSentiment.account_id)
    )
    return _frame(session, query, ["account_id", "csm_sentiment"])


def account_segments(session: Session) -> pd.DataFrame:
    """Each account's lifecycle stage and touch tier (they choose the scorecard)."""
    query = select(Account.id, Account.lifecycle_stage, Account.touch_tier)
    frame = _frame(session, query, ["account_id", "stage", "tier"])
    for col in ("stage", "tier"):
        frame[col] = frame[col].map(lambda v: None if v is None else str(v))
    return frame


# --- snapshots -----------------------------------------------------------------------------


def replace_snapshots(session: Session, day: date, rows: list[dict[str, Any]]) -> None:
    """Store the day's snapshots, replacing any of that day."""
    session.execute(delete(HealthSnapshot).where(HealthSnapshot.day == day))
    for start in range(0, len(rows), 20_000):
        bulk.insert_many(session, "health_snapshots", rows[start : start + 20_000])


def snapshot_grades(session: Session, first: date, last: date) -> pd.DataFrame:
    """day, account_id, score, grade and letter of the stored snapshots from ``first`` to
    ``last`` (the grades' hysteresis reads the days before the one it scores)."""
    s = HealthSnapshot
    query = select(s.day, s.account_id, s.score, s.grade, s.letter).where(s.day >= first, s.day <= last)
    frame = _frame(session, query, ["day", "account_id", "score", "grade", "letter"])
    for col in ("grade", "letter"):
        frame[col] = frame[col].map(lambda g: str(getattr(g, "value", g)))
    return frame


def snapshots_on(session: Session, day: date) -> pd.DataFrame:
    """The day's snapshots: account, score and measures (for changes and explanations)."""
    query = select(HealthSnapshot.account_id, HealthSnapshot.score, HealthSnapshot.measures).where(
        HealthSnapshot.day == day
    )
    return _frame(session, query, ["account_id", "score", "measures"])


def set_account_health(session: Session, day: date, rows: Iterable[tuple[int, float, str]]) -> int:
    """Write the day's score and grade into the accounts list's columns, unless an
    account already shows a later day; accounts not scored on the day (no longer live)
    lose a score older than the day."""
    count = 0
    params = [{"aid": a, "s": s, "g": g} for a, s, g in rows]
    table = bulk.table("accounts")
    stmt = (
        update(table)
        .where(table.c.id == bindparam("aid"), or_(table.c.health_as_of.is_(None), table.c.health_as_of <= day))
        .values(health_score=bindparam("s"), health_grade=bindparam("g"), health_as_of=day)
    )
    if params:
        session.connection().execute(stmt, params)
        count = len(params)
    scored = select(HealthSnapshot.account_id).where(HealthSnapshot.day == day)
    session.execute(
        update(Account)
        .where(Account.health_as_of < day, Account.id.not_in(scored))
        .values(health_score=None, health_grade=None, health_as_of=None)
    )
    return count


def snapshot_days(session: Session, first: date, last: date) -> set[date]:
    """The days from ``first`` to ``last`` that have snapshots."""
    rows = session.scalars(
        select(HealthSnapshot.day).where(HealthSnapshot.day >= first, HealthSnapshot.day <= last).distinct()
    ).all()
    return set(rows)


def latest_snapshot_day(session: Session) -> date | None:
    day: date | None = session.scalar(select(func.max(HealthSnapshot.day)))
    return day


def snapshot_history(session: Session, account_id: int, since: date | None = None) -> list[dict[str, Any]]:
    query = select(HealthSnapshot).where(HealthSnapshot.account_id == account_id)
    if since is not None:
        query = query.where(HealthSnapshot.day >= since)
    rows = session.scalars(query.order_by(HealthSnapshot.day)).all()
    return [
        {
            "day": r.day, "scorecard": r.scorecard, "score": r.score, "grade": r.grade, "letter": r.letter,
            "change_7d": r.change_7d, "change_30d": r.change_30d, "measures": r.measures,
            "explanation": r.explanation,
        }
        for r in rows
    ]  # fmt: skip


def grade_counts(session: Session, day: date) -> list[tuple[str | None, str, int]]:
    """(touch tier, grade, accounts) on the day."""
    rows = session.execute(
        select(Account.touch_tier, HealthSnapshot.grade, func.count())
        .join(Account, Account.id == HealthSnapshot.account_id)
        .where(HealthSnapshot.day == day)
        .group_by(Account.touch_tier, HealthSnapshot.grade)
    ).all()
    return [(None if t is None else str(t), str(g), int(n)) for t, g, n in rows]


def movers(session: Session, day: date, column: str, limit: int, rising: bool) -> list[dict[str, Any]]:
    """Accounts whose score changed most over 7 or 30 days (``column``), with the
    explanation, MRR (minor units), currency and owner (id, name)."""
    change = getattr(HealthSnapshot, column)
    order = change.desc() if rising else change.asc()
    cond = change > 0 if rising else change < 0
    rows = session.execute(
        select(Account.id, Account.name, HealthSnapshot.score, HealthSnapshot.grade, change, HealthSnapshot.explanation,
               Account.mrr, Account.currency, Account.owner_id, User.name)
        .join(Account, Account.id == HealthSnapshot.account_id)
        .outerjoin(User, User.id == Account.owner_id)
        .where(HealthSnapshot.day == day, change.is_not(None), cond)
        .order_by(order, Account.id)
        .limit(limit)
    ).all()  # fmt: skip
    return [
        {"account_id": a, "name": n, "score": s, "grade": str(g), "change": c, "explanation": e,
         "mrr": m, "currency": cur, "owner_id": o, "owner_name": on}
        for a, n, s, g, c, e, m, cur, o, on in rows
    ]  # fmt: skip


def account_exists(session: Session, account_id: int) -> str | None:
    name: str | None = session.scalar(select(Account.name).where(Account.id == account_id))
    return name



def accounts_reporting(session: Session, after: date, upto: date) -> dict[str, int]:
    """Accounts with a positive value in ``(after, upto]`` of ``events``, of ``logins``
    and of any ``feature.*`` metric (key ``features``): index range scans on (metric, day)."""
    out = {}
    features = usage_metrics(session, FEATURE_PREFIX)
    for key, metrics in ((METRIC_EVENTS, [METRIC_EVENTS]), (METRIC_LOGINS, [METRIC_LOGINS]), ("features", features)):
        if not metrics:
            out[key] = 0
            continue
        query = select(func.count(func.distinct(UsageDaily.account_id))).where(
            UsageDaily.metric.in_(metrics), UsageDaily.day > after, UsageDaily.day <= upto, UsageDaily.value > 0
        )
        out[key] = int(session.scalar(query) or 0)
    return out


def store_day_range(session: Session) -> tuple[date | None, date | None]:
    """The first and last day with usage (the backtest's history)."""
    row = session.execute(select(func.min(UsageDaily.day), func.max(UsageDaily.day))).one()
    return row[0], row[1]


# --- CSM sentiment -------------------------------------------------------------------------


def add_sentiment(session: Session, account_id: int, author_id: int | None, value: int, reason: str,
                  entered_at: datetime) -> HealthSentiment:  # fmt: skip
    entry = HealthSentiment(account_id=account_id, author_id=author_id, value=value, reason=reason,
                            entered_at=entered_at)  # fmt: skip
    session.add(entry)
    session.flush()
    return entry


def sentiments(session: Session, account_id: int, limit: int = 10) -> list[dict[str, Any]]:
    rows = session.execute(
        select(HealthSentiment.id, HealthSentiment.value, HealthSentiment.reason, HealthSentiment.entered_at, User.name)
        .outerjoin(User, User.id == HealthSentiment.author_id)
        .where(HealthSentiment.account_id == account_id)
        .order_by(HealthSentiment.entered_at.desc(), HealthSentiment.id.desc())
        .limit(limit)
    ).all()
    return [{"id": i, "value": v, "reason": r, "entered_at": at, "author": n} for i, v, r, at, n in rows]


# --- scorecard versions --------------------------------------------------------------------


def latest_scorecard_version(session: Session) -> HealthScorecardVersion | None:
    return session.scalars(select(HealthScorecardVersion).order_by(HealthScorecardVersion.id.desc()).limit(1)).first()


def add_scorecard_version(session: Session, source: str, author_id: int | None, note: str | None) -> int:
    version = HealthScorecardVersion(source=source, author_id=author_id, note=note)
    session.add(version)
    session.flush()
    return version.id


def scorecard_versions(session: Session, limit: int = 20) -> list[dict[str, Any]]:
    rows = session.execute(
        select(HealthScorecardVersion.id, HealthScorecardVersion.created_at, HealthScorecardVersion.note, User.name)
        .outerjoin(User, User.id == HealthScorecardVersion.author_id)
        .order_by(HealthScorecardVersion.id.desc())
        .limit(limit)
    ).all()
    return [{"version": i, "created_at": at, "note": note, "author": n} for i, at, note, n in rows]
