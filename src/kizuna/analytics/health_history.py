"""Health measures for many days in one pass (ヘルススコアの履歴).

:func:`kizuna.analytics.health.compute_measures` computes one day's measures from that
day's aggregates. A history of 180 days that way is 180 rounds of queries and frames;
here every measure is computed for every (day, account) at once, from the raw rows
read once: each source becomes a dense account × day matrix, windows are differences
of cumulative sums (the 30-day maximum a sliding window), and the live accounts, seats
and days to renewal of every day come from the subscription lines in one sweep.

Same definitions, same values (a test compares them with the one-day path on the demo):
usage windows ``(day − 30, day]``, ``(day − 60, day − 30]``, ``(day − 120, day − 30]``;
NPS over the 365 and CSAT over the 180 UTC days up to the day; tickets open at the end
of the day; milestones done by then; the latest CSM sentiment of the last 180 days.

Pure: frames in, frames out; ``days`` are passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from kizuna.analytics.health import _paid_from
from kizuna.domain.health import MEASURES
from kizuna.domain.usage import (
    FEATURE_EVENTS,
    FEATURE_PREFIX,
    METRIC_ACTIVE_USERS,
    METRIC_LOGINS,
    METRIC_SESSION_MINUTES,
)

#: Days of usage before the first scored day that its windows read.
USAGE_LOOKBACK = 120
#: Days of the grid before the first scored day: the longest window (NPS, 365 days) and one.
GRID_LOOKBACK = 366


@dataclass(frozen=True)
class HistoryInputs:
    """The raw rows of every source (see :mod:`kizuna.db.queries.health_history`)."""

    lines: pd.DataFrame  # subscription lines, as kizuna.db.queries.health.subscription_lines
    usage: pd.DataFrame  # account_id, day, metric, value
    surveys: pd.DataFrame  # account_id, kind, score, day
    tickets: pd.DataFrame  # account_id, opened, resolved, escalated
    milestones: pd.DataFrame  # account_id, completed
    sentiments: pd.DataFrame  # account_id, entered_at, day, value


class _Grid:
    """Accounts × days: positions of account ids and of days (day 0 = ``origin``)."""

    def __init__(self, accounts: np.ndarray, origin: pd.Timestamp, n_days: int) -> None:
        self.accounts = accounts
        self.origin = origin
        self.n = n_days
        self.row = pd.Series(np.arange(len(accounts)), index=accounts)

    def rows(self, ids: pd.Series) -> np.ndarray:
        return self.row.reindex(ids.to_numpy()).to_numpy()

    def cols(self, days: pd.Series) -> np.ndarray:
        return ((pd.to_datetime(days) - self.origin).dt.days).to_numpy()

    def dense(self, ids: pd.Series, days: pd.Series, values: np.ndarray | float = 1.0) -> np.ndarray:
        """Values added up per (account, day): rows after the grid's days are dropped,
        rows before them piled on day 0 (they count in cumulative "by the day" sums;
        no window reaches back that far)."""
        out = np.zeros((len(self.accounts), self.n + 1))
        r, c = self.rows(ids), self.cols(days)
        v = np.broadcast_to(np.asarray(values, dtype="float64"), r.shape)
        keep = ~np.isnan(r.astype("float64")) & (c < self.n)
        np.add.at(out, (r[keep].astype(np.int64), np.clip(c[keep], 0, None) + 1), v[keep])
        return out  # column 0 stays 0: cumulative sums start from it

    @staticmethod
    def cumulative(matrix: np.ndarray) -> np.ndarray:
        """P[:, j] = sum of days before day j (the matrix's column j+1 is day j)."""
        return np.cumsum(matrix, axis=1)


def _window(cum: np.ndarray, at: np.ndarray, length: int, shift: int = 0) -> np.ndarray:
    """Sums over days ``(d − shift − length, d − shift]`` for the day positions ``at``;
    ``cum`` from :meth:`_Grid.cumulative` (column j: days ≤ j − 1)."""
    hi = at - shift + 1
    lo = np.clip(hi - length, 0, None)
    sums: np.ndarray = cum[:, hi] - cum[:, lo]
    return sums


def _live(lines: pd.DataFrame, grid: _Grid, at: np.ndarray, *, paying_only: bool) -> np.ndarray:
    """Accounts × scored days: some line covering the day (past any trial if paying)."""
    start = _paid_from(lines) if paying_only else lines["started_on"]
    a = grid.cols(start)
    b = np.where(lines["ended_on"].isna(), grid.n + 1, grid.cols(lines["ended_on"].fillna(grid.origin)))
    cover = np.zeros((len(grid.accounts), grid.n + 2))
    r = grid.rows(lines["account_id"]).astype(np.int64)
    lo, hi = np.clip(a, 0, grid.n + 1), np.clip(b, 0, grid.n + 1)
    ok = hi > lo
    np.add.at(cover, (r[ok], lo[ok]), 1.0)
    np.add.at(cover, (r[ok], hi[ok]), -1.0)
    live: np.ndarray = np.cumsum(cover, axis=1)[:, at] > 0
    return live


def _seats(lines: pd.DataFrame, grid: _Grid, at: np.ndarray) -> np.ndarray:
    """Seats of the live plan lines (quantity × included seats) per account and day."""
    plans = lines[lines["kind"] == "plan"]
    per_line = plans["quantity"].astype("float64") * pd.to_numeric(plans["seats_included"], errors="coerce").fillna(1.0)
    a = grid.cols(plans["started_on"])
    b = np.where(plans["ended_on"].isna(), grid.n + 1, grid.cols(plans["ended_on"].fillna(grid.origin)))
    lo, hi = np.clip(a, 0, grid.n + 1), np.clip(b, 0, grid.n + 1)
    ok = hi > lo
    r = grid.rows(plans["account_id"]).astype(np.int64)
    step = np.zeros((len(grid.accounts), grid.n + 2))
    np.add.at(step, (r[ok], lo[ok]), per_line.to_numpy()[ok])
    np.add.at(step, (r[ok], hi[ok]), -per_line.to_numpy()[ok])
    seats: np.ndarray = np.round(np.cumsum(step, axis=1), 6)[:, at]
    return np.where(seats > 0, seats, np.nan)


def _days_to_renewal(lines: pd.DataFrame, grid: _Grid, days: list[date]) -> np.ndarray:
    """Days to the next anniversary of a live yearly line (the smallest), else NaN."""
    out = np.full((len(grid.accounts), len(days)), np.nan)
    yearly = lines[lines["interval"] == "year"]
    if yearly.empty:
        return out
    when = pd.DatetimeIndex([pd.Timestamp(d) for d in days])
    years = range(days[0].year - 1, days[-1].year + 2)
    for account_id, start, ended in zip(yearly["account_id"], _paid_from(yearly), yearly["ended_on"], strict=True):
        live = (start <= when) & (True if pd.isna(ended) else (when < ended))
        if not live.any():
            continue
        marks = []
        for y in years:
            first = pd.Timestamp(year=y, month=start.month, day=1)
            marks.append(first + pd.Timedelta(days=min(start.day, first.days_in_month) - 1))
        anniversaries = pd.DatetimeIndex(marks)
        nxt = anniversaries[np.searchsorted(anniversaries.asi8, when.asi8, side="right")]
        gap = np.asarray((nxt - when).days, dtype="float64")
        row = int(grid.row[account_id])
        current = out[row]
        out[row] = np.where(live, np.fmin(current, gap), current)
    return out


def _averages(rows: pd.DataFrame, grid: _Grid, at: np.ndarray, length: int) -> np.ndarray:
    """Mean score over the ``length`` days up to each day (NaN without answers)."""
    cum_sum = grid.cumulative(grid.dense(rows["account_id"], rows["day"], rows["score"].to_numpy("float64")))
    cum_n = grid.cumulative(grid.dense(rows["account_id"], rows["day"]))
    total, n = _window(cum_sum, at, length), _window(cum_n, at, length)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / np.where(n > 0, n, 1.0), np.nan)


