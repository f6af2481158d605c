"""Customer-success KPIs: onboarding completion (オンボーディング達成率), upsell and
cross-sell rates (アップセル率・クロスセル率), user effort (tickets per paying account),
NPS, and product usage.

- **Onboarding completion rate** = accounts whose every milestone was completed by the
  end of ``as_of`` ÷ accounts with milestones whose first subscription line (trial
  included) started within the window. **Time to complete** = days from that start to
  the last milestone's completion (mean and median, completed accounts only).
- **Upsell rate** = accounts paying at the window's start whose highest-ranked earning
  plan at the end ranks above the one at the start ÷ accounts paying at the start.
- **Cross-sell rate** = accounts paying at the window's start that earn, at the end, an
  add-on product they did not earn at the start ÷ accounts paying at the start.
- **Tickets per paying account** = tickets opened in the month ÷ accounts paying at its
  snapshot; its *trend* is the least-squares slope per month over the window (negative:
  effort is going down).
- **NPS** = % promoters (9–10) − % detractors (0–6) of the NPS answers of the month.
- **Usage**: accounts with any usage figure above zero in the month (monthly active
  accounts) and the sum of the ``events`` figure.
"""

from __future__ import annotations

from datetime import date

import ibis
import numpy as np
import pandas as pd

from kizuna.analytics.backend import StoreTables
from kizuna.analytics.periods import MonthGrid
from kizuna.analytics.revenue import days, earning_lines, earns_at, segment_of, with_segment


def in_month(table: ibis.Table, column: str, grid: MonthGrid) -> ibis.Table:
    """``table`` with ``_epoch`` (the timestamp ``column`` in UTC epoch seconds) and
    ``mi``: the grid month it falls in (rows outside the grid dropped).

    The month is found by comparing ``_epoch`` with the grid's month boundaries in a
    binary search written as nested ``CASE`` expressions (about five comparisons a
    row), not by joining every row to every month."""
    frame = grid.frame()
    starts = [int(v) for v in frame["start_epoch"]]
    end = int(frame["end_epoch"].iloc[-1])
    t = table.mutate(_epoch=table[column].epoch_seconds())
    t = t.filter(t._epoch >= starts[0], t._epoch < end)

    def bucket(lo: int, hi: int) -> ibis.Value:  # months lo … hi-1 (contiguous)
        if hi - lo == 1:
            return ibis.literal(lo, "int64")
        mid = (lo + hi) // 2
        return ibis.cases((t._epoch < starts[mid], bucket(lo, mid)), else_=bucket(mid, hi))

    return t.mutate(mi=bucket(0, len(starts)))


# --- onboarding --------------------------------------------------------------------------


def onboarding_accounts(t: StoreTables, grid: MonthGrid) -> ibis.Table:
    """Per account with milestones: ``account_id, started_on, milestones, completed,
    last_completed_epoch`` (completions after ``as_of`` do not count)."""
    m = t.onboarding_milestones
    end = grid.end_epoch()
    epoch = m.completed_at.epoch_seconds()
    done = m.completed_at.notnull() & (epoch < end)
    per = m.group_by("account_id").agg(
        milestones=m.count(), completed=done.sum(), last_completed_epoch=ibis.cases((done, epoch)).max()
    )
    s = t.subscriptions
    starts = s.group_by(s_account=s.account_id).agg(started_on=s.started_on.min())
    j = per.join(starts, per.account_id == starts.s_account)
    first_day = grid.frame()["first_day"].iloc[grid.first_reported]
    j = j.filter(j.started_on >= first_day, j.started_on <= grid.as_of)
    return j.select("account_id", "started_on", "milestones", "completed", "last_completed_epoch")


