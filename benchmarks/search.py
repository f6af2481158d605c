"""Account search at 100,000 accounts: the bigram index against scanning the names.

For each store (an SQLite file; PostgreSQL from the machine's binaries, as the tests
start it): N accounts named as the demo company names them (``株式会社さくら商事``,
``さくらロジスティクス株式会社``…, with their domains) are written in one bulk insert, the
bigram index's triggers filling it as they go (timed, and the index rebuilt from
scratch once, timed). Then the accounts list's query (``list_accounts``: the count and
the first page of 50 by name) is timed for a mix of searches — two-character words,
longer words, ASCII parts of domains, a word no account has — ``--requests`` times
each, in two modes in the same run: **scan** (the baseline: the index is not consulted,
every name and domain is tested, as before issue 19) and **index**.

    python -m benchmarks search -- --accounts 100000 --stores sqlite,postgres
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

QUERIES = ("商事", "食品", "テック", "さくら", "物流", "ホールディングス", "株式会社", "co.jp", "sakura", "存在しない")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _names(accounts: int) -> list[dict[str, Any]]:
    from kizuna.demo import names
    from kizuna.demo.company import company_name

    rng = np.random.default_rng(42)
    industries = list(names.INDUSTRY_WORDS)
    used_names: set[str] = set()
    used_domains: set[str] = set()
    rows = []
    for i in range(accounts):
        name, domain, _stem = company_name(rng, industries[i % len(industries)], used_names, used_domains, -1)
        rows.append({"external_id": f"ACC-{i:06d}", "name": name, "domain": domain, "custom_fields": {}})
    return rows


def build(url: str, accounts: int, extra: int) -> dict[str, float]:
    """``accounts`` accounts written without the index's triggers, then the index built
    at once (what migration 0017 does), then ``extra`` accounts written with the
    triggers, against the same number written without them just before (the triggers'
    cost on a bulk insert)."""
    from sqlalchemy import insert
    from sqlalchemy.orm import Session

    from kizuna.db import bigrams, make_engine
    from kizuna.db.models import Account
    from kizuna.db.schema import ensure_schema

    rows = _names(accounts + 2 * extra)
    engine = make_engine(url)
    ensure_schema(engine)

    def write(session: Session, part: list[dict[str, Any]]) -> float:
        start = time.perf_counter()
        for k in range(0, len(part), 5000):
            session.execute(insert(Account), part[k : k + 5000])
        session.commit()
        return time.perf_counter() - start

    with Session(engine) as session:
        bigrams.drop_triggers(session.connection())
        session.commit()
        write(session, rows[:accounts])
        without = write(session, rows[accounts : accounts + extra])
        start = time.perf_counter()
        bigrams.install(session.connection())  # the triggers back, and the index built from every account
        session.commit()
        build_seconds = time.perf_counter() - start
        with_triggers = write(session, rows[accounts + extra :])
        index_rows = int(session.connection().exec_driver_sql("SELECT count(*) FROM account_bigrams").scalar() or 0)
        session.connection().exec_driver_sql("ANALYZE")
        session.commit()
    engine.dispose()
    return {"accounts": accounts + 2 * extra, "index_build_s": round(build_seconds, 1), "index_rows": index_rows,
            f"insert_{extra}_without_index_s": round(without, 2), f"insert_{extra}_with_triggers_s": round(with_triggers, 2)}  # fmt: skip


def measure(url: str, requests: int) -> dict[str, Any]:
    from sqlalchemy.orm import Session

    from kizuna.db import bigrams, make_engine
    from kizuna.db.queries import accounts as q

    engine = make_engine(url)
    real = bigrams.narrowest
    out: dict[str, Any] = {}
    try:
        for mode in ("scan", "index"):
            bigrams.narrowest = real if mode == "index" else (lambda _session, _text: None)  # type: ignore[assignment]
            per_query: dict[str, list[float]] = {x: [] for x in QUERIES}
            totals: dict[str, int] = {}
            order = [x for x in QUERIES for _ in range(requests)]
            random.Random(7).shuffle(order)
            with Session(engine) as session:
                for text in QUERIES:  # warm the caches once
                    q.list_accounts(session, search=text, owner_id=None, unowned=False, plan_id=None, status=None,
                                    renewal_within_days=None, as_of=date(2026, 12, 1), sort="name", offset=0, limit=50)  # fmt: skip
                for text in order:
                    start = time.perf_counter()
                    total, _rows = q.list_accounts(session, search=text, owner_id=None, unowned=False, plan_id=None,
                                                   status=None, renewal_within_days=None, as_of=date(2026, 12, 1),
                                                   sort="name", offset=0, limit=50)  # fmt: skip
                    per_query[text].append(time.perf_counter() - start)
                    totals[text] = total
            every = [t for ts in per_query.values() for t in ts]
            out[mode] = {
                "p50_ms": round(percentile(every, 0.5) * 1000, 1),
                "p95_ms": round(percentile(every, 0.95) * 1000, 1),
                "by_query": {x: {"matches": totals[x], "p50_ms": round(percentile(ts, 0.5) * 1000, 1),
                                 "p95_ms": round(percentile(ts, 0.95) * 1000, 1)} for x, ts in per_query.items()},
            }  # fmt: skip
        for text in QUERIES:  # both modes must find the same accounts
            assert out["scan"]["by_query"][text]["matches"] == out["index"]["by_query"][text]["matches"], text
    finally:
        bigrams.narrowest = real  # type: ignore[assignment]
        engine.dispose()
    return out


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks search")
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=30, help="timed searches per query and mode")
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--extra", type=int, default=5000, help="accounts inserted with and without the triggers")
    args = parser.parse_args(argv)
    runs: list[dict[str, Any]] = []
    pg = None
    try:
        for kind in [s.strip() for s in args.stores.split(",") if s.strip()]:
            if kind == "sqlite":
                url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='kizuna-search-')) / 'bench.db'}"
            else:
                if pg is None:
                    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
                    from tests.pgserver import PostgresServer

                    pg = PostgresServer.start()
                url = pg.create_database("search_bench")
            built = build(url, args.accounts - 2 * args.extra, args.extra)
            print(kind, built, flush=True)
            result = {"store": kind, **built, **measure(url, args.requests)}
            result["p95_ratio_scan_to_index"] = round(result["scan"]["p95_ms"] / max(result["index"]["p95_ms"], 0.1), 1)
            print({k: v for k, v in result.items() if k not in ("scan", "index")},
                  {m: {k: result[m][k] for k in ("p50_ms", "p95_ms")} for m in ("scan", "index")}, flush=True)  # fmt: skip
            runs.append(result)
    finally:
        if pg is not None:
            pg.stop()
    return {"accounts": args.accounts, "queries": list(QUERIES), "runs": runs,
            "target": "search p95 < 150 ms at 100,000 accounts"}  # fmt: skip
