"""Onboarding plans benchmark (issue 17): applying plans to ``--accounts`` accounts
(default 100,000; tiers high/low/tech as in the demo, 10/30/60 %) with three templates of
5, 4 and 3 milestones, ``by_tier`` — what the playbook step ``onboarding_plan`` does on a
fresh install when every new account enters at once. Seconds, and milestones written a
second. Baseline in the same run: inserting the same milestone rows with one bare
``executemany`` (the store's write floor, no checks, no reads). Then the progress
column for one page of 50 accounts and the overdue scan of the daily job.

Options: ``--accounts N``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from kizuna.db import ensure_schema, make_engine
from kizuna.db.engine import session_scope
from kizuna.services import onboarding

TEMPLATES = """
[templates.high]
name = "High touch"
tier = "high"
milestones = [{ name = "Kickoff meeting", offset_days = 3 }, { name = "Admin training", offset_days = 10 },
  { name = "User training", offset_days = 17, first_value = true }, { name = "First report", offset_days = 30, owner = "customer" },
  { name = "Review meeting", offset_days = 45 }]

[templates.low]
name = "Low touch"
tier = "low"
milestones = [{ name = "Welcome call", offset_days = 2 }, { name = "Import data", offset_days = 10, owner = "customer", first_value = true },
  { name = "Check-in email", offset_days = 21 }, { name = "First report", offset_days = 30, owner = "customer" }]

[templates.tech]
name = "Tech touch"
tier = "tech"
milestones = [{ name = "Manual sent", offset_days = 0 }, { name = "First login", offset_days = 7, owner = "customer", first_value = true },
  { name = "First report", offset_days = 30, owner = "customer" }]
"""
START = date(2026, 11, 1)


def _seed(url: str, n: int) -> list[int]:
    engine = make_engine(url)
    ensure_schema(engine)
    now = datetime(2026, 1, 1, tzinfo=UTC).isoformat()
    tiers = ["high"] * 10 + ["low"] * 30 + ["tech"] * 60
    rows = [{"k": f"A{i}", "name": f"Account {i}", "tier": tiers[i % 100], "now": now} for i in range(n)]
    with engine.begin() as c:
        c.execute(text("INSERT INTO accounts (external_id, name, custom_fields, status, mrr, touch_tier, at_risk,"
                       " created_at, updated_at) VALUES (:k, :name, '{}', 'active', 0, :tier, false, :now, :now)"), rows)  # fmt: skip
        ids = [int(r[0]) for r in c.execute(text("SELECT id FROM accounts ORDER BY id"))]
    with session_scope(engine) as session:
        onboarding.import_toml(session, TEMPLATES, "bench.toml")
    engine.dispose()
    return ids


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=100_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'a.db'}"
        base_url = f"sqlite:///{Path(tmp) / 'b.db'}"
        ids = _seed(url, args.accounts)
        _seed(base_url, args.accounts)
        engine = make_engine(url)
        t0 = time.perf_counter()
        with session_scope(engine) as session:
            applied = onboarding.apply(session, ids, "by_tier", start=START)
        applied_s = time.perf_counter() - t0
        with engine.connect() as c:
            written = int(c.execute(text("SELECT count(*) FROM onboarding_milestones")).scalar_one())
        t0 = time.perf_counter()
        with session_scope(engine) as session:
            onboarding.progress_of(session, ids[:50], START + timedelta(days=20))
        page_ms = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        with session_scope(engine) as session:
            late = onboarding.overdue_days(session, START + timedelta(days=20))
        overdue_s = time.perf_counter() - t0
        engine.dispose()
        # baseline: the same rows, one bare executemany
        base = make_engine(base_url)
        now = datetime.now(UTC).isoformat()
        rows = [{"e": f"B{i}", "a": 1 + i % args.accounts, "n": "m", "p": 0, "d": START.isoformat(), "now": now}
                for i in range(written)]  # fmt: skip
        t0 = time.perf_counter()
        with base.begin() as c:
            c.execute(text("INSERT INTO onboarding_milestones (external_id, account_id, name, position, due_on,"
                           " first_value, created_at, updated_at) VALUES (:e, :a, :n, :p, :d, false, :now, :now)"), rows)  # fmt: skip
        base_s = time.perf_counter() - t0
        base.dispose()
    return {
        "accounts": args.accounts, "applied": len(applied), "milestones": written,
        "apply_s": round(applied_s, 2), "milestones_per_s": round(written / applied_s),
        "baseline_bare_insert_s": round(base_s, 2), "ratio_to_baseline": round(applied_s / base_s, 2),
        "progress_page_of_50_ms": round(page_ms, 1), "overdue_scan_s": round(overdue_s, 3),
        "accounts_overdue": len(late),
    }  # fmt: skip
