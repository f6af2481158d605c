"""Upsell and cross-sell opportunities (issue 16 items 4 and 5): the daily
``opportunities`` step at N accounts, and the recommender's evaluation (the latest
purchase hidden, precision@3 / recall@3) against the most-popular baseline.

Data: N accounts, each on one of four plans (per seat but the first), holding add-ons
drawn by bundle (``structured_holdings``: three groups of add-ons that go together), with
a share of trials ending soon, annual terms renewing soon, recent purchases, NPS/CSAT
answers (some detractors) and red health grades; bulk-inserted with sqlite3.

Baseline in the same run: the ``summaries`` step (``refresh_account_summaries``), which
reads the same subscription lines and writes one row per account. The step is run twice:
the second run (the same day) changes nothing. Then ``kizuna opportunities evaluate`` on
the generated data and on the demo company (``--demo-db PATH`` to reuse a built one, else
``--demo-accounts N`` builds it; 0 skips).

Options: ``--accounts N`` (default 100000).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from benchmarks.common import python, run_measured

AS_OF = date(2026, 11, 20)
PLANS = [(1, "starter", 1, 9_800, 5), (2, "standard", 2, 2_980, None), (3, "pro", 3, 4_980, None),
         (4, "enterprise", 4, 7_980, None)]  # fmt: skip
ADDONS = 9  # product ids 5 … 13

STEP = """
import sys, time
from datetime import date
from kizuna.db import make_engine, session_scope
from kizuna.services import opportunities
from kizuna.services.accounts import refresh_account_summaries
engine = make_engine(sys.argv[1])
day = date.fromisoformat(sys.argv[3])
with session_scope(engine) as session:
    start = time.perf_counter()
    n = refresh_account_summaries(session, day) if sys.argv[2] == "summaries" else opportunities.run_step(session, day)
    print(n, time.perf_counter() - start)
"""

COUNTS = """
import sys, json, sqlite3
con = sqlite3.connect(sys.argv[1])
rows = con.execute("SELECT type, status, coalesce(suppressed_reason, ''), count(*), sum(value) FROM opportunities"
                   " GROUP BY 1, 2, 3 ORDER BY 1, 2, 3").fetchall()
