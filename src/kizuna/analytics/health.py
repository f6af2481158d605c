"""Health scores, vectorised: measures from aggregated frames, points, scores, grades,
explanations, and the backtest's metrics (ヘルススコアの検証).

Pure: every function takes the day ``as_of`` and plain frames; no database, no clock.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from kizuna.domain.health import MEASURES, GradeBands, HealthGrade, Scorecard, Scoring, ScoringOptions
from kizuna.domain.usage import (
    FEATURE_EVENTS,
    FEATURE_PREFIX,
    METRIC_ACTIVE_USERS,
    METRIC_EVENTS,
    METRIC_LOGINS,
    METRIC_SESSION_MINUTES,
)

#: Points changes smaller than this are not worth explaining.
EXPLAIN_MIN_POINTS = 1.0
EXPLAIN_TOP = 3


# --- who is live, who churned ---------------------------------------------------------------


def _paid_from(lines: pd.DataFrame) -> pd.Series:
    trial = lines["trial_ends_on"]
    return lines["started_on"].where(trial.isna() | (trial < lines["started_on"]), trial)


def live_lines(lines: pd.DataFrame, as_of: date, *, paying_only: bool) -> pd.DataFrame:
    """The subscription lines covering the day (paying: past any trial)."""
    day = pd.Timestamp(as_of)
    start = _paid_from(lines) if paying_only else lines["started_on"]
    mask = (start <= day) & (lines["ended_on"].isna() | (lines["ended_on"] > day))
    return lines[mask]


def live_accounts(lines: pd.DataFrame, as_of: date, *, paying_only: bool) -> pd.Index:
    ids = np.unique(live_lines(lines, as_of, paying_only=paying_only)["account_id"].to_numpy())
    index: pd.Index = pd.Index(ids.tolist())
    return index


def churn_events(lines: pd.DataFrame) -> pd.DataFrame:
    """``account_id, churned_on``: the days an account's paid coverage ended (no paid line
    continuing it); an account that came back and left again churned twice."""
    paid = lines.assign(start=_paid_from(lines))
    paid = paid[paid["ended_on"].isna() | (paid["start"] < paid["ended_on"])]
    out: list[tuple[int, pd.Timestamp]] = []
    # equivalent mutants: the frame is sorted already (groupby's sort), the columns have one
    # length (zip's strict), and open_ended is only read as a truth value (False/None)
    for account_id, group in paid.sort_values(["account_id", "start"]).groupby("account_id", sort=False):  # pragma: no mutate
        end: pd.Timestamp | None = None
        open_ended = False  # pragma: no mutate
        for start, ended in zip(group["start"], group["ended_on"], strict=True):  # pragma: no mutate
            if end is not None and not open_ended and start > end:
                out.append((int(account_id), end))  # type: ignore[arg-type]
                end = None
            if pd.isna(ended):
                open_ended = True
            elif end is None or ended > end:  # pragma: no mutate (`>=`: the same end either way)
                end = ended
        if end is not None and not open_ended:
            out.append((int(account_id), end))  # type: ignore[arg-type]
    return pd.DataFrame(out, columns=["account_id", "churned_on"])


# --- measures --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeasureInputs:
    """What the store's aggregate queries return for one day (see db.queries.health), or
    for many days (each frame but the lines with a ``day`` column; see
    :func:`measures_by_day`)."""

    lines: pd.DataFrame
    usage: pd.DataFrame
    surveys: pd.DataFrame
    tickets: pd.DataFrame
    onboarding: pd.DataFrame
    sentiment: pd.DataFrame
    #: The ``feature.*`` metrics with data in the usage window (the features there are to
    #: adopt), when the usage frame holds only the last 30 days' feature rows (many days:
    #: a mapping day → metrics).
    features: tuple[str, ...] | Mapping[pd.Timestamp, tuple[str, ...]] = ()
    #: ``account_id, contacts``: the people the data knows at each account (tracked users).
    contacts: pd.DataFrame | None = None
    #: account_id → touch tier (the early-activation norm is the tier's).
    tiers: pd.Series | None = None
    options: ScoringOptions = field(default_factory=ScoringOptions)
    #: The first day with usage in the store: history before it is unknown, not zero
    #: (age-aware measures count only the days from it). None: no limit.
    history_from: date | None = None


#: A values column ``<measure>:confidence`` (0–1) scales that measure's weight and, through
#: the group's most confident measure, its group's weight: evidence that fades fades out.
CONFIDENCE = ":confidence"
#: Without a half-life, survey answers count in full over these windows (days).
SURVEY_WINDOWS = {"nps": 365, "csat": 180}
#: With a half-life, answers older than this many half-lives (weight under 1/64) are left out.
FADE_HALF_LIVES = 6
#: Established accounts (the early-activation norm): at least this many days old.
ESTABLISHED_DAYS = 90
#: The per-seat measures, taken per tracked user when the tracking is clearly partial.
SEAT_MEASURES = ("active_users_per_seat", "usage_minutes_per_seat", "events_per_seat")


def survey_lookback_days(options: ScoringOptions) -> int:
    """How far back survey answers can still count (the longest of NPS and CSAT)."""
    return max(_survey_window(kind, options) for kind in SURVEY_WINDOWS)


def _survey_window(kind: str, options: ScoringOptions) -> int:
    half_life = options.half_life(kind)
    return math.ceil(FADE_HALF_LIVES * half_life) if half_life > 0 else SURVEY_WINDOWS[kind]


def decayed_surveys(answers: pd.DataFrame, options: ScoringOptions) -> pd.DataFrame:
    """``answers``: account_id, kind (nps/csat), score, age_days (0 on the day answered).
    Per account: ``nps`` and ``csat``, each answer weighted 0.5 ** (age ÷ half-life), and
    ``nps:confidence`` / ``csat:confidence``, the sum of the weights capped at 1 (one fresh
    answer counts in full, an answer one half-life old half). Without a half-life: the
    plain average over the window, confidence 1."""
    out = pd.DataFrame(index=pd.Index(np.unique(answers["account_id"].to_numpy()).tolist(), name="account_id"))
    for kind in SURVEY_WINDOWS:
        rows = answers[(answers["kind"] == kind) & (answers["age_days"] < _survey_window(kind, options))]
        half_life = options.half_life(kind)
        age = rows["age_days"].astype("float64")  # pragma: no mutate (astype(None) is float64 too: equivalent)
        weight = 0.5 ** (age / half_life) if half_life > 0 else pd.Series(1.0, index=rows.index)
        total = weight.groupby(rows["account_id"]).sum()
        mean = (weight * rows["score"].astype("float64")).groupby(rows["account_id"]).sum() / total
        out[kind] = mean.reindex(out.index)
        out[kind + CONFIDENCE] = total.clip(upper=1.0).reindex(out.index) if half_life > 0 else 1.0
    return out.reset_index()


#: Below this many days of history behind a window, a measure over that window is missing
#: (not extreme): the default of a scorecard's ``min_history_days``.
DEFAULT_MIN_HISTORY_DAYS = 14

#: Usage metric → the measures computed from it. When no account reports the metric in
#: the usage window, those measures are missing for everyone (their weight renormalises)
#: rather than zero for everyone: a metric nobody sends is not a book of idle customers.
METRIC_MEASURES: dict[str, tuple[str, ...]] = {
    METRIC_LOGINS: ("logins_vs_baseline", "login_trend", "login_days", "activation_vs_tier"),
    METRIC_SESSION_MINUTES: ("usage_minutes_per_seat",),
    METRIC_ACTIVE_USERS: ("active_users_per_seat", "events_per_active_user"),
    METRIC_EVENTS: ("events_vs_baseline", "active_days", "events_per_seat", "events_percentile"),
}

#: Peer groups smaller than this rank their accounts among all accounts instead.
MIN_PEERS = 5


def usage_total(usage: pd.DataFrame, metric: str, window: str) -> pd.Series:
    """One metric's sum over one window (``last30``, ``prev30``, ``base90``) per account."""
    rows = usage[usage["metric"] == metric]
    totals = rows.groupby("account_id")[window].sum()
    return totals.astype("float64")  # pragma: no mutate (astype(None) is float64 too: equivalent)


