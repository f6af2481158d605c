"""Revenue: MRR and ARR by month, MRR movements, logo and revenue churn, GRR and NRR.

Definitions (see ``docs/kpis.md``):

- **MRR at a day** is the sum of ``monthly_amount`` of the subscription lines that earn
  on that day by :func:`kizuna.domain.subscriptions.earns_on` — not a trial, on or after
  the later of ``started_on`` and ``trial_ends_on``, before ``ended_on`` — in the
  reporting currency. A month's MRR is MRR at its snapshot day (see
  :mod:`kizuna.analytics.periods`), so the last month's MRR is the MRR of ``as_of``,
  the same figure the accounts list shows.
- **Movements** of month *m* compare each account's MRR at the snapshots of *m−1* and
  *m*: *new* (0 → >0, first earning day after the previous snapshot), *reactivation*
  (0 → >0, earned before), *expansion* (up), *contraction* (down, still >0),
  *churned* (>0 → 0). They add up exactly to the change in MRR.
- **Logo churn rate** = churned accounts ÷ paying accounts at the previous snapshot;
  **revenue churn rate** = (churned + contraction MRR) ÷ previous MRR;
  **GRR** = 1 − revenue churn; **NRR** = (previous MRR + expansion − contraction − churned)
  ÷ previous MRR. The *12-month* forms follow the accounts paying 12 snapshots back:
  NRR₁₂ = their MRR now ÷ their MRR then; GRR₁₂ caps each account at its MRR then.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import ibis
import numpy as np
import pandas as pd

from kizuna.analytics.backend import StoreTables
from kizuna.analytics.periods import MonthGrid

MOVEMENTS = ("new", "expansion", "contraction", "churned", "reactivation")


def earning_start(subscriptions: ibis.Table) -> ibis.Value:
    """The first day a line earns: ``trial_ends_on`` when later than ``started_on``."""
    s = subscriptions
    # `>=` would be the same: a trial ending on the start day gives the start day either way
    return ibis.cases(
        (s.trial_ends_on.notnull() & (s.trial_ends_on > s.started_on), s.trial_ends_on), else_=s.started_on  # pragma: no mutate
    )


def earning_lines(t: StoreTables, currency: str) -> ibis.Table:
    """Lines that can earn (not trials), in the reporting currency, with their earning start."""
    s = t.subscriptions
    return s.filter(s.status != "trial", s.currency == currency).select(
        "account_id", "product_id", amount=s.monthly_amount, earn_start=earning_start(s), ended_on=s.ended_on
    )


def earns_at(lines: ibis.Table, day: ibis.Value | date) -> ibis.Value:
    """The Ibis form of :func:`kizuna.domain.subscriptions.earns_on`."""
    return (lines.earn_start <= day) & (lines.ended_on.isnull() | (lines.ended_on > day))


def other_currencies(t: StoreTables, currency: str, as_of: date) -> ibis.Table:
    """Lines earning at ``as_of`` in other currencies (left out of every figure): per currency."""
    s = t.subscriptions
    lines = s.filter(s.status != "trial", s.currency != currency).mutate(earn_start=earning_start(s))
    lines = lines.filter(earns_at(lines, as_of))
    return lines.group_by("currency").agg(lines=lines.count(), accounts=lines.account_id.nunique(),
                                          mrr=lines.monthly_amount.sum())  # fmt: skip


def account_mrr(t: StoreTables, grid: MonthGrid, currency: str) -> ibis.Table:
    """Each paying account's MRR at each snapshot: ``account_id, mi, mrr`` (rows with MRR > 0)."""
    lines = earning_lines(t, currency)
    g = grid.table()
    joined = lines.cross_join(g.select("mi", "snapshot"))
    joined = joined.filter(earns_at(joined, joined.snapshot))
    out = joined.group_by("account_id", "mi").agg(mrr=joined.amount.sum())
    return out.filter(out.mrr > 0)


