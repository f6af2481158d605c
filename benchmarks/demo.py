"""Demo-company benchmark: ``kizuna demo --accounts N --no-serve`` time and peak memory.

Baseline in the same run: the same command at a tenth of the size, so the report
shows how time and memory scale (linear time, flat memory is the goal).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
from pathlib import Path

from benchmarks.common import run_measured

TABLES = [
    "accounts",
    "contacts",
    "subscriptions",
    "usage_daily",
    "usage_events",
    "tickets",
    "survey_responses",
    "activities",
]


def one(accounts: int, months: int, work: Path) -> dict[str, object]:
    db = work / f"demo-{accounts}.db"
    m = run_measured([sys.executable, "-m", "kizuna", "demo", "--accounts", str(accounts), "--months", str(months),
                      "--no-serve", "--reset"], {"KIZUNA_DATABASE_URL": f"sqlite:///{db}"})  # fmt: skip
    with sqlite3.connect(db) as con:
        rows = {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in TABLES}
    return {
        "seconds": round(m.seconds, 1),
        "peak_rss_mb": round(m.peak_rss_mb),
        "db_mb": round(db.stat().st_size / 2**20),
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks demo")
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--months", type=int, default=24)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="kizuna-demo-bench-"))
    small = one(max(1, args.accounts // 10), args.months, work)
    big = one(args.accounts, args.months, work)
    return {
        "accounts": args.accounts,
        "months": args.months,
        "baseline_accounts": max(1, args.accounts // 10),
        "baseline": small,
        "result": big,
        "time_ratio_for_10x_accounts": round(float(big["seconds"]) / float(small["seconds"]), 2),  # type: ignore[arg-type]
        "memory_ratio_for_10x_accounts": round(float(big["peak_rss_mb"]) / float(small["peak_rss_mb"]), 2),  # type: ignore[arg-type]
    }