def onboarding_summary(frame: pd.DataFrame, zone: str) -> dict[str, float | int | None]:
    """Completion rate and time to complete (days) from :func:`onboarding_accounts`."""
    from zoneinfo import ZoneInfo

    n = len(frame)
    complete = frame[frame["completed"] >= frame["milestones"]]
    # each start's local midnight in epoch seconds (whole seconds: every zone's offset is),
    # for all the accounts at once (a Timestamp per account was 0.1 s of a 10,000-account report)
    local = pd.to_datetime(complete["started_on"]).dt.tz_localize(ZoneInfo(zone))
    # as UTC instants without a zone (`tz_convert(None)` or "utc": the same)
    utc = local.dt.tz_convert("UTC").dt.tz_localize(None)  # pragma: no mutate
    seconds = utc.to_numpy().astype("datetime64[s]")
    # equivalent mutants (dtypes): whole seconds as ints or floats, subtracted as floats
    start = seconds.astype("int64")  # pragma: no mutate
    spent = (complete["last_completed_epoch"].to_numpy(dtype="float64") - start.astype("float64")) / 86400  # pragma: no mutate
    # max(0, x) as Python's max: x when above 0, else 0 (a tick before the start counts 0
    # days); `>=` is the same (0 either way)
    days = np.where(spent > 0.0, spent, 0.0)  # pragma: no mutate
    return {
        "accounts": n,
        "completed": len(complete),
        "completion_rate": len(complete) / n if n else None,
        "mean_days_to_complete": float(np.mean(days)) if len(days) else None,
        "median_days_to_complete": float(np.median(days)) if len(days) else None,
    }


# --- upsell and cross-sell ---------------------------------------------------------------


def _earning_at(t: StoreTables, currency: str, day: date) -> ibis.Table:
    lines = earning_lines(t, currency)
    lines = lines.filter(earns_at(lines, day))
    p = t.products.select(p_id="id", kind="kind", rank="rank")
    return lines.join(p, lines.product_id == p.p_id)


def expansion_accounts(t: StoreTables, grid: MonthGrid, currency: str) -> tuple[ibis.Table, ibis.Table, ibis.Table]:
    """(base, upsold, cross-sold) accounts over the reported window: ``account_id`` each.

    ``base``: paying at the snapshot before the first reported month; ``upsold``: of
    those, a higher-ranked plan earning at ``as_of``; ``cross-sold``: an add-on earning at
    ``as_of`` that was not earning at the start."""
    start_day = grid.frame()["snapshot"].iloc[grid.first_reported - 1]
    start = _earning_at(t, currency, start_day)
    end = _earning_at(t, currency, grid.as_of)
    base = start.group_by("account_id").agg(paying=start.amount.sum())
    base = base.filter(base.paying > 0).select("account_id")
    sp = start.filter(start.kind == "plan").group_by("account_id").agg(start_rank=ibis._.rank.max())
    ep = end.filter(end.kind == "plan").group_by("account_id").agg(end_rank=ibis._.rank.max())
    ep = ep.rename(e_account="account_id")
    up = sp.join(ep, sp.account_id == ep.e_account)
    upsold = up.filter(up.end_rank > up.start_rank).select("account_id")
    upsold = upsold.semi_join(base, "account_id")
    sa = start.filter(start.kind == "addon").select(s_account="account_id", s_product="product_id").distinct()
    ea = end.filter(end.kind == "addon").select("account_id", "product_id").distinct()
    new_addons = ea.anti_join(sa, [ea.account_id == sa.s_account, ea.product_id == sa.s_product])
    cross = new_addons.select("account_id").distinct().semi_join(base, "account_id")
    return base, upsold, cross


def expansion_counts(grid: MonthGrid, lines: pd.DataFrame) -> tuple[int, int, int]:
    """The sizes of :func:`expansion_accounts` (base, upsold, cross-sold) from
    :func:`kizuna.analytics.revenue.line_facts` fetched."""
    # dates: in days
    start_day = np.datetime64(grid.frame()["snapshot"].iloc[grid.first_reported - 1])
    end_day = np.datetime64(grid.as_of)
    begin, stop = days(lines["earn_start"]), days(lines["ended_on"])
    known = lines["kind"].notna().to_numpy()  # the SQL form joins the lines with their product

    def at(day: np.datetime64) -> pd.DataFrame:
        earning: pd.DataFrame = lines[known & (begin <= day) & (np.isnat(stop) | (stop > day))]
        return earning

    start, end = at(start_day), at(end_day)
    paying = start.groupby("account_id")["amount"].sum()
    base = set(paying.index[paying.to_numpy() > 0].tolist())
    start_rank = start[start["kind"] == "plan"].groupby("account_id")["rank"].max()
    end_rank = end[end["kind"] == "plan"].groupby("account_id")["rank"].max()
    both = start_rank.index.intersection(end_rank.index)
    upsold = {a for a in both[(end_rank[both] > start_rank[both]).to_numpy()].tolist() if a in base}
    pair = ["account_id", "product_id"]
    had = set(map(tuple, start.loc[start["kind"] == "addon", pair].to_numpy().tolist()))
    added = end.loc[end["kind"] == "addon", pair].to_numpy().tolist()
    cross = {a for a, p in added if (a, p) not in had and a in base}
    return len(base), len(upsold), len(cross)


