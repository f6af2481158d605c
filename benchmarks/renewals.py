"""The renewals step and the forecast at N accounts (default 100,000) on SQLite: wall time,
and the Python heap's peak in a second, traced run (tracemalloc slows Python down, so it
does not time), against reading every account's subscription lines (the
baseline the step cannot beat: it reads them all).
Run: ``python -m benchmarks renewals -- --accounts 100000``."""

from __future__ import annotations

import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import text

from kizuna.db import make_engine, session_scope
from kizuna.db.queries import subscriptions as subs_q
from kizuna.db.schema import ensure_schema
from kizuna.services import renewals

AS_OF = date(2026, 11, 20)


def build(url: str, n: int) -> None:
    engine = make_engine(url)
    ensure_schema(engine)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO products (code, name, kind, rank, list_price, currency, is_active, created_at,"
                          " updated_at) VALUES ('p', 'P', 'plan', 0, 0, 'JPY', 1, :n, :n)"), {"n": now})  # fmt: skip
        conn.execute(text("INSERT INTO accounts (external_id, name, custom_fields, status, mrr, at_risk, created_at,"
                          " updated_at) VALUES (:k, :k, '{}', 'active', 0, 0, :n, :n)"),
                     [{"k": f"A{i}", "n": now} for i in range(n)])  # fmt: skip
        rows = []
        for i in range(n):
            start = date(2024 + i % 2, 1 + i % 12, 1 + i % 28)
            annual = i % 3 != 0
            cte = date(start.year + 2 + (i % 2 == 0), start.month, start.day) if annual else None
            ended = date(2026, start.month, start.day) if i % 10 == 0 and annual else None
            rows.append({"e": f"S{i}", "a": i + 1, "m": 10_000 + i % 500 * 1000, "i": "year" if annual else "month",
                         "s": start, "c": cte, "t": 12 if annual else 1, "st": "canceled" if ended else "active",
                         "end": ended, "n": now})  # fmt: skip
        conn.execute(text("INSERT INTO subscriptions (external_id, account_id, product_id, quantity, monthly_amount,"
                          " currency, billing_interval, status, started_on, current_term_end, term_months, ended_on,"
                          " created_at, updated_at) VALUES (:e, :a, 1, 1, :m, 'JPY', :i, :st, :s, :c, :t, :end,"
                          " :n, :n)"), rows)  # fmt: skip
    engine.dispose()


def measure(label: str, fn, traced: bool = False):  # type: ignore[no-untyped-def]
    if traced:
        tracemalloc.start()
    t0 = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - t0
    if traced:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        print(f"{label:<34} peak Python heap {peak:8.1f} MiB")
        return seconds, peak
    print(f"{label:<34} {seconds:8.2f} s")
    return seconds, result


def main(argv: list[str] | None = None) -> dict[str, object]:
    args = list(argv or [])
    n = int(args[args.index("--accounts") + 1]) if "--accounts" in args else 100_000
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        build(url, n)
        engine = make_engine(url)
        print(f"{n:,} accounts")
        with session_scope(engine) as s:
            base, _ = measure("baseline: read every line", lambda: sum(1 for _ in subs_q.lines_by_account(s)))
        with session_scope(engine) as s:
            first, written = measure("renewals step (first run)", lambda: renewals.step(s, AS_OF))
        with session_scope(engine) as s:
            again, _ = measure("renewals step (again: no change)", lambda: renewals.step(s, AS_OF))
        with session_scope(engine) as s:
            start, end = renewals.month_window(AS_OF, None, 3)
            fc, f = measure("forecast, next 3 months", lambda: renewals.forecast(s, AS_OF, start, end))
        with session_scope(engine) as s:
            fy, _ = measure("forecast, next 12 months", lambda: renewals.forecast(s, AS_OF, start,
                                                                            renewals.month_window(AS_OF, None, 12)[1]))
        print(f"rows written {written:,}; 3-month totals: {[(t.currency, t.renewals, t.arr_due, t.expected_arr) for t in f.totals]}")
        with session_scope(engine) as s:  # memory: the step once more on a cleared pipeline, and the forecast
            s.execute(text("DELETE FROM renewals"))
            step_mib = measure("renewals step (first run), traced", lambda: renewals.step(s, AS_OF), traced=True)[1]
            forecast_mib = measure("forecast, next 3 months, traced", lambda: renewals.forecast(s, AS_OF, start, end),
                                   traced=True)[1]
        print(f"ratios to the baseline: step {first / base:.1f}×, step again {again / base:.1f}×, "
              f"forecast 3 months {fc / base:.1f}×, 12 months {fy / base:.1f}×")
        engine.dispose()
    return {"accounts": n, "rows": written, "baseline_read_lines_s": round(base, 2), "step_first_s": round(first, 2),
            "step_again_s": round(again, 2), "forecast_3_months_s": round(fc, 2), "forecast_12_months_s": round(fy, 2),
            "step_peak_heap_mib": round(step_mib, 1), "forecast_peak_heap_mib": round(forecast_mib, 1),
            "step_ratio": round(first / base, 1), "forecast_3_months_ratio": round(fc / base, 2)}


if __name__ == "__main__":
    print(main(sys.argv[1:]))
