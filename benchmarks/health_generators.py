"""Health backtest on data Kizuna's scorecard was not written for (issue 20).

One table: ROC-AUC of the default scorecard and of the naive signal (fewer events in the
last 30 days = riskier) on the demo company and on each generated company of
``tests/health_generators.py`` (a consumer product with no sign-in event, a B2B product
with weekly logins and seats, churn from causes the demo does not use), 90-day horizon.
Target: default ≥ naive + 0.05 on every generated company; ≥ 0.75 on the demo. Beside it,
``kizuna health tune`` on each company (issue 20): the weights learned on the earlier
month-ends, and on the later ones the ROC-AUC of the scorecard in force, of the tuned one
and of the naive signal (``later_months_*``), with the time tuning took.

Each company is built straight into its own SQLite store in a temporary folder, then
``services.health.backtest`` runs in this process (timed).

**Tuning at scale** (``--tune-accounts``, default 100,000 × 12 month-ends): a synthetic
table of the default scorecard's measure values (drawn across each measure's breakpoints,
a tenth missing) with churn drawn from a known risk on three measures' points, and
``services.health.tune.learn`` on it — the inner validation, the fit and the bootstrap
(and the scoring of the months) — in a child process: wall time, peak memory and the
time of each part. The month-end feature pass from a store (one ``score_day`` per
month-end) is the health backtest's and is measured by the ``health`` benchmark.

``python -m benchmarks health_generators -- --accounts 300 --demo-accounts 1000 [--seed 7] [--skip-demo]
[--tune-accounts 100000] [--tune-months 12] [--skip-companies]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT, python, run_measured

DEMO_AS_OF = date(2026, 11, 20)


def tune_table(accounts: int, months: int, seed: int = 1) -> tuple[Any, Any, list[date]]:
    """``accounts`` × ``months`` month-ends of the default scorecard's measure values and
    a churn label drawn from σ(−1.5 − 2·(three measures' points ÷ 100 − ½) summed)."""
    import numpy as np
    import pandas as pd

    from kizuna.analytics import health as calc
    from kizuna.services import health

    card = health.parse_toml(health.DEFAULT_SCORECARDS.read_text(encoding="utf-8"), "default").default
    rng = np.random.default_rng(seed)
    n = accounts * months
    days = [date(2025, m, 28) for m in range(1, months + 1)]
    frame = pd.DataFrame({"account_id": np.tile(np.arange(accounts), months), "day": np.repeat(days, accounts),
                          "events30": rng.poisson(30, n).astype("float64")})  # fmt: skip
    rules = [m for g in card.groups for m in g.measures]
    for m in rules:
        xs = [x for x, _p in m.points]
        values = rng.uniform(min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1, n)
        values[rng.random(n) < 0.1] = np.nan
        frame[m.key] = values
    points = calc.score_accounts(frame, card).points.fillna(50.0).to_numpy()
    eta = -1.5 - 2.0 * (points[:, :3] / 100 - 0.5).sum(axis=1)
    return frame, rng.random(n) < 1 / (1 + np.exp(-eta)), days


def tune_part(accounts: int, months: int) -> None:
    """Child process: ``learn`` on the synthetic table, and its parts timed on their own;
    prints the timings as JSON."""
    import numpy as np

    from kizuna.analytics import health as calc
    from kizuna.analytics.health_tune import fit_weights
    from kizuna.services import health
    from kizuna.services.health import tune

    t0 = time.perf_counter()
    table, y, days = tune_table(accounts, months)
    built = time.perf_counter() - t0
    cards = health.parse_toml(health.DEFAULT_SCORECARDS.read_text(encoding="utf-8"), "default")
    t1 = time.perf_counter()
    result = tune.learn(table, y, days, cards, horizon_days=90)
    learned = time.perf_counter() - t1
    # the parts, on the training rows as learn() sees them
    n_test = max(1, months // 3)
    train_days = days[:-n_test]
    is_train = table["day"].isin(set(train_days)).to_numpy()
    values = table.set_index("account_id")[is_train]
    t2 = time.perf_counter()
    points = calc.score_accounts(values, cards.default).points
    points_s = time.perf_counter() - t2
    t3 = time.perf_counter()
    tune.choose_penalty(values, y[is_train], train_days, cards.default)
    inner_s = time.perf_counter() - t3
    prior = np.array([tune.nominal_shares(cards.default)[k] for k in points.columns])
    t4 = time.perf_counter()
    fit_weights(points, y[is_train], values.index.to_numpy(), l2=result.penalty or 0.01, bootstrap=0, prior=prior)
    fit_s = time.perf_counter() - t4
    t5 = time.perf_counter()
    fit_weights(points, y[is_train], values.index.to_numpy(), l2=result.penalty or 0.01, bootstrap=30, prior=prior)
    boot_s = time.perf_counter() - t5 - fit_s
    print(json.dumps({"rows": len(table), "train_rows": int(is_train.sum()), "build_s": round(built, 1),
                      "learn_s": round(learned, 1), "points_s": round(points_s, 1),
                      "inner_validation_s": round(inner_s, 1), "fit_s": round(fit_s, 1),
                      "bootstrap_30_s": round(boot_s, 1), "penalty": result.penalty,
                      "kept_default": result.kept_current, "inner_default": _round(result.inner_auc_current),
                      "inner_tuned": _round(result.inner_auc_tuned), "later_months_default": _round(result.auc_current),
                      "later_months_tuned": _round(result.auc_tuned)}))  # fmt: skip


def _backtest(url: str, as_of: date) -> tuple[dict[str, Any], float]:
    from kizuna.db import make_engine, session_scope
    from kizuna.services import health

    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            start = time.perf_counter()
            result = health.backtest(session, as_of=as_of, horizon_days=90)
            seconds = time.perf_counter() - start
        return health.backtest_json(result), seconds
    finally:
        engine.dispose()


def _tuned(url: str, as_of: date) -> dict[str, Any]:
    """``kizuna health tune``: weights learned on the earlier month-ends, judged on the later
    ones (its own split) — the scorecard in force, the tuned one and the naive signal there."""
    from kizuna.db import make_engine, session_scope
    from kizuna.errors import InvalidInput
    from kizuna.services.health.tune import tune

    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            start = time.perf_counter()
            try:
                result = tune(session, as_of=as_of, horizon_days=90)
            except InvalidInput as exc:
                return {"tune_refused": str(exc)}
            seconds = time.perf_counter() - start
    finally:
        engine.dispose()
    return {"later_months_default": _round(result.auc_current), "later_months_tuned": _round(result.auc_tuned),
            "later_months_naive": _round(result.auc_naive), "tune_train_months": result.train_months,
            "tune_test_months": result.test_months, "inner_default": _round(result.inner_auc_current),
            "inner_tuned": _round(result.inner_auc_tuned), "penalty": result.penalty,
            "kept_default": result.kept_current, "tune_s": round(seconds, 1)}  # fmt: skip


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _row(name: str, data: dict[str, Any], built: float, seconds: float) -> dict[str, Any]:
    auc, naive = data["auc"], data["naive_auc"]
    wrong = [m["measure"] for m in data["measures"] if m["direction"] == "wrong"]
    return {
        "company": name, "auc_default": auc, "auc_naive": naive,
        "margin": None if auc is None or naive is None else round(auc - naive, 4),
        "month_ends": data["evaluations"], "samples": data["samples"], "churned": data["churned"],
        "red_share": round(data["by_grade"]["red"]["accounts"] / max(data["samples"], 1), 3),
        "measures_pointing_the_wrong_way": wrong, "build_s": round(built, 1), "backtest_s": round(seconds, 1),
    }  # fmt: skip


def main(argv: list[str]) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="benchmarks health_generators")
    parser.add_argument("--accounts", type=int, default=300, help="accounts per generated company")
    parser.add_argument("--demo-accounts", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-demo", action="store_true", help="only the generated companies")
    parser.add_argument("--tune-accounts", type=int, default=100_000, help="accounts of the tuning benchmark (0: none)")
    parser.add_argument("--tune-months", type=int, default=12)
    parser.add_argument("--skip-companies", action="store_true")
    args = parser.parse_args(argv)
    out: dict[str, object] = {}
    if args.tune_accounts:
        code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); from benchmarks.health_generators import tune_part; " \
               f"tune_part({args.tune_accounts}, {args.tune_months})"  # fmt: skip
        load = os.getloadavg()
        measured = run_measured(python("-c", code), cwd=ROOT)
        out["tune_at_scale"] = {**json.loads(measured.stdout.strip().splitlines()[-1]), "accounts": args.tune_accounts,
                                "months": args.tune_months, "wall_s": round(measured.seconds, 1),
                                "peak_mb": round(measured.peak_rss_mb),
                                "load_average_before": [round(x, 2) for x in load],
                                "load_average_after": [round(x, 2) for x in os.getloadavg()]}  # fmt: skip
        print(json.dumps(out["tune_at_scale"]), flush=True)
    if args.skip_companies:
        return out
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests import health_generators as gen

    from kizuna.db import ensure_schema, make_engine, session_scope
    from kizuna.demo import generate_demo

    work = Path(tempfile.mkdtemp(prefix="kizuna-health-gen-"))
    rows = []
    try:
        demo: list[tuple[str, Any, date]] = [] if args.skip_demo else [("demo", None, DEMO_AS_OF)]
        builds = demo + [(n, n, gen.AS_OF) for n in gen.GENERATORS]
        for name, generator, as_of in builds:
            url = f"sqlite:///{work / name}.db"
            engine = make_engine(url)
            ensure_schema(engine)
            start = time.perf_counter()
            with session_scope(engine) as session:
                if generator is None:
                    generate_demo(session, accounts=args.demo_accounts, months=24, seed=42, as_of=as_of)
                else:
                    gen.build(session, generator, accounts=args.accounts, seed=args.seed)
            built = time.perf_counter() - start
            engine.dispose()
            data, seconds = _backtest(url, as_of)
            rows.append({**_row(name, data, built, seconds), **_tuned(url, as_of)})
            print(f"{name:10} default {data['auc']}  naive {data['naive_auc']}  later months: "
                  f"{ {k: v for k, v in rows[-1].items() if k.startswith(('later_', 'tune_'))} }", flush=True)  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)
    generated = [r for r in rows if r["company"] != "demo"]
    return {
        **out, "horizon_days": 90, "accounts": args.accounts, "demo_accounts": args.demo_accounts, "table": rows,
        "seed": args.seed, "target_met": all(r["margin"] is not None and r["margin"] >= 0.05 for r in generated)
        and all((r["auc_default"] or 0) >= 0.75 for r in rows if r["company"] == "demo"),
    }  # fmt: skip
