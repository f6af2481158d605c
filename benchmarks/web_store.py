"""A big store for the page benchmarks, from a small demo copied N times in SQL (issue 19).

``kizuna demo --accounts 100000`` takes a quarter of an hour on a quiet machine and far
longer on a loaded one; the page benchmarks (``web``, ``web_cpu``) need the rows the
accounts list and the customer 360 page read, at 100,000 accounts, not a simulated
history. :func:`copy_store` takes a store (e.g. a 1,000-account ``kizuna demo --months
2``) and writes a copy of it whose accounts — and what the two pages read of them — are
repeated ``copies`` times:

- the copied tables (:data:`COPIED`): each copy's integer ids are shifted by the
  table's largest id times the copy's number, and so is every column that points into a
  copied table (``account_id`` — also in ``account_bigrams``, which declares no foreign
  key —, ``contact_id``, ``activity_id``, ``parent_id``, …); columns pointing elsewhere
  (owners, plans, products) are kept;
- text columns that must be unique and hold no shifted column (the external ids) get
  ``-c<copy>`` appended; names and domains are kept, so a search matches the same share of
  the accounts as in the demo (``株式会社``: three quarters);
- ``health_snapshots``: only each account's latest snapshot (the one the list shows); the
  rest of a history and the raw usage are not copied (:data:`NOT_COPIED`): a copy's 360
  page shows a usage chart of zeros and one health point;
- the search index's triggers on ``accounts`` are dropped while copying (the index rows
  are copied instead: ~35 times faster than the triggers) and created again;
- ``ANALYZE`` at the end (the planner's statistics for the new sizes, as ``PRAGMA
  optimize`` gives a store after an import).

The copy 0 is the source itself: ``copies=100`` on 1,000 accounts gives 100,000.
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

#: Tables copied with the accounts (what the accounts list and the 360 page read).
COPIED = (
    "accounts", "account_bigrams", "account_ltv", "churn_scores", "contacts", "health_snapshots",
    "health_sentiments", "onboarding_milestones", "opportunities", "renewals", "segment_overrides",
    "subscriptions", "success_goals", "activities", "survey_responses", "tickets", "tasks",
)  # fmt: skip
#: Account-scoped tables left as they are (histories and logs the two pages do not list).
NOT_COPIED = (
    "usage_events", "usage_daily", "usage_daily_users", "segment_changes", "playbook_enrollments", "kb_sends",
    "kb_views", "survey_invitations", "renewal_changes", "success_milestones",
)  # fmt: skip
#: Rows of a table copied: only these (the original rows are ``T``).
ROW_FILTERS = {
    "health_snapshots": "T.day = (SELECT a.health_as_of FROM accounts a WHERE a.id = T.account_id)",
}


def _columns(db: sqlite3.Connection, table: str) -> list[str]:
    return [str(r[1]) for r in db.execute(f"PRAGMA table_info({table})")]


def _targets(db: sqlite3.Connection, table: str) -> dict[str, str]:
    """Column → the copied table it points to."""
    out = {str(r[3]): str(r[2]) for r in db.execute(f"PRAGMA foreign_key_list({table})") if r[2] in COPIED}
    if "account_id" in _columns(db, table):
        out.setdefault("account_id", "accounts")
    if table in COPIED and "id" in _columns(db, table):
        out["id"] = table
    return out


def _unique_texts(db: sqlite3.Connection, table: str, shifted: set[str]) -> set[str]:
    """Text columns of unique indexes that hold no shifted column (suffixed per copy)."""
    out: set[str] = set()
    for index in db.execute(f"PRAGMA index_list({table})").fetchall():
        if not index[2]:
            continue
        columns = [str(r[2]) for r in db.execute(f"PRAGMA index_info('{index[1]}')")]
        if not set(columns) & shifted:
            out.update(columns)
    return out


def copy_store(source: Path, dest: Path, copies: int) -> dict[str, object]:
    """Write ``dest``: ``source`` with its accounts repeated ``copies`` times (see the module)."""
    if copies < 1:
        raise ValueError("copies must be at least 1")
    started = time.perf_counter()
    shutil.copyfile(source, dest)
    db = sqlite3.connect(dest, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA foreign_keys=OFF")
        strides = {t: int(db.execute(f"SELECT coalesce(max(id), 0) FROM {t}").fetchone()[0])
                   for t in COPIED if "id" in _columns(db, t)}  # fmt: skip
        triggers = db.execute("SELECT name, sql FROM sqlite_master WHERE type='trigger' AND tbl_name='accounts'").fetchall()
        rows: dict[str, int] = {}
        db.execute("BEGIN")
        for name, _sql in triggers:
            db.execute(f"DROP TRIGGER {name}")
        for table in COPIED:
            targets = _targets(db, table)
            suffixed = _unique_texts(db, table, set(targets))
            columns = _columns(db, table)
            values = []
            for c in columns:
                if c in targets:
                    values.append(f"T.{c} + k.n * {strides[targets[c]]}")
                elif c in suffixed:
                    values.append(f"T.{c} || '-c' || k.n")
                else:
                    values.append(f"T.{c}")
            where = ROW_FILTERS.get(table, "1")
            db.execute(
                f"WITH RECURSIVE k(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM k WHERE n < {copies - 1}) "
                f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(values)} "
                f"FROM (SELECT * FROM {table} T WHERE {where}) T, k WHERE {copies} > 1"
            )
            rows[table] = int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        for _name, sql in triggers:
            db.execute(sql)
        db.execute("COMMIT")
        db.execute("ANALYZE")
    finally:
        db.close()
    return {"copies": copies, "rows": rows, "seconds": round(time.perf_counter() - started, 1)}


def ensure_store(db: Path, accounts: int, months: int, copies: int = 1, source: Path | None = None) -> dict[str, object]:
    """The benchmark's store at ``db``, made if missing: a demo of ``accounts`` accounts,
    or with ``copies`` > 1 a demo of ``accounts // copies`` (``source`` if given, else built
    next to ``db``) copied ``copies`` times. What was done, for the report."""
    from benchmarks.web import build

    if db.exists():
        return {"store": str(db), "made": False}
    if copies <= 1:
        return {"store": str(db), "made": True, "demo_build_seconds": round(build(db, accounts, months), 1)}
    out: dict[str, object] = {"store": str(db), "made": True}
    if source is None:
        source = db.with_name(db.stem + f"-source-{accounts // copies}.db")
        if not source.exists():
            out["demo_build_seconds"] = round(build(source, accounts // copies, months), 1)
    out["copied"] = {"source": str(source), **copy_store(source, db, copies)}
    return out
