"""The aggregates behind the health measures for many days at once (ヘルススコアの履歴).

The measures themselves have one implementation,
:func:`kizuna.analytics.health.measures_by_day` (the daily recompute is its one-day
case). What it reads — per day and account, the usage sums over the day's windows,
survey answers by age, tickets open at the end of the day, milestones done and due by
then, the latest CSM sentiment — the daily recompute gets from one aggregate query per
day (:mod:`kizuna.db.queries.health`). A history of 180 days that way is 180 rounds of
queries; here the same aggregates of every day come from the raw rows read once: each
source becomes a dense account × day matrix, the windows are differences of cumulative
sums and the 30-day maximum a sliding window.

Same definitions as the queries (a test compares the snapshots with the day-by-day
path on the demo): usage windows ``(d − 30, d]``, ``(d − 60, d − 30]``,
``(d − 120, d − 30]``; a day counts "as of" ``d`` when it is on or before ``d`` (UTC
days); tickets open at the end of the day; the latest CSM sentiment of the 180 days up
to the day.

Pure: frames in, frames out; ``days`` are passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from kizuna.analytics import health as calc
from kizuna.domain.health import ScoringOptions
from kizuna.domain.usage import BASELINE_METRICS, FEATURE_PREFIX
from kizuna.domain.usage import USAGE_WINDOW_DAYS as USAGE_LOOKBACK

WINDOW_COLUMNS = ("last30", "prev30", "base90", "days30", "max30")
#: The CSM sentiment counts for this many days after it is entered.
SENTIMENT_DAYS = 180  # as kizuna.db.queries.health.latest_sentiments


@dataclass(frozen=True)
class HistoryInputs:
    """The raw rows of every source (see :mod:`kizuna.db.queries.health_history`); days as
    ``datetime64`` (UTC calendar days)."""

    lines: pd.DataFrame  # subscription lines, as kizuna.db.queries.health.subscription_lines
    usage: pd.DataFrame  # account_id, day, metric, value
    surveys: pd.DataFrame  # account_id, kind, score, day
    tickets: pd.DataFrame  # account_id, opened, resolved, escalated
    milestones: pd.DataFrame  # account_id, completed, due
    sentiments: pd.DataFrame  # account_id, entered_at, day, value


class _Grid:
    """Accounts × days from ``origin``: column ``j + 1`` of a matrix is day ``origin + j``
    (column 0 stays empty, so that cumulative sums start from it)."""

    def __init__(self, accounts: np.ndarray, origin: pd.Timestamp, n_days: int) -> None:
        self.accounts = accounts
        self.origin = origin
        self.n = n_days
        self.row = pd.Series(np.arange(len(accounts)), index=accounts)

    def dense(self, ids: pd.Series, days: pd.Series, values: np.ndarray | float = 1.0, *,
              pile: bool = False) -> np.ndarray:  # fmt: skip
        """Values added up per (account, day); days after the grid are dropped, days before
        it dropped too or, with ``pile``, counted on its first day (for "by the day" sums)."""
        out = np.zeros((len(self.accounts), self.n + 1))
        r = self.row.reindex(ids.to_numpy()).to_numpy(dtype="float64")
        c = self.cols(days)
        v = np.broadcast_to(np.asarray(values, dtype="float64"), r.shape)
        if pile:
            c = np.where(c < 0, 0, c)
        keep = ~np.isnan(r) & ~np.isnan(c) & (c >= 0) & (c < self.n)
        np.add.at(out, (r[keep].astype(np.int64), c[keep].astype(np.int64) + 1), v[keep])
        return out

    def cols(self, days: pd.Series) -> np.ndarray:
        """Day positions (float; NaN for NaT) of datetime64 values."""
        gap = days.to_numpy(dtype="datetime64[ns]") - self.origin.to_datetime64()
        positions: np.ndarray = gap / np.timedelta64(1, "D")  # NaT ÷ a day is NaN
        return positions

    @staticmethod
    def cumulative(matrix: np.ndarray) -> np.ndarray:
        """Column ``j + 1``: the sum of days up to day ``j``."""
        return np.cumsum(matrix, axis=1)


def _window(cum: np.ndarray, at: np.ndarray, length: int, shift: int = 0) -> np.ndarray:
    """Sums over the days ``(d − shift − length, d − shift]`` for the day positions ``at``."""
    hi = at - shift + 1
    lo = hi - length  # ≥ 1: the grid starts USAGE_LOOKBACK days before the first day (column 0 stays empty)
    sums: np.ndarray = cum[:, hi] - cum[:, lo]
    return sums


def _long(grid: _Grid, days: pd.DatetimeIndex, mask: np.ndarray, columns: dict[str, np.ndarray]) -> pd.DataFrame:
    """The (account, day) cells of ``mask`` as rows: ``day``, ``account_id`` and ``columns``."""
    acc, pos = np.nonzero(mask)
    frame = pd.DataFrame({"day": days[pos], "account_id": grid.accounts[acc]})
    for name, matrix in columns.items():
        frame[name] = matrix[acc, pos]
    return frame


def _usage(raw: pd.DataFrame, grid: _Grid, at: np.ndarray,
           days: pd.DatetimeIndex) -> tuple[pd.DataFrame, dict[pd.Timestamp, list[str]]]:  # fmt: skip
    """Per day, account and metric with a row in the metric's windows: ``last30``,
    ``prev30``, ``base90``, ``days30``, ``max30`` (as ``usage_windows``); and per day the
    ``feature.*`` metrics with data in its 120-day window."""
    parts = []
    features: dict[pd.Timestamp, list[str]] = {d: [] for d in days}
    for metric, rows in raw.groupby("metric", sort=True):
        values = grid.dense(rows["account_id"], rows["day"], rows["value"].to_numpy("float64"))
        present = grid.cumulative(grid.dense(rows["account_id"], rows["day"]))
        positive = grid.cumulative((values > 0).astype("float64"))
        cum = grid.cumulative(values)
        padded = np.concatenate([np.zeros((len(grid.accounts), 29)), values[:, 1:]], axis=1)
        max30 = np.lib.stride_tricks.sliding_window_view(padded, 30, axis=1)[:, at].max(axis=-1)
        columns = {"last30": _window(cum, at, 30), "prev30": np.zeros((len(grid.accounts), len(at))),
                   "base90": np.zeros((len(grid.accounts), len(at))), "days30": _window(positive, at, 30),
                   "max30": max30}  # fmt: skip
        if metric in BASELINE_METRICS:
            columns["prev30"], columns["base90"] = _window(cum, at, 30, 30), _window(cum, at, 90, 30)
            mask = _window(present, at, USAGE_LOOKBACK) > 0
        else:
            mask = _window(present, at, 30) > 0
        if str(metric).startswith(FEATURE_PREFIX):
            seen = np.asarray((_window(present, at, USAGE_LOOKBACK) > 0).any(axis=0), dtype=bool)
            for d in days[seen]:
                features[d].append(str(metric))
        parts.append(_long(grid, days, mask, columns).assign(metric=metric))
    empty = pd.DataFrame(columns=["day", "account_id", "metric", *WINDOW_COLUMNS])
    frame = pd.concat(parts, ignore_index=True) if parts else empty
    return frame, features


def _surveys(raw: pd.DataFrame, days: pd.DatetimeIndex, options: ScoringOptions) -> pd.DataFrame:
    """Each day's decayed NPS and CSAT (``analytics.health.decayed_surveys``) over the
    answers of the days up to it, by their age that day.

    One call for all the days: each day's answers (a slice of the answers by day) are
    stacked, keyed by (day, account) in one int64 — the day's position above 32 bits —
    so that each group holds the same answers in the same order as a call per day."""
    lookback = calc.survey_lookback_days(options)
    answers = raw.sort_values("day", kind="stable")
    stamps = answers["day"].to_numpy()
    lo = np.searchsorted(stamps, (days - pd.Timedelta(days=lookback - 1)).to_numpy(), "left")
    hi = np.searchsorted(stamps, days.to_numpy(), "right")
    counts = hi - lo
    if not counts.sum():
        empty = answers.iloc[:0].assign(age_days=pd.Series(dtype="float64"))
        return calc.decayed_surveys(empty[["account_id", "kind", "score", "age_days"]], options).assign(day=days[0])
    day_no = np.repeat(np.arange(len(days)), counts)
    take = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts - lo, counts)
    part = answers.iloc[take]
    age = pd.Series(days.to_numpy()[day_no] - part["day"].to_numpy(), index=part.index).dt.days.astype("float64")
    key = (day_no.astype(np.int64) << 32) + part["account_id"].to_numpy(dtype=np.int64)
    stacked = part[["account_id", "kind", "score"]].assign(account_id=key, age_days=age)
    out = calc.decayed_surveys(stacked, options)
    keys = out["account_id"].to_numpy(dtype=np.int64)
    out["account_id"] = keys & 0xFFFFFFFF
    return out.assign(day=days[keys >> 32])


def _tickets(raw: pd.DataFrame, grid: _Grid, at: np.ndarray, days: pd.DatetimeIndex) -> pd.DataFrame:
    """Tickets open at the end of each day (opened by then, not resolved by then), and those
    of them with high or urgent priority."""

    def open_on(rows: pd.DataFrame) -> np.ndarray:
        opened = grid.cumulative(grid.dense(rows["account_id"], rows["opened"], pile=True))
        done = rows[rows["resolved"].notna()]
        closed_day = done[["opened", "resolved"]].max(axis=1)  # resolved by d and opened by d
        closed = grid.cumulative(grid.dense(done["account_id"], closed_day, pile=True))
        count: np.ndarray = (opened - closed)[:, at + 1]
        return count

    count = open_on(raw)
    escalated = open_on(raw[raw["escalated"].astype(bool)])
    return _long(grid, days, count > 0, {"open_tickets": count, "escalated_tickets": escalated})


def _onboarding(raw: pd.DataFrame, grid: _Grid, at: np.ndarray, days: pd.DatetimeIndex) -> pd.DataFrame:
    """Per account with milestones: milestones, done by each day, due by it, and of those
    the ones completed by their due day."""

    def by_day(rows: pd.DataFrame, column: str) -> np.ndarray:
        rows = rows[rows[column].notna()]
        counted: np.ndarray = grid.cumulative(grid.dense(rows["account_id"], rows[column], pile=True))[:, at + 1]
        return counted

    total = grid.dense(raw["account_id"], pd.Series(grid.origin, index=raw.index)).sum(axis=1)
    on_time = raw[raw["completed"].notna() & raw["due"].notna() & (raw["completed"] <= raw["due"])]
    columns = {"milestones": np.repeat(total[:, None], len(at), axis=1), "milestones_done": by_day(raw, "completed"),
               "milestones_due": by_day(raw, "due"), "milestones_on_time": by_day(on_time, "due")}  # fmt: skip
    return _long(grid, days, columns["milestones"] > 0, columns)


def _sentiments(raw: pd.DataFrame, grid: _Grid, days: pd.DatetimeIndex) -> pd.DataFrame:
    """Each account's latest CSM sentiment entered in the 180 days up to each day (ties
    in time: the highest value)."""
    out = np.full((len(grid.accounts), len(days)), np.nan)
    for account_id, group in raw.sort_values(["account_id", "entered_at", "value"]).groupby("account_id"):
        if account_id not in grid.row.index:
            continue
        pos = np.searchsorted(group["day"].to_numpy(), days.to_numpy(), side="right") - 1
        picked = group.iloc[np.clip(pos, 0, None)]
        recent = (pos >= 0) & (picked["day"].to_numpy() > (days - pd.Timedelta(days=SENTIMENT_DAYS)).to_numpy())
        out[int(grid.row[account_id])] = np.where(recent, picked["value"].to_numpy("float64"), np.nan)
    return _long(grid, days, ~np.isnan(out), {"csm_sentiment": out})


def day_inputs(raw: HistoryInputs, days: Sequence[date], *, options: ScoringOptions,
               contacts: pd.DataFrame | None, tiers: pd.Series | None,
               history_from: date | None) -> calc.MeasureInputs:  # fmt: skip
    """What the store's one-day aggregate queries return for each of ``days``
    (consecutive, ascending), as one :class:`~kizuna.analytics.health.MeasureInputs` for
    :func:`~kizuna.analytics.health.measures_by_day`."""
    stamps = pd.DatetimeIndex([pd.Timestamp(d) for d in days])
    accounts = np.unique(np.concatenate([raw.lines["account_id"].to_numpy(), raw.usage["account_id"].to_numpy()]))
    origin = stamps[0] - pd.Timedelta(days=USAGE_LOOKBACK)
    grid = _Grid(accounts.astype(np.int64), origin, (stamps[-1] - origin).days + 1)
    at = np.asarray((stamps - origin).days)
    rows = raw.usage
    # the filter only saves work: dense() drops the days outside the grid itself (and the
    # grid's first day is in no window), so its mutants are equivalent
    in_grid = ((rows["day"] >= origin) & (rows["day"] <= stamps[-1])).to_numpy()  # pragma: no mutate
    usage, features = _usage(rows[in_grid], grid, at, stamps)
    return calc.MeasureInputs(
        lines=raw.lines, usage=usage, surveys=_surveys(raw.surveys, stamps, options),
        tickets=_tickets(raw.tickets, grid, at, stamps), onboarding=_onboarding(raw.milestones, grid, at, stamps),
        sentiment=_sentiments(raw.sentiments, grid, stamps),
        features={d: tuple(sorted(f)) for d, f in features.items()}, contacts=contacts, tiers=tiers,
        options=options, history_from=history_from,
    )  # fmt: skip
