"""Support KPIs (カスタマーサポート): ticket volume, first-response time (mean and
median), answer rate (回答率), resolution rate (解決率), exchanges to resolve, CSAT.

Per month of ``opened_at`` (in the reporting zone), looking only at what had happened
by the end of ``as_of``:

- **answered**: a first response by then; **first-response time** = its time minus
  ``opened_at`` (seconds; answered tickets only); **answer rate** = answered ÷ opened.
- **resolved**: ``resolved_at`` by then; **resolution rate** = resolved ÷ opened;
  **exchanges to resolve** = mean ``message_count`` of resolved tickets.
- **CSAT** = mean of the tickets' 1–5 ratings; **CSAT %** = share rated 4 or 5.
"""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd

from kizuna.analytics.backend import StoreTables
from kizuna.analytics.periods import MonthGrid
from kizuna.analytics.success import in_month


def ticket_facts(t: StoreTables, grid: MonthGrid) -> ibis.Table:
    """One row per ticket opened in the grid: ``id, account_id, mi, answered,
    frt_seconds, resolved, message_count, csat``."""
    k = in_month(t.tickets, "opened_at", grid)
    end = grid.end_epoch()
    fr = k.first_response_at.epoch_seconds()
    rs = k.resolved_at.epoch_seconds()
    answered = k.first_response_at.notnull() & (fr < end)
    resolved = k.resolved_at.notnull() & (rs < end)
    return k.select(
        "id", "account_id", "mi",
        answered=answered,
        frt_seconds=ibis.cases((answered, fr - k._epoch)),
        resolved=resolved,
        message_count=k.message_count,
        csat=k.csat,
    )  # fmt: skip


def fetched_ticket_facts(t: StoreTables, grid: MonthGrid) -> pd.DataFrame:
    """:func:`ticket_facts` fetched, each ticket placed in its month here rather than in SQL:
    the same rows and values (the report's way). SQLite evaluates ``opened_at``'s epoch again
    at every comparison of :func:`in_month`'s nested ``CASE`` (about eight a ticket); here
    it is fetched once and the month found by a binary search over the same boundaries."""
    frame = grid.frame()
    # equivalent mutants on the lines marked in this function: the dtypes (the grid's epochs and
    # the opening epochs are int64 already; astype(None) is float64, pandas' default)
    starts = frame["start_epoch"].to_numpy(dtype="int64")  # pragma: no mutate
    end = grid.end_epoch()
    k = t.tickets
    opened = k.opened_at.epoch_seconds()
    rows = k.filter(opened >= int(starts[0]), opened < int(frame["end_epoch"].iloc[-1])).select(
        "id", "account_id", "message_count", "csat", _epoch=opened,
        fr=k.first_response_at.epoch_seconds(), rs=k.resolved_at.epoch_seconds(),
    ).execute()  # fmt: skip
    epoch = rows["_epoch"].to_numpy(dtype="int64")  # pragma: no mutate
    fr = pd.to_numeric(rows["fr"]).astype("float64")  # pragma: no mutate
    rs = pd.to_numeric(rows["rs"]).astype("float64")  # pragma: no mutate
    answered = (fr.notna() & (fr < end)).to_numpy()
    return pd.DataFrame({
        "id": rows["id"].to_numpy(),
        "account_id": rows["account_id"].to_numpy(),
        # the last month boundary at or before the ticket (the rows start at the first one)
        "mi": np.searchsorted(starts, epoch, side="right") - 1,
        "answered": answered,
        "frt_seconds": np.where(answered, fr.to_numpy() - epoch, np.nan),
        "resolved": (rs.notna() & (rs < end)).to_numpy(),
        "message_count": rows["message_count"].to_numpy(),
        "csat": rows["csat"].to_numpy(),
    })  # fmt: skip


