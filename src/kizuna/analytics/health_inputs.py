"""The health measures' inputs as Ibis expressions: the same aggregates as the store's
queries (``kizuna.db.queries.health``), on any analytics engine — SQLite, PostgreSQL,
DuckDB (a file or a folder of Parquet files) or Spark.

Why two readers of the same aggregates: the daily job scores inside its own transaction,
right after it wrote the day's usage rollups, so it reads through that transaction's
connection (SQLAlchemy; an Ibis backend is another connection and would not see them).
This reader serves the data that has outgrown one machine, and the churn model's feature
table: ``kizuna health measures --analytics-url …``. The parity suite
(``tests/test_health_parity.py``) holds the two to the same numbers on all four engines.

Only the aggregation runs on the engine — a handful of grouped queries whose results
have one row per account (and metric); the measures themselves are computed from them by
:func:`kizuna.analytics.health.compute_measures`, vectorised in pandas, as for the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import ibis
import pandas as pd
from ibis.backends import BaseBackend

from kizuna.analytics import health as calc
from kizuna.analytics.backend import ALL_COLUMNS, StoreTables, store_tables, uniform_table
from kizuna.domain.health import MEASURES, ScoringOptions
from kizuna.domain.usage import BASELINE_METRICS, FEATURE_PREFIX, RECENT_METRICS, USAGE_WINDOW_DAYS

SENTIMENT_DAYS = 180  # as kizuna.db.queries.health.latest_sentiments
ESCALATED = ("high", "urgent")


@dataclass(frozen=True)
class HealthTables:
    """The tables the measures read, as Ibis expressions with uniform column types."""

    store: StoreTables
    subscriptions: ibis.Table
    products: ibis.Table
    tickets: ibis.Table
    onboarding: ibis.Table
    contacts: ibis.Table
    sentiments: ibis.Table


def health_tables(con: BaseBackend) -> HealthTables:
    """The health tables of ``con``; :class:`~kizuna.errors.InvalidInput` names a missing
    table or column."""
    names = ("subscriptions", "products", "tickets", "onboarding_milestones", "contacts", "health_sentiments")
    tables = {name: uniform_table(con, name, ALL_COLUMNS[name]) for name in names}
    return HealthTables(store=store_tables(con), subscriptions=tables["subscriptions"], products=tables["products"],
                        tickets=tables["tickets"], onboarding=tables["onboarding_milestones"],
                        contacts=tables["contacts"], sentiments=tables["health_sentiments"])  # fmt: skip


def _frame(expr: ibis.Table) -> pd.DataFrame:
    frame: pd.DataFrame = expr.to_pandas()
    return frame


def _end_of(day: date) -> datetime:
    """The first instant after ``day`` (UTC, naive as the uniform tables' timestamps)."""
    return datetime.combine(day + timedelta(days=1), time())


def subscription_lines(t: HealthTables) -> pd.DataFrame:
    """Every subscription line with what coverage and seats need, as
    :func:`kizuna.db.queries.health.subscription_lines`."""
    s, p = t.subscriptions, t.products
    joined = s.join(p, s.product_id == p.id).select(
        s.account_id, s.started_on, s.trial_ends_on, s.ended_on, interval=s.billing_interval, quantity=s.quantity,
        seats_included=p.seats_included, kind=p.kind, product_id=s.product_id,
    )  # fmt: skip
    frame = _frame(joined)
    for col in ("started_on", "trial_ends_on", "ended_on"):
        frame[col] = pd.to_datetime(frame[col])
    for col in ("interval", "kind"):
        frame[col] = frame[col].astype(str)
    return frame


def usage_windows(t: HealthTables, as_of: date) -> pd.DataFrame:
    """Per account and metric: ``last30``, ``prev30``, ``base90`` sums, ``days30`` (days
    with a value) and ``max30`` (the largest daily value in the last 30 days), as
    :func:`kizuna.db.queries.health.usage_windows` — one grouped query over the 120-day
    window; ``attrs["features"]`` lists the ``feature.*`` metrics with data in it."""
    u = t.store.usage_daily
    d30, d60, d120 = (as_of - timedelta(days=n) for n in (30, 60, USAGE_WINDOW_DAYS))
    in_window = u.filter(u.day > d120, u.day <= as_of)
    # the baseline metrics over the 120 days; the others over the last 30 only
    w = in_window.filter(in_window.metric.isin(BASELINE_METRICS) | (
        (in_window.metric.isin(RECENT_METRICS) | in_window.metric.startswith(FEATURE_PREFIX)) & (in_window.day > d30)))
    recent = w.day > d30
    grouped = w.group_by(["account_id", "metric"]).aggregate(
        last30=w.value.sum(where=recent), prev30=w.value.sum(where=(w.day > d60) & ~recent),
        base90=w.value.sum(where=~recent), days30=w.value.count(where=recent & (w.value > 0)),
        max30=w.value.max(where=recent),
    )  # fmt: skip
    frame = _frame(grouped)
    columns = ["last30", "prev30", "base90", "days30", "max30"]
    frame[columns] = frame[columns].astype("float64").fillna(0.0)  # pragma: no mutate (astype(None) is float64 too)
    # equivalent: uniform_table already types account_id int64 and metric string on every
    # engine; these only pin the frame's dtypes (a mutant writing another column is dropped below)
    frame["account_id"] = frame["account_id"].astype("int64")  # pragma: no mutate
    frame["metric"] = frame["metric"].astype(str)  # pragma: no mutate
    frame = frame[["account_id", "metric", *columns]].sort_values(["metric", "account_id"], ignore_index=True)
    features = in_window.filter(in_window.metric.startswith(FEATURE_PREFIX)).select("metric").distinct()
    features = features.to_pandas()["metric"]
    frame.attrs["features"] = sorted(str(m) for m in features)
    return frame


def survey_answers(t: HealthTables, as_of: date, days: int) -> pd.DataFrame:
    """The NPS and CSAT answers of the ``days`` up to the day, with their age in days."""
    r = t.store.survey_responses
    end = _end_of(as_of)
    rows = r.filter(r.kind.isin(["nps", "csat"]), r.answered_at < end, r.answered_at >= end - timedelta(days=days),
                    r.score.notnull()).select("account_id", "kind", "score", "answered_at")  # fmt: skip
    frame = _frame(rows)
    answered = pd.to_datetime(frame["answered_at"]).dt.normalize()
    # pragma below — equivalent: astype(None) is float64 too
    frame["age_days"] = (pd.Timestamp(as_of) - answered).dt.days.astype("float64")  # pragma: no mutate
    frame["kind"] = frame["kind"].astype(str)
    return frame.drop(columns=["answered_at"])


def ticket_counts(t: HealthTables, as_of: date) -> pd.DataFrame:
    """Tickets open at the end of the day, and those of them with high or urgent priority."""
    k = t.tickets
    end = _end_of(as_of)
    open_ = k.filter(k.opened_at < end, k.resolved_at.isnull() | (k.resolved_at >= end))
    grouped = open_.group_by("account_id").aggregate(
        open_tickets=open_.account_id.count(), escalated_tickets=open_.priority.isin(ESCALATED).ifelse(1, 0).sum()
    )
    return _frame(grouped)


def onboarding_counts(t: HealthTables, as_of: date) -> pd.DataFrame:
    """Per account: milestones, those completed by the day, due by the day, and of those
    the ones completed by the end of their due day."""
    m = t.onboarding
    end = _end_of(as_of)
    done = m.completed_at.notnull() & (m.completed_at < end)
    due = m.due_on.notnull() & (m.due_on <= as_of)
    on_time = due & done & (m.completed_at.date() <= m.due_on)
    grouped = m.group_by("account_id").aggregate(
        milestones=m.account_id.count(), milestones_done=done.ifelse(1, 0).sum(),
        milestones_due=due.ifelse(1, 0).sum(), milestones_on_time=on_time.ifelse(1, 0).sum(),
    )  # fmt: skip
    return _frame(grouped)


def latest_sentiments(t: HealthTables, as_of: date, days: int = SENTIMENT_DAYS) -> pd.DataFrame:
    """Each account's latest CSM sentiment entered in the ``days`` up to the day."""
    h = t.sentiments
    end = _end_of(as_of)
    window = h.filter(h.entered_at < end, h.entered_at >= end - timedelta(days=days))
    latest = window.group_by("account_id").aggregate(at=window.entered_at.max())
    joined = window.join(latest, (window.account_id == latest.account_id) & (window.entered_at == latest.at))
    out = joined.group_by(window.account_id).aggregate(csm_sentiment=window.value.max())
    return _frame(out)


def contact_counts(t: HealthTables) -> pd.DataFrame:
    c = t.contacts
    return _frame(c.group_by("account_id").aggregate(contacts=c.id.count()))


def account_tiers(t: HealthTables) -> pd.Series:
    """account_id → touch tier (None where there is none or the engine's accounts lack it)."""
    a = t.store.accounts
    if "touch_tier" not in a.columns:
        # pragma below — equivalent: an empty Series is of dtype object without dtype= too
        # (pandas ≥ 2); its name, "tier", is asserted by the tests
        return pd.Series(dtype=object, name="tier")  # pragma: no mutate
    frame = _frame(a.select(account_id=a.id, tier=a.touch_tier))
    tiers: pd.Series = frame.set_index("account_id")["tier"].map(lambda v: None if v is None or pd.isna(v) else str(v))
    return tiers


def history_from(t: HealthTables) -> date | None:
    """The first day with usage (history before it is unknown, not zero)."""
    first = t.store.usage_daily.day.min().to_pandas()
    return None if first is None or pd.isna(first) else pd.Timestamp(first).date()


def measure_inputs(t: HealthTables, as_of: date, options: ScoringOptions | None = None,
                   *, lines: pd.DataFrame | None = None) -> calc.MeasureInputs:  # fmt: skip
    """Everything :func:`kizuna.analytics.health.compute_measures` reads for ``as_of``."""
    options = options or ScoringOptions()
    usage = usage_windows(t, as_of)
    answers = survey_answers(t, as_of, calc.survey_lookback_days(options))
    return calc.MeasureInputs(
        lines=subscription_lines(t) if lines is None else lines, usage=usage,
        surveys=calc.decayed_surveys(answers, options), tickets=ticket_counts(t, as_of),
        onboarding=onboarding_counts(t, as_of), sentiment=latest_sentiments(t, as_of),
        features=tuple(usage.attrs["features"]), contacts=contact_counts(t), tiers=account_tiers(t),
        options=options, history_from=history_from(t),
    )  # fmt: skip


def measures_on(t: HealthTables, days: Sequence[date], options: ScoringOptions | None = None, *,
                paying_only: bool = False, min_history_days: int = calc.DEFAULT_MIN_HISTORY_DAYS) -> pd.DataFrame:  # fmt: skip
    """The feature table for ``days``: one row per (day, account live on it), one column
    per measure (NaN: missing), computed from the engine's aggregates."""
    lines = subscription_lines(t)
    frames = []
    for day in sorted(set(days)):
        accounts = calc.live_accounts(lines, day, paying_only=paying_only)
        values = calc.compute_measures(accounts, measure_inputs(t, day, options, lines=lines), day,
                                       min_history_days=min_history_days)  # fmt: skip
        frames.append(values.assign(day=pd.Timestamp(day)).set_index("day", append=True).swaplevel())
    if not frames:
        return pd.DataFrame(columns=list(MEASURES))
    return pd.concat(frames)
