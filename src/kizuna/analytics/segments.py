"""Segments as they were: the tier, stage, owner, fit band or plan each account had at
the start of each month of the grid (see ``docs/kpis.md``, *Segments*).

A month's figures are split by the segment an account held on the day before the
month began (``start_day``, the previous month's snapshot): its starting MRR, its
movements during the month and its MRR at the month's end all stay in that segment,
so each segment's row adds up (start + movements = end) and the segments add up to the
whole. An account keeps the value of its latest period that began by that day — a
churned account, whose tier period closed when it left, stays in the tier it left
from; an account whose first period begins later (a new customer) takes its first
value. Twelve-month figures use the segment at the start of the twelve months.

Periods come from ``segment_changes`` (tier, stage, owner, fit: one row per period,
written by the daily job and wherever the value changes) and, for the plan, from the
subscription lines themselves: the plan of an account on a day is its latest-starting
plan line that earned by then.
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from kizuna.analytics.backend import StoreTables
from kizuna.analytics.periods import MonthGrid
from kizuna.analytics.revenue import days, earning_lines

#: ``--by`` names read from the history, and the ``segment_changes.dimension`` they read.
HISTORY = {"tier": "tier", "stage": "stage", "owner": "owner", "fit": "fit"}
#: Other spellings accepted for the same breakdowns (the accounts columns' names).
ALIASES = {"touch_tier": "tier", "lifecycle_stage": "stage", "fit_band": "fit", "owner_id": "owner"}
#: Every breakdown: the history ones, the plan, and the industry (an accounts column, as it is now).
CHOICES = ("plan", "tier", "stage", "owner", "fit", "industry")


def canonical(name: str) -> str:
    return ALIASES.get(name, name)


def _as_was(periods: ibis.Table, order: list[ibis.Value], grid: MonthGrid) -> ibis.Table:
    """``account_id, mi, segment`` for every month of the grid of every account in
    ``periods`` (``account_id, value, from_on`` and the columns ``order`` reads: among
    periods beginning the same day, the last in this order wins)."""
    p = periods
    w = ibis.window(group_by=p.account_id, order_by=[p.from_on, *order])
    # a period lasts until the next one begins (the last one: for ever, so that a churned
    # account keeps its last segment); tied periods end where they begin (empty)
    p = p.mutate(next_from=p.from_on.lead().over(w), first_from=p.from_on.min().over(ibis.window(group_by=p.account_id)))
    g = grid.table().select("mi", "start_day")
    # joins on the conditions, not a cross join filtered afterwards: SQLite would write out every
    # period × month (335,000 rows for 13,000 lines over 25 months) and read them twice
    held = p.join(g, [p.from_on <= g.start_day, p.next_from.isnull() | (p.next_from > g.start_day)])
    # before its first period an account takes its first value (the one that holds that day)
    f = p.filter(p.from_on == p.first_from, p.next_from.isnull() | (p.next_from > p.from_on))
    first = f.join(g, f.first_from > g.start_day)
    cols = {"account_id": "account_id", "mi": "mi", "segment": "value"}
    # `distinct=True` would be the same (only slower): each (account, month) comes once — a month
    # before the first period (`first`) or from it (`held`), and tied periods end where they begin
    return ibis.union(held.select(**cols), first.select(**cols), distinct=False)  # pragma: no mutate


def as_was_frame(grid: MonthGrid, periods: pd.DataFrame, order: list[str]) -> pd.DataFrame:
    """:func:`_as_was` on fetched periods (``account_id, value, from_on`` and the
    columns ``order`` names, never null): ``account_id, mi, segment`` for every month of the
    grid of every account with a period. A month takes the last period (by ``from_on``, then
    ``order``) beginning by its start day — tied periods end where they begin, so the last
    of them holds — and a month before an account's first period takes the last of the
    periods beginning on its first day."""
    start = days(periods["from_on"])
    keep = ~np.isnat(start)  # a period without a start never holds (nor ends the one before)
    p = periods[keep]
    # days since 1970 (as floats, the same whole numbers: the same order and keys)
    start = start[keep].astype("int64")  # pragma: no mutate
    ids = p["account_id"].to_numpy()
    # sorted by account, then start, then the order columns (np.lexsort: the last key first)
    sort = np.lexsort([p[c].to_numpy() for c in reversed(order)] + [start, ids])
    ids, start, values = ids[sort], start[sort], p["value"].to_numpy()[sort]
    accounts, first = np.unique(ids, return_index=True)
    # one searchable key per period: the account's place, then the day; days (±2**33 at most)
    # keep each account's keys apart from the next one's with any shift of 2**34 or more
    code = np.searchsorted(accounts, ids)
    shift = np.int64(2**34)  # pragma: no mutate (any larger shift: the same order)
    keys = code * shift + start
    codes = np.arange(len(accounts))
    # the last of the periods beginning on an account's first day
    first_last = np.searchsorted(keys, codes * shift + start[first], side="right") - 1
    # (as floats: the same whole numbers)
    start_days = np.array(grid.frame()["start_day"].tolist(), dtype="datetime64[D]").astype("int64")  # pragma: no mutate
    held = np.searchsorted(keys, codes[:, None] * shift + start_days[None, :], side="right") - 1
    # `>`: the same, where held is the account's first period it is the only one beginning on
    # the first day by then (a tied one would sort after it), so it is also first_last
    pick = np.where(held >= first[:, None], held, first_last[:, None])  # pragma: no mutate
    return pd.DataFrame({
        "account_id": np.repeat(accounts, grid.size),
        "mi": np.tile(np.arange(grid.size), len(accounts)),
        "segment": pd.Series(values[pick.ravel()], dtype="str"),  # texts, also when there is no period
    })  # fmt: skip


def plan_segments_frame(grid: MonthGrid, lines: pd.DataFrame) -> pd.DataFrame:
    """:func:`plan_segments` from :func:`kizuna.analytics.revenue.line_facts` fetched:
    ``account_id, mi, segment`` (the plan's name)."""
    start, end = days(lines["earn_start"]), days(lines["ended_on"])
    plan = (lines["kind"] == "plan").to_numpy() & (np.isnat(end) | (end > start))
    p = lines[plan]
    periods = pd.DataFrame({
        "account_id": p["account_id"].to_numpy(), "value": p["product"].to_numpy(),
        "from_on": p["earn_start"].to_numpy(), "amount": p["amount"].to_numpy(),
        "neg_product": -p["product_id"].to_numpy(),
    })  # fmt: skip
    return as_was_frame(grid, periods, ["amount", "neg_product"])


def history_segments(t: StoreTables, grid: MonthGrid, name: str) -> ibis.Table:
    """``account_id, mi, segment`` from the ``segment_changes`` periods of one dimension
    (``tier``, ``stage``, ``owner`` — shown by the owner's name — or ``fit``)."""
    h = t.segment_changes
    h = h.filter(h.dimension == HISTORY[name]).select("account_id", "value", "from_on", "id")
    out = _as_was(h, [h.id], grid)
    if name == "owner":
        u = t.users.select(u_id=t.users.id.cast("string"), u_name="name")  # pragma: no mutate (type names: any case)
        j = out.left_join(u, out.segment == u.u_id)
        out = j.select("account_id", "mi", segment=ibis.coalesce(j.u_name, j.segment))
    return out


def plan_segments(t: StoreTables, grid: MonthGrid, currency: str) -> ibis.Table:
    """``account_id, mi, segment`` (the plan's name): the plan line that started last among
    those that earned by the day (ties: the larger amount, then the lower product id)."""
    lines = earning_lines(t, currency)
    lines = lines.filter(lines.ended_on.isnull() | (lines.ended_on > lines.earn_start))
    products = t.products.filter(t.products.kind == "plan").select(p_id="id", plan="name")
    j = lines.join(products, lines.product_id == products.p_id)
    periods = j.select("account_id", value=j.plan, from_on=j.earn_start, amount=j.amount, neg_product=-j.product_id)
    return _as_was(periods, [periods.amount, periods.neg_product], grid)


def column_segments(t: StoreTables, column: str) -> ibis.Table:
    """``account_id, segment`` from an accounts column as it is now (e.g. ``industry``)."""
    a = t.accounts
    return a.select(account_id=a.id, segment=a[column].cast("string"))  # pragma: no mutate (type names: any case)


def segments_for(t: StoreTables, grid: MonthGrid, name: str, currency: str) -> ibis.Table:
    """The segments of breakdown ``name`` (one of :data:`CHOICES` or an alias): by month
    (``account_id, mi, segment``), or ``account_id, segment`` for an accounts column."""
    name = canonical(name)
    if name == "plan":
        return plan_segments(t, grid, currency)
    if name in HISTORY:
        return history_segments(t, grid, name)
    return column_segments(t, name)


def history_segments_frame(t: StoreTables, grid: MonthGrid, name: str) -> pd.DataFrame:
    """:func:`history_segments` from the dimension's periods fetched (a row per period)."""
    h = t.segment_changes
    periods = h.filter(h.dimension == HISTORY[name]).select("account_id", "value", "from_on", "id").execute()
    out = as_was_frame(grid, periods, ["id"])
    if name == "owner":  # the owner's name where the value is a user's id (as text)
        users = t.users.select("id", "name").execute()
        users = users[["id", "name"]]
        names = {str(i): n for i, n in users.itertuples(index=False) if isinstance(n, str)}  # pragma: no mutate (index=None: false too)
        out["segment"] = pd.Series([names.get(v, v) for v in out["segment"].tolist()], dtype="str")
    return out


def segments_frame(t: StoreTables, grid: MonthGrid, name: str, lines: pd.DataFrame) -> pd.DataFrame:
    """:func:`segments_for` fetched: ``account_id, mi, segment`` (``account_id, segment`` for
    an accounts column); the plan ones from the lines of
    :func:`kizuna.analytics.revenue.line_facts`, already fetched."""
    name = canonical(name)
    if name == "plan":
        return plan_segments_frame(grid, lines)
    if name in HISTORY:
        return history_segments_frame(t, grid, name)
    column: pd.DataFrame = column_segments(t, name).execute()
    return column