def line_facts(t: StoreTables, currency: str) -> ibis.Table:
    """The earning lines (:func:`earning_lines`) with their product's ``kind``, ``rank`` and
    ``product`` name: one small fetch (a row per subscription line) from which the report
    computes the account-month MRR (:func:`account_mrr_frame`), the plan segments
    (:func:`kizuna.analytics.segments.plan_segments_frame`), the first earning days and
    lifetimes (:func:`line_spans`) and the upsell/cross-sell counts."""
    lines = earning_lines(t, currency)
    p = t.products.select(p_id="id", kind="kind", rank="rank", product="name")
    j = lines.left_join(p, lines.product_id == p.p_id)
    return j.select("account_id", "product_id", "amount", "earn_start", "ended_on", "kind", "rank", "product")


def days(values: Any) -> np.ndarray:
    """Dates (a column of dates, timestamps or ISO texts) as ``datetime64[D]`` (NaT for null)."""
    return np.asarray(pd.to_datetime(pd.Series(values)).to_numpy(dtype="datetime64[D]"))


def snapshot_days(grid: MonthGrid) -> np.ndarray:
    """Each grid month's snapshot day, as ``datetime64[D]`` (ascending)."""
    return np.array(grid.frame()["snapshot"].tolist(), dtype="datetime64[D]")


