"""Import benchmark: N usage-event rows from CSV into SQLite with ``kizuna import``.

Baselines in the same run, on the same file:
- ``pandas``: ``read_csv`` of the whole file + ``DataFrame.to_sql`` — the straightforward
  importer (no validation, no references, no idempotency, whole file in memory);
- ``sqlite3 floor``: the csv module and one ``executemany`` into a bare table — the cost
  of just moving the bytes, a lower bound no real importer reaches.

Memory: peak RSS of the import process at 100k and at N rows (flat = about the same).
CPU: user + system seconds of the import (its parsing worker included) — steadier than
the wall time on a machine shared with other work.

``--baseline-src PATH`` also imports the same file with the code of another source tree
(e.g. ``/work/main/src``, or a worktree of an older commit), first, in the same run: a
before/after under the same load.
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks.common import Measured, run_measured, save

ACCOUNTS = 2000
EVENTS = ["Signed In", "Report Created", "Dashboard Viewed", "Workflow Run", "Data Exported", "API Called"]


def write_accounts(path: Path) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["external_id", "name"])
        for i in range(ACCOUNTS):
            w.writerow([f"ACC-{i:05d}", f"株式会社ベンチ{i}"])


def write_events(path: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["message_id", "account_external_id", "event", "timestamp", "properties"])
        for i in range(rows):
            ts = start + timedelta(seconds=rng.randrange(0, 365 * 86400))
            event = rng.choice(EVENTS)
            props = f'{{"session_minutes": {rng.randrange(1, 90)}}}' if event == "Signed In" else "{}"
            w.writerow([f"msg-{i:09d}", f"ACC-{rng.randrange(ACCOUNTS):05d}", event, ts.isoformat(), props])


def kizuna_import(work: Path, events: Path, src: str | None = None, tag: str = "k") -> Measured:
    db = work / f"{tag}-{events.stem}.db"
    env = {"KIZUNA_DATABASE_URL": f"sqlite:///{db}"}
    if src is not None:
        env["PYTHONPATH"] = src
    found = shutil.which("kizuna")
    kizuna = [found] if found else [sys.executable, "-m", "kizuna"]
    run_measured([*kizuna, "import", "accounts", str(work / "accounts.csv")], env)
    m = run_measured([*kizuna, "import", "usage-events", str(events)], env)
    db.unlink()
    return m


PANDAS = """
import sys, pandas as pd, sqlalchemy as sa
df = pd.read_csv(sys.argv[1], dtype=str)
df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True)
e = sa.create_engine("sqlite:///" + sys.argv[2])
df.to_sql("usage_events", e, index=False, chunksize=50000)
"""

FLOOR = """
import csv, sqlite3, sys
con = sqlite3.connect(sys.argv[2])
con.execute("create table e (message_id text primary key, account text, event text, ts text, props text)")
with open(sys.argv[1], newline="") as fh:
    r = csv.reader(fh); next(r)
    con.executemany("insert into e values (?,?,?,?,?)", r)
con.commit()
"""


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks imports")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--baseline-src", default=None, metavar="PATH",
                        help="also import with the code of this source tree, first (before/after in one run)")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="kizuna-bench-"))
    try:
        write_accounts(work / "accounts.csv")
        small, big = work / "events_100k.csv", work / f"events_{args.rows}.csv"
        write_events(small, 100_000)
        write_events(big, args.rows)
        before = kizuna_import(work, big, args.baseline_src, "b") if args.baseline_src else None
        k_small_mb = kizuna_import(work, small).peak_rss_mb
        k = kizuna_import(work, big)
        k_s, k_mb = k.seconds, k.peak_rss_mb
        p = run_measured([sys.executable, "-c", PANDAS, str(big), str(work / "pandas.db")])
        f = run_measured([sys.executable, "-c", FLOOR, str(big), str(work / "floor.db")])
        result: dict[str, object] = {
            "rows": args.rows,
            "file_mb": round(big.stat().st_size / 2**20, 1),
            "kizuna_seconds": round(k_s, 2),
            "kizuna_rows_per_second": round(args.rows / k_s),
            "kizuna_peak_rss_mb": round(k_mb),
            "kizuna_peak_rss_mb_at_100k_rows": round(k_small_mb),
            "memory_growth_100k_to_n": round(k_mb / k_small_mb, 2),
            "pandas_seconds": round(p.seconds, 2),
            "pandas_peak_rss_mb": round(p.peak_rss_mb),
            "floor_seconds": round(f.seconds, 2),
            "kizuna_vs_pandas_time_ratio": round(k_s / p.seconds, 2),
            "kizuna_vs_floor_time_ratio": round(k_s / f.seconds, 2),
            "kizuna_cpu_seconds": round(k.cpu_seconds, 2),
            "pandas_cpu_seconds": round(p.cpu_seconds, 2),
            "floor_cpu_seconds": round(f.cpu_seconds, 2),
            "kizuna_vs_floor_cpu_ratio": round(k.cpu_seconds / f.cpu_seconds, 2),
            "target": "< 60 s for 1,000,000 rows, memory flat",
            "met": bool(k_s < 60 and k_mb / k_small_mb < 1.5) if args.rows >= 1_000_000 else None,
        }
        if before is not None:
            result["baseline_src"] = args.baseline_src
            result["before_seconds"] = round(before.seconds, 2)
            result["before_rows_per_second"] = round(args.rows / before.seconds)
            result["before_peak_rss_mb"] = round(before.peak_rss_mb)
            result["before_cpu_seconds"] = round(before.cpu_seconds, 2)
            result["before_vs_floor_time_ratio"] = round(before.seconds / f.seconds, 2)
            result["before_vs_floor_cpu_ratio"] = round(before.cpu_seconds / f.cpu_seconds, 2)
            result["speedup_vs_before"] = round(before.seconds / k_s, 2)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    out = main()
    print(save("imports", out))