def unreported_measures(usage: pd.DataFrame, features: Collection[str] = ()) -> set[str]:
    """The measures whose usage metric no account reports in the window (any of its
    sums positive): they are missing for everyone, not zero."""
    sums = [c for c in ("last30", "prev30", "base90") if c in usage.columns]
    reported = set(usage.loc[(usage[sums] > 0).any(axis=1), "metric"].astype(str)) if sums and len(usage) else set()
    silent = {m for metric, keys in METRIC_MEASURES.items() if metric not in reported for m in keys}
    if not features and not any(m.startswith(FEATURE_PREFIX) for m in reported):
        silent.add("feature_breadth")
    return silent


def account_start(lines: pd.DataFrame, history_from: date | None = None) -> pd.Series:
    """The first day of each account's history: its first subscription line's start (a
    trial counts), not before the store's first day of usage."""
    start: pd.Series = lines.groupby("account_id")["started_on"].min()
    if history_from is not None:
        floor = pd.Timestamp(history_from)
        start = start.where(start >= floor, floor)
    return start


def days_existed(start: pd.Series, after: date | pd.Series, upto: date | pd.Series) -> pd.Series:
    """Days ``d`` of the window ``(after, upto]`` on or after each account's ``start``
    (an unknown start: the whole window). ``after`` and ``upto`` are days, or a day per
    row of ``start`` (the windows of many days at once, all of one length)."""
    one_day = pd.Timedelta(days=1)
    lo: Any = after + one_day if isinstance(after, pd.Series) else pd.Timestamp(after) + one_day
    hi: Any = upto if isinstance(upto, pd.Series) else pd.Timestamp(upto)
    first = start.where(start > lo, lo)  # an unknown start (NaT) is not after lo: the whole window
    # first is never before lo, so the days never exceed the window's (no upper bound needed);
    # a start after upto: none
    days: pd.Series = ((hi - first).dt.days + 1).clip(lower=0)
    return days.astype("float64")  # pragma: no mutate (astype(None) is float64 too: equivalent)


def peer_percentile(values: pd.Series, peers: pd.Series, min_peers: int = MIN_PEERS,
                    by: pd.Series | None = None) -> pd.Series:  # fmt: skip
    """Each value's percentile 0–1 among the accounts of its peer group with data: the
    mid-rank ``(rank − ½) ÷ n`` (ties share their average rank; alone: 0.5). A group of
    fewer than ``min_peers`` ranks its accounts among all accounts with data. ``by``: a
    key per row (the day) that ranks are taken within (several days at once)."""
    present = values.dropna()
    # NaN, None or nothing, with or without the dtype: a float Series of NaN (equivalent mutants)
    out = pd.Series(np.nan, index=values.index, dtype="float64")  # pragma: no mutate
    if present.empty:
        return out
    key = by.reindex(present.index) if by is not None else pd.Series(0, index=present.index)
    overall = (present.groupby(key).rank(method="average") - 0.5) / present.groupby(key).transform("size")
    group = peers.reindex(present.index)
    named = group.astype(object).where(group.notna(), "\0none")
    sizes = present.groupby([key, named]).transform("size").astype("float64")
    ranked = present.groupby([key, named]).rank(method="average")
    within = (ranked - 0.5) / sizes
    small = group.isna() | (sizes < min_peers)
    out.loc[present.index] = within.where(~small, overall)
    return out


def lines_on(lines: pd.DataFrame, days: Sequence[date] | pd.DatetimeIndex, *, paying_only: bool) -> pd.DataFrame:
    """The subscription lines covering each of the days (paying: past any trial), one row
    per line and day, the day in a ``day`` column."""
    start = _paid_from(lines) if paying_only else lines["started_on"]
    frame = lines.assign(_start=start).merge(pd.DataFrame({"day": pd.to_datetime(list(days))}), how="cross")
    mask = (frame["_start"] <= frame["day"]) & (frame["ended_on"].isna() | (frame["ended_on"] > frame["day"]))
    return frame[mask].drop(columns="_start")


def _per_day(frame: pd.DataFrame, values: pd.Series, how: str) -> pd.Series:
    """``values`` (aligned with the lines-by-day ``frame``) per (day, account_id)."""
    out: pd.Series = values.groupby([frame["day"], frame["account_id"]]).agg(how)
    return out.rename_axis(["day", "account_id"])


