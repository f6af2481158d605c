"""KPI pipeline benchmark: the whole KPI report (``kizuna.services.kpis.kpi_report``,
what ``kizuna kpis`` runs) on the embedded SQLite store, against the same report
written the straightforward way in pandas (``benchmarks/pipeline_pandas.py``), in the
same run.

Data (numpy, seed 5, written with ``executemany`` into a store migrated to head, so
with the model's indexes): ``--accounts`` accounts (default 10,000) over 24 months
(2024-11-01 … 2026-11-01) with plan and add-on lines, upgrades and churn; 4 tickets per
account, one NPS answer per account, an onboarding milestone per account; and, per
scale, exactly N **usage events** given as the daily rollups the project's rollup
(:func:`kizuna.services.usage.contributions`) makes of them — raw events are never
stored: per active account-day an ``events`` row (that day's events), a ``logins`` row
(its login events, when any) and an ``active_users`` row. Active account-days are
N ÷ 8 (at most half of all account-days) chosen at random; each has ≥ 1 event and the
rest are spread at random, so the ``events`` values add up to exactly N (checked).

Measured in child processes (wall time including imports, peak RSS): ``kizuna`` =
``kpi_report`` on the SQLite store, in a fresh process that finds the compiled SQL an
earlier one kept on disk (``KIZUNA_CACHE_DIR``, SQL text only, see docs/kpis.md), as
every ``kizuna kpis`` after the first does; ``kizuna cold`` = the run before it, with an
empty folder (each scale starts with an empty one); both freeze the cycle collector after
their imports, as ``kizuna kpis`` does (``kizuna.cli.context.settle_imports``), and
``kizuna unfrozen`` is the timed run without it; ``pandas`` = ``read_sql`` of every table and the
same report in pandas (everything but the other-currency count; see its module);
``kizuna duckdb`` = ``kpi_report`` with the tables copied once into DuckDB
(``KIZUNA_ANALYTICS_URL``; copy time reported apart). The run fails unless kizuna and
pandas agree on 22 figures (MRR, churned/new accounts, NRR 12m, cohorts, survival by
plan, onboarding, upsell, cross-sell, NPS, monthly active accounts, events, tickets,
median first response, Pareto, LTV).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import ROOT, python, run_measured
from benchmarks.pipeline_pandas import same

AS_OF = date(2026, 11, 1)
START = date(2024, 11, 1)


EVENTS_PER_ACTIVE_DAY = 8  # mean events of an account-day with any (until half of all account-days are active)


def generate(db: Path, accounts: int, events: int, seed: int = 5) -> dict[str, int]:
    from kizuna.db import ensure_schema, make_engine

    engine = make_engine(f"sqlite:///{db}")
    ensure_schema(engine)
    engine.dispose()
    rng = np.random.default_rng(seed)
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode = OFF")  # a throw-away store: load fast
    con.execute("PRAGMA synchronous = OFF")
    now = "2026-11-01 00:00:00.000000"
    days = (AS_OF - START).days
    con.executemany(
        "INSERT INTO products (id, code, name, kind, rank, list_price, currency, is_active, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, 'JPY', 1, ?, ?)",
        [(1, "starter", "Starter", "plan", 1, 10000, now, now), (2, "pro", "Pro", "plan", 2, 50000, now, now),
         (3, "ent", "Enterprise", "plan", 3, 200000, now, now), (4, "sso", "SSO", "addon", 0, 20000, now, now)],
    )  # fmt: skip
    con.executemany(
        "INSERT INTO accounts (id, external_id, name, custom_fields, status, mrr, created_at, updated_at)"
        " VALUES (?, ?, ?, '{}', 'active', 0, ?, ?)",
        [(i, f"B-{i:06d}", f"ベンチ{i}", now, now) for i in range(1, accounts + 1)],
    )
    subs: list[tuple[int, int, int, int, str, date, date | None]] = []
    sid = 0
    for a in range(1, accounts + 1):
        start = START + timedelta(days=int(rng.integers(0, days)))
        plan = int(rng.choice([1, 2, 3], p=[0.6, 0.3, 0.1]))
        amount = [0, 10000, 50000, 200000][plan] * int(rng.integers(1, 4))
        end = start + timedelta(days=int(rng.exponential(900))) if rng.random() < 0.5 else None
        end = end if end and end < AS_OF else None
        if rng.random() < 0.15 and (end is None or end > start + timedelta(days=120)):
            change = start + timedelta(days=int(rng.integers(30, 120)))
            sid += 1
            subs.append((sid, a, plan, amount, "canceled", start, change))
            plan = min(plan + 1, 3)
            amount = [0, 10000, 50000, 200000][plan]
            start = change
        sid += 1
        subs.append((sid, a, plan, amount, "canceled" if end else "active", start, end))
        if rng.random() < 0.2 and (end is None or end > start + timedelta(days=60)):
            sid += 1
            subs.append((sid, a, 4, 20000, "active", start + timedelta(days=60), end))
    con.executemany(
        "INSERT INTO subscriptions (id, external_id, account_id, product_id, quantity, monthly_amount, currency,"
        " billing_interval, status, started_on, ended_on, created_at, updated_at)"
        " VALUES (?, 'S' || ?, ?, ?, 1, ?, 'JPY', 'month', ?, ?, ?, ?, ?)",
        [(i, i, a, p, m, s, st.isoformat(), e.isoformat() if e else None, now, now) for i, a, p, m, s, st, e in subs],
    )
    n_tickets = accounts * 4
    opened = rng.integers(0, days * 86400, n_tickets)
    t0 = np.datetime64("2024-11-01T00:00:00")
    frt = rng.exponential(4 * 3600, n_tickets).astype("int64")
    res = frt + rng.exponential(24 * 3600, n_tickets).astype("int64")

    def ts(sec: int) -> str:
        return str(t0 + np.timedelta64(int(sec), "s")).replace("T", " ") + ".000000"

    con.executemany(
        "INSERT INTO tickets (id, external_id, account_id, status, priority, channel, opened_at, first_response_at,"
        " resolved_at, message_count, csat, created_at, updated_at) VALUES (?, 'T' || ?, ?, 'solved', 'normal',"
        " 'email', ?, ?, ?, ?, ?, ?, ?)",
        [(i + 1, i + 1, int(rng.integers(1, accounts + 1)), ts(opened[i]), ts(opened[i] + frt[i]),
          ts(opened[i] + res[i]), int(rng.integers(1, 8)), int(rng.integers(1, 6)), now, now)
         for i in range(n_tickets)],
    )  # fmt: skip
    con.executemany(
        "INSERT INTO survey_responses (id, external_id, account_id, kind, score, answered_at, created_at, updated_at)"
        " VALUES (?, 'R' || ?, ?, 'nps', ?, ?, ?, ?)",
        [(i + 1, i + 1, int(rng.integers(1, accounts + 1)), int(rng.integers(0, 11)),
          ts(int(rng.integers(0, days * 86400))), now, now) for i in range(accounts)],
    )  # fmt: skip
    con.executemany(
        "INSERT INTO onboarding_milestones (id, external_id, account_id, name, position, completed_at, created_at,"
        " updated_at) VALUES (?, 'M' || ?, ?, 'kickoff', 1, ?, ?, ?)",
        [(a, a, a, ts(int(rng.integers(0, days * 86400))) if rng.random() < 0.7 else None, now, now)
         for a in range(1, accounts + 1)],
    )  # fmt: skip
    # usage: `events` product events, given as the daily rollups the project's rollup
    # (kizuna.services.usage.contributions) makes of them: per active account-day an
    # `events` row (events that day), a `logins` row (login events among them, when
    # any) and an `active_users` row (distinct users). Sum of `events` values == events.
    slots = accounts * days
    active_days = min(max(events // EVENTS_PER_ACTIVE_DAY, 1), slots // 2)
    picked = np.sort(rng.choice(slots, size=active_days, replace=False))
    per_day = np.ones(active_days, dtype="int64")  # each active day ≥ 1 event; the rest spread at random
    for lo in range(0, events - active_days, 10_000_000):
        size = min(10_000_000, events - active_days - lo)
        per_day += np.bincount(rng.integers(0, active_days, size=size), minlength=active_days)
    assert int(per_day.sum()) == events
    con.execute("DROP INDEX IF EXISTS ix_usage_daily_day")  # built once after the load: faster
    written = 0
    base = np.datetime64("2024-11-01")
    per_batch = 500_000
    for lo in range(0, active_days, per_batch):
        k, n = picked[lo : lo + per_batch], per_day[lo : lo + per_batch]
        acc = (k // days + 1).tolist()
        day = (base + (k % days).astype("timedelta64[D]")).astype(str).tolist()
        logins = rng.binomial(n, 0.2)
        users = 1 + rng.binomial(n - 1, 0.3)
        rows: list[tuple[int, str, str, float]] = []
        for i in range(len(k)):  # primary-key order: account, day, metric
            rows.append((acc[i], day[i], "active_users", float(users[i])))
            rows.append((acc[i], day[i], "events", float(n[i])))
            if logins[i]:
                rows.append((acc[i], day[i], "logins", float(logins[i])))
        con.executemany("INSERT INTO usage_daily (account_id, day, metric, value) VALUES (?, ?, ?, ?)", rows)
        written += len(rows)
    con.execute("CREATE INDEX ix_usage_daily_day ON usage_daily (day, account_id, metric, value)")
    con.commit()
    con.close()
    return {
        "accounts": accounts,
        "subscriptions": len(subs),
        "tickets": n_tickets,
        "usage_events": events,
        "usage_active_account_days": active_days,
        "usage_daily": written,
    }


KIZUNA = """
import gc, json, os, sys, time
t = time.perf_counter()
from datetime import date
from pathlib import Path
from kizuna.analytics import compiled
from kizuna.services import kpis
from benchmarks.pipeline_pandas import kizuna_checks
compiled.use_folder(None if sys.argv[2] == "off" else Path(sys.argv[2]))  # as kizuna kpis does (KIZUNA_CACHE_DIR)
if os.environ.get("KIZUNA_BENCH_GC_FREEZE", "1") == "1":  # as kizuna kpis does after its imports (cli settle_imports)
    gc.freeze()
