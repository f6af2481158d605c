"""Health-score benchmark: ``kizuna health recompute`` for N accounts.

Data: N accounts, each with a live per-seat plan line, and 120 days of daily usage
rollups (logins, active_users, session_minutes, events and two feature metrics): at the
default 10,000 accounts that is 7.2 million ``usage_daily`` rows standing for about
10 million raw events (the ``events`` metric sums to that). Bulk-inserted with sqlite3.

Baseline in the same run: the bare aggregate SQL over the same 120-day window
(``GROUP BY account_id, metric`` of every metric: the full scan the first version did).
The recompute reads only the metrics the measures use, by index range scans on
(metric, day), so it can beat that baseline.
The recompute scores the day and, as no snapshots exist yet, also the days 7 and 30
before it (for the changes and explanations): three days of measures in all.

Options: ``--accounts N`` (default 10000), ``--days D`` (default 120).
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from benchmarks.common import python, run_measured

AS_OF = date(2026, 11, 20)


def build(db: Path, accounts: int, days: int, seed: int = 1) -> int:
    run_measured(python("-m", "kizuna", "db", "upgrade"), {"KIZUNA_DATABASE_URL": f"sqlite:///{db}"})
    rng = np.random.default_rng(seed)
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    now = "2026-01-01 00:00:00.000000"
    con.execute(
        "INSERT INTO products (id, code, name, kind, rank, list_price, currency, is_active, created_at, updated_at)"
        " VALUES (1, 'pro', 'Pro', 'plan', 1, 1000, 'JPY', 1, ?, ?)",
        (now, now),
    )
    con.executemany(
        "INSERT INTO accounts (id, external_id, name, custom_fields, status, mrr, created_at, updated_at)"
        " VALUES (?, ?, ?, '{}', 'active', 0, ?, ?)",
        ((i, f"A{i}", f"株式会社ベンチ{i}", now, now) for i in range(1, accounts + 1)),
    )
    seats = rng.integers(5, 60, accounts)
    con.executemany(
        "INSERT INTO subscriptions (id, external_id, account_id, product_id, quantity, monthly_amount, currency,"
        " billing_interval, status, started_on, created_at, updated_at)"
        " VALUES (?, ?, ?, 1, ?, 1000, 'JPY', 'month', 'active', '2024-01-01', ?, ?)",
        ((i, f"S{i}", i, int(seats[i - 1]), now, now) for i in range(1, accounts + 1)),
    )
    first = AS_OF - timedelta(days=days - 1)
    day_names = np.array([(first + timedelta(days=d)).isoformat() for d in range(days)], dtype=object)
    metrics = np.array(["active_users", "events", "feature.dashboards", "feature.reports", "logins",
                        "session_minutes"], dtype=object)  # fmt: skip
    events = 0
    level = rng.normal(0.0, 1.0, accounts)
    # the secondary indexes are built once at the end (sorted), not row by row: 100,000
    # accounts (72 million rows) build in minutes instead of hours
    indexes = con.execute("SELECT name, sql FROM sqlite_master WHERE tbl_name = 'usage_daily' AND type = 'index' "
                          "AND sql IS NOT NULL").fetchall()  # fmt: skip
    for name, _sql in indexes:
        con.execute(f"DROP INDEX {name}")
    for a0 in range(0, accounts, 2000):
        ids = np.arange(a0, min(a0 + 2000, accounts))
        p = 1.0 / (1.0 + np.exp(-level[ids]))
        active = rng.binomial(np.repeat(seats[ids], days).reshape(-1, days), (0.25 * p)[:, None])
        logins = active + rng.poisson(active * 0.3)
        f1, f2 = rng.poisson(active * 0.5), rng.poisson(active * 0.2)
        ev = logins + f1 + f2
        events += int(ev.sum())
        acc, day = np.nonzero(active)  # days with activity, in (account, day) order
        values = np.stack([active, ev, f1, f2, logins, logins * 12.0], axis=-1)[acc, day].astype("float64")
        n = len(acc)
        rows = zip(np.repeat(ids[acc] + 1, 6).tolist(), np.repeat(day_names[day], 6).tolist(),
                   np.tile(metrics, n).tolist(), values.reshape(-1).tolist(), strict=True)  # fmt: skip
        con.executemany("INSERT INTO usage_daily (account_id, day, metric, value) VALUES (?, ?, ?, ?)", rows)
    for _name, sql in indexes:
        con.execute(sql)
    con.commit()
    con.close()
    return events


BARE = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1])
for day, start in ((sys.argv[2], sys.argv[3]),):
    con.execute("SELECT account_id, metric, sum(value) FROM usage_daily WHERE day > ? AND day <= ? "
                "GROUP BY account_id, metric", (start, day)).fetchall()
"""