def earning_months(grid: MonthGrid, lines: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """For each line of :func:`line_facts`, the grid months whose snapshot it earns on
    (:func:`earns_at`): ``lo … hi − 1`` (none when ``hi ≤ lo``). Snapshots ascend, so the
    months a line earns on are one run: from the first snapshot on or after its earning
    start to the last one before its end."""
    snaps = snapshot_days(grid)
    # numpy sorts NaT after every day: a line without an end earns to the grid's end (and one
    # without a start, which the store does not allow, never)
    lo = np.searchsorted(snaps, days(lines["earn_start"]))
    hi = np.searchsorted(snaps, days(lines["ended_on"]))
    return lo, hi


def account_mrr_frame(grid: MonthGrid, lines: pd.DataFrame) -> pd.DataFrame:
    """:func:`account_mrr` from :func:`line_facts` fetched: ``account_id, mi, mrr`` (rows
    with MRR > 0), by account and month. The SQL form joins every line with every month
    and groups; here each line adds its amount to the months it earns on."""
    lo, hi = earning_months(grid, lines)
    count = np.clip(hi - lo, 0, None)
    line = np.repeat(np.arange(len(lines)), count)
    # each repeated line's month: its first month plus its place in its run
    offsets = np.cumsum(count) - count
    mi = lo[line] + (np.arange(len(line)) - offsets[line])
    ids, account = np.unique(lines["account_id"].to_numpy(), return_inverse=True)
    mrr = np.zeros((len(ids), grid.size), dtype="int64")
    np.add.at(mrr, (account[line], mi), lines["amount"].to_numpy()[line])
    rows, months = np.nonzero(mrr > 0)
    return pd.DataFrame({"account_id": ids[rows], "mi": months.astype("int64"), "mrr": mrr[rows, months]})


def line_spans(lines: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """``account_id, first_earned, last_end`` (:func:`first_earned` and
    :func:`kizuna.analytics.retention.lifetime_spans`) from :func:`line_facts` fetched:
    accounts with a first earning day up to ``as_of``, by account."""
    day = np.datetime64(as_of)  # a date: in days
    start, end = days(lines["earn_start"]), days(lines["ended_on"])
    ids = lines["account_id"].to_numpy()
    earned = (lines["amount"].to_numpy() > 0) & (start <= day) & (np.isnat(end) | (end > start))
    first = pd.Series(start[earned]).groupby(ids[earned]).min()
    ended = ~np.isnat(end) & (end <= day)
    last = pd.Series(end[ended]).groupby(ids[ended]).max()
    out = pd.DataFrame({"account_id": first.index.to_numpy(), "first_earned": first.to_numpy()})
    out["last_end"] = last.reindex(first.index).to_numpy()
    for col in ("first_earned", "last_end"):
        out[col] = out[col].astype("datetime64[s]")
    return out


def first_earned(t: StoreTables, currency: str, as_of: date) -> ibis.Table:
    """Each account's first earning day up to ``as_of`` (customer since): ``account_id, first_earned``.
    A free line (¥0) earns nothing: an account that moves from a free plan to a paid one is
    new on its first paid day, not a reactivation, and joins that month's cohort."""
    lines = earning_lines(t, currency)
    lines = lines.filter(lines.amount > 0, lines.earn_start <= as_of,
                         lines.ended_on.isnull() | (lines.ended_on > lines.earn_start))  # fmt: skip
    return lines.group_by("account_id").agg(first_earned=lines.earn_start.min())


def movements_by_account(t: StoreTables, grid: MonthGrid, currency: str, amm: ibis.Table) -> ibis.Table:
    """Per account and month (``mi`` ≥ 1) the MRR before and after and the movement kind:
    ``account_id, mi, prev, cur, delta, kind`` (only accounts whose MRR changed)."""
    # a union and a group-by rather than a self outer join: fast on every backend
    zero = ibis.literal(0, "int64")  # pragma: no mutate (type names are case-insensitive)
    both = ibis.union(
        amm.select("account_id", "mi", cur=amm.mrr, prev=zero),
        amm.select("account_id", mi=amm.mi + 1, cur=zero, prev=amm.mrr),
        # no two rows are alike (one per account and month; mrr > 0): distinct or not, the same
        distinct=False,  # pragma: no mutate
    )
    j = both.group_by("account_id", "mi").agg(cur=both.cur.sum(), prev=both.prev.sum())
    j = j.filter(j.mi >= 1, j.mi <= grid.last, j.cur != j.prev)
    g = grid.table().select(g_mi=ibis._.mi + 1, prev_snapshot="snapshot")
    fe = first_earned(t, currency, grid.as_of).rename(f_account="account_id")
    j = j.left_join(g, j.mi == g.g_mi).left_join(fe, j.account_id == fe.f_account)
    kind = ibis.cases(
        ((j.prev == 0) & (j.first_earned > j.prev_snapshot), "new"),
        (j.prev == 0, "reactivation"),
        (j.cur == 0, "churned"),
        (j.cur > j.prev, "expansion"),  # pragma: no mutate (`>=`: rows with cur == prev were filtered out)
        else_="contraction",
    )
    return j.select("account_id", "mi", "prev", "cur", delta=j.cur - j.prev, kind=kind)


def with_segment(table: ibis.Table, segments: ibis.Table | None, back: int = 0) -> tuple[ibis.Table, list[str]]:
    """``table`` (``account_id, mi, …``) with each account's ``segment``: by month, the
    segment it had at the start of month ``mi − back`` (see :mod:`kizuna.analytics.segments`);
    ``"(none)"`` for an account without one."""
    if segments is None:
        return table, []
    if "mi" in segments.columns:
        seg = segments.select(s_account="account_id", s_mi="mi", segment="segment")
        joined = table.left_join(seg, (table.account_id == seg.s_account) & (table.mi - back == seg.s_mi))
        joined = joined.drop("s_mi")
    else:
        seg = segments.select(s_account="account_id", segment="segment")
        joined = table.left_join(seg, table.account_id == seg.s_account)
    joined = joined.mutate(segment=ibis.coalesce(joined.segment, "(none)")).drop("s_account")
    return joined, ["segment"]


def segment_of(frame: pd.DataFrame, segments: pd.DataFrame, back: int = 0) -> pd.Series:
    """:func:`with_segment` on fetched frames: the ``segment`` of each row of ``frame``
    (``account_id, mi, …``) from ``segments`` (``account_id, [mi,] segment``, one row per
    key), at month ``mi − back`` when by month; ``"(none)"`` where there is none."""
    keys = ["account_id", "mi"] if "mi" in segments.columns else ["account_id"]
    left = frame[["account_id"]].assign(mi=frame["mi"] - back)
    # merged on the columns in common: the keys
    found = left.merge(segments[[*keys, "segment"]], how="left")["segment"]
    # texts (as the SQL form's column), also when there is no row
    return found.fillna("(none)").astype("str").set_axis(frame.index)


def account_months_frame(amm: pd.DataFrame, segments: pd.DataFrame | None = None) -> pd.DataFrame:
    """:func:`account_months` from fetched frames (:func:`account_mrr_frame` and the
    segments): ``account_id, mi, mrr`` and, with segments, ``segment``, ``next_segment``."""
    out = amm[["account_id", "mi", "mrr"]].copy()
    if segments is not None:
        out["segment"] = segment_of(out, segments)
        out["next_segment"] = segment_of(out, segments, back=-1)
    return out


def movement_totals(movements: ibis.Table, segments: ibis.Table | None = None) -> ibis.Table:
    """``mi, [segment], kind, accounts, amount`` (amount signed: churn and contraction < 0)."""
    m, keys = with_segment(movements, segments)
    return m.group_by(["mi", *keys, "kind"]).agg(accounts=m.count(), amount=m.delta.sum())


def mrr_totals(amm: ibis.Table, segments: ibis.Table | None = None) -> ibis.Table:
    """``mi, [segment], mrr, accounts``: MRR and paying accounts at each snapshot (by the
    segment at the start of the month)."""
    a, keys = with_segment(amm, segments)
    return a.group_by(["mi", *keys]).agg(mrr=a.mrr.sum(), accounts=a.count())


def start_totals(amm: ibis.Table, segments: ibis.Table) -> ibis.Table:
    """``mi, segment, start_mrr, start_accounts``: MRR and paying accounts at the snapshot
    before month ``mi``, by the segment at the start of ``mi`` — so that each segment's
    start, movements and end add up when accounts move between segments."""
    a, keys = with_segment(amm.mutate(mi=amm.mi + 1), segments)
    return a.group_by(["mi", *keys]).agg(start_mrr=a.mrr.sum(), start_accounts=a.count())


def trailing_totals(amm: ibis.Table, window: int = 12, segments: ibis.Table | None = None) -> ibis.Table:
    """For the accounts paying ``window`` snapshots before ``mi``: ``mi, [segment],
    start_accounts, start_mrr, end_mrr, retained_mrr (each capped at its start),
    retained_accounts`` (by the segment at the start of the ``window`` months)."""
    zero = ibis.literal(0, "int64")  # pragma: no mutate (type names are case-insensitive)
    both = ibis.union(
        amm.select("account_id", mi=amm.mi + window, start=amm.mrr, end=zero),
        amm.select("account_id", "mi", start=zero, end=amm.mrr),
        # one row per account and month in each part, start or end > 0: none alike either way
        distinct=False,  # pragma: no mutate
    )
    j = both.group_by("account_id", "mi").agg(start=both.start.sum(), end=both.end.sum())
    j = j.filter(j.start > 0)
    j, keys = with_segment(j, segments, back=window - 1)
    capped = ibis.cases((j.end < j.start, j.end), else_=j.start)  # pragma: no mutate (`<=`: end == start either way)
    return j.group_by(["mi", *keys]).agg(
        start_accounts=j.count(), start_mrr=j.start.sum(), end_mrr=j.end.sum(), retained_mrr=capped.sum(),
        retained_accounts=(j.end > 0).sum(),
    )  # fmt: skip


def trailing_accounts(amm: ibis.Table, mi: int, window: int = 12) -> ibis.Table:
    """The accounts behind a 12-month figure: ``account_id, start, end`` at ``mi``."""
    start = amm.filter(amm.mi == mi - window).select(account_id="account_id", start="mrr")
    end = amm.filter(amm.mi == mi).select(e_account="account_id", end="mrr")
    j = start.left_join(end, start.account_id == end.e_account)
    return j.select("account_id", "start", end=ibis.coalesce(j.end, 0))


def account_months(amm: ibis.Table, segments: ibis.Table | None = None) -> ibis.Table:
    """``account_id, mi, mrr`` (:func:`account_mrr`) and, with segments, each row's
    ``segment`` (at the start of month ``mi``) and ``next_segment`` (at the start of
    ``mi + 1``): all that :func:`revenue_totals` needs, fetched in one query."""
    if segments is None:
        return amm.select("account_id", "mi", "mrr")
    nxt, _ = with_segment(amm.select("account_id", "mi", "mrr"), segments, back=-1)
    nxt = nxt.rename(next_segment="segment")
    out, _ = with_segment(nxt, segments)
    return out.select("account_id", "mi", "mrr", "segment", "next_segment")


@dataclass(frozen=True)
class RevenueTotals:
    """What :func:`mrr_totals`, :func:`movement_totals` (of :func:`movements_by_account`),
    :func:`trailing_totals` and :func:`start_totals` compute on the backend, computed from
    one fetch of the account-month MRR (:func:`revenue_totals`): the same rows and values."""

    mrr: pd.DataFrame
    movements: pd.DataFrame
    trailing: pd.DataFrame
    start: pd.DataFrame


def revenue_totals(grid: MonthGrid, months: pd.DataFrame, first_earned_on: pd.DataFrame, window: int = 12) -> RevenueTotals:
    """The revenue totals (by ``segment`` when ``months`` has one) from :func:`account_months`
    and :func:`first_earned` fetched once, with the definitions of :func:`mrr_totals`,
    :func:`movements_by_account` + :func:`movement_totals`, :func:`trailing_totals` and
    :func:`start_totals` (the KPI tests check both ways give the same report): on SQLite the
    four queries re-scanned the account-month MRR and its segments (0.6 s of a report at
    10,000 accounts); here each is a pass over arrays of accounts × months."""
    keys = ["segment"] if "segment" in months.columns else []
    # equivalent mutants on the dtypes of this block: the columns are int64 already, and the
    # MRR matrix in floats holds the same whole numbers (every total is cast to int64); a
    # wider matrix has more room, never read
    ids, row_account = np.unique(months["account_id"].to_numpy(dtype="int64"), return_inverse=True)  # pragma: no mutate
    row_mi = months["mi"].to_numpy(dtype="int64")  # pragma: no mutate
    row_mrr = months["mrr"].to_numpy(dtype="int64")  # pragma: no mutate
    width = grid.size + window + 1  # pragma: no mutate (every month a row or a shifted copy of it can land in)
    mrr = np.zeros((len(ids), width), dtype="int64")  # pragma: no mutate
    mrr[row_account, row_mi] = row_mrr

    def frame(columns: dict[str, Any], codes: np.ndarray | None, names: Any) -> pd.DataFrame:
        out = pd.DataFrame(columns)
        if keys:
            # equivalent mutant (another position): every frame is grouped by its keys, which come first
            out.insert(1, "segment", names.take(codes))  # pragma: no mutate
        return out

    # segments as codes: the segment at the start of a row's month and of the next
    # equivalent mutants: read only with segments (then set below); factorize ignores the index
    names: Any = None  # pragma: no mutate
    seg = nxt = np.zeros(0, dtype="int64")  # pragma: no mutate
    if keys:
        both = pd.concat([months["segment"], months["next_segment"]], ignore_index=True)  # pragma: no mutate
        codes, names = pd.factorize(both)
        seg, nxt = codes[: len(months)], codes[len(months) :]

    def totals(columns: dict[str, Any], codes: np.ndarray | None, by: list[str], sums: dict[str, tuple[str, str]]) -> pd.DataFrame:
        data = frame(columns, codes, names)
        out = data.groupby(by, as_index=False, sort=True).agg(**sums)  # pragma: no mutate (the defaults: the same frame)
        for col in sums:
            out[col] = out[col].astype("int64")
        return out

    index = ["mi", *keys]
    mrr_t = totals({"mi": row_mi, "mrr": row_mrr}, seg, index, {"mrr": ("mrr", "sum"), "accounts": ("mrr", "size")})
    start_t = totals({"mi": row_mi + 1, "start_mrr": row_mrr}, nxt, index,
                     {"start_mrr": ("start_mrr", "sum"), "start_accounts": ("start_mrr", "size")})  # fmt: skip

    # movements: every account and month 1 … last whose MRR changed from the month before
    cur, prev = mrr[:, 1 : grid.size], mrr[:, : grid.size - 1]
    acc, col = np.nonzero(cur != prev)
    m = col + 1
    c, p = cur[acc, col], prev[acc, col]
    mv_codes: np.ndarray | None = None  # pragma: no mutate (read only with segments, then set below)
    if keys:  # the segment of month m: its own row's, or (churned) the previous month's next one
        # equivalent mutants (another fill, float): only cells of rows that exist are read
        seg_at = np.full(mrr.shape, -1, dtype="int64")  # pragma: no mutate
        nxt_at = np.full(mrr.shape, -1, dtype="int64")  # pragma: no mutate
        seg_at[row_account, row_mi] = seg
        nxt_at[row_account, row_mi] = nxt
        mv_codes = np.where(c > 0, seg_at[acc, m], nxt_at[acc, m - 1])
    # equivalent mutants on the dtypes: days, seconds, nanoseconds or dates compare alike
    fe_accounts = first_earned_on["account_id"].to_numpy(dtype="int64")  # pragma: no mutate
    fe = pd.Series(pd.to_datetime(first_earned_on["first_earned"]).to_numpy(dtype="datetime64[D]"),  # pragma: no mutate
                   index=fe_accounts)  # fmt: skip
    by_account = fe.reindex(ids)  # in the order of the MRR matrix's rows
    first = by_account.to_numpy(dtype="datetime64[D]")[acc]  # pragma: no mutate
    snapshots = np.array(grid.frame()["snapshot"].tolist(), dtype="datetime64[D]")  # pragma: no mutate
    kind = np.select(
        # `c >= p`: the same (months with c == p are not movements)
        [(p == 0) & (first > snapshots[m - 1]), p == 0, c == 0, c > p],  # pragma: no mutate
        ["new", "reactivation", "churned", "expansion"],
        default="contraction",
    )
    mv_data = frame({"mi": m, "kind": kind, "delta": c - p}, mv_codes, names)
    mv_t = mv_data.groupby([*index, "kind"], as_index=False, sort=True).agg(  # pragma: no mutate (the defaults)
        accounts=("delta", "size"), amount=("delta", "sum")
    )
    for name in ("accounts", "amount"):
        mv_t[name] = mv_t[name].astype("int64")
    mv_t["kind"] = mv_t["kind"].astype(str)

    # trailing: each account paying at month mi0 followed to mi0 + window, in its segment at
    # the start of the window's months (mi0 + 1)
    end = mrr[row_account, row_mi + window]
    kept = np.where(end < row_mrr, end, row_mrr)  # pragma: no mutate (`<=`: end == start either way)
    tr_t = totals(
        # `.astype(None)`: floats of the same 0/1, summed and cast to int64
        {"mi": row_mi + window, "start": row_mrr, "end": end, "kept": kept, "retained": (end > 0).astype("int64")},  # pragma: no mutate
        nxt, index,
        {"start_accounts": ("start", "size"), "start_mrr": ("start", "sum"), "end_mrr": ("end", "sum"),
         "retained_mrr": ("kept", "sum"), "retained_accounts": ("retained", "sum")},
    )  # fmt: skip
    return RevenueTotals(mrr_t, mv_t, tr_t, start_t)


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    # `astype(None)` is float64 too (numpy's default dtype)
    num = num.astype("float64")  # pragma: no mutate
    den = den.astype("float64")  # pragma: no mutate
    return num / den.where(den != 0)


def revenue_table(
    grid: MonthGrid,
    mrr: pd.DataFrame,
    movements: pd.DataFrame,
    trailing: pd.DataFrame,
    keys: list[str] | None = None,
    *,
    lookback: bool = False,
    start: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per reported month (and segment): MRR, ARR, paying accounts, each movement,
    net change, logo and revenue churn rates, GRR and NRR (monthly and 12-month).
    ``lookback``: keep the grid's earlier months too. ``start``: each month's starting MRR
    and accounts (:func:`start_totals`, by segment); without it, the month before's."""
    keys = keys or []
    labels = grid.labels()
    index_cols = ["mi", *keys]
    if start is not None:  # the last snapshot starts a month beyond the grid
        start = start[start["mi"] < grid.size]
    trailing = trailing[trailing["mi"] < grid.size]  # (trailing windows end beyond it too)
    if keys:
        found = set(mrr["segment"]).union(movements["segment"]).union(trailing["segment"])
        segs = sorted(found.union(start["segment"]) if start is not None else found)
        base = pd.DataFrame([(mi, s) for mi in range(grid.size) for s in segs], columns=index_cols)
    else:
        base = pd.DataFrame({"mi": range(grid.size)})
    # each merge's frames have only the index columns in common: `on` left out would be the same
    out = base.merge(
        mrr, how="left",
        on=index_cols,  # pragma: no mutate
    )
    out[["mrr", "accounts"]] = out[["mrr", "accounts"]].fillna(0).astype("int64")
    # each movement's amount and accounts as columns (new, new_accounts, expansion, …): one
    # group-by and one merge for the ten of them
    # equivalent mutants: without `values`, the other columns are these two; and the rows of
    # movement totals are one per (month, [segment], kind), so any aggregate (mean) is the value
    wide = movements[movements["kind"].isin(MOVEMENTS)].pivot_table(
        index=index_cols, columns="kind", values=["amount", "accounts"], aggfunc="sum"  # pragma: no mutate
    )
    names = {("amount", k): k for k in MOVEMENTS} | {("accounts", k): f"{k}_accounts" for k in MOVEMENTS}
    wide.columns = [names[(str(c[0]), str(c[1]))] for c in wide.columns.to_list()]
    wide = wide.reindex(columns=[f"{k}{s}" for k in MOVEMENTS for s in ("", "_accounts")]).reset_index()
    out = out.merge(
        wide, how="left",
        on=index_cols,  # pragma: no mutate
    )
    for col in (f"{k}{s}" for k in MOVEMENTS for s in ("", "_accounts")):
        out[col] = out[col].fillna(0).astype("int64")
    out = out.sort_values(index_cols).reset_index(drop=True)
    group = out.groupby(keys)["mrr"] if keys else out["mrr"]
    prev_mrr = group.shift(1)
    prev_accounts = (out.groupby(keys)["accounts"] if keys else out["accounts"]).shift(1)
    if start is not None:
        out = out.merge(
            start, how="left",
            on=index_cols,  # pragma: no mutate
        )
        out["start_mrr"] = out["start_mrr"].fillna(0).astype("int64")
        out["start_accounts"] = out["start_accounts"].fillna(0).astype("int64")
    else:
        out["start_mrr"] = prev_mrr.fillna(0).astype("int64")
        out["start_accounts"] = prev_accounts.fillna(0).astype("int64")
    out["net_change"] = out[list(MOVEMENTS)].sum(axis=1).astype("int64")
    out["arr"] = out["mrr"] * 12
    lost = -(out["churned"] + out["contraction"])
    out["logo_churn_rate"] = _ratio(out["churned_accounts"], out["start_accounts"])
    out["revenue_churn_rate"] = _ratio(lost, out["start_mrr"])
    out["grr"] = _ratio(out["start_mrr"] - lost, out["start_mrr"])
    out["nrr"] = _ratio(out["start_mrr"] + out["expansion"] - lost, out["start_mrr"])
    tr = trailing.rename(columns={"start_mrr": "start_mrr_12m", "end_mrr": "end_mrr_12m",
                                  "retained_mrr": "retained_mrr_12m", "start_accounts": "start_accounts_12m",
                                  "retained_accounts": "retained_accounts_12m"})  # fmt: skip
    out = out.merge(
        tr, how="left",
        on=index_cols,  # pragma: no mutate
    )
    for col in ("start_mrr_12m", "end_mrr_12m", "retained_mrr_12m", "start_accounts_12m", "retained_accounts_12m"):
        out[col] = out[col].fillna(0).astype("int64")
    out["grr_12m"] = _ratio(out["retained_mrr_12m"], out["start_mrr_12m"])
    out["nrr_12m"] = _ratio(out["end_mrr_12m"], out["start_mrr_12m"])
    out["logo_retention_12m"] = _ratio(out["retained_accounts_12m"], out["start_accounts_12m"])
    out = out[out["mi"] >= (1 if lookback else grid.first_reported)].copy()
    out.insert(1, "month", [labels[mi] for mi in out["mi"]])
    return out.reset_index(drop=True)


def trailing_logo_churn(table: pd.DataFrame, months: int = 12) -> float | None:
    """Average monthly logo churn over the last ``months`` rows of :func:`revenue_table`
    (no segments, ``lookback=True``): churned accounts ÷ paying accounts at the starts of
    those months, summed."""
    tail = table.tail(months)
    start = int(tail["start_accounts"].sum())
    if start == 0:
        return None
    return float(tail["churned_accounts"].sum()) / start


def as_float(value: float | np.floating | None) -> float | None:
    if value is None or (isinstance(value, float | np.floating) and np.isnan(value)):
        return None
    return float(value)
