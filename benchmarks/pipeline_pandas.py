"""The pandas baseline of ``benchmarks/pipeline.py``: the whole KPI report written the
straightforward way — read every table with ``pandas.read_sql``, compute in pandas.

It computes what ``kizuna.services.kpis.kpi_report`` computes, with the same
definitions (``docs/kpis.md``): MRR/ARR by month and by plan, the five MRR
movements, logo and revenue churn, GRR/NRR monthly and 12-month, cohort tables (logo
and revenue), Kaplan–Meier curves by plan (lifelines), onboarding completion and time,
upsell and cross-sell rates, tickets per paying account, NPS by month and by plan,
monthly active accounts and events, support KPIs by month and for the window (median
first response included), Pareto (top-20 % share, Gini, Lorenz) and the LTV inputs.
It skips only the other-currency count (every benchmark line is in JPY).

:func:`checks` returns figures that both implementations must agree on.
"""

from __future__ import annotations

import math
import sqlite3
import sys
import time
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

ZONE = ZoneInfo("Asia/Tokyo")
MONTHS, LOOKBACK = 12, 13


def _month_start(day: date, back: int) -> date:
    i = day.year * 12 + day.month - 1 - back
    return date(i // 12, i % 12 + 1, 1)


def _epoch(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=ZONE).timestamp())



def seconds(ts: pd.Series) -> pd.Series:
    """Epoch seconds of a datetime column, whatever its unit (pandas 3 reads SQL timestamps as
    microseconds, pandas 2 as nanoseconds); NaT stays the int64 minimum, masked by the callers."""
    return ts.dt.as_unit("s").astype("int64")

