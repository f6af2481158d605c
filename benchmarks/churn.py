"""The churn model (issue 16).

1. **Training and scoring at N accounts** (default 100,000 × 12 month-ends): a feature
   table with the store model's schema (``services.churn.FEATURES``), churn drawn from a
   known risk, trained with the time split (earlier months train, the next calibrate),
   then every account scored with its drivers (``pred_contrib``) — in a child process:
   wall time and peak memory. The features' own cost at that size is the health
   backtest's (one ``score_day`` per month-end), measured by the ``health`` benchmarks.
2. **``kizuna churn evaluate --input``** on an N-row CSV (default 100,000) with 5-fold CV:
   the real command in a child process, wall time and peak memory.
3. **On companies**: the demo (1,000 accounts, 24 months) and the three generated companies
   of ``tests/health_generators.py``: ROC-AUC of the model, of the health score alone and
   of the naive signal on the later month-ends (``services.churn.evaluate``).

``python -m benchmarks churn -- [--accounts 100000] [--rows 100000] [--skip-companies]``;
``-- --companies-only [demo b2b …] [--company-accounts 300 1000] [--seeds 7 8] [--demo-as-of …]``: part 3 alone
(the demo at three as-of dates, each generated company at 300 and 1,000 accounts with two seeds).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.common import ROOT, python, run_measured

DEMO_AS_OF = date(2026, 11, 20)
#: The demo built as of these days (issue 16: the margin must hold off one as-of date).
DEMO_AS_OFS = (date(2026, 10, 31), date(2026, 11, 20), date(2026, 12, 6))
#: The generated companies at these sizes, each with these seeds.
COMPANY_SIZES = (300, 1000)
COMPANY_SEEDS = (7, 8)


def feature_table(accounts: int, months: int, seed: int = 1) -> tuple[pd.DataFrame, np.ndarray]:
    """``accounts`` × ``months`` rows with the store model's columns and a churn label."""
    from kizuna.services import churn

    rng = np.random.default_rng(seed)
    n = accounts * months
    frame = pd.DataFrame({f: rng.normal(0, 1, n) for f in churn.FEATURES if f not in churn.EXTRA_CATEGORY})
    frame["plan"] = rng.choice(["starter", "pro", "enterprise"], n)
    frame["stage"] = rng.choice(["onboarding", "renewal", "steady"], n)
    frame.loc[rng.random(n) < 0.2, "nps"] = np.nan
    eta = -3.2 - 0.8 * frame["events_vs_baseline"] - 0.5 * frame["login_days"] + 0.4 * (frame["plan"] == "starter")
    y = rng.random(n) < 1 / (1 + np.exp(-eta.to_numpy()))
    frame.insert(0, "day", np.repeat(np.arange(months), accounts))
    return frame, y


def train_part(accounts: int, months: int) -> None:
    """Child process: train on the first months, calibrate on the next, score the last
    month's accounts with drivers; prints the timings as JSON."""
    from kizuna.analytics import churn as model
    from kizuna.services import churn

    t0 = time.perf_counter()
    frame, y = feature_table(accounts, months)
    built = time.perf_counter() - t0
    day = frame.pop("day").to_numpy()
    fit_rows, cal_rows, last = day < months - 3, (day >= months - 3) & (day < months - 1), day == months - 1
    schema = churn._schema(frame)
    t1 = time.perf_counter()
    trained = model.fit(frame[fit_rows], y[fit_rows], frame[cal_rows], y[cal_rows], schema=schema, refit=True)
    trained_s = time.perf_counter() - t1
    t2 = time.perf_counter()
    today = frame[last]
    p = trained.predict(today)
    drivers = model.drivers(trained.contributions(today), today)
    scored_s = time.perf_counter() - t2
    auc = model.metrics(y[last], p).roc_auc
    print(json.dumps({"rows": len(frame), "train_rows": int((fit_rows | cal_rows).sum()), "scored": int(last.sum()),
                      "build_s": round(built, 1), "train_s": round(trained_s, 1), "score_with_drivers_s": round(scored_s, 1),
                      "auc_on_last_month": round(auc or 0, 4), "with_drivers": sum(1 for d in drivers if d)}))  # fmt: skip


def write_table(path: Path, rows: int, seed: int = 3) -> None:
    """A customer table as a company would export it: id, numbers, Japanese categories,
    missing values, a leaked column and a yes/no label."""
    rng = np.random.default_rng(seed)
    usage = rng.gamma(2.0, 10.0, rows)
    plan = rng.choice(["ベーシック", "プロ", "エンタープライズ"], rows)
    seats = rng.integers(1, 200, rows)
    tickets = rng.poisson(1.0, rows)
    risk = 1 / (1 + np.exp(0.15 * (usage - 15) - (plan == "ベーシック") * 1.0 - 0.3 * tickets + 2.0))
    churned = rng.random(rows) < risk
    pd.DataFrame({
        "顧客ID": [f"C{i:07d}" for i in range(rows)], "usage": usage.round(1), "plan": plan, "seats": seats,
        "tickets": tickets, "nps": np.where(rng.random(rows) < 0.3, np.nan, rng.integers(0, 11, rows)),
        "industry": rng.choice(["製造", "小売", "IT", "金融", None], rows),
        "cancel_month": np.where(churned, rng.integers(1, 13, rows), np.nan),
        "解約": np.where(churned, "はい", "いいえ"),
    }).to_csv(path, index=False)  # fmt: skip