# --- effort, NPS, usage ------------------------------------------------------------------


def tickets_by_month(t: StoreTables, grid: MonthGrid) -> ibis.Table:
    """``mi, tickets``: tickets opened in each month."""
    k = in_month(t.tickets, "opened_at", grid)
    return k.group_by("mi").agg(tickets=k.count())


def effort_table(grid: MonthGrid, tickets: pd.DataFrame, paying: pd.DataFrame) -> tuple[pd.DataFrame, float | None]:
    """Tickets per paying account by reported month, and the trend (slope per month)."""
    labels = grid.labels()
    out = pd.DataFrame({"mi": range(grid.first_reported, grid.size)})
    out = out.merge(tickets, on="mi", how="left").merge(paying[["mi", "accounts"]], on="mi", how="left")
    out[["tickets", "accounts"]] = out[["tickets", "accounts"]].fillna(0).astype("int64")
    out["tickets_per_account"] = out["tickets"] / out["accounts"].where(out["accounts"] != 0)
    out.insert(1, "month", [labels[mi] for mi in out["mi"]])
    # `subset=None` would be the same: no other column is ever missing (counts filled, labels)
    series = out.dropna(subset=["tickets_per_account"])  # pragma: no mutate
    trend = None
    if len(series) >= 2:
        trend = float(np.polyfit(series["mi"], series["tickets_per_account"], 1)[0])
    return out, trend


def nps_by_month(t: StoreTables, grid: MonthGrid, segments: ibis.Table | None = None) -> ibis.Table:
    """``mi, [segment], responses, promoters, passives, detractors`` of NPS answers (by
    the segment at the start of the month)."""
    r = t.survey_responses
    r = in_month(r.filter(r.kind == "nps"), "answered_at", grid)
    r, keys = with_segment(r, segments)
    return r.group_by(["mi", *keys]).agg(
        responses=r.count(),
        promoters=(r.score >= 9).sum(),
        passives=((r.score >= 7) & (r.score <= 8)).sum(),
        detractors=(r.score <= 6).sum(),
    )


def nps_answers(t: StoreTables, grid: MonthGrid) -> pd.DataFrame:
    """The NPS answers of the grid's months fetched: ``account_id, mi, score``; each answer
    placed in its month by a binary search over :func:`in_month`'s boundaries (SQLite would
    evaluate the answer's epoch at each comparison of its nested ``CASE``)."""
    frame = grid.frame()
    starts = frame["start_epoch"].to_numpy()
    r = t.survey_responses
    epoch = r.answered_at.epoch_seconds()
    rows = r.filter(r.kind == "nps", epoch >= int(starts[0]), epoch < int(frame["end_epoch"].iloc[-1])).select(
        "account_id", "score", _epoch=epoch
    ).execute()  # fmt: skip
    return pd.DataFrame({
        "account_id": rows["account_id"].to_numpy(),
        "mi": np.searchsorted(starts, rows["_epoch"].to_numpy(), side="right") - 1,
        "score": rows["score"].to_numpy(),
    })  # fmt: skip


