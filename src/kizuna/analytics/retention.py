"""Retention (継続率): cohort tables by start month, logo and revenue, and Kaplan–Meier
retention curves with confidence bands, by segment.

- An account's **cohort** is the month of its first earning day (customer since).
- **Logo retention** of cohort *c* at age *k* = its accounts paying at the snapshot of
  month *c + k* ÷ the accounts in the cohort; **revenue retention** = their MRR then ÷
  the cohort's MRR at the snapshot of month *c* (age 0).
- **Kaplan–Meier**: each account's lifetime runs from its first earning day to the day
  its last line stopped earning (an *event*), or to ``as_of`` while it still pays
  (*censored*); a gap followed by a reactivation counts as one lifetime.
"""

from __future__ import annotations

from datetime import date

import ibis
import numpy as np
import pandas as pd

from kizuna.analytics.backend import StoreTables
from kizuna.analytics.periods import MonthGrid
from kizuna.analytics.revenue import earning_lines, first_earned

DAYS_PER_MONTH = 365.25 / 12


def cohort_members(t: StoreTables, grid: MonthGrid, currency: str) -> ibis.Table:
    """``account_id, cohort_mi, first_earned`` for accounts first earning within the grid."""
    fe = first_earned(t, currency, grid.as_of)
    g = grid.table().select("mi", "first_day", "end_day")
    j = fe.cross_join(g)
    j = j.filter(j.first_earned >= j.first_day, j.first_earned < j.end_day)
    return j.select("account_id", cohort_mi=j.mi, first_earned=j.first_earned)


def cohort_cells(members: ibis.Table, amm: ibis.Table) -> ibis.Table:
    """``cohort_mi, mi, accounts, mrr``: each cohort's paying accounts and MRR by month."""
    m = members.select(m_account="account_id", cohort_mi="cohort_mi")
    j = amm.join(m, amm.account_id == m.m_account)
    j = j.filter(j.mi >= j.cohort_mi)
    return j.group_by("cohort_mi", "mi").agg(accounts=j.count(), mrr=j.mrr.sum())


def cohort_sizes(members: ibis.Table) -> ibis.Table:
    return members.group_by("cohort_mi").agg(size=members.count())