COPY = """
import sys
from kizuna.analytics import backend
backend.copy_tables(backend.connect("sqlite:///" + sys.argv[1]), backend.connect("duckdb:///" + sys.argv[2]))
"""


def main(argv: list[str]) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="benchmarks health")
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=120)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="kizuna-health-"))
    try:
        db = work / "health.db"
        start = time.perf_counter()
        events = build(db, args.accounts, args.days)
        built = time.perf_counter() - start
        rows = sqlite3.connect(db).execute("SELECT count(*) FROM usage_daily").fetchone()[0]
        bare = run_measured(python("-c", BARE, str(db), AS_OF.isoformat(), (AS_OF - timedelta(days=120)).isoformat()))
        env = {"KIZUNA_DATABASE_URL": f"sqlite:///{db}"}
        recompute = run_measured(python("-m", "kizuna", "health", "recompute", "--as-of", AS_OF.isoformat()), env)
        again = run_measured(
            python("-m", "kizuna", "health", "recompute", "--as-of", (AS_OF + timedelta(days=1)).isoformat()), env
        )
        # the feature table of the day through the analytics engine (issue 14, item 5): Ibis on
        # the SQLite store itself, and on a DuckDB copy of the tables (KIZUNA_ANALYTICS_URL)
        day = AS_OF.isoformat()
        measures_sqlite = run_measured(python("-m", "kizuna", "health", "measures", "--as-of", day), env)
        copy_start = time.perf_counter()
        duck = work / "health.duckdb"
        run_measured(python("-c", COPY, str(db), str(duck)))
        copied = time.perf_counter() - copy_start
        measures_duckdb = run_measured(python("-m", "kizuna", "health", "measures", "--as-of", day),
                                       {**env, "KIZUNA_ANALYTICS_URL": f"duckdb:///{duck}"})  # fmt: skip
        result = {
            "accounts": args.accounts, "usage_daily_rows": rows, "events_equivalent": events,
            "data_build_seconds": round(built, 1),
            "bare_aggregate_sql_seconds": round(bare.seconds, 2),
            "recompute_seconds": round(recompute.seconds, 2), "recompute_peak_rss_mb": round(recompute.peak_rss_mb),
            "next_day_recompute_seconds": round(again.seconds, 2),
            "next_day_peak_rss_mb": round(again.peak_rss_mb),
            "ratio_recompute_to_bare_sql": round(recompute.seconds / bare.seconds, 1) if bare.seconds else None,
            "feature_table_one_day_sqlite_ibis_seconds": round(measures_sqlite.seconds, 2),
            "feature_table_one_day_duckdb_seconds": round(measures_duckdb.seconds, 2),
            "copy_to_duckdb_seconds": round(copied, 1),
            "ratio_duckdb_to_sqlite_ibis": round(measures_duckdb.seconds / measures_sqlite.seconds, 2),
        }  # fmt: skip
        print(f"{args.accounts:,} accounts, {rows:,} usage_daily rows (~{events:,} events)")
        print(f"bare SQL aggregate: {bare.seconds:.2f} s; recompute: {recompute.seconds:.2f} s "
              f"(peak {recompute.peak_rss_mb:.0f} MB); next day: {again.seconds:.2f} s")  # fmt: skip
        print(f"feature table of one day through Ibis: SQLite {measures_sqlite.seconds:.2f} s, "
              f"DuckDB {measures_duckdb.seconds:.2f} s (copy {copied:.1f} s)")  # fmt: skip
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)