def nps_counts(answers: pd.DataFrame, segments: pd.DataFrame | None = None) -> pd.DataFrame:
    """:func:`nps_by_month` from :func:`nps_answers` (and the segments) fetched."""
    a = answers
    keys = []
    if segments is not None:
        a = a.assign(segment=segment_of(a, segments))
        keys = ["segment"]
    score = a["score"]
    a = a.assign(promoters=score >= 9, passives=(score >= 7) & (score <= 8), detractors=score <= 6)
    out = a.groupby(["mi", *keys], as_index=False).agg(  # pragma: no mutate (as_index=None: false too)
        responses=("score", "size"), promoters=("promoters", "sum"), passives=("passives", "sum"),
        detractors=("detractors", "sum"),
    )  # fmt: skip
    for col in ("responses", "promoters", "passives", "detractors"):
        out[col] = out[col].astype("int64")
    return out


def nps_table(grid: MonthGrid, counts: pd.DataFrame, keys: list[str] | None = None) -> pd.DataFrame:
    keys = keys or []
    labels = grid.labels()
    out = counts[counts["mi"] >= grid.first_reported].copy()
    for col in ("responses", "promoters", "passives", "detractors"):
        out[col] = out[col].astype("int64")
    out["nps"] = 100.0 * (out["promoters"] - out["detractors"]) / out["responses"]
    out.insert(1, "month", [labels[mi] for mi in out["mi"]])
    return out.sort_values(["mi", *keys]).reset_index(drop=True)


def usage_by_month(t: StoreTables, grid: MonthGrid) -> ibis.Table:
    """``mi, active_accounts, events`` for the reported months: accounts with any usage
    figure above zero in the month (up to ``as_of``) and the sum of their ``events``
    figures above zero.

    Where the store keeps the monthly rollup (``t.usage_monthly``: ``kizuna.db.usage_months``),
    the months before the last are read from it — one row per account and month — and
    only the last month (up to ``as_of``) from the daily rollups; otherwise every month
    from the daily rollups."""
    g = grid.table()
    g = g.filter(g.mi >= grid.first_reported)
    if t.usage_monthly is None:
        return _usage_by_day(t, g)
    # the months before the last from the monthly rollup; the last (as_of cuts it short
    # on all days but its last) from its days, by their bounds: an index range scan
    last_month = grid.frame().iloc[grid.last]
    m = t.usage_monthly
    gm = g.select(g_mi="mi", g_month="first_day")
    j = m.join(gm.filter(gm.g_month < last_month["first_day"]), m.month == gm.g_month)  # a date: no shape per number of months
    j = j.filter(j.active_rows > 0)
    months = j.group_by(mi=j.g_mi).agg(active_accounts=j.count(), events=j.events.sum())
    u = t.usage_daily
    u = u.filter((u.day >= last_month["first_day"]) & (u.day < last_month["end_day"]) & (u.value > 0))
    events = ibis.cases((u.metric == "events", u.value), else_=0.0)
    per = u.group_by("account_id").agg(events=events.sum())
    last = per.agg(active_accounts=per.count(), events=per.events.sum())
    # equivalent mutants: type names are read case-insensitively; the two parts never share a
    # month, so a distinct union would only sort
    last = last.filter(last.active_accounts > 0).select(
        mi=ibis.literal(grid.last, "int64"), active_accounts="active_accounts", events="events"  # pragma: no mutate
    )
    return months.union(last, distinct=False)  # pragma: no mutate


def _usage_by_day(t: StoreTables, g: ibis.Table) -> ibis.Table:
    """``usage_by_month`` from the daily rollups, for the months of ``g`` (the grid's rows):
    each row's ``day`` is compared with the month's boundaries (a range join on the
    small side, so an index on ``day`` serves it and no per-row date function runs),
    aggregated per (month, account) first."""
    u = t.usage_daily
    g = g.select(g_mi="mi", g_first="first_day", g_end="end_day")
    j = u.join(g, (u.day >= g.g_first) & (u.day < g.g_end))
    j = j.filter(j.value > 0)
    events = ibis.cases((j.metric == "events", j.value), else_=0.0)
    per = j.group_by(mi=j.g_mi, account_id=j.account_id).agg(events=events.sum())
    return per.group_by("mi").agg(active_accounts=per.count(), events=per.events.sum())
