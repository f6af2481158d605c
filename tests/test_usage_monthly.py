"""The monthly usage rollup (``usage_monthly``), kept by the database's triggers on
``usage_daily`` (kizuna.db.usage_months), on SQLite and PostgreSQL; and the KPI report's
monthly usage read from it (kizuna.analytics.success.usage_by_month)."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Connection, Engine

from kizuna.analytics import backend as ab
from kizuna.analytics import success
from kizuna.analytics.periods import MonthGrid
from kizuna.db import maintenance, make_engine, usage_months
from kizuna.db.engine import session_scope
from kizuna.db.schema import upgrade

UPSERT = "ON CONFLICT (account_id, day, metric) DO UPDATE SET value = usage_daily.value + excluded.value"


def _accounts(conn: Connection, *ids: int) -> None:
    for i in ids:
        conn.exec_driver_sql(
            "INSERT INTO accounts (id, external_id, name, custom_fields, status, mrr, created_at, updated_at) "
            f"VALUES ({i}, 'A{i}', 'Account {i}', '{{}}', 'active', 0, '2026-01-01', '2026-01-01')"
        )


def _daily(conn: Connection, rows: list[tuple[int, str, str, float]], upsert: bool = False) -> None:
    values = ", ".join(f"({a}, '{d}', '{m}', {v!r})" for a, d, m, v in rows)
    conn.exec_driver_sql(
        f"INSERT INTO usage_daily (account_id, day, metric, value) VALUES {values} {UPSERT if upsert else ''}"
    )


def _months(conn: Connection) -> list[tuple[int, str, int, float]]:
    rows = conn.exec_driver_sql("SELECT account_id, month, active_rows, events FROM usage_monthly ORDER BY 1, 2")
    return [(int(a), str(m), int(n), float(e)) for a, m, n, e in rows]


def _engine(url: str) -> Engine:
    return make_engine(url)


def test_every_kind_of_write_keeps_the_months(store_url: str) -> None:
    engine = _engine(store_url)
    with engine.begin() as conn:
        _accounts(conn, 1, 2)
        # January for 1: 3 + 4 events, one login; February for 2: nothing above zero
        _daily(conn, [(1, "2026-01-05", "events", 3.0), (1, "2026-01-06", "events", 4.0),
                      (1, "2026-01-06", "logins", 1.0), (2, "2026-02-01", "events", 0.0),
                      (2, "2026-02-02", "events", -1.0)])  # fmt: skip
        assert _months(conn) == [(1, "2026-01-01", 3, 7.0)]
        # the ingestion's upsert: 3 → 5 on an existing day, 0 → 5 turns February on
        _daily(conn, [(1, "2026-01-05", "events", 2.0), (2, "2026-02-01", "events", 5.0)], upsert=True)
        assert _months(conn) == [(1, "2026-01-01", 3, 9.0), (2, "2026-02-01", 1, 5.0)]
        # a row moved to another month: its part goes with it
        conn.exec_driver_sql("UPDATE usage_daily SET day = '2026-03-01' WHERE account_id = 1 AND day = '2026-01-06'")
        assert _months(conn) == [(1, "2026-01-01", 1, 5.0), (1, "2026-03-01", 2, 4.0), (2, "2026-02-01", 1, 5.0)]
        # a figure falling to zero, then below: the month is left with nothing, so no row
        conn.exec_driver_sql("UPDATE usage_daily SET value = 0 WHERE account_id = 2 AND day = '2026-02-01'")
        assert _months(conn) == [(1, "2026-01-01", 1, 5.0), (1, "2026-03-01", 2, 4.0)]
        # a login that is not an event: active, 0 events
        conn.exec_driver_sql("UPDATE usage_daily SET metric = 'logins' WHERE account_id = 1 AND day = '2026-01-05'")
        assert _months(conn) == [(1, "2026-01-01", 1, 0.0), (1, "2026-03-01", 2, 4.0)]
        conn.exec_driver_sql("DELETE FROM usage_daily WHERE account_id = 1 AND metric = 'events'")
        assert _months(conn) == [(1, "2026-01-01", 1, 0.0), (1, "2026-03-01", 1, 0.0)]
        assert usage_months.differences(conn) == []
        # an account's deletion: its days go by the cascade, and its months with them
        conn.exec_driver_sql("DELETE FROM accounts WHERE id = 1")
        assert _months(conn) == []
        assert usage_months.differences(conn) == []
    engine.dispose()


def test_many_rows_of_one_month_in_one_statement(store_url: str) -> None:
    """PostgreSQL's triggers work per statement: rows of the same month, inserted and
    updated together, are summed before they are added."""
    engine = _engine(store_url)
    with engine.begin() as conn:
        _accounts(conn, 7)
        _daily(conn, [(7, f"2026-05-{d:02d}", "events", float(d)) for d in range(1, 11)])
        assert _months(conn) == [(7, "2026-05-01", 10, 55.0)]
        # every day +1 in one upsert, and three new days (one of them zero) with it
        _daily(conn, [(7, f"2026-05-{d:02d}", "events", 1.0) for d in range(1, 11)]
               + [(7, "2026-05-20", "events", 2.0), (7, "2026-05-21", "active_users", 4.0),
                  (7, "2026-06-01", "events", 0.0)], upsert=True)  # fmt: skip
        assert _months(conn) == [(7, "2026-05-01", 12, 67.0)]
        # every May row to June in one statement; then the whole month gone in one
        conn.exec_driver_sql("UPDATE usage_daily SET day = '2026-06-15' WHERE day = '2026-05-21'")
        conn.exec_driver_sql("UPDATE usage_daily SET value = value * 2 WHERE account_id = 7")
        assert _months(conn) == [(7, "2026-05-01", 11, 134.0), (7, "2026-06-01", 1, 0.0)]
        conn.exec_driver_sql("DELETE FROM usage_daily WHERE day < '2026-06-01'")
        assert _months(conn) == [(7, "2026-06-01", 1, 0.0)]
    engine.dispose()


def _expected(rows: dict[tuple[int, str, str], float]) -> list[tuple[int, str, int, float]]:
    out: dict[tuple[int, str], list[float]] = defaultdict(lambda: [0, 0.0])
    for (a, d, m), v in rows.items():
        if v > 0:
            cell = out[(a, d[:8] + "01")]
            cell[0] += 1
            cell[1] += v if m == "events" else 0.0
    return sorted((a, mo, int(n), e) for (a, mo), (n, e) in out.items())


def test_random_writes_stay_in_step(store_url: str) -> None:
    """300 random statements (inserts, upserts, updates, deletes, several rows each) on 3
    accounts × 3 months × 3 metrics, whole numbers as the ingestion writes: the kept
    months equal those counted afresh from the days, after every statement."""
    rng = random.Random(19)
    engine = _engine(store_url)
    days = [f"2026-{m:02d}-{d:02d}" for m in (1, 2, 3) for d in (1, 15, 28)]
    metrics = ["events", "logins", "active_users"]
    have: dict[tuple[int, str, str], float] = {}
    with engine.begin() as conn:
        _accounts(conn, 1, 2, 3)
        for _ in range(300):
            kind = rng.choice(["insert", "upsert", "update", "delete"])
            keys = {(rng.randint(1, 3), rng.choice(days), rng.choice(metrics)) for _ in range(rng.randint(1, 4))}
            if kind == "insert":
                keys = {k for k in keys if k not in have}
                if not keys:
                    continue
                rows = [(*k, float(rng.randint(-2, 6))) for k in sorted(keys)]
                _daily(conn, rows)
                have.update({(a, d, m): v for a, d, m, v in rows})
            elif kind == "upsert":
                rows = [(*k, float(rng.randint(-3, 5))) for k in sorted(keys)]
                _daily(conn, rows, upsert=True)
                for a, d, m, v in rows:
                    have[(a, d, m)] = have.get((a, d, m), 0.0) + v
            elif kind == "update":
                a, value = rng.randint(1, 3), float(rng.randint(-1, 4))
                conn.exec_driver_sql(f"UPDATE usage_daily SET value = {value!r} WHERE account_id = {a} AND day >= '2026-02-01'")
                have.update({k: value for k in have if k[0] == a and k[1] >= "2026-02-01"})
            else:
                a = rng.randint(1, 3)
                conn.exec_driver_sql(f"DELETE FROM usage_daily WHERE account_id = {a} AND metric = 'logins'")
                have = {k: v for k, v in have.items() if not (k[0] == a and k[2] == "logins")}
            assert _months(conn) == _expected(have), kind
        assert usage_months.differences(conn) == []
    engine.dispose()


def test_install_puts_lost_triggers_back_and_refills(store_url: str) -> None:
    engine = _engine(store_url)
    with engine.begin() as conn:
        assert usage_months.install(conn) is False  # the migration installed them
        _accounts(conn, 1)
        usage_months.drop_triggers(conn)
        _daily(conn, [(1, "2026-04-30", "events", 6.0), (1, "2026-05-01", "logins", 2.0)])
        assert _months(conn) == []  # nothing kept them meanwhile
        assert usage_months.differences(conn) == [
            (1, "2026-04-01", 0, 0.0, 1, 6.0), (1, "2026-05-01", 0, 0.0, 1, 0.0),
        ]  # fmt: skip
        assert usage_months.install(conn) is True
        assert _months(conn) == [(1, "2026-04-01", 1, 6.0), (1, "2026-05-01", 1, 0.0)]
        _daily(conn, [(1, "2026-05-02", "events", 1.0)])
        assert _months(conn) == [(1, "2026-04-01", 1, 6.0), (1, "2026-05-01", 2, 1.0)]
        # a kept row that drifted is listed; the limit holds
        conn.exec_driver_sql("UPDATE usage_monthly SET events = 7 WHERE month = '2026-04-01'")
        conn.exec_driver_sql("INSERT INTO usage_monthly VALUES (1, '2026-09-01', 1, 0)")
        assert usage_months.differences(conn) == [
            (1, "2026-04-01", 1, 7.0, 1, 6.0), (1, "2026-09-01", 1, 0.0, 0, 0.0),
        ]  # fmt: skip
        assert usage_months.differences(conn, limit=1) == [(1, "2026-04-01", 1, 7.0, 1, 6.0)]
        # at most 100 by default
        usage_months.drop_triggers(conn)
        _daily(conn, [(1, f"{1900 + y}-01-01", "events", 1.0) for y in range(101)])
        assert len(usage_months.differences(conn)) == 100
    engine.dispose()


def test_the_migration_fills_the_months_of_a_store_that_had_days(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0025")
    with engine.begin() as conn:
        _accounts(conn, 1, 2)
        _daily(conn, [(1, "2026-01-31", "events", 5.0), (1, "2026-02-01", "events", 2.0),
                      (2, "2026-02-10", "logins", 3.0), (2, "2026-02-11", "events", -1.0)])  # fmt: skip
    upgrade(engine)
    with engine.begin() as conn:
        assert _months(conn) == [(1, "2026-01-01", 1, 5.0), (1, "2026-02-01", 1, 2.0), (2, "2026-02-01", 1, 0.0)]
    with session_scope(engine) as session:
        # derived, like the search index: a store with only these rows is not "empty", its days are
        assert not maintenance.is_empty(session)
        session.connection().exec_driver_sql("DELETE FROM usage_daily")
        session.connection().exec_driver_sql("INSERT INTO usage_monthly VALUES (1, '2025-01-01', 1, 1)")
        session.connection().exec_driver_sql("DELETE FROM accounts")
        assert maintenance.is_empty(session)
    engine.dispose()


# --- the KPI report's monthly usage -------------------------------------------------------------


def _usage(store_url: str, grid: MonthGrid, monthly: bool) -> pd.DataFrame:
    con = ab.connect(store_url)
    t = ab.store_tables(con)
    assert t.usage_monthly is not None  # the store keeps it
    if not monthly:
        t = ab.StoreTables(**{**t.__dict__, "usage_monthly": None})
    out = success.usage_by_month(t, grid).execute().sort_values("mi").reset_index(drop=True)
    con.disconnect()
    return out


@pytest.mark.parametrize(
    "as_of",
    [date(2026, 3, 31), date(2026, 3, 15), date(2026, 3, 1), date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 15)],
)
def test_usage_by_month_from_the_months_equals_the_days(store_url: str, as_of: date) -> None:
    engine = _engine(store_url)
    with engine.begin() as conn:
        _accounts(conn, 1, 2, 3, 4, 5)
        _daily(conn, [
            (1, "2026-01-31", "events", 100.0),  # January: before the reported months
            (1, "2026-02-01", "events", 5.0), (1, "2026-02-28", "logins", 3.0),
            (1, "2026-03-15", "events", 7.0), (1, "2026-03-16", "events", 1000.0),
            (2, "2026-02-10", "events", 0.0), (2, "2026-02-11", "logins", 0.0),
            (2, "2026-03-02", "logins", 2.0), (2, "2026-03-03", "events", -4.0),
            (3, "2026-02-03", "events", 2.5), (3, "2026-02-04", "events", 1.5), (3, "2026-03-01", "events", 1.0),
            (3, "2026-04-01", "events", 9.0),
            (4, "2026-03-01", "events", 0.0), (4, "2026-04-01", "logins", 0.0),  # zeros: never active
            (5, "2026-05-01", "logins", 1.0),  # May: active, no events
        ])  # fmt: skip
        # a kept month with nothing above zero (the triggers never leave one) is not an active account
        conn.exec_driver_sql("INSERT INTO usage_monthly VALUES (4, '2026-02-01', 0, 0)")
    engine.dispose()
    grid = MonthGrid(as_of, months=2, lookback=1)
    got = _usage(store_url, grid, monthly=True)
    by = {int(r.mi): (int(r.active_accounts), float(r.events)) for r in got.itertuples()}
    expected = {
        # March (the last month, from the days): accounts 1 (7 events; 1,000 more on the 16th),
        # 2 (logins on the 2nd; its −4 events do not count), 3 (1 on the 1st)
        date(2026, 3, 31): {1: (2, 9.0), 2: (3, 1008.0)},
        date(2026, 3, 15): {1: (2, 9.0), 2: (3, 8.0)},
        date(2026, 3, 1): {1: (2, 9.0), 2: (1, 1.0)},
        # March whole from the months; April's first day: account 3's 9 events
        date(2026, 4, 1): {1: (3, 1008.0), 2: (1, 9.0)},
        # May from its first day: logins only, so 0 events (not missing)
        date(2026, 5, 1): {1: (1, 9.0), 2: (1, 0.0)},
        # May from the months; nothing yet in June: no row
        date(2026, 6, 15): {1: (1, 0.0)},
    }
    assert by == expected[as_of]
    assert str(got["events"].dtype) == "float64"
    # the same frame as from the days alone (but for the stray kept row, which they do not see)
    assert got.equals(_usage(store_url, grid, monthly=False))