def kpis(path: str, as_of: date) -> dict[str, object]:
    con = sqlite3.connect(path)
    subs = pd.read_sql("SELECT * FROM subscriptions", con, parse_dates=["started_on", "ended_on", "trial_ends_on"])
    products = pd.read_sql("SELECT * FROM products", con)
    usage = pd.read_sql("SELECT * FROM usage_daily", con, parse_dates=["day"])
    tickets = pd.read_sql("SELECT * FROM tickets", con, parse_dates=["opened_at", "first_response_at", "resolved_at"])
    answers = pd.read_sql("SELECT * FROM survey_responses", con, parse_dates=["answered_at"])
    milestones = pd.read_sql("SELECT * FROM onboarding_milestones", con, parse_dates=["completed_at"])
    con.close()

    size = MONTHS + LOOKBACK
    last, first_rep = size - 1, LOOKBACK
    firsts = [_month_start(as_of, last - mi) for mi in range(size)]
    snaps = [min(_month_start(as_of, last - mi - 1) - timedelta(days=1), as_of) for mi in range(size)]
    starts = np.array([_epoch(d) for d in firsts])
    end_epoch = _epoch(as_of + timedelta(days=1))
    ts_snaps = [pd.Timestamp(d) for d in snaps]

    # --- revenue -------------------------------------------------------------------------
    lines = subs[(subs.status != "trial") & (subs.currency == "JPY")].copy()
    lines["earn_start"] = lines.started_on.where(~(lines.trial_ends_on > lines.started_on), lines.trial_ends_on)
    cols = {}
    for mi, d in enumerate(ts_snaps):
        live = lines[(lines.earn_start <= d) & (lines.ended_on.isna() | (lines.ended_on > d))]
        cols[mi] = live.groupby("account_id").monthly_amount.sum()
    ever = lines[
        (lines.earn_start <= pd.Timestamp(as_of)) & (lines.ended_on.isna() | (lines.ended_on > lines.earn_start))
    ]
    first_earned = ever.groupby("account_id").earn_start.min()
    amm = pd.DataFrame(cols).reindex(columns=range(size))
    amm = amm.reindex(amm.index.union(first_earned.index)).fillna(0).astype("int64")
    plans = products[products.kind == "plan"][["id", "name"]].rename(columns={"id": "product_id", "name": "plan"})
    pl = ever.merge(plans, on="product_id").sort_values(
        ["account_id", "earn_start", "monthly_amount", "product_id"], ascending=[True, False, False, True]
    )
    segment = pl.drop_duplicates("account_id").set_index("account_id").plan

    prev, cur = amm.shift(1, axis=1).fillna(0).astype("int64"), amm
    prev_snap = pd.Series([pd.NaT, *ts_snaps[:-1]], index=range(size))
    fe = first_earned.reindex(amm.index)
    new_mask = pd.DataFrame({mi: fe > prev_snap[mi] for mi in range(size)})
    kinds = {
        "new": (prev == 0) & (cur > 0) & new_mask,
        "reactivation": (prev == 0) & (cur > 0) & ~new_mask,
        "churned": (prev > 0) & (cur == 0),
        "expansion": (prev > 0) & (cur > prev),
        "contraction": (cur > 0) & (cur < prev),
    }
    delta = cur - prev

    def revenue_table(rows: pd.Index) -> pd.DataFrame:
        a, p, dl = amm.loc[rows], prev.loc[rows], delta.loc[rows]
        out = pd.DataFrame({"mrr": a.sum(), "accounts": (a > 0).sum()})
        for kind, mask in kinds.items():
            m = mask.loc[rows]
            out[kind] = dl.where(m, 0).sum()
            out[f"{kind}_accounts"] = m.sum()
        out["start_mrr"] = p.sum()
        out["start_accounts"] = (p > 0).sum()
        out["net_change"] = out[list(kinds)].sum(axis=1)
        out["arr"] = out.mrr * 12
        lost = -(out.churned + out.contraction)
        out["logo_churn_rate"] = out.churned_accounts / out.start_accounts.replace(0, np.nan)
        out["revenue_churn_rate"] = lost / out.start_mrr.replace(0, np.nan)
        out["grr"] = (out.start_mrr - lost) / out.start_mrr.replace(0, np.nan)
        out["nrr"] = (out.start_mrr + out.expansion - lost) / out.start_mrr.replace(0, np.nan)
        then = a.shift(12, axis=1).fillna(0)
        base = then > 0
        s12 = then.where(base, 0).sum()
        out["nrr_12m"] = a.where(base, 0).sum() / s12.replace(0, np.nan)
        out["grr_12m"] = a.where(a <= then, then).where(base, 0).sum() / s12.replace(0, np.nan)
        out["logo_retention_12m"] = ((a > 0) & base).sum() / base.sum().replace(0, np.nan)
        return out

    full = revenue_table(amm.index)
    revenue = full.loc[first_rep:]
    plan_of = segment.reindex(amm.index).fillna("(none)")
    by_plan = {seg: revenue_table(rows).loc[first_rep:] for seg, rows in amm.groupby(plan_of).groups.items()}

    # --- cohorts and survival ------------------------------------------------------------
    cohort = pd.Series(np.nan, index=fe.index)
    for mi in range(size):
        cohort[(fe >= pd.Timestamp(firsts[mi])) & (fe < pd.Timestamp(snaps[mi] + timedelta(days=1)))] = mi
    logo_c, rev_c = {}, {}
    for c in range(first_rep, size):
        members = cohort.index[cohort == c]
        block = amm.loc[members, c:]
        base_mrr = block[c].sum() if len(members) else 0
        logo_c[c] = ((block > 0).sum() / len(members)).tolist() if len(members) else []
        rev_c[c] = (block.sum() / base_mrr).tolist() if base_mrr else []
    from lifelines import KaplanMeierFitter

    life = pd.DataFrame({"first": first_earned})
    life["last_end"] = lines[lines.ended_on <= pd.Timestamp(as_of)].groupby("account_id").ended_on.max()
    life["paying"] = amm[last].reindex(life.index).fillna(0) > 0
    end = life.last_end.where(~life.paying, pd.Timestamp(as_of)).fillna(pd.Timestamp(as_of))
    life["duration"] = (end - life["first"]).dt.days.clip(lower=0) / (365.25 / 12)
    # grouped by the plan at the start of the last month (the day before its first day), as
    # Kizuna groups them: an upgrade on the last month's first day counts from the next month;
    # an account that began later takes its first plan
    opening = ts_snaps[last - 1]
    plan_at_open = pl[pl.earn_start <= opening].drop_duplicates("account_id").set_index("account_id").plan
    first_plan = pl.sort_values(["account_id", "earn_start", "monthly_amount", "product_id"],
                                ascending=[True, True, False, True]).drop_duplicates("account_id")  # fmt: skip
    plan_then = plan_at_open.combine_first(first_plan.set_index("account_id").plan)
    life["segment"] = plan_then.reindex(life.index).fillna("(none)")
    times = np.arange(max(MONTHS, 24) + 1, dtype="float64")
    survival = {}
    for seg, part in life.groupby("segment"):
        kmf = KaplanMeierFitter().fit(part.duration, event_observed=~part.paying)
        ci = kmf.confidence_interval_survival_function_
        ci = ci.reindex(ci.index.union(times)).ffill().loc[times]
        survival[seg] = (kmf.survival_function_at_times(times).to_numpy(), ci.to_numpy())

    # --- onboarding, upsell and cross-sell -----------------------------------------------
    ms = milestones.assign(epoch=seconds(milestones.completed_at))
    ms["done"] = ms.completed_at.notna() & (ms.epoch < end_epoch)
    ob = ms.groupby("account_id").agg(milestones=("id", "size"), completed=("done", "sum"))
    ob["last"] = ms[ms.done].groupby("account_id").epoch.max()
    ob = ob.join(subs.groupby("account_id").started_on.min(), how="inner")
    ob = ob[(ob.started_on >= pd.Timestamp(firsts[first_rep])) & (ob.started_on <= pd.Timestamp(as_of))]
    done = ob[ob.completed >= ob.milestones]
    start_epoch = seconds(done.started_on.dt.tz_localize(ZONE))
    days_to_complete = ((done["last"] - start_epoch) / 86400).clip(lower=0)
    kind = products.set_index("id")[["kind", "rank"]]

    def earning(d: pd.Timestamp) -> pd.DataFrame:
        live = lines[(lines.earn_start <= d) & (lines.ended_on.isna() | (lines.ended_on > d))]
        return live.join(kind, on="product_id")

    at_start, at_end = earning(ts_snaps[first_rep - 1]), earning(pd.Timestamp(as_of))
    paying0 = at_start.groupby("account_id").monthly_amount.sum()
    base = set(paying0[paying0 > 0].index)
    r0 = at_start[at_start.kind == "plan"].groupby("account_id")["rank"].max()
    r1 = at_end[at_end.kind == "plan"].groupby("account_id")["rank"].max()
    both = pd.concat([r0.rename("r0"), r1.rename("r1")], axis=1, join="inner")
    upsold = set(both[both.r1 > both.r0].index) & base
    a0 = set(map(tuple, at_start[at_start.kind == "addon"][["account_id", "product_id"]].to_numpy()))
    a1 = at_end[at_end.kind == "addon"][["account_id", "product_id"]]
    cross = {a for a, p in a1.to_numpy() if (a, p) not in a0} & base

    # --- months of timestamps (tickets, NPS answers), effort, NPS, usage, support --------
    def month_of(ts: pd.Series) -> pd.Series:
        epoch = seconds(ts)
        mi = pd.Series(np.searchsorted(starts, epoch, side="right") - 1, index=ts.index)
        return mi.where((epoch >= starts[0]) & (epoch < end_epoch))

    tk = tickets.assign(mi=month_of(tickets.opened_at)).dropna(subset=["mi"])
    opened = seconds(tk.opened_at)
    fr = seconds(tk.first_response_at)
    rs = seconds(tk.resolved_at)
    tk["answered"] = tk.first_response_at.notna() & (fr < end_epoch)
    tk["frt"] = (fr - opened).where(tk.answered)
    tk["resolved"] = tk.resolved_at.notna() & (rs < end_epoch)
    tk["resolved_messages"] = tk.message_count.where(tk.resolved, 0)
    tk["satisfied"] = tk.csat >= 4

    def support(frame: pd.DataFrame) -> pd.Series:
        return pd.Series({
            "tickets": len(frame), "answer_rate": frame.answered.mean(), "resolution_rate": frame.resolved.mean(),
            "mean_frt_hours": frame.frt.mean() / 3600, "median_frt_hours": frame.frt.median() / 3600,
            "exchanges_to_resolve": frame.resolved_messages.sum() / frame.resolved.sum(),
            "csat": frame.csat.mean(), "csat_pct": frame.satisfied[frame.csat.notna()].mean(),
        })  # fmt: skip

    support_months = tk.groupby("mi").apply(support, include_groups=False)  # type: ignore[call-overload]
    support_total = support(tk[tk.mi >= first_rep])
    effort = support_months.tickets.reindex(range(first_rep, size)).fillna(0) / revenue.accounts
    nps = answers[answers.kind == "nps"]
    nps = nps.assign(mi=month_of(nps.answered_at), segment=nps.account_id.map(segment).fillna("(none)"))
    nps = nps[nps.mi >= first_rep]

    def nps_score(s: pd.Series) -> float:
        return 100.0 * ((s >= 9).sum() - (s <= 6).sum()) / len(s)

    nps_months = nps.groupby("mi").score.apply(nps_score)
    nps_segments = nps.groupby(["mi", "segment"]).score.apply(nps_score)
    u = usage[(usage.day >= pd.Timestamp(firsts[first_rep])) & (usage.day <= pd.Timestamp(as_of)) & (usage.value > 0)]
    u = u.assign(month=u.day.dt.to_period("M"))
    active = u.groupby("month").account_id.nunique()
    events = u[u.metric == "events"].groupby("month").value.sum()

    # --- Pareto and LTV --------------------------------------------------------------------
    values = np.sort(amm[last][amm[last] > 0].to_numpy())
    n, total = len(values), int(values.sum())
    k = math.ceil(0.2 * n)
    gini = float(((2 * np.arange(1, n + 1) - n - 1) * values).sum() / (n * total))
    window = full.loc[first_rep:]
    tail = full.loc[1:].tail(12)
    churn = tail.churned_accounts.sum() / tail.start_accounts.sum()
    paying_window = (amm.loc[:, first_rep:] > 0).any(axis=1).sum()
    arpa = window.mrr.iloc[-1] / window.accounts.iloc[-1]
    return {
        "mrr": int(revenue.mrr.iloc[-1]),
        "churned_accounts": int(revenue.churned_accounts.sum()),
        "new": int(revenue.new.sum()),
        "reactivation": int(revenue.reactivation.sum()),
        "nrr_12m": float(revenue.nrr_12m.iloc[-1]),
        "plans": len(by_plan),
        "cohort_logo_first": float(logo_c[first_rep][1]) if len(logo_c[first_rep]) > 1 else None,
        "survival_12": {str(s): float(v[0][12]) for s, v in survival.items()},
        "onboarding_completed": len(done),
        "onboarding_median_days": float(days_to_complete.median()) if len(done) else None,
        "upsell": len(upsold),
        "cross_sell": len(cross),
        "effort_last": float(effort.iloc[-1]),
        "nps_last": float(nps_months.iloc[-1]),
        "nps_segments": len(nps_segments),
        "active_accounts": int(active.sum()),
        "events": float(events.sum()),
        "median_frt_hours": float(support_total["median_frt_hours"]),
        "tickets": int(support_months.tickets.loc[first_rep:].sum()),
        "top_20_share": int(values[n - k :].sum()) / total,
        "gini": gini,
        "ltv_arpa_over_churn": round(arpa / churn),
        "paying_window": int(paying_window),
    }