backend = kpis.open_backend(sys.argv[1], sys.argv[3] if len(sys.argv) > 3 else None)
r = kpis.kpi_report(backend, date(2026, 11, 1), kpis.KpiOptions(months=12))
print(json.dumps({"seconds": round(time.perf_counter() - t, 2), "checks": kizuna_checks(r), "sql": compiled.stats()}))
"""

COPY = """
import sys
from kizuna.analytics import backend as b
b.copy_tables(b.connect(sys.argv[1]), b.connect(sys.argv[2]))
"""


def _last_json(stdout: str) -> dict[str, Any]:
    """The child's result (its last line); anything it printed before goes to stderr."""
    lines = stdout.strip().splitlines()
    if len(lines) > 1:
        print("\n".join(lines[:-1]), file=sys.stderr)
    out: dict[str, Any] = json.loads(lines[-1])
    return out


def _store_sizes(db: Path) -> dict[str, int]:
    con = sqlite3.connect(db)
    out = {name: int(con.execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0])
           for name in ("accounts", "subscriptions", "tickets", "usage_daily", "usage_monthly")}  # fmt: skip
    out["usage_events"] = int(con.execute("SELECT SUM(value) FROM usage_daily WHERE metric = 'events'").fetchone()[0])
    con.close()
    return out