def _one_day(series: pd.Series) -> pd.Series:
    """A (day, account_id) series of a single day, by account."""
    return series.droplevel("day") if isinstance(series.index, pd.MultiIndex) else series


def _peer_groups_on(live: pd.DataFrame) -> pd.Series:
    plans = live[live["kind"] == "plan"]
    if "product_id" not in plans.columns or plans.empty:
        index = pd.MultiIndex.from_frame(plans[["day", "account_id"]].drop_duplicates())
        return pd.Series("all", index=index, dtype=object)
    size = plans["quantity"].astype("float64") * pd.to_numeric(plans["seats_included"], errors="coerce").fillna(1.0)
    ordered = plans.assign(size=size).sort_values(["day", "account_id", "size", "product_id"],
                                                  ascending=[True, True, False, True])  # fmt: skip
    first = ordered.drop_duplicates(["day", "account_id"]).set_index(["day", "account_id"])["product_id"]
    return first.astype(str)


def peer_groups(lines: pd.DataFrame, as_of: date) -> pd.Series:
    """Each account's peers: the product of its live plan line with the most seats (all
    accounts one group when the lines carry no product)."""
    return _one_day(_peer_groups_on(lines_on(lines, [as_of], paying_only=False)))


def _change(now: pd.Series, before: pd.Series) -> pd.Series:
    """Relative change now vs before; missing (NaN) when there was nothing before."""
    out = now / before.where(before > 0) - 1.0
    return out.astype("float64")  # pragma: no mutate (astype(None) is float64 too: equivalent)


def _seats_on(live: pd.DataFrame) -> pd.Series:
    plans = live[live["kind"] == "plan"]
    per_line = plans["quantity"].astype("float64") * pd.to_numeric(plans["seats_included"], errors="coerce").fillna(1.0)
    return _per_day(plans, per_line, "sum")


def seats(lines: pd.DataFrame, as_of: date) -> pd.Series:
    """Seats of the live plan lines per account: quantity × the plan's included seats
    (per-seat plans include none: the quantity is the seats)."""
    return _one_day(_seats_on(lines_on(lines, [as_of], paying_only=False)))


def _renewal_days_on(paying: pd.DataFrame) -> pd.Series:
    yearly = paying[paying["interval"] == "year"]
    if yearly.empty:  # missing for every row: the callers reindex by their rows (no index needed)
        return pd.Series(dtype="float64")
    anchor = _paid_from(yearly)
    day = yearly["day"]

    def anniversary(year: pd.Series) -> pd.Series:
        """The anchor's day in ``year``: the month's last day when shorter (29 Feb → 28 Feb)."""
        first = pd.to_datetime({"year": year, "month": anchor.dt.month, "day": 1})
        on: pd.Series = first + pd.to_timedelta(np.minimum(anchor.dt.day, first.dt.days_in_month) - 1, unit="D")
        return on

    this_year = anniversary(day.dt.year)
    nxt = this_year.where(this_year > day, anniversary(day.dt.year + 1))
    return _per_day(yearly, (nxt - day).dt.days.astype("float64"), "min")


def next_renewal_days(lines: pd.DataFrame, as_of: date) -> pd.Series:
    """Days to the next anniversary of a live yearly line (monthly lines: missing)."""
    return _one_day(_renewal_days_on(lines_on(lines, [as_of], paying_only=True)))


def compute_measures(
    accounts: pd.Index, inputs: MeasureInputs, as_of: date, *, min_history_days: int = DEFAULT_MIN_HISTORY_DAYS
) -> pd.DataFrame:
    """Raw measure values (NaN: missing) for ``accounts`` as of the day, one column per
    measure of :data:`~kizuna.domain.health.MEASURES`: the one-day case of
    :func:`measures_by_day` (see there)."""
    day = pd.Timestamp(as_of)
    rows = pd.MultiIndex.from_product([[day], accounts], names=["day", "account_id"])
    dated = dataclasses.replace(inputs, **{
        name: getattr(inputs, name).assign(day=day)
        for name in ("usage", "surveys", "tickets", "onboarding", "sentiment")
    })  # fmt: skip
    out = measures_by_day(rows, dated, min_history_days=min_history_days).droplevel("day")
    out.index = accounts
    out.index.name = "account_id"
    return out