def _companies(work: Path, sizes: list[int], demo_accounts: int, seeds: list[int], demo_as_ofs: list[date],
               only: list[str] | None = None) -> list[dict[str, Any]]:  # fmt: skip
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests import health_generators as gen

    from kizuna.db import ensure_schema, make_engine, session_scope
    from kizuna.demo import generate_demo
    from kizuna.services import churn

    rows = []
    builds: list[tuple[str, Any, date, int, int]] = [("demo", None, d, demo_accounts, 42) for d in demo_as_ofs]
    builds += [(n, n, gen.AS_OF, size, seed) for n in gen.GENERATORS for size in sizes for seed in seeds]
    for name, generator, as_of, accounts, seed in builds:
        if only and name not in only:
            continue
        engine = make_engine(f"sqlite:///{work / name}-{as_of}-{accounts}-{seed}.db")
        ensure_schema(engine)
        with session_scope(engine) as session:
            if generator is None:
                generate_demo(session, accounts=accounts, months=24, seed=seed, as_of=as_of)
            else:
                gen.build(session, generator, accounts=accounts, seed=seed)
        with session_scope(engine) as session:
            start = time.perf_counter()
            result = churn.evaluate(session, as_of=as_of)
            seconds = time.perf_counter() - start
        engine.dispose()
        m, h, nv = result.model, result.health, result.naive
        chosen = result.selection.chosen.name if result.selection else None
        rows.append({
            "company": name, "as_of": as_of.isoformat(), "accounts": accounts, "seed": seed, "model_kind": chosen,
            "inner_auc": result.selection.scores.get(chosen or "") if result.selection else None,
            "inner_auc_health": result.selection.health if result.selection else None, "test_months": len(result.test_days), "samples": m.samples, "churned": m.positives,
            "auc_model": round(m.roc_auc or 0, 4), "auc_health": round(h.roc_auc or 0, 4),
            "auc_naive": round(nv.roc_auc or 0, 4), "margin_over_health": round(result.margin or 0, 4),
            "pr_auc_model": round(m.pr_auc or 0, 4), "pr_auc_health": round(h.pr_auc or 0, 4),
            "brier_model": round(m.brier or 0, 4), "lift_model": round(m.top_decile_lift or 0, 2),
            "lift_health": round(h.top_decile_lift or 0, 2), "evaluate_s": round(seconds, 1),
        })  # fmt: skip
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv: list[str]) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="benchmarks churn")
    parser.add_argument("--accounts", type=int, default=100_000, help="accounts of the training benchmark")
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--rows", type=int, default=100_000, help="rows of the churn evaluate --input table")
    parser.add_argument("--company-accounts", type=int, nargs="+", default=list(COMPANY_SIZES))
    parser.add_argument("--seeds", type=int, nargs="+", default=list(COMPANY_SEEDS))
    parser.add_argument("--demo-accounts", type=int, default=1000)
    parser.add_argument("--demo-as-of", type=date.fromisoformat, nargs="+", default=list(DEMO_AS_OFS))
    parser.add_argument("--skip-companies", action="store_true")
    parser.add_argument("--companies-only", nargs="*", default=None,
                        help="only the company part, for these companies (demo, consumer, b2b, causes; none: all)")
    args = parser.parse_args(argv)
    out: dict[str, object] = {}
    if args.companies_only is not None:
        work = Path(tempfile.mkdtemp(prefix="kizuna-churn-"))
        try:
            out["companies"] = _companies(work, args.company_accounts, args.demo_accounts, args.seeds,
                                          args.demo_as_of, args.companies_only)  # fmt: skip
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return out
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); from benchmarks.churn import train_part; " \
           f"train_part({args.accounts}, {args.months})"  # fmt: skip
    measured = run_measured(python("-c", code), cwd=ROOT)
    out["train_and_score"] = {**json.loads(measured.stdout.strip().splitlines()[-1]), "accounts": args.accounts,
                              "months": args.months, "wall_s": round(measured.seconds, 1),
                              "peak_mb": round(measured.peak_rss_mb)}  # fmt: skip
    print(json.dumps(out["train_and_score"]), flush=True)
    work = Path(tempfile.mkdtemp(prefix="kizuna-churn-"))
    try:
        table = work / "customers.csv"
        write_table(table, args.rows)
        measured = run_measured(python("-m", "kizuna", "churn", "evaluate", "--input", str(table), "--target", "解約",
                                       "--cv", "5", "--format", "json"), cwd=ROOT)  # fmt: skip
        data = json.loads(measured.stdout)
        out["evaluate_input"] = {
            "rows": args.rows, "folds": 5, "wall_s": round(measured.seconds, 1), "peak_mb": round(measured.peak_rss_mb),
            "roc_auc": data["metrics"]["roc_auc"], "identifiers_dropped": data["identifiers_dropped"],
            "leakage_dropped": [c["column"] for c in data["leakage_dropped"]],
        }  # fmt: skip
        print(json.dumps(out["evaluate_input"], ensure_ascii=False), flush=True)
        if not args.skip_companies:
            out["companies"] = _companies(work, args.company_accounts, args.demo_accounts, args.seeds,
                                          args.demo_as_of)  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out
