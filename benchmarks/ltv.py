"""Lifetime value per account (issue 21): the daily ``ltv`` step — refit every segment's
sBG retention on the contract history and score every running account — at N accounts,
and the backtest against a constant churn rate.

Data: N accounts with one plan line each, drawn from the sBG process over 10 years of
starts (``simulate_contracts``): a monthly segment mixing loyal and flighty accounts
(U-shaped Beta), a flighty monthly one, and two annual ones; bulk-inserted with sqlite3.

Baseline in the same run: the ``summaries`` step (``refresh_account_summaries``), which
reads the same subscription lines and writes one row per account. Also reported: the
backtest (cutoff two years before as-of) on the same data, and on the demo company
(``--demo-accounts``, 0 to skip), with each segment's error against the constant-churn
baseline.

Each backtest row carries the per-account mean absolute error of the renewals and the
aggregate yardstick (Fader & Hardie): survivors by tenure band and renewal period — their
mean absolute and mean absolute percentage error — and the log-likelihood of the held-out
renewals under each model. Two more books, drawn in-process (no store): a young book
(every start inside the history) mixing loyal and flighty accounts, where sBG must win, and
a homogeneous one (every account the same churn probability), where the two must tie.

Options: ``--accounts N`` (default 100000; 0 skips the step timing), ``--demo-accounts N``
(default 1000), ``--demo-db PATH`` (an existing demo store: not rebuilt). The demo is
backtested with the history start the store infers (its first usage day) and without one
(``--observed-from 1900-01-01``: every contract seen from its start).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import tempfile
import time
from datetime import date
from pathlib import Path

from benchmarks.common import python, run_measured

AS_OF = date(2026, 11, 20)
SEGMENTS = [  # (plan, term months, α, β, share)
    ("starter", 1, 0.35, 0.9, 0.45),
    ("light", 1, 2.0, 3.0, 0.25),
    ("pro", 12, 0.5, 1.5, 0.2),
    ("enterprise", 12, 0.8, 6.0, 0.1),
]
MRR = {"starter": 10_000, "light": 5_000, "pro": 98_000, "enterprise": 500_000}

STEP = """
import sys, time
from datetime import date
from kizuna.db import make_engine, session_scope
from kizuna.services import ltv_accounts
from kizuna.services.accounts import refresh_account_summaries
engine = make_engine(sys.argv[1])
day = date.fromisoformat(sys.argv[3])
with session_scope(engine) as session:
    start = time.perf_counter()
    n = refresh_account_summaries(session, day) if sys.argv[2] == "summaries" else ltv_accounts.refit_step(session, day)
    print(n, time.perf_counter() - start)