def measures_by_day(
    rows: pd.MultiIndex, inputs: MeasureInputs, *, min_history_days: int = DEFAULT_MIN_HISTORY_DAYS
) -> pd.DataFrame:
    """Raw measure values (NaN: missing) for every (day, account_id) of ``rows``, one
    column per measure of :data:`~kizuna.domain.health.MEASURES` — the feature table
    (account × day × measure). Every frame of ``inputs`` but the lines carries a ``day``
    column: each day's aggregates, as the store's queries return them for that day; the
    ``features`` are a tuple (every day) or a mapping day → tuple.

    Age-aware: rates over a window count only the days the account existed in it (from
    its first subscription line, not before the store's first day of usage); a window
    with fewer than ``min_history_days`` such days makes its measures missing. A usage
    metric no account reports makes its measures missing for everyone that day."""
    out = pd.DataFrame(index=rows, columns=list(MEASURES), dtype="float64")
    day = pd.Series(rows.get_level_values("day"), index=rows)
    ids = rows.get_level_values("account_id")
    days = pd.DatetimeIndex(pd.unique(day.to_numpy()))
    usage = inputs.usage
    # (day, account) as one int64 key: reindexing by it is a hash lookup, not a MultiIndex join
    row_keys = pd.Index(_row_keys(day.to_numpy(), ids.to_numpy()))
    keyed = usage.assign(_key=_row_keys(usage["day"].to_numpy(), usage["account_id"].to_numpy()))
    wide_all = keyed.set_index(["_key", "metric"])[["last30", "prev30", "base90", "days30", "max30"]].unstack("metric")
    wide_all = wide_all.reindex(row_keys)
    sums = set(wide_all.columns.get_level_values(0))  # pragma: no mutate (level 0 is unnamed: None is it too)
    wide: dict[str, pd.DataFrame] = {col: pd.DataFrame(wide_all[col]) if col in sums else pd.DataFrame(index=row_keys)
            for col in ("last30", "prev30", "base90", "days30", "max30")}  # fmt: skip

    def metric(col: str, name: str) -> pd.Series:
        frame = wide[col]
        if name not in frame.columns:
            return pd.Series(0.0, index=rows)
        return pd.Series(frame[name].to_numpy(dtype="float64"), index=rows).fillna(0.0)

    def by_account(series: pd.Series) -> pd.Series:
        return pd.Series(series.reindex(ids).to_numpy(), index=rows)

    def by_row(frame: pd.DataFrame, col: str) -> pd.Series:
        if col not in frame.columns or frame.empty:
            # equivalent mutants: NaN however written, aligned to the rows when assigned
            return pd.Series(np.nan, index=rows, dtype="float64")  # pragma: no mutate
        # equivalent: the aggregates are numbers or None (read alike, coerced or not), placed among NaN
        values = pd.to_numeric(frame[col], errors="coerce").to_numpy(dtype="float64")  # pragma: no mutate
        pos = pd.Index(_row_keys(frame["day"].to_numpy(), frame["account_id"].to_numpy())).get_indexer(row_keys)
        return pd.Series(np.where(pos >= 0, values[pos], np.nan), index=rows)

    first_line = by_account(account_start(inputs.lines))
    out["account_age"] = (day - first_line).dt.days.astype("float64")
    start = by_account(account_start(inputs.lines, inputs.history_from))
    d30 = day - pd.Timedelta(days=30)
    days_last = days_existed(start, d30, day)
    days_prev = days_existed(start, day - pd.Timedelta(days=60), d30)
    days_base = days_existed(start, day - pd.Timedelta(days=120), d30)
    enough = days_last >= min_history_days

    def per_day(total: pd.Series, n_days: pd.Series) -> pd.Series:
        """A window's sum per day the account existed in it; missing below the minimum."""
        return total / n_days.where(n_days >= min_history_days)

    logins30, logins_prev, logins_base = (
        metric("last30", "logins"),
        metric("prev30", "logins"),
        metric("base90", "logins"),
    )
    logins_rate = per_day(logins30, days_last)
    out["logins_vs_baseline"] = _change(logins_rate, per_day(logins_base, days_base))
    out["login_trend"] = _change(logins_rate, per_day(logins_prev, days_prev))
    # days with logins, out of 30: scaled up for an account younger than the window
    out["login_days"] = (metric("days30", "logins") * 30.0 / days_last).where(enough)
    live = lines_on(inputs.lines, days, paying_only=False)
    seat_count = _seats_on(live).reindex(rows)
    seat_count = seat_count.where(seat_count > 0)
    peak_users = metric("max30", "active_users")
    tracked = _tracked_users(rows, ids, inputs.contacts)
    ratio = inputs.options.partial_tracking_ratio
    partial = (tracked > 0) & (seat_count > ratio * tracked) & (peak_users <= tracked)
    partial = partial if ratio > 0 else pd.Series(False, index=rows)
    per = seat_count.where(~partial, tracked)
    out["active_users_per_seat"] = (peak_users / per).clip(upper=1.0)
    out["usage_minutes_per_seat"] = metric("last30", "session_minutes") / per
    out["seats"] = seat_count
    out["tracked_users"] = tracked.where(partial)  # set only when the seat measures are per tracked user
    events30 = metric("last30", METRIC_EVENTS)
    events_rate = per_day(events30, days_last)
    out["events_vs_baseline"] = _change(events_rate, per_day(metric("base90", METRIC_EVENTS), days_base))
    out["active_days"] = (metric("days30", METRIC_EVENTS) * 30.0 / days_last).where(enough)
    out["events_per_seat"] = events_rate * 30.0 / per
    user_days = metric("last30", METRIC_ACTIVE_USERS)
    out["events_per_active_user"] = events30 / user_days.where(user_days > 0)
    peers = _peer_groups_on(live).reindex(rows)
    out["events_percentile"] = peer_percentile(out["events_per_seat"], peers, by=day)
    # features: those with rows on the day, and those with data in the day's usage window
    feature_cols = [c for c in wide["last30"].columns if str(c).startswith(FEATURE_PREFIX)]
    present = usage[usage["metric"].isin(feature_cols)].groupby("day")["metric"].unique()
    known = {d: set(present.get(d, ())) | set(_features_on(inputs.features, d)) for d in days}
    available = day.map({d: float(max(len(FEATURE_EVENTS), len(f))) for d, f in known.items()})
    if feature_cols:
        used = pd.Series((wide["last30"][feature_cols] > 0).sum(axis=1).to_numpy(dtype="float64"), index=rows)
    else:
        used = pd.Series(0.0, index=rows)
    out["feature_breadth"] = used.astype("float64") / available.astype("float64")
    has_features = day.map({d: bool(f) for d, f in known.items()}).astype(bool)
    out["first_value"] = (used > 0).astype("float64").where(has_features)
    surveys = inputs.surveys
    for key in ("nps", "csat"):
        out[key] = by_row(surveys, key)
        if key + CONFIDENCE in surveys.columns:
            out[key + CONFIDENCE] = by_row(surveys, key + CONFIDENCE)
    tickets = inputs.tickets
    out["open_tickets"] = by_row(tickets, "open_tickets").fillna(0.0)
    out["escalated_tickets"] = by_row(tickets, "escalated_tickets").fillna(0.0)
    onboarding = inputs.onboarding
    total = by_row(onboarding, "milestones")
    out["onboarding_progress"] = by_row(onboarding, "milestones_done") / total.where(total > 0)
    if "milestones_due" in onboarding.columns:
        due = by_row(onboarding, "milestones_due")
        out["milestones_on_time"] = by_row(onboarding, "milestones_on_time") / due.where(due > 0)
    # the days with logins as counted (not scaled, not held back by min_history_days): the
    # measure is for young accounts and divides by the days they existed itself
    out["activation_vs_tier"] = _activation_vs_tier(rows, ids, day, first_line, inputs.tiers,
                                                    metric("days30", "logins"))  # fmt: skip
    out["days_to_renewal"] = _renewal_days_on(lines_on(inputs.lines, days, paying_only=True)).reindex(rows)
    out["payment_state"] = np.nan  # no payment data in Kizuna yet: always missing
    out["csm_sentiment"] = by_row(inputs.sentiment, "csm_sentiment")
    by_day = dict(tuple(usage.groupby("day")))  # no usage at all: no group, {}
    for d in days:
        silent = unreported_measures(by_day.get(d, usage.iloc[:0]), _features_on(inputs.features, d))
        if silent:
            out.loc[(day == d).to_numpy(), sorted(silent)] = np.nan
    return out