def main(argv: list[str]) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks pipeline --")
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--scales", default="1000000,10000000,50000000",
                        help="usage events per store (comma-separated); each store holds the daily rollups of "
                             "that many events")  # fmt: skip
    parser.add_argument("--keep", type=Path, default=None, help="keep the generated stores in this folder (and reuse)")
    parser.add_argument("--no-duckdb", action="store_true", help="skip the DuckDB (KIZUNA_ANALYTICS_URL) run")
    args = parser.parse_args(argv)
    scales = [int(s) for s in args.scales.split(",")]
    work = args.keep or Path(tempfile.mkdtemp(prefix="kizuna-pipeline-"))
    work.mkdir(parents=True, exist_ok=True)
    runs = []
    for scale in scales:
        db = work / f"pipeline-events-{scale}.db"
        gen = None
        if not db.exists():
            t = time.perf_counter()
            generate(db, args.accounts, scale)
            gen = round(time.perf_counter() - t, 1)
            db.with_suffix(".json").write_text(json.dumps({"generate_s": gen}))
        else:  # a kept store: migrated to this Kizuna's schema (e.g. the monthly usage rollup filled)
            from kizuna.db import ensure_schema, make_engine

            engine = make_engine(f"sqlite:///{db}")
            ensure_schema(engine)
            engine.dispose()
            if db.with_suffix(".json").exists():  # its generation time when it was made
                gen = json.loads(db.with_suffix(".json").read_text()).get("generate_s")
        sizes = _store_sizes(db)
        assert sizes["usage_events"] == scale, sizes
        url = f"sqlite:///{db}"
        # the compiled SQL on disk (KIZUNA_CACHE_DIR, SQL text only): an empty folder, filled by the
        # first run (the "cold" figures); the timed run reads it, as every `kizuna kpis` after the first
        sql_cache = work / f"sql-cache-{scale}"
        shutil.rmtree(sql_cache, ignore_errors=True)
        cold = run_measured(python("-c", KIZUNA, url, str(sql_cache)), cwd=ROOT)
        k = run_measured(python("-c", KIZUNA, url, str(sql_cache)), cwd=ROOT)
        # the same without the collector's freeze after the imports (shown apart: what the report
        # costs a caller that does not end its process after it)
        thawed = run_measured(python("-c", KIZUNA, url, str(sql_cache)), env={"KIZUNA_BENCH_GC_FREEZE": "0"}, cwd=ROOT)
        p = run_measured(python("-m", "benchmarks.pipeline_pandas", str(db), AS_OF.isoformat()), cwd=ROOT)
        kj, pj, cj = _last_json(k.stdout), _last_json(p.stdout), _last_json(cold.stdout)
        differ = same(kj["checks"], pj["checks"])
        assert not differ, (differ, kj, pj)
        assert not same(cj["checks"], pj["checks"]), cj
        assert not same(_last_json(thawed.stdout)["checks"], pj["checks"]), thawed.stdout
        assert kj["sql"]["misses"] == 0 < kj["sql"]["read"], kj["sql"]  # every shape read from disk
        row: dict[str, object] = {
            "usage_events": scale, "sizes": sizes, "generate_s": gen,
            "kizuna_sqlite_s": round(k.seconds, 2), "kizuna_sqlite_peak_mb": round(k.peak_rss_mb),
            "kizuna_sqlite_cold_s": round(cold.seconds, 2), "kizuna_sqlite_cold_cpu_s": round(cold.cpu_seconds, 2),
            "sql_shapes_read": kj["sql"]["read"],
            "pandas_s": round(p.seconds, 2), "pandas_peak_mb": round(p.peak_rss_mb),
            "pandas_over_sqlite": round(p.seconds / k.seconds, 2),
            # CPU seconds (user + system) of each child: the ratio that holds on a loaded machine
            "kizuna_sqlite_cpu_s": round(k.cpu_seconds, 2), "pandas_cpu_s": round(p.cpu_seconds, 2),
            "pandas_over_sqlite_cpu": round(p.cpu_seconds / k.cpu_seconds, 2),
            "kizuna_sqlite_unfrozen_cpu_s": round(thawed.cpu_seconds, 2),
            "pandas_over_sqlite_unfrozen_cpu": round(p.cpu_seconds / thawed.cpu_seconds, 2),
        }  # fmt: skip
        if not args.no_duckdb:
            duck = work / f"pipeline-events-{scale}.duckdb"
            copy = run_measured(python("-c", COPY, url, f"duckdb:///{duck}"), cwd=ROOT)
            kd = run_measured(python("-c", KIZUNA, url, "off", f"duckdb:///{duck}"), cwd=ROOT)  # memory only
            assert not same(_last_json(kd.stdout)["checks"], pj["checks"]), kd.stdout
            row |= {"kizuna_duckdb_s": round(kd.seconds, 2), "kizuna_duckdb_peak_mb": round(kd.peak_rss_mb),
                    "duckdb_copy_s": round(copy.seconds, 2), "pandas_over_duckdb": round(p.seconds / kd.seconds, 2)}  # fmt: skip
        runs.append(row)
        print(row, flush=True, file=sys.stderr)
    print(f"{'events':>11} {'rollup rows':>12} {'sqlite s':>9} {'MB':>6} {'pandas s':>9} {'MB':>6} {'×pandas':>8} "
          f"{'CPU s':>6} {'cold':>6} {'pandas':>6} {'×pandas':>8} {'duckdb s':>9}")  # fmt: skip
    for r in runs:
        sz = r["sizes"]
        assert isinstance(sz, dict)
        print(f"{r['usage_events']:>11,} {sz['usage_daily']:>12,} {r['kizuna_sqlite_s']:>9} "
              f"{r['kizuna_sqlite_peak_mb']:>6} {r['pandas_s']:>9} {r['pandas_peak_mb']:>6} "
              f"{r['pandas_over_sqlite']:>8} {r['kizuna_sqlite_cpu_s']:>6} {r['kizuna_sqlite_cold_cpu_s']:>6} "
              f"{r['pandas_cpu_s']:>6} {r['pandas_over_sqlite_cpu']:>8} {r.get('kizuna_duckdb_s', '-'):>9}")  # fmt: skip
    return {"accounts": args.accounts, "months": 24, "as_of": AS_OF.isoformat(), "runs": runs}