def _open_tickets(tickets: pd.DataFrame, grid: _Grid, at: np.ndarray) -> np.ndarray:
    """Tickets opened by the end of each day and not resolved by then."""
    opened = grid.cumulative(grid.dense(tickets["account_id"], tickets["opened"]))
    done = tickets[tickets["resolved"].notna()]
    resolved = grid.cumulative(grid.dense(done["account_id"], done["resolved"]))
    count: np.ndarray = (opened - resolved)[:, at + 1]
    return count


def _sentiment(rows: pd.DataFrame, grid: _Grid, days: list[date], length: int = 180) -> np.ndarray:
    """The latest sentiment entered in the ``length`` UTC days up to each day."""
    out = np.full((len(grid.accounts), len(days)), np.nan)
    if rows.empty:
        return out
    when = pd.DatetimeIndex([pd.Timestamp(d) for d in days])
    for account_id, group in rows.sort_values(["account_id", "entered_at", "value"]).groupby("account_id"):
        if account_id not in grid.row.index:
            continue
        # the latest entry by the day: the last in time order (ties: the highest value, as max())
        pos = np.searchsorted(group["day"].to_numpy(), when.to_numpy(), side="right") - 1
        ok = pos >= 0
        picked = group.iloc[np.clip(pos, 0, None)]
        recent = ok & (picked["day"].to_numpy() > (when - pd.Timedelta(days=length)).to_numpy())
        out[int(grid.row[account_id])] = np.where(recent, picked["value"].to_numpy("float64"), np.nan)
    return out


