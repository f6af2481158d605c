"""KPIs by segment as they were: each month split by the tier (and owner) an account had at
the month's start, churned accounts kept in the segment they left from, and the segments
adding up to the whole — on a company small enough to work out by hand, loaded through
the importers, its segments written by the daily job's steps on the days they ran
(SQLite and PostgreSQL).

The company (JPY; tiers by amount: high from 100,000, low from 30,000; the segment
steps run on 2025-12-31, 2026-01-31, 2026-02-28 and 2026-03-15; a 4-month report as of
2026-03-15; ``ended_on`` exclusive):

- A 150,000 from 2025-06-01, ended 2026-02-10 (high; churns in February);
- B 50,000 from 2025-06-01, then 120,000 from 2026-01-15 (low until the run of Jan 31
  makes it high: its +70,000 in January is low's expansion); owner Sato, reassigned to
  Suzuki on 2026-01-15;
- C 10,000 from 2025-06-01, ended 2026-01-20 (tech; churns in January);
- D 40,000 from 2026-02-01 (low from its first day: new in February);
- E 200,000 from 2025-06-01, ended 2025-12-20 — before the first run, so it never had a
  tier: the backfill gives it high (its last MRR), and its December churn stays in high.

MRR at the snapshots: Nov 30 A150 + B50 + C10 + E200 = 410,000; Dec 31 210,000; Jan 31
A150 + B120 = 270,000; Feb 28 B120 + D40 = 160,000; Mar 15 160,000.

By tier (start → movements → end), by hand:
- Dec: high 350,000 (A, E) → churned −200,000 (E) → 150,000; low 50,000; tech 10,000.
- Jan: high 150,000 → 150,000; low 50,000 → +70,000 → 120,000; tech 10,000 → −10,000 → 0.
- Feb: high 270,000 (A, B) → −150,000 (A) → 120,000; low 0 → new +40,000 (D) → 40,000.
- Mar: high 120,000; low 40,000.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
from fastapi import FastAPI

from kizuna.domain.segments_config import parse_segments_config
from kizuna.services import accounts as accounts_service
from kizuna.services import kpis, segments
from kizuna.services.accounts import AccountQuery
from kizuna.services.imports import ParseContext, import_file
from tests.conftest import make_user

AS_OF = date(2026, 3, 15)
RUNS = (date(2025, 12, 31), date(2026, 1, 31), date(2026, 2, 28), AS_OF)
CTX = ParseContext(ZoneInfo("Asia/Tokyo"), "JPY")
CONFIG = parse_segments_config('[tiers]\nmethod = "amount"\nhigh_amount = 100000\nlow_amount = 30000\n', "test.toml")

PRODUCTS = """code,name,kind,rank,currency,list_price
plan-a,Plan A,plan,1,JPY,10000
"""
ACCOUNTS = """external_id,name,owner_email
A,Aサービス,sato@kizuna.example
B,B商事,sato@kizuna.example
C,C食堂,
D,D工業,suzuki@kizuna.example
E,E物流,suzuki@kizuna.example
"""
SUBSCRIPTIONS = """external_id,account_external_id,product_code,currency,monthly_amount,billing_interval,status,started_on,ended_on
S-A,A,plan-a,JPY,150000,month,canceled,2025-06-01,2026-02-10
S-B1,B,plan-a,JPY,50000,month,canceled,2025-06-01,2026-01-15
S-B2,B,plan-a,JPY,120000,month,active,2026-01-15,
S-C,C,plan-a,JPY,10000,month,canceled,2025-06-01,2026-01-20
S-D,D,plan-a,JPY,40000,month,active,2026-02-01,
S-E,E,plan-a,JPY,200000,month,canceled,2025-06-01,2025-12-20
"""


def load(app: FastAPI, tmp_path: Path) -> dict[str, int]:
    make_user(app, "sato@kizuna.example", name="Sato")
    make_user(app, "suzuki@kizuna.example", name="Suzuki")
    for name, text in (("products", PRODUCTS), ("accounts", ACCOUNTS), ("subscriptions", SUBSCRIPTIONS)):
        (tmp_path / f"{name}.csv").write_text(text, encoding="utf-8")
        with app.state.kizuna.unit_of_work() as session:
            import_file(session, name, tmp_path / f"{name}.csv", ctx=CTX)
    with app.state.kizuna.unit_of_work() as session:
        ids = {r.external_id: r.id for r in accounts_service.list_accounts(session, AccountQuery(), as_of=AS_OF).items}
        suzuki = next(u.id for u in accounts_service.owner_choices(session) if u.name == "Suzuki")
    for day in RUNS:
        with app.state.kizuna.unit_of_work() as session:
            accounts_service.refresh_account_summaries(session, day)
            segments.recompute_all(session, day, CONFIG)  # the daily job's segment steps
            segments.record_owners(session, day)
        if day == RUNS[0]:  # B changes hands on Jan 15 (the bulk assignment of the list)
            with app.state.kizuna.unit_of_work() as session:
                accounts_service.assign_owner(session, [ids["B"]], suzuki, as_of=date(2026, 1, 15))
    return ids


def report(app: FastAPI, by: str) -> kpis.KpiReport:
    backend = kpis.open_backend(app.state.kizuna.settings.database_url)
    try:
        return kpis.kpi_report(backend, AS_OF, kpis.KpiOptions(months=4, segment_by=by))
    finally:
        kpis.close_backend(backend)


COLS = ["start_mrr", "churned", "expansion", "new", "mrr", "start_accounts", "churned_accounts", "accounts"]


def _rows(frame: pd.DataFrame) -> dict[tuple[str, str], tuple[int, ...]]:
    return {(r["month"], r["segment"]): tuple(int(r[c]) for c in COLS) for r in frame.to_dict(orient="records")}


def test_kpis_by_tier_use_the_tier_at_each_month_start_and_add_up(app: FastAPI, tmp_path: Path) -> None:
    load(app, tmp_path)
    rep = report(app, "tier")
    got = _rows(rep.revenue_by_segment)
    # (start MRR, churned, expansion, new, end MRR, start logos, churned logos, end logos)
    assert got == {
        ("2025-12", "high"): (350_000, -200_000, 0, 0, 150_000, 2, 1, 1),
        ("2025-12", "low"): (50_000, 0, 0, 0, 50_000, 1, 0, 1),
        ("2025-12", "tech"): (10_000, 0, 0, 0, 10_000, 1, 0, 1),
        ("2026-01", "high"): (150_000, 0, 0, 0, 150_000, 1, 0, 1),
        ("2026-01", "low"): (50_000, 0, 70_000, 0, 120_000, 1, 0, 1),
        ("2026-01", "tech"): (10_000, -10_000, 0, 0, 0, 1, 1, 0),
        ("2026-02", "high"): (270_000, -150_000, 0, 0, 120_000, 2, 1, 1),
        ("2026-02", "low"): (0, 0, 0, 40_000, 40_000, 0, 0, 1),
        ("2026-02", "tech"): (0, 0, 0, 0, 0, 0, 0, 0),
        ("2026-03", "high"): (120_000, 0, 0, 0, 120_000, 1, 0, 1),
        ("2026-03", "low"): (40_000, 0, 0, 0, 40_000, 1, 0, 1),
        ("2026-03", "tech"): (0, 0, 0, 0, 0, 0, 0, 0),
    }
    # no "(none)" segment, and the tiers add up to the whole in every month
    total = rep.revenue.set_index("month")
    for month in total.index:
        part = [v for (m, _s), v in got.items() if m == month]
        assert tuple(sum(v[i] for v in part) for i in range(len(COLS))) == tuple(int(total.loc[month, c]) for c in COLS)
    assert rep.revenue.set_index("month").loc["2025-12", "churned"] == -200_000
    # the logo churn rate of high touch in December: 1 of 2 (E), not 0 % with E outside the tiers
    dec = rep.revenue_by_segment.set_index(["month", "segment"])
    assert dec.loc[("2025-12", "high"), "logo_churn_rate"] == 0.5


def test_kpis_by_owner_follow_the_reassignment_from_the_next_month(app: FastAPI, tmp_path: Path) -> None:
    load(app, tmp_path)
    got = _rows(report(app, "owner").revenue_by_segment)
    # January starts with B under Sato: its +70,000 is Sato's; February starts with B under Suzuki
    assert got[("2026-01", "Sato")] == (200_000, 0, 70_000, 0, 270_000, 2, 0, 2)
    assert got[("2026-01", "(none)")] == (10_000, -10_000, 0, 0, 0, 1, 1, 0)  # C has no owner
    assert got[("2026-02", "Sato")] == (150_000, -150_000, 0, 0, 0, 1, 1, 0)
    assert got[("2026-02", "Suzuki")] == (120_000, 0, 0, 40_000, 160_000, 1, 0, 2)