def _median(facts: ibis.Table, keys: list[str]) -> ibis.Table:
    a = facts.filter(facts.answered)
    w = (
        ibis.window(group_by=keys, order_by=[a.frt_seconds, a.id])
        if keys
        else ibis.window(order_by=[a.frt_seconds, a.id])
    )
    wn = ibis.window(group_by=keys) if keys else ibis.window()
    r = a.mutate(rn=ibis.row_number().over(w), n=a.frt_seconds.count().over(wn))
    mid = r.filter((r.rn == (r.n - 1) // 2) | (r.rn == r.n // 2))
    if keys:
        return mid.group_by(keys).agg(median_frt_seconds=mid.frt_seconds.mean())
    return mid.agg(median_frt_seconds=mid.frt_seconds.mean())


def support_by_month(facts: ibis.Table) -> tuple[ibis.Table, ibis.Table]:
    """(per month, its medians): sums and counts by ``mi``."""
    return _sums(facts, ["mi"]), _median(facts, ["mi"])


def support_totals(facts: ibis.Table, first_mi: int) -> tuple[ibis.Table, ibis.Table]:
    """The same over the reported window (``mi ≥ first_mi``)."""
    f = facts.filter(facts.mi >= first_mi)
    return _sums(f, []), _median(f, [])


def _sums(f: ibis.Table, keys: list[str]) -> ibis.Table:
    rated = f.csat.notnull()
    metrics = {
        "tickets": f.count(),
        "answered": f.answered.sum(),
        "frt_seconds_sum": f.frt_seconds.sum(),
        "resolved": f.resolved.sum(),
        "resolved_messages": ibis.cases((f.resolved, f.message_count), else_=0).sum(),
        "rated": rated.sum(),
        "csat_sum": f.csat.sum(),
        "satisfied": (f.csat >= 4).sum(),
    }
    return f.group_by(keys).agg(**metrics) if keys else f.agg(**metrics)


def support_frames(facts: pd.DataFrame, first_mi: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """:func:`support_by_month` and :func:`support_totals` (sums, medians; by month, then
    over ``mi ≥ first_mi``) from :func:`ticket_facts` fetched once: the same figures without
    a temporary table and four queries (the report's way; the tests check both ways)."""
    # equivalent mutants on the lines marked in this function: the dtypes (the facts come as
    # bool, int and float already; support_table turns every count into int64 with
    # to_numeric/fillna, and None where NaN was is skipped by the sums as NaN is), the
    # group-by's defaults (support_table sorts by month) and `medians(window, None)` (false)
    answered = facts["answered"].to_numpy(dtype=bool)  # pragma: no mutate
    resolved = facts["resolved"].to_numpy(dtype=bool)  # pragma: no mutate
    csat = pd.to_numeric(facts["csat"]).to_numpy(dtype="float64")  # pragma: no mutate
    frt = pd.to_numeric(facts["frt_seconds"]).to_numpy(dtype="float64")  # pragma: no mutate
    frt = np.where(answered, frt, np.nan)  # pragma: no mutate
    messages = pd.to_numeric(facts["message_count"]).to_numpy(dtype="float64")  # pragma: no mutate
    parts = pd.DataFrame({
        "mi": facts["mi"].to_numpy(),
        "tickets": np.ones(len(facts), dtype="int64"),  # pragma: no mutate
        "answered": answered,  # booleans: their sums are counts
        "frt_seconds_sum": frt,
        "resolved": resolved,
        # a resolved ticket without a message count adds nothing, as SQL's SUM skips a NULL
        "resolved_messages": np.where(resolved, messages, 0.0),  # pragma: no mutate
        "rated": ~np.isnan(csat),
        "csat_sum": csat,
        "satisfied": csat >= 4,
        "id": facts["id"].to_numpy(),
    })  # fmt: skip
    columns = ["tickets", "answered", "frt_seconds_sum", "resolved", "resolved_messages", "rated", "csat_sum",
               "satisfied"]  # fmt: skip
    sums = parts.groupby("mi", as_index=False, sort=True)[columns].sum()  # pragma: no mutate
    window = parts[parts["mi"] >= first_mi]
    total = pd.DataFrame([window[columns].sum().to_numpy()], columns=columns)

    def medians(part: pd.DataFrame, by_month: bool) -> pd.DataFrame:
        # the middle one (odd count) or the mean of the middle two (even), ordered by time then id
        a = part[part["answered"]].sort_values(["mi", "frt_seconds_sum", "id"] if by_month else
                                                    ["frt_seconds_sum", "id"])  # fmt: skip
        values = a["frt_seconds_sum"].to_numpy()
        if not by_month:
            n = len(values)
            middle = (values[(n - 1) // 2] + values[n // 2]) / 2 if n else np.nan
            return pd.DataFrame({"median_frt_seconds": [middle]})
        months, starts, counts = np.unique(a["mi"].to_numpy(), return_index=True, return_counts=True)
        middle = (values[starts + (counts - 1) // 2] + values[starts + counts // 2]) / 2
        return pd.DataFrame({"mi": months.astype("int64"), "median_frt_seconds": middle.astype("float64")})  # pragma: no mutate

    return sums, medians(parts, True), total, medians(window, False)  # pragma: no mutate


def support_table(sums: pd.DataFrame, medians: pd.DataFrame, labels: list[str] | None = None) -> pd.DataFrame:
    """Rates and averages from :func:`support_by_month` / :func:`support_totals`."""
    keys = ["mi"] if "mi" in sums.columns else []
    out = sums.merge(medians, on=keys, how="left") if keys else pd.concat([sums, medians], axis=1)
    for col in ("tickets", "answered", "resolved", "resolved_messages", "rated", "csat_sum", "satisfied",
                "frt_seconds_sum"):  # fmt: skip
        out[col] = pd.to_numeric(out[col]).fillna(0).astype("int64")

    def div(a: str, b: str) -> pd.Series:
        den = out[b].astype("float64")  # pragma: no mutate (astype(None) is float64 too)
        return out[a].astype("float64") / den.where(den != 0)

    out["answer_rate"] = div("answered", "tickets")
    out["resolution_rate"] = div("resolved", "tickets")
    out["mean_frt_hours"] = div("frt_seconds_sum", "answered") / 3600
    out["median_frt_hours"] = pd.to_numeric(out["median_frt_seconds"]).astype("float64") / 3600
    out["exchanges_to_resolve"] = div("resolved_messages", "resolved")
    out["csat"] = div("csat_sum", "rated")
    out["csat_pct"] = div("satisfied", "rated")
    out = out.drop(columns=["median_frt_seconds"])
    if keys:
        out = out.sort_values("mi").reset_index(drop=True)
        if labels is not None:
            out.insert(1, "month", [labels[mi] for mi in out["mi"]])
    return out