def daily_measures(inputs: HistoryInputs, days: list[date]) -> pd.DataFrame:
    """Raw measure values for every account live on each of ``days`` (consecutive,
    ascending): a frame indexed by (day, account_id), one column per measure of
    :data:`~kizuna.domain.health.MEASURES` (NaN: missing)."""
    if not days:
        return pd.DataFrame(
            columns=list(MEASURES), index=pd.MultiIndex.from_arrays([[], []], names=["day", "account_id"])
        )
    lines = inputs.lines
    accounts = np.unique(lines["account_id"].to_numpy())
    origin = pd.Timestamp(days[0] - timedelta(days=GRID_LOOKBACK))
    grid = _Grid(accounts, origin, (days[-1] - days[0]).days + GRID_LOOKBACK + 1)
    at = np.array([(pd.Timestamp(d) - origin).days for d in days])
    usage = inputs.usage
    usage = usage[usage["day"] >= origin]

    def metric(name: str) -> np.ndarray:
        part = usage[usage["metric"] == name]
        return grid.dense(part["account_id"], part["day"], part["value"].to_numpy("float64"))

    logins = grid.cumulative(metric(METRIC_LOGINS))
    last30, prev30 = _window(logins, at, 30), _window(logins, at, 30, 30)
    base90 = _window(logins, at, 90, 30)
    with np.errstate(invalid="ignore", divide="ignore"):
        vs_baseline = (last30 / 30.0) / np.where(base90 > 0, base90 / 90.0, np.nan) - 1.0
        trend = last30 / np.where(prev30 > 0, prev30, np.nan) - 1.0
    login_days = _window(grid.cumulative((metric(METRIC_LOGINS) > 0).astype("float64")), at, 30)
    active = metric(METRIC_ACTIVE_USERS)[:, 1:]
    padded = np.concatenate([np.zeros((len(accounts), 29)), active], axis=1)
    max30 = np.lib.stride_tricks.sliding_window_view(padded, 30, axis=1).max(axis=-1)[:, at]
    minutes = _window(grid.cumulative(metric(METRIC_SESSION_MINUTES)), at, 30)
    seats = _seats(lines, grid, at)

    features = sorted(m for m in usage["metric"].unique() if str(m).startswith(FEATURE_PREFIX))
    used = np.zeros((len(accounts), len(days)))
    anywhere30 = np.zeros(len(days), dtype=np.int64)
    anywhere120 = np.zeros(len(days), dtype=np.int64)
    for name in features:
        cum = grid.cumulative(metric(name))
        recent = _window(cum, at, 30)
        used += recent > 0
        anywhere30 += (recent > 0).any(axis=0)
        rows_in = grid.cumulative((metric(name) > 0).astype("float64"))
        anywhere120 += (_window(rows_in, at, USAGE_LOOKBACK) > 0).any(axis=0)
    # the one-day path: features with rows in the last 30 days (any account) or in the 120-day window
    available = np.maximum(len(FEATURE_EVENTS), np.maximum(anywhere30, anywhere120)).astype("float64")

    surveys = inputs.surveys
    nps = _averages(surveys[surveys["kind"] == "nps"], grid, at, 365)
    csat = _averages(surveys[surveys["kind"] == "csat"], grid, at, 180)
    tickets = inputs.tickets
    open_tickets = _open_tickets(tickets, grid, at)
    escalated = _open_tickets(tickets[tickets["escalated"].astype(bool)], grid, at)
    ms = inputs.milestones
    total_ms = grid.dense(ms["account_id"], pd.Series(origin, index=ms.index)).sum(axis=1)
    done = ms[ms["completed"].notna()]
    done_ms = grid.cumulative(grid.dense(done["account_id"], done["completed"]))[:, at + 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        onboarding = done_ms / np.where(total_ms > 0, total_ms, np.nan)[:, None]
        per_seat_active = np.minimum(max30 / seats, 1.0)
        per_seat_minutes = minutes / seats
    columns = {
        "logins_vs_baseline": vs_baseline, "login_trend": trend, "login_days": login_days,
        "active_users_per_seat": per_seat_active, "usage_minutes_per_seat": per_seat_minutes,
        "feature_breadth": used / available[None, :], "onboarding_progress": onboarding,
        "nps": nps, "csat": csat, "open_tickets": open_tickets, "escalated_tickets": escalated,
        "days_to_renewal": _days_to_renewal(lines, grid, days),
        "payment_state": np.full((len(accounts), len(days)), np.nan),
        "csm_sentiment": _sentiment(inputs.sentiments, grid, days),
    }  # fmt: skip
    live = _live(lines, grid, at, paying_only=False)
    acc_pos, day_pos = np.nonzero(live)
    order = np.lexsort((acc_pos, day_pos))
    acc_pos, day_pos = acc_pos[order], day_pos[order]
    index = pd.MultiIndex.from_arrays(
        [pd.Index([days[j] for j in day_pos], dtype=object), accounts[acc_pos]], names=["day", "account_id"]
    )
    data = {key: np.asarray(columns[key], dtype="float64")[acc_pos, day_pos] for key in MEASURES}
    return pd.DataFrame(data, index=index, columns=list(MEASURES))