print(json.dumps([list(r) for r in rows]))
"""


def build(db: Path, accounts: int, seed: int = 3) -> None:
    from kizuna.analytics.recommend import structured_holdings

    run_measured(python("-m", "kizuna", "db", "upgrade"), {"KIZUNA_DATABASE_URL": f"sqlite:///{db}"})
    rng = np.random.default_rng(seed)
    holdings, _latest = structured_holdings(accounts=accounts, products=ADDONS, bundles=3, seed=seed)
    m = holdings.matrix.tocsr()
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    now = "2026-01-01 00:00:00.000000"
    products = [(pid, code, code, "plan", rank, price, seats) for pid, code, rank, price, seats in PLANS]
    products += [(5 + i, f"addon-{i}", f"アドオン{i}", "addon", 0, 10_000 * (1 + i % 4), None) for i in range(ADDONS)]
    con.executemany("INSERT INTO products (id, code, name, kind, rank, list_price, currency, seats_included,"
                    " is_active, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'JPY', ?, 1, ?, ?)",
                    [(*p, now, now) for p in products])  # fmt: skip
    con.executemany("INSERT INTO users (id, email, name, role, is_active, created_at, updated_at)"
                    " VALUES (?, ?, ?, 'csm', 1, ?, ?)", [(u, f"csm{u}@bench.example", f"担当{u}", now, now)
                                                          for u in range(1, 21)])  # fmt: skip
    grades = rng.choice(["green", "yellow", "red"], size=accounts, p=[0.6, 0.3, 0.1])
    con.executemany(
        "INSERT INTO accounts (id, external_id, name, custom_fields, status, mrr, owner_id, health_grade, created_at,"
        " updated_at) VALUES (?, ?, ?, '{}', 'active', 0, ?, ?, ?, ?)",
        ((a, f"A{a}", f"株式会社ベンチ{a}", 1 + a % 20, str(grades[a - 1]), now, now) for a in range(1, accounts + 1)),
    )  # fmt: skip
    subs: list[tuple[object, ...]] = []
    surveys: list[tuple[object, ...]] = []
    for a in range(1, accounts + 1):
        plan = int(rng.choice(4, p=[0.3, 0.35, 0.25, 0.1])) + 1
        seats = int(rng.integers(10, 200))
        price = PLANS[plan - 1][3] * (seats if PLANS[plan - 1][4] is None else 1)
        start = AS_OF - timedelta(days=int(rng.integers(40, 1500)))
        kind = rng.random()
        if kind < 0.05:  # a trial ending within 0–30 days
            subs.append((a, plan, seats, 0, "month", "trial", AS_OF - timedelta(days=10),
                         AS_OF + timedelta(days=int(rng.integers(0, 30))), None, 1))  # fmt: skip
            continue
        annual = kind < 0.45
        term_end = AS_OF + timedelta(days=int(rng.integers(0, 365))) if annual else None
        subs.append((a, plan, seats, price, "year" if annual else "month", "active", start, None, term_end,
                     12 if annual else 1))  # fmt: skip
        for col in m[a - 1].indices:
            bought = AS_OF - timedelta(days=int(rng.integers(0, 400)))
            subs.append((a, 5 + int(col), 1, products[4 + int(col)][5], "month", "active", max(bought, start), None,
                         None, 1))  # fmt: skip
        if rng.random() < 0.3:
            surveys.append((a, "nps", int(rng.integers(0, 11)), AS_OF - timedelta(days=int(rng.integers(0, 90)))))
        if rng.random() < 0.3:
            surveys.append((a, "csat", int(rng.integers(1, 6)), AS_OF - timedelta(days=int(rng.integers(0, 60)))))
    con.executemany(
        "INSERT INTO subscriptions (external_id, account_id, product_id, quantity, monthly_amount, currency,"
        " billing_interval, status, started_on, trial_ends_on, current_term_end, term_months, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, 'JPY', ?, ?, ?, ?, ?, ?, ?, ?)",
        ((f"S{i}", a, p, q, amt, interval, status, start.isoformat(), trial.isoformat() if trial else None,
          end.isoformat() if end else None, term, now, now)
         for i, (a, p, q, amt, interval, status, start, trial, end, term) in enumerate(subs)),
    )  # fmt: skip
    con.executemany(
        "INSERT INTO survey_responses (external_id, account_id, kind, score, answered_at, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        ((f"R{i}", a, k, s, f"{d.isoformat()} 03:00:00.000000", now, now) for i, (a, k, s, d) in enumerate(surveys)),
    )  # fmt: skip
    con.commit()
    con.close()


def _evaluate(env: dict[str, str], generated: int = 0) -> dict[str, object]:
    args = ["-m", "kizuna", "opportunities", "evaluate", "--as-of", AS_OF.isoformat(), "--format", "json"]
    if generated:
        args += ["--generated", str(generated)]
    out = json.loads(run_measured(python(*args), env).stdout)
    return {name: {"accounts": ev["accounts"], "products": ev["products"],
                   "precision_at_3": round(ev["cooccurrence"]["precision"], 4),
                   "recall_at_3": round(ev["cooccurrence"]["recall"], 4),
                   "popular_precision_at_3": round(ev["popularity"]["precision"], 4),
                   "popular_recall_at_3": round(ev["popularity"]["recall"], 4),
                   "lift": None if ev["lift"] is None else round(ev["lift"], 3)}
            for name, ev in out.items()}  # fmt: skip


def main(argv: list[str]) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="benchmarks opportunities")
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--demo-accounts", type=int, default=1000)
    parser.add_argument("--demo-db", type=Path, default=None)
    parser.add_argument(
        "--db", type=Path, default=None, help="reuse a store this benchmark built (its opportunities are cleared)"
    )
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="kizuna-opps-"))
    try:
        db = work / "opps.db"
        start = time.perf_counter()
        if args.db is not None:
            db = args.db
            con = sqlite3.connect(db)
            con.execute("DELETE FROM opportunities")
            con.commit()
            con.close()
        else:
            build(db, args.accounts)
        built = time.perf_counter() - start
        url = f"sqlite:///{db}"
        summaries = run_measured(python("-c", STEP, url, "summaries", AS_OF.isoformat()))
        first = run_measured(python("-c", STEP, url, "opportunities", AS_OF.isoformat()))
        live, inner = first.stdout.split()
        counts = run_measured(python("-c", COUNTS, str(db))).stdout
        again = run_measured(python("-c", STEP, url, "opportunities", AS_OF.isoformat()))
        same = run_measured(python("-c", COUNTS, str(db))).stdout == counts
        result: dict[str, object] = {
            "accounts": args.accounts, "data_build_seconds": round(built, 1),
            "summaries_step_seconds": round(summaries.seconds, 2), "summaries_peak_rss_mb": round(summaries.peak_rss_mb),
            "opportunities_step_seconds": round(first.seconds, 2),
            "opportunities_step_in_process_seconds": round(float(inner), 2),
            "opportunities_step_peak_rss_mb": round(first.peak_rss_mb),
            "opportunities_step_again_seconds": round(again.seconds, 2), "again_changes_nothing": same,
            "live_opportunities": int(live), "by_type_status_suppression": json.loads(counts),
            "ratio_opportunities_to_summaries": round(first.seconds / summaries.seconds, 2) if summaries.seconds else None,
            "evaluation_generated": _evaluate({"KIZUNA_DATABASE_URL": url}),
        }  # fmt: skip
        print(f"{args.accounts:,} accounts: opportunities step {first.seconds:.1f} s (peak {first.peak_rss_mb:.0f} MB), "
              f"summaries step {summaries.seconds:.1f} s; {int(live):,} live opportunities")  # fmt: skip
        demo = args.demo_db
        if demo is None and args.demo_accounts:
            demo = work / "demo.db"
            run_measured(python("-m", "kizuna", "demo", "--no-serve", "--accounts", str(args.demo_accounts),
                                "--as-of", AS_OF.isoformat()), {"KIZUNA_DATABASE_URL": f"sqlite:///{demo}"})  # fmt: skip
        if demo is not None:
            result["evaluation_demo"] = _evaluate({"KIZUNA_DATABASE_URL": f"sqlite:///{demo}"}, generated=2000)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)