"""


def build(db: Path, accounts: int, seed: int = 1) -> None:
    from kizuna.analytics.ltv_accounts import simulate_contracts

    run_measured(python("-m", "kizuna", "db", "upgrade"), {"KIZUNA_DATABASE_URL": f"sqlite:///{db}"})
    spec = [(plan, term, a, b, round(accounts * share)) for plan, term, a, b, share in SEGMENTS]
    spec[0] = (*spec[0][:4], accounts - sum(s[4] for s in spec[1:]))
    contracts = simulate_contracts(spec, date(2016, 11, 20), AS_OF, seed=seed)
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    now = "2026-01-01 00:00:00.000000"
    con.executemany(
        "INSERT INTO products (id, code, name, kind, rank, list_price, currency, is_active, created_at, updated_at)"
        " VALUES (?, ?, ?, 'plan', ?, ?, 'JPY', 1, ?, ?)",
        [(i + 1, plan, plan, i, MRR[plan], now, now) for i, (plan, *_rest) in enumerate(SEGMENTS)],
    )
    product = {plan: i + 1 for i, (plan, *_rest) in enumerate(SEGMENTS)}
    con.executemany(
        "INSERT INTO accounts (id, external_id, name, custom_fields, status, mrr, created_at, updated_at)"
        " VALUES (?, ?, ?, '{}', 'active', 0, ?, ?)",
        ((int(i), f"A{i}", f"株式会社ベンチ{i}", now, now) for i in contracts["account_id"]),
    )
    con.executemany(
        "INSERT INTO subscriptions (id, external_id, account_id, product_id, quantity, monthly_amount, currency,"
        " billing_interval, status, started_on, ended_on, term_months, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, 1, ?, 'JPY', ?, ?, ?, ?, ?, ?, ?)",
        ((int(r.account_id), f"S{r.account_id}", int(r.account_id), product[r.segment], MRR[r.segment],
          "year" if r.term_months == 12 else "month", "canceled" if r.ended_on else "active",
          r.started_on.isoformat(), r.ended_on.isoformat() if r.ended_on else None, int(r.term_months), now, now)
         for r in contracts.itertuples(index=False)),
    )  # fmt: skip
    con.commit()
    con.close()


KEPT = ("segment", "term_months", "contracts", "pooled", "mae_sbg", "mae_baseline", "survivors_mae_sbg",
        "survivors_mae_baseline", "survivors_mape_sbg", "survivors_mape_baseline", "log_likelihood_sbg",
        "log_likelihood_baseline")  # fmt: skip


def _backtest(env: dict[str, str], cutoff: str, as_of: str, *extra: str) -> list[dict[str, object]]:
    out = run_measured(python("-m", "kizuna", "ltv", "backtest", "--cutoff", cutoff, "--as-of", as_of, "--format",
                              "json", *extra), env).stdout  # fmt: skip
    return [{k: (round(v, 3) if isinstance(v, float) else v) for k, v in s.items() if k in KEPT}
            for s in json.loads(out)["segments"]]  # fmt: skip


#: (segment, term months, α, β, accounts): a young book mixing loyal and flighty accounts, and
#: a homogeneous one (Beta with a tiny spread: every account the same churn probability).
YOUNG_MIXED = [("mixed", 1, 0.4, 1.2, 15_000), ("annual", 12, 0.6, 2.0, 6_000)]
HOMOGENEOUS = [("same", 1, 40.0, 960.0, 15_000), ("same", 12, 300.0, 700.0, 6_000)]


def books(seed: int = 1) -> dict[str, list[dict[str, object]]]:
    """The backtest (cutoff 2025-06-01, as of 2026-12-01) of the two generated books that
    start inside the history (2021-12-01)."""
    from kizuna.analytics.ltv_accounts import backtest, simulate_contracts

    out: dict[str, list[dict[str, object]]] = {}
    for name, spec in (("young_mixed", YOUNG_MIXED), ("homogeneous", HOMOGENEOUS)):
        contracts = simulate_contracts(spec, date(2021, 12, 1), date(2026, 12, 1), seed=seed)
        rows = []
        for r in backtest(contracts, date(2025, 6, 1), date(2026, 12, 1)):
            h = r.holdout
            assert h is not None
            row = {"segment": r.segment, "term_months": r.term_months, "contracts": r.contracts, "pooled": r.pooled,
                   "mae_sbg": r.mae_sbg, "mae_baseline": r.mae_baseline, "survivors_mae_sbg": h.survivors_mae_sbg,
                   "survivors_mae_baseline": h.survivors_mae_baseline, "survivors_mape_sbg": h.survivors_mape_sbg,
                   "survivors_mape_baseline": h.survivors_mape_baseline, "log_likelihood_sbg": h.log_likelihood_sbg,
                   "log_likelihood_baseline": h.log_likelihood_baseline}  # fmt: skip
            rows.append({k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()})
        out[name] = rows
    return out


def main(argv: list[str]) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="benchmarks ltv")
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--demo-accounts", type=int, default=1000)
    parser.add_argument("--demo-db", type=Path, default=None)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="kizuna-ltv-"))
    try:
        result: dict[str, object] = {"accounts": args.accounts}
        if args.accounts:
            result.update(_steps(work, args.accounts))
        result["books"] = books()
        if args.demo_accounts or args.demo_db:
            demo = args.demo_db or work / "demo.db"
            demo_env = {"KIZUNA_DATABASE_URL": f"sqlite:///{demo}"}
            if args.demo_db is None:
                run_measured(python("-m", "kizuna", "demo", "--no-serve", "--accounts", str(args.demo_accounts),
                                    "--as-of", AS_OF.isoformat()), demo_env)  # fmt: skip
            result["backtest_demo_cutoff_12_months"] = _backtest(demo_env, "2025-11-20", AS_OF.isoformat())
            result["backtest_demo_cutoff_6_months"] = _backtest(demo_env, "2026-05-20", AS_OF.isoformat())
            # the store infers where the demo's history begins (its first usage day); without it
            # (1900-01-01: every contract seen from its start) the survivors' earlier renewals count
            for label, cutoff in (("12", "2025-11-20"), ("6", "2026-05-20")):
                result[f"backtest_demo_cutoff_{label}_months_no_history_start"] = _backtest(
                    demo_env, cutoff, AS_OF.isoformat(), "--observed-from", "1900-01-01")
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _steps(work: Path, accounts: int) -> dict[str, object]:
    db = work / "ltv.db"
    start = time.perf_counter()
    build(db, accounts)
    built = time.perf_counter() - start
    url = f"sqlite:///{db}"
    env = {"KIZUNA_DATABASE_URL": url}
    summaries = run_measured(python("-c", STEP, url, "summaries", AS_OF.isoformat()))
    refit = run_measured(python("-c", STEP, url, "ltv", AS_OF.isoformat()))
    scored, refit_inner = refit.stdout.split()
    again = run_measured(python("-c", STEP, url, "ltv", AS_OF.isoformat()))
    backtest = _backtest(env, "2024-11-20", AS_OF.isoformat())
    print(f"{accounts:,} accounts: ltv step {refit.seconds:.1f} s (peak {refit.peak_rss_mb:.0f} MB), "
          f"summaries step {summaries.seconds:.1f} s; {int(scored):,} accounts scored")  # fmt: skip
    return {
        "data_build_seconds": round(built, 1),
        "summaries_step_seconds": round(summaries.seconds, 2),
        "summaries_peak_rss_mb": round(summaries.peak_rss_mb),
        "ltv_step_seconds": round(refit.seconds, 2), "ltv_step_in_process_seconds": round(float(refit_inner), 2),
        "ltv_step_peak_rss_mb": round(refit.peak_rss_mb), "ltv_step_again_seconds": round(again.seconds, 2),
        "accounts_scored": int(scored),
        "ratio_ltv_to_summaries": round(refit.seconds / summaries.seconds, 2) if summaries.seconds else None,
        "backtest_generated": backtest,
    }  # fmt: skip