def cohort_frames(grid: MonthGrid, months: pd.DataFrame, first_earned_on: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(:func:`cohort_cells`, :func:`cohort_sizes`) from the account-month MRR
    (``account_id, mi, mrr``) and :func:`~kizuna.analytics.revenue.first_earned` fetched once
    (the report fetches both for its revenue figures): the same rows, without the cohort
    members' temporary table and its join."""
    frame = grid.frame()
    # equivalent mutants on dtypes (dates, days or nanoseconds compare alike; the ids are int64),
    # on `as_index` (None is false too) and on the merge's `on` (account_id is the one common column)
    firsts = np.array(frame["first_day"].tolist(), dtype="datetime64[D]")  # pragma: no mutate
    ends = np.array(frame["end_day"].tolist(), dtype="datetime64[D]")  # pragma: no mutate
    fe = pd.to_datetime(first_earned_on["first_earned"]).to_numpy(dtype="datetime64[D]")  # pragma: no mutate
    cohort = np.searchsorted(firsts, fe, side="right") - 1
    # the clip only keeps the index in range for days before the grid (cohort −1, left out
    # anyway); a month's first day is the end of the one before, so only the last month's end
    # (the day after as_of) can be reached
    safe = np.clip(cohort, 0, None)  # pragma: no mutate
    inside = (cohort >= 0) & (fe < ends[safe])
    ids = first_earned_on["account_id"].to_numpy(dtype="int64")  # pragma: no mutate
    members = pd.DataFrame({"account_id": ids[inside], "cohort_mi": cohort[inside].astype("int64")})
    sizes = members.groupby("cohort_mi", as_index=False).agg(size=("account_id", "size"))  # pragma: no mutate
    j = months[["account_id", "mi", "mrr"]].merge(members, on="account_id")  # pragma: no mutate
    j = j[j["mi"] >= j["cohort_mi"]]
    cells = j.groupby(["cohort_mi", "mi"], as_index=False).agg(  # pragma: no mutate
        accounts=("mrr", "size"), mrr=("mrr", "sum")
    )
    for col in ("accounts", "mrr"):
        cells[col] = cells[col].astype("int64")
    sizes["size"] = sizes["size"].astype("int64")
    return cells, sizes


def cohort_tables(grid: MonthGrid, cells: pd.DataFrame, sizes: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(logo, revenue) retention tables: one row per reported cohort month (label),
    columns ``size``, ``mrr0`` and ages ``0 … n`` (fractions; NaN where not reached)."""
    labels = grid.labels()
    cohorts = list(range(grid.first_reported, grid.size))
    ages = list(range(grid.months))
    # equivalent mutants on `strict` (columns of one frame have one length) and on the frames'
    # dtype below (without it, the ages are floats and the sizes ints anyway, cast to int64)
    size = dict(zip(sizes["cohort_mi"], sizes["size"], strict=False))  # pragma: no mutate
    acc = {
        (int(c), int(m)): int(a)
        for c, m, a in zip(cells["cohort_mi"], cells["mi"], cells["accounts"], strict=False)  # pragma: no mutate
    }
    mrr = {
        (int(c), int(m)): int(v)
        for c, m, v in zip(cells["cohort_mi"], cells["mi"], cells["mrr"], strict=False)  # pragma: no mutate
    }
    # the rows built in Python and the frames made once (setting each cell with .loc was
    # ~0.05 s a report); the same divisions of the same integers
    logo_rows, revenue_rows = [], []
    for c in cohorts:
        n = int(size.get(c, 0))
        base = mrr.get((c, c), 0)
        # ages past the grid stay missing
        reached = [k for k in ages if c + k <= grid.last]
        logo_rows.append([n] + [acc.get((c, c + k), 0) / n if n else np.nan for k in reached]
                         + [np.nan] * (len(ages) - len(reached)))  # fmt: skip
        revenue_rows.append([base] + [mrr.get((c, c + k), 0) / base if base else np.nan for k in reached]
                            + [np.nan] * (len(ages) - len(reached)))  # fmt: skip
    index = [labels[c] for c in cohorts]
    logo = pd.DataFrame(logo_rows, index=index, columns=["size", *ages], dtype="float64")  # pragma: no mutate
    revenue = pd.DataFrame(revenue_rows, index=index, columns=["mrr0", *ages], dtype="float64")  # pragma: no mutate
    logo["size"] = logo["size"].astype("int64")
    revenue["mrr0"] = revenue["mrr0"].astype("int64")
    return logo, revenue


def lifetime_spans(t: StoreTables, currency: str, as_of: date) -> ibis.Table:
    """``account_id, first_earned, last_end``: each account's first earning day and the
    latest ``ended_on`` of its lines up to ``as_of`` (:func:`lifetimes` without ``paying``)."""
    fe = first_earned(t, currency, as_of)
    lines = earning_lines(t, currency)
    ends = lines.filter(lines.ended_on <= as_of).group_by("account_id").agg(last_end=lines.ended_on.max())
    ends = ends.rename(e_account="account_id")
    j = fe.left_join(ends, fe.account_id == ends.e_account)
    return j.select("account_id", "first_earned", "last_end")


def lifetimes(t: StoreTables, currency: str, as_of: date, amm_now: ibis.Table) -> ibis.Table:
    """``account_id, first_earned, last_end, paying``: ``paying`` when earning at
    ``as_of`` (``amm_now``: the accounts' MRR at ``as_of``); ``last_end`` the latest
    ``ended_on`` up to ``as_of`` (the churn day of the others)."""
    spans = lifetime_spans(t, currency, as_of)
    now = amm_now.select(n_account="account_id", paying=ibis.literal(True))
    j = spans.left_join(now, spans.account_id == now.n_account)
    return j.select("account_id", "first_earned", "last_end", paying=ibis.coalesce(j.paying, False))


def with_paying(spans: pd.DataFrame, paying_now: pd.Series) -> pd.DataFrame:
    """:func:`lifetimes` from :func:`lifetime_spans` fetched and the ids of the accounts
    paying at ``as_of`` (the report has them from the account-month MRR)."""
    out = spans.copy()
    out["paying"] = out["account_id"].isin(paying_now.to_numpy()).astype(bool)
    return out


#: The two-sided 95 % normal quantile, ``scipy.stats.norm.ppf(0.975)`` to the last digit
#: (what lifelines uses for its bands; a test compares it with scipy's).
Z_95 = 1.959963984540054


def km_curve(durations: np.ndarray, observed: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kaplan–Meier survival and its 95 % band (exponential Greenwood) at ``times`` (≥ 0):
    ``(survival, lower, upper)``. The same floating-point operations, in the same order, as
    lifelines 0.30's ``KaplanMeierFitter`` (``survival_function_at_times`` and
    ``confidence_interval_survival_function_``), so the figures are identical to the last
    digit (tests compare them) without importing lifelines and scipy (a second a process).
    ``durations`` ≥ 0; ``observed``: True for an event, False for censored."""
    # the event table: one row per distinct duration, plus time 0 where everyone enters
    # equivalent mutants on this block's dtypes (float64 is numpy's default; 0/1 weights either
    # way) and `minlength` (the largest duration is always counted: the appended 0 is the smallest)
    at, inverse = np.unique(np.append(durations.astype("float64"), 0.0), return_inverse=True)  # pragma: no mutate
    inverse = inverse[:-1]
    removed = np.bincount(inverse, minlength=len(at)).astype("float64")  # pragma: no mutate
    deaths = np.bincount(inverse, weights=observed.astype(bool).astype("float64"), minlength=len(at))  # pragma: no mutate
    # at risk just before each time: everyone, less those removed at earlier times (whole
    # numbers, exact in floats)
    population = len(durations) - np.concatenate(([0.0], np.cumsum(removed)[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):  # pragma: no mutate (warnings only)
        log_estimate = np.cumsum(np.log(population - deaths) - np.log(population))
        # `.astype(None)`: floats of the same whole numbers, the same products
        whole = population.astype("uint64")  # pragma: no mutate
        terms = deaths / (whole * (whole - deaths))
        # `= 1`: the same bands, the term is infinite only where the survival reaches 0, and
        # from there on both bounds are 0 whatever the sum
        terms[terms == np.inf] = 0  # pragma: no mutate
        cumulative_sq = np.cumsum(terms)
        survival = np.exp(log_estimate)
        v = np.log(survival)
        lower = np.exp(-np.exp(np.log(-v) - Z_95 * np.sqrt(cumulative_sq) / v))
        upper = np.exp(-np.exp(np.log(-v) + Z_95 * np.sqrt(cumulative_sq) / v))
    lower[np.isnan(lower)] = 1.0
    upper[np.isnan(upper)] = 1.0
    # the value at the latest time ≤ each asked time (a step function)
    pick = np.searchsorted(at, times, side="right") - 1
    return survival[pick], lower[pick], upper[pick]


def kaplan_meier(
    frame: pd.DataFrame, as_of: date, horizon_months: int, segments: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Survival curves from :func:`lifetimes` (pandas): ``segment, month, survival,
    lower, upper, at_risk`` for months 0 … ``horizon_months`` (95 % bands, lifelines'
    exponential Greenwood, computed by :func:`km_curve`). ``segments``: ``account_id,
    segment`` (``"all"`` when None)."""
    data = frame.copy()
    if data.empty:
        return pd.DataFrame(columns=["segment", "month", "survival", "lower", "upper", "at_risk"])
    first = pd.to_datetime(data["first_earned"])
    last_end = pd.to_datetime(data["last_end"])
    # an event is the day the last line stopped earning; an account not paying with no line
    # ended (only a free line, still running) has had none: censored at as_of like a paying one
    event = ~data["paying"].astype(bool) & last_end.notna()
    end = last_end.where(event, pd.Timestamp(as_of))
    data["duration"] = ((end - first).dt.days.clip(lower=0)) / DAYS_PER_MONTH
    data["event"] = event
    if segments is not None:
        # equivalent mutants: account_id is the one column in common
        data = data.merge(segments, on="account_id", how="left")  # pragma: no mutate
        data["segment"] = data["segment"].fillna("(none)")
    else:
        data["segment"] = "all"
    # equivalent mutants on the dtypes below (whole months in ints, durations and events already
    # float and bool) and on the sort key (groupby gives the segments sorted, as texts)
    times = np.arange(horizon_months + 1, dtype="float64")  # pragma: no mutate
    rows = []
    for segment, part in sorted(data.groupby("segment"), key=lambda kv: str(kv[0])):  # pragma: no mutate
        durations = part["duration"].to_numpy(dtype="float64")  # pragma: no mutate
        surv, lower, upper = km_curve(durations, part["event"].to_numpy(dtype=bool), times)  # pragma: no mutate
        for i, month in enumerate(times):
            rows.append({
                "segment": str(segment), "month": int(month), "survival": float(surv[i]),
                "lower": float(lower[i]), "upper": float(upper[i]),
                "at_risk": int((durations >= month).sum()),
            })  # fmt: skip
    return pd.DataFrame(rows)