def kizuna_checks(report: object) -> dict[str, object]:
    """The same figures, read from a ``KpiReport``."""
    r = report  # duck-typed: avoid importing kizuna in the baseline's process
    rev, sup = r.revenue, r.support  # type: ignore[attr-defined]
    survival = r.survival  # type: ignore[attr-defined]
    logo = r.cohorts_logo  # type: ignore[attr-defined]
    return {
        "mrr": int(rev.mrr.iloc[-1]),
        "churned_accounts": int(rev.churned_accounts.sum()),
        "new": int(rev.new.sum()),
        "reactivation": int(rev.reactivation.sum()),
        "nrr_12m": float(rev.nrr_12m.iloc[-1]),
        "plans": int(r.revenue_by_segment.segment.nunique()),  # type: ignore[attr-defined]
        "cohort_logo_first": None if pd.isna(logo.iloc[0][1]) else float(logo.iloc[0][1]),
        "survival_12": {str(s): float(p[p.month == 12].survival.iloc[0]) for s, p in survival.groupby("segment")},
        "onboarding_completed": int(r.onboarding["completed"]),  # type: ignore[attr-defined]
        "onboarding_median_days": r.onboarding["median_days_to_complete"],  # type: ignore[attr-defined]
        "upsell": int(r.expansion.upsell_accounts),  # type: ignore[attr-defined]
        "cross_sell": int(r.expansion.cross_sell_accounts),  # type: ignore[attr-defined]
        "effort_last": float(r.effort.tickets_per_account.iloc[-1]),  # type: ignore[attr-defined]
        "nps_last": float(r.nps.nps.iloc[-1]),  # type: ignore[attr-defined]
        "nps_segments": len(r.nps_by_segment),  # type: ignore[attr-defined]
        "active_accounts": int(r.usage.active_accounts.sum()),  # type: ignore[attr-defined]
        "events": float(r.usage.events.sum()),  # type: ignore[attr-defined]
        "median_frt_hours": float(r.support_totals["median_frt_hours"]),  # type: ignore[attr-defined]
        "tickets": int(sup.tickets.sum()),
        "top_20_share": float(r.pareto.top_share),  # type: ignore[attr-defined]
        "gini": float(r.pareto.gini),  # type: ignore[attr-defined]
        "ltv_arpa_over_churn": r.ltv.formulas[2].value,  # type: ignore[attr-defined]
        "paying_window": None,
    }


def same(a: dict[str, object], b: dict[str, object]) -> list[str]:
    """Keys on which two check dicts differ (floats to 1e-9)."""
    bad = []
    for key in a:
        x, y = a[key], b.get(key)
        if x is None or y is None:
            if key != "paying_window" and x is not y:
                bad.append(key)
        elif isinstance(x, dict):
            if (
                not isinstance(y, dict)
                or x.keys() != y.keys()
                or any(not math.isclose(x[k], y[k], rel_tol=1e-9) for k in x)
            ):
                bad.append(key)
        elif isinstance(x, float) or isinstance(y, float):
            if not math.isclose(float(x), float(y), rel_tol=1e-9):  # type: ignore[arg-type]
                bad.append(key)
        elif x != y:
            bad.append(key)
    return bad


if __name__ == "__main__":
    import json

    t = time.perf_counter()
    out = kpis(sys.argv[1], date.fromisoformat(sys.argv[2]))
    print(json.dumps({"seconds": round(time.perf_counter() - t, 2), "checks": out}))