def _row_keys(days: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """(day, account_id) pairs as int64 keys: the day number above 32 bits, the id below."""
    day_no = pd.to_datetime(days).to_numpy(dtype="datetime64[D]").astype(np.int64)
    keys: np.ndarray = (day_no << 32) + np.asarray(ids, dtype=np.int64)
    return keys


def _features_on(features: Collection[str] | Mapping[Any, Collection[str]], day: pd.Timestamp) -> Collection[str]:
    """The ``feature.*`` metrics with data in the day's usage window."""
    if isinstance(features, Mapping):
        found: Collection[str] = features.get(day, ())
        return found
    return features


def _tracked_users(rows: pd.Index, ids: pd.Index, contacts: pd.DataFrame | None) -> pd.Series:
    """The users the data knows at each account: its contacts. The tracking is clearly
    partial when the seats are many times that and no day saw more users active."""
    if contacts is None or contacts.empty:
        return pd.Series(0.0, index=rows)
    tracked = contacts.set_index("account_id")["contacts"].astype("float64").reindex(ids).fillna(0.0)
    return pd.Series(tracked.to_numpy(), index=rows)


def _activation_vs_tier(rows: pd.Index, ids: pd.Index, day: pd.Series, start: pd.Series, tiers: pd.Series | None,
                        login_days: pd.Series) -> pd.Series:  # fmt: skip
    """Login days per day the account has existed in the last 30 (its early activation),
    against the median of the same figure among the established accounts of its tier
    that day (all established accounts when the tier has none); missing without a norm."""
    age = (day - start).dt.days.astype("float64")
    life = (age + 1.0).clip(upper=30.0).where(age >= 0)
    rate = login_days / life
    tier = tiers.reindex(ids) if tiers is not None else pd.Series(None, index=ids, dtype=object)
    names = tier.fillna("").astype(str).to_numpy()  # "": no tier, a group of its own
    established = age >= ESTABLISHED_DAYS
    frame = pd.DataFrame({"day": day.to_numpy(), "tier": names, "rate": rate.to_numpy()})
    est = frame[established.to_numpy()]
    norm_by_tier = est.groupby(["day", "tier"])["rate"].median()
    overall = est.groupby("day")["rate"].median()
    norm = pd.Series(norm_by_tier.reindex(pd.MultiIndex.from_frame(frame[["day", "tier"]])).to_numpy(), index=rows)
    norm = norm.astype("float64").fillna(pd.Series(overall.reindex(frame["day"]).to_numpy(), index=rows))
    return _change(rate, norm)


def replay_stages(lines: pd.DataFrame, values: pd.DataFrame, as_of: date, onboarding_days: int = 90,
                  renewal_days: int = 90) -> pd.Series:  # fmt: skip
    """The lifecycle stage of paying accounts on a past day, by the segment rules
    (``domain.segments.decide_stage``) on what the measures hold: onboarding while fewer
    than ``onboarding_days`` since the first paid day and not every milestone is done,
    renewal when a yearly term ends within ``renewal_days``, else None (the default
    scorecard). For the backtest, which has no stage history to read."""
    since = _paid_from(lines).groupby(lines["account_id"]).min().reindex(values.index)
    age = (pd.Timestamp(as_of) - since).dt.days
    done = values["onboarding_progress"] >= 1.0  # no milestones (NaN): not done, as NaN ≥ 1 is False
    onboarding = ((age < onboarding_days) & ~done).to_numpy()
    renewal = (values["days_to_renewal"] <= renewal_days).to_numpy()
    stage = [("onboarding" if o else "renewal" if r else None) for o, r in zip(onboarding, renewal, strict=True)]
    return pd.Series(stage, index=values.index, dtype=object)
def mark_missing(values: pd.DataFrame, missing: frozenset[str] | set[str]) -> pd.DataFrame:
    """``values`` with the measures in ``missing`` set to missing (NaN) for every account:
    their weight is then shared out like that of absent data (e.g. the measures of a late
    feed, which would otherwise read as zero activity)."""
    cols = [c for c in values.columns if c in missing]
    if not cols:
        return values
    out = values.copy()
    out[cols] = np.nan  # pragma: no mutate (None assigned to float columns is NaN too: equivalent)
    return out


# --- points and scores -----------------------------------------------------------------------


def points_of(values: pd.Series, rule_points: tuple[tuple[float, float], ...], scoring: Scoring) -> pd.Series:
    # the dtypes are what numpy infers from numbers anyway (equivalent mutants)
    xs = np.array([p[0] for p in rule_points], dtype="float64")  # pragma: no mutate
    ys = np.array([p[1] for p in rule_points], dtype="float64")  # pragma: no mutate
    raw = values.to_numpy(dtype="float64")  # pragma: no mutate
    if scoring is Scoring.STEPS:
        idx = np.searchsorted(xs, raw, side="right") - 1
        # searchsorted(…) − 1 is at most len − 1: only the lower bound matters
        pts = ys[np.clip(idx, 0, len(ys) - 1)]  # pragma: no mutate
    else:
        pts = np.interp(raw, xs, ys)
    pts = np.where(np.isnan(raw), np.nan, pts)
    return pd.Series(pts, index=values.index)


@dataclass(frozen=True)
class Scores:
    """Scores of many accounts under one scorecard."""

    score: pd.Series  # NaN: no measure had data
    points: pd.DataFrame  # NaN: missing
    weights: pd.DataFrame  # effective weights, 0 for missing, rows summing to 1


def score_accounts(values: pd.DataFrame, card: Scorecard, missing: Collection[str] = ()) -> Scores:
    """Points, effective weights (missing measures' weight shared out within the group,
    empty groups' among the groups) and the overall score, for every row of ``values``.
    The measures in ``missing`` count as missing for every row (e.g. a stale feed's, or
    a metric no account reports), whatever their values."""
    keys = list(card.measure_keys)
    # every column of both is assigned below, on values' index (equivalent mutants)
    points = pd.DataFrame(index=values.index, columns=keys, dtype="float64")  # pragma: no mutate
    weights = pd.DataFrame(0.0, index=values.index, columns=keys)  # pragma: no mutate
    # every column is assigned in the loop below (equivalent initial value)
    group_weight = pd.DataFrame(0.0, index=values.index, columns=[g.key for g in card.groups])  # pragma: no mutate
    for group in card.groups:
        # every column is assigned in the loop below (equivalent initial value)
        raw_w = pd.DataFrame(0.0, index=values.index, columns=[m.key for m in group.measures])  # pragma: no mutate
        confidence = np.zeros(len(values.index))
        for m in group.measures:
            present = m.key in values and m.key not in missing
            pts = points_of(values[m.key] if present else pd.Series(np.nan, index=values.index),
                            m.points, m.scoring)  # fmt: skip
            points[m.key] = pts
            conf_col = m.key + CONFIDENCE
            factor = values[conf_col].fillna(1.0).clip(0.0, 1.0).to_numpy() if conf_col in values else 1.0
            # None or 0.0 for a missing measure: both sum to nothing (equivalent)
            raw_w[m.key] = np.where(pts.isna(), 0.0, m.weight * factor)  # pragma: no mutate
            confidence = np.maximum(confidence, np.where(pts.isna(), 0.0, factor))
        total = raw_w.sum(axis=1)
        # a zero total gives 0 ÷ 0, filled like the division by NaN; the fill value meets only weight 0 (equivalent)
        share = raw_w.div(total.where(total > 0), axis=0).fillna(0.0)  # pragma: no mutate
        for m in group.measures:
            weights[m.key] = share[m.key]
        # None or 0.0 for a group without data: both sum to nothing (equivalent)
        group_weight[group.key] = np.where(total > 0, group.weight * confidence, 0.0)  # pragma: no mutate
    gsum = group_weight.sum(axis=1)
    gshare = group_weight.div(gsum.where(gsum > 0), axis=0).fillna(0.0)
    for group in card.groups:
        for m in group.measures:
            weights[m.key] = weights[m.key] * gshare[group.key]
    # a missing measure's weight is 0: whatever fills its points adds nothing (equivalent)
    filled = points.fillna(0.0)  # pragma: no mutate
    score = (filled * weights).sum(axis=1).where(gsum > 0)
    # the sum of float columns is float already (equivalent dtype mutant)
    return Scores(score.astype("float64"), points, weights)  # pragma: no mutate


def grades(score: pd.Series, bands: GradeBands) -> tuple[pd.Series, pd.Series]:
    """Traffic-light and letter grades of scores."""
    # the scores are floats already (equivalent dtype mutant)
    s = score.to_numpy(dtype="float64")  # pragma: no mutate
    colour = np.where(s >= bands.green, HealthGrade.GREEN.value,
                      np.where(s >= bands.yellow, HealthGrade.YELLOW.value, HealthGrade.RED.value))  # fmt: skip
    letter = np.full(len(s), "F", dtype=object)
    for name, threshold in reversed(bands.letters):
        letter = np.where(s >= threshold, name.value, letter)
    return pd.Series(colour, index=score.index), pd.Series(letter, index=score.index)


def _levels(score: np.ndarray, thresholds: Sequence[float]) -> np.ndarray:
    """How many of the thresholds the score reaches (0: the worst grade); NaN stays NaN."""
    level = np.zeros(len(score))
    for t in thresholds:
        level = level + (score >= t)
    out: np.ndarray = np.where(np.isnan(score), np.nan, level)
    return out


def hold_grades(
    score: pd.Series, previous: pd.Series, recent: pd.DataFrame, thresholds: Sequence[float],
    labels: Sequence[str], margin: float, confirm_days: int,
) -> pd.Series:  # fmt: skip
    """Grades with hysteresis. ``labels`` from the worst grade to the best, ``thresholds``
    (increasing) where each better grade starts. ``previous``: yesterday's stored grade
    (missing or unknown: today's grade stands as scored). ``recent``: the scores of the
    days before today, newest first (``confirm_days`` − 1 columns are read).

    A grade changes only when the score is past the band edge by ``margin`` points (then
    to the grade of the score less the margin, going up, or plus it, going down), or when
    the score has been on that side of yesterday's grade on ``confirm_days`` days in a
    row, today included (then to today's grade)."""
    # scores and the levels looked up (NaN for an unknown grade) are floats already: the dtypes are equivalent
    s = score.to_numpy(dtype="float64")  # pragma: no mutate
    raw = _levels(s, thresholds)
    lookup = {label: i for i, label in enumerate(labels)}
    prev_levels = previous.reindex(score.index).map(lambda g: lookup.get(g, np.nan))
    prev = prev_levels.to_numpy(dtype="float64")  # pragma: no mutate
    up, down = _levels(s - margin, thresholds), _levels(s + margin, thresholds)
    above, below = raw > prev, raw < prev
    for i in range(confirm_days - 1):
        col = recent.iloc[:, i].reindex(score.index).to_numpy(dtype="float64") if i < recent.shape[1] else np.full(len(s), np.nan)
        level = _levels(col, thresholds)
        above &= level > prev
        below &= level < prev
    held = np.where(raw > prev, np.where(above, raw, np.maximum(up, prev)), prev)
    held = np.where(raw < prev, np.where(below, raw, np.minimum(down, prev)), held)
    held = np.where(np.isnan(prev), raw, held)
    names = np.array(labels, dtype=object)
    return pd.Series(names[held.astype("int64")], index=score.index)


def held_grades(
    score: pd.Series, previous: pd.DataFrame, recent: pd.DataFrame, bands: GradeBands, options: ScoringOptions
) -> tuple[pd.Series, pd.Series]:
    """Traffic-light and letter grades with hysteresis (see :func:`hold_grades`);
    ``previous``: yesterday's ``grade`` and ``letter`` columns by account."""
    prev_grade = previous["grade"] if "grade" in previous else pd.Series(dtype=object)
    prev_letter = previous["letter"] if "letter" in previous else pd.Series(dtype=object)
    colour = hold_grades(score, prev_grade, recent, [bands.yellow, bands.green],
                         [HealthGrade.RED.value, HealthGrade.YELLOW.value, HealthGrade.GREEN.value],
                         options.grade_margin, options.grade_confirm_days)  # fmt: skip
    letters = [letter for letter, _t in reversed(bands.letters)]
    letter = hold_grades(score, prev_letter, recent, [t for _l, t in reversed(bands.letters)],
                         ["F", *[x.value for x in letters]], options.grade_margin, options.grade_confirm_days)  # fmt: skip
    return colour, letter


def grade_changes_per_1000(daily: pd.DataFrame, column: str = "grade") -> float | None:
    """``daily``: day, account_id and a grade column. Grade changes from one day to the
    next per 1,000 accounts scored on both days."""
    frame = daily[["day", "account_id", column]].copy()
    frame["day"] = pd.to_datetime(frame["day"])
    nxt = frame.assign(day=frame["day"] - pd.Timedelta(days=1))
    pairs = frame.merge(nxt, on=["day", "account_id"], suffixes=("", "_next"))
    if pairs.empty:
        return None
    return float((pairs[column] != pairs[column + "_next"]).mean() * 1000.0)


# --- explanations ----------------------------------------------------------------------------


def _clean(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def explain(
    now: dict[str, dict[str, Any]], before: dict[str, dict[str, Any]] | None, top: int = EXPLAIN_TOP
) -> list[dict[str, Any]]:
    """What moved the score: the measures whose contribution (weight × points) changed
    most vs the earlier snapshot, largest first (``kind`` "change"). Without an earlier
    snapshot, the measures that cost the most points now (``kind`` "level")."""
    items: list[dict[str, Any]] = []
    if before is not None:
        deltas = []
        for key in set(now) | set(before):
            a, b = now.get(key, {}), before.get(key, {})
            contrib_now = (a.get("weight") or 0.0) * (a.get("points") or 0.0)
            contrib_then = (b.get("weight") or 0.0) * (b.get("points") or 0.0)
            delta = contrib_now - contrib_then
            if abs(delta) >= EXPLAIN_MIN_POINTS:
                deltas.append((abs(delta), key, delta, a.get("value"), b.get("value")))
        for _size, key, delta, value, then in sorted(deltas, key=lambda d: (-d[0], d[1]))[:top]:
            items.append({"kind": "change", "measure": key, "value": value, "before": then, "points": round(delta, 1)})
            _with_basis(items[-1], now.get(key, {}))
        return items
    lost = []
    for key, m in now.items():
        w, p = m.get("weight") or 0.0, m.get("points")
        if p is None or w <= 0:
            continue
        cost = w * (100.0 - p)
        if cost >= EXPLAIN_MIN_POINTS:
            lost.append((cost, key, m.get("value"), p))
    for cost, key, value, p in sorted(lost, key=lambda d: (-d[0], d[1]))[:top]:
        items.append({"kind": "level", "measure": key, "value": value, "points": round(-cost, 1), "measure_points": p})
        _with_basis(items[-1], now[key])
    return items


def _with_basis(item: dict[str, Any], measure: dict[str, Any]) -> None:
    """A per-seat measure taken per tracked user says so (seats and tracked users)."""
    if measure.get("basis"):
        item["basis"] = measure["basis"]


def measures_json(values: pd.DataFrame, scores: Scores) -> list[dict[str, dict[str, Any]]]:
    """Per row: ``{measure: {"value", "points", "weight"}}`` (None when missing)."""
    keys = list(scores.points.columns)
    # rounded as arrays, then plain Python floats (NaN → None) for the JSON rows
    v = _nan_to_none(np.round(values.reindex(columns=keys).to_numpy(dtype="float64"), 4))
    p = _nan_to_none(np.round(scores.points.to_numpy(dtype="float64"), 2))
    w = np.round(scores.weights.to_numpy(dtype="float64"), 4).tolist()
    rows = [
        {key: {"value": vr[j], "points": pr[j], "weight": wr[j]} for j, key in enumerate(keys)}
        for vr, pr, wr in zip(v, p, w, strict=True)  # pragma: no mutate (one row each: strict or not)
    ]
    if "tracked_users" in values.columns:
        tracked = values["tracked_users"].to_numpy(dtype="float64")  # pragma: no mutate (float64 already)
        seat_count = values["seats"].to_numpy(dtype="float64")  # pragma: no mutate (float64 already)
        for i in np.nonzero(~np.isnan(tracked))[0]:
            basis = {"tracked_users": int(tracked[i]), "seats": int(seat_count[i])}
            for key in SEAT_MEASURES:
                if key in rows[i]:
                    rows[i][key]["basis"] = basis
    return rows


def _nan_to_none(matrix: np.ndarray) -> list[list[float | None]]:
    rows: list[list[float | None]] = matrix.tolist()  # Python floats; None put in place of NaN below
    if np.isnan(matrix).any():
        for i, j in zip(*np.nonzero(np.isnan(matrix)), strict=True):  # pragma: no mutate (one length per axis)
            rows[i][j] = None
    return rows


# --- backtest --------------------------------------------------------------------------------


def month_ends(first: date, last: date) -> list[date]:
    """Month-ends from ``first`` to ``last`` inclusive."""
    out: list[date] = []
    d = date(first.year, first.month, 1)
    while True:
        nxt = date(d.year + (d.month // 12), d.month % 12 + 1, 1)
        end = nxt - timedelta(days=1)
        if end > last:
            return out
        if end >= first:
            out.append(end)
        d = nxt


def label_churn(scored: pd.DataFrame, churns: pd.DataFrame, horizon_days: int) -> pd.Series:
    """For each (day, account_id) row: churned within (day, day + horizon]."""
    if churns.empty:
        return pd.Series(False, index=scored.index)
    merged = scored[["day", "account_id"]].reset_index().merge(churns, on="account_id", how="left")
    day = pd.to_datetime(merged["day"])
    hit = (merged["churned_on"] > day) & (merged["churned_on"] <= day + pd.Timedelta(days=horizon_days))
    return hit.groupby(merged["index"]).any().reindex(scored.index, fill_value=False)


@dataclass(frozen=True)
class BacktestResult:
    horizon_days: int
    evaluations: int  # month-ends
    samples: int  # (month-end, live account) pairs
    churned: int  # samples that churned within the horizon
    auc: float | None
    roc: list[tuple[float, float]]  # (false positive rate, true positive rate)
    by_grade: dict[str, dict[str, float]]  # grade → accounts, churned, churn rate
    lift_red_over_green: float | None
    median_lead_days: float | None
    churn_events: int  # churns with a score before them
    red_before_churn: int  # of which were red at the last month-end before churning
    first_day: date | None
    last_day: date | None
    #: Day-to-day grade changes per 1,000 accounts over the last ``stability_days`` days,
    #: with the hysteresis of the scorecards and without (the grade as scored).
    stability_days: int = 0
    grade_changes_per_1000: float | None = None
    raw_grade_changes_per_1000: float | None = None
    #: ROC-AUC of the naive signal: fewer events in the last 30 days = riskier (the floor).
    naive_auc: float | None = None
    #: Each measure's own ROC-AUC, as the scorecard reads it (fewer points = riskier).
    measures: tuple[MeasureAuc, ...] = ()


@dataclass(frozen=True)
class MeasureAuc:
    """One measure's own ROC-AUC over the samples where it had data: its points as a
    risk signal (fewer points = riskier). Below 0.5 it points the wrong way."""

    key: str
    auc: float | None  # None: no data, or no churn (or only churn) among its samples
    samples: int  # samples with data
    churned: int  # of which churned within the horizon

    @property
    def direction(self) -> str:
        """``right``: fewer points go with more churn; ``wrong``: the reverse; ``none``: no AUC."""
        if self.auc is None:
            return "none"
        return "right" if self.auc >= 0.5 else "wrong"


def signal_auc(y: np.ndarray, risk: np.ndarray) -> float | None:
    """ROC-AUC of a risk signal (higher = riskier) over the samples where it is known;
    None without both outcomes among them."""
    from sklearn.metrics import roc_auc_score

    known = ~np.isnan(risk)
    labels = y[known]
    if not 0 < labels.sum() < len(labels):
        return None
    return float(roc_auc_score(labels, risk[known]))


def measure_aucs(y: np.ndarray, points: pd.DataFrame) -> tuple[MeasureAuc, ...]:
    """:class:`MeasureAuc` of each column of ``points`` (rows aligned with ``y``)."""
    out = []
    for key in points.columns:
        pts = points[key].to_numpy(dtype="float64")
        known = ~np.isnan(pts)
        out.append(MeasureAuc(str(key), signal_auc(y, -pts), int(known.sum()), int(y[known].sum())))
    return tuple(out)


def backtest_metrics(
    scored: pd.DataFrame, churns: pd.DataFrame, horizon_days: int, daily_red: pd.DataFrame | None = None,
    points: pd.DataFrame | None = None,
) -> BacktestResult:  # fmt: skip
    """``scored``: day, account_id, score, grade (and optionally events30, the events
    in the last 30 days). ROC-AUC of −score against churn within the horizon, churn rate
    per grade, lift of red over green, and for each churn the days between the start of
    the red run it churned in and the churn (median); the naive signal's AUC (−events30)
    and, given ``points`` (rows aligned with ``scored``), each measure's own AUC."""
    from sklearn.metrics import roc_auc_score, roc_curve

    labels = label_churn(scored, churns, horizon_days)
    y = labels.to_numpy(dtype=bool)  # pragma: no mutate (the labels are bool already: any dtype, the same)
    risk = -scored["score"].to_numpy(dtype="float64")  # pragma: no mutate (scores are float64 already)
    auc: float | None = None
    roc: list[tuple[float, float]] = []
    if 0 < y.sum() < len(y):
        auc = float(roc_auc_score(y, risk))
        fpr, tpr, _t = roc_curve(y, risk)
        step = max(1, len(fpr) // 200)
        corners = zip(fpr[::step], tpr[::step], strict=True)  # pragma: no mutate (one length: strict or not)
        roc = [(round(float(a), 4), round(float(b), 4)) for a, b in corners]
        roc.append((1.0, 1.0))
    by_grade: dict[str, dict[str, float]] = {}
    for g in (HealthGrade.GREEN, HealthGrade.YELLOW, HealthGrade.RED):
        sel = (scored["grade"] == g.value).to_numpy()
        n, k = int(sel.sum()), int(y[sel].sum())
        by_grade[g.value] = {"accounts": n, "churned": k, "rate": (k / n) if n else 0.0}
    green, red = by_grade["green"]["rate"], by_grade["red"]["rate"]
    lift = (red / green) if green > 0 else None
    lead, events, red_count = _lead_times(scored if daily_red is None else daily_red, churns)
    days = pd.to_datetime(scored["day"])  # nothing scored: an empty column, no first or last day
    return BacktestResult(
        horizon_days=horizon_days, evaluations=int(scored["day"].nunique()), samples=len(scored), churned=int(y.sum()),
        auc=auc, roc=roc, by_grade=by_grade, lift_red_over_green=lift,
        median_lead_days=float(np.median(lead)) if lead else None, churn_events=events, red_before_churn=red_count,
        first_day=days.min().date() if len(days) else None, last_day=days.max().date() if len(days) else None,
        naive_auc=signal_auc(y, -scored["events30"].to_numpy(dtype="float64")) if "events30" in scored else None,
        measures=measure_aucs(y, points) if points is not None else (),
    )  # fmt: skip


def _lead_times(scored: pd.DataFrame, churns: pd.DataFrame) -> tuple[list[float], int, int]:
    """For each churn: the scores on the evaluation days before it; if the last was red,
    the days from the first day of that unbroken red run to the churn."""
    # `and`: the same (no churn: no loop; nothing scored: no history for any churn)
    if churns.empty or scored.empty:  # pragma: no mutate
        return [], 0, 0
    frame = scored[["day", "account_id", "grade"]].copy()
    frame["day"] = pd.to_datetime(frame["day"])
    by_account = {int(a): g.sort_values("day") for a, g in frame.groupby("account_id")}  # type: ignore[arg-type]
    leads: list[float] = []
    events = red_count = 0
    for account_id, churned_on in zip(churns["account_id"], churns["churned_on"], strict=True):  # pragma: no mutate
        history = by_account.get(int(account_id))
        if history is None:
            continue
        before = history[history["day"] < churned_on]
        before = before[before["day"] >= churned_on - pd.Timedelta(days=400)]
        if before.empty:
            continue
        events += 1
        grades_list = before["grade"].tolist()
        if grades_list[-1] != HealthGrade.RED.value:
            continue
        red_count += 1
        i = len(grades_list) - 1
        while i > 0 and grades_list[i - 1] == HealthGrade.RED.value:
            i -= 1
        leads.append(float((churned_on - before["day"].iloc[i]).days))
    return leads, events, red_count
