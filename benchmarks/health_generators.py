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

``python -m benchmarks health_generators -- --accounts 300 --demo-accounts 1000``
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.common import ROOT

DEMO_AS_OF = date(2026, 11, 20)


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
            "tune_test_months": result.test_months, "tune_s": round(seconds, 1)}  # fmt: skip


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
    args = parser.parse_args(argv)
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests import health_generators as gen

    from kizuna.db import ensure_schema, make_engine, session_scope
    from kizuna.demo import generate_demo

    work = Path(tempfile.mkdtemp(prefix="kizuna-health-gen-"))
    rows = []
    try:
        builds: list[tuple[str, Any, date]] = [("demo", None, DEMO_AS_OF)] + [(n, n, gen.AS_OF) for n in gen.GENERATORS]
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
        "horizon_days": 90, "accounts": args.accounts, "demo_accounts": args.demo_accounts, "table": rows,
        "target_met": all(r["margin"] is not None and r["margin"] >= 0.05 for r in generated)
        and (rows[0]["auc_default"] or 0) >= 0.75,
    }  # fmt: skip
