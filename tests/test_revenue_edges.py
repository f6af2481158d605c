"""Revenue at the edges, against figures worked out by hand (no function under test as
its own oracle): lines that end on a snapshot day and on ``as_of``, a trial that ends
on a snapshot day, another currency beside yen, an account whose first earning day is
a snapshot day.

The company (JPY; as of 2026-03-15, a 3-month report; snapshots 2025-12-31,
2026-01-31, 2026-02-28 and 2026-03-15; ``ended_on`` is exclusive):

- B1: Basic 10,000 from 2025-06-01, ended 2026-01-31 (a snapshot day), then Pro 100,000
  from 2026-01-31 (an upgrade on the snapshot day: only Pro earns that day)
- B2: 20,000 from 2025-10-01, ended 2026-03-15 (``as_of``: nothing earns that day)
- B3: 30,000 from 2026-02-01 with a trial to 2026-02-28 (a snapshot day: earns from it)
- B4: a trial line 2026-01-10 → 2026-01-31 (never earns)
- B5: 10,000 from 2025-01-01, and a USD line of $100.00 (left out of the yen figures)
- B6: 40,000 from 2026-02-28 (its first earning day is the snapshot of February)
- B7: 5,000 2025-01-01 → 2025-12-31 (ends on the December snapshot), again from
  2026-03-15 (starts on ``as_of``: a reactivation in March)
- B8: Pro 50,000 from 2025-01-01, ended 2026-02-15, then Basic 20,000 from 2026-02-15
  (a downgrade: a contraction in February)

MRR at the snapshots:
- Dec 31: B1 10,000 + B2 20,000 + B5 10,000 + B8 50,000 = 90,000 (4 accounts; B7 ended that day)
- Jan 31: B1 100,000 + B2 20,000 + B5 10,000 + B8 50,000 = 180,000 (4): expansion B1 +90,000
- Feb 28: B1 100,000 + B2 20,000 + B3 30,000 + B5 10,000 + B6 40,000 + B8 20,000 = 220,000
  (6): new B3 +30,000 and B6 +40,000, contraction B8 −30,000
- Mar 15: B1 100,000 + B3 30,000 + B5 10,000 + B6 40,000 + B7 5,000 + B8 20,000 = 205,000
  (6): churned B2 −20,000, reactivation B7 +5,000

Plans at the start of each month (the latest-starting plan line that earned by the day
before it): B1 Basic until Jan 30, Pro from Jan 31; B8 Pro until Feb 14, Basic from
Feb 15; B3, B6 Pro; B2, B5, B7 Basic.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import ibis
import numpy as np
import pandas as pd
import pytest

from kizuna.analytics import revenue, segments
from kizuna.analytics.backend import COLUMNS, StoreTables, store_tables
from kizuna.analytics.periods import MonthGrid

AS_OF = date(2026, 3, 15)
D = date

ACCOUNTS = {1: "B1", 2: "B2", 3: "B3", 4: "B4", 5: "B5", 6: "B6", 7: "B7", 8: "B8"}
# id, account, product, amount, currency, status, started_on, trial_ends_on, ended_on
LINES = [
    (1, 1, 1, 10_000, "JPY", "canceled", D(2025, 6, 1), None, D(2026, 1, 31)),
    (2, 1, 2, 100_000, "JPY", "active", D(2026, 1, 31), None, None),
    (3, 2, 1, 20_000, "JPY", "canceled", D(2025, 10, 1), None, D(2026, 3, 15)),
    (4, 3, 2, 30_000, "JPY", "active", D(2026, 2, 1), D(2026, 2, 28), None),
    (5, 4, 2, 30_000, "JPY", "trial", D(2026, 1, 10), D(2026, 1, 31), D(2026, 1, 31)),
    (6, 5, 1, 10_000, "JPY", "active", D(2025, 1, 1), None, None),
    (7, 5, 3, 10_000, "USD", "active", D(2025, 1, 1), None, None),
    (8, 6, 2, 40_000, "JPY", "active", D(2026, 2, 28), None, None),
    (9, 7, 1, 5_000, "JPY", "canceled", D(2025, 1, 1), None, D(2025, 12, 31)),
    (10, 7, 1, 5_000, "JPY", "active", D(2026, 3, 15), None, None),
    (11, 8, 2, 50_000, "JPY", "canceled", D(2025, 1, 1), None, D(2026, 2, 15)),
    (12, 8, 1, 20_000, "JPY", "active", D(2026, 2, 15), None, None),
]


def _frame(name: str, rows: list[tuple[object, ...]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(COLUMNS[name]))


def store(
    accounts: dict[int, str], lines: list[tuple[object, ...]], **other: list[tuple[object, ...]]
) -> StoreTables:
    """An in-memory DuckDB holding the KPI tables: these accounts and lines, the rows of
    ``other`` tables (``tickets=[…]``, in :data:`COLUMNS` order), no other data."""
    con = ibis.duckdb.connect()
    rows = [(i, ext, ext, None, None, None, "active", 0, "JPY") for i, ext in accounts.items()]
    products = [(1, "basic", "Basic", "plan", 1), (2, "pro", "Pro", "plan", 2), (3, "usd", "USD plan", "plan", 1)]
    frames = {"accounts": _frame("accounts", rows), "products": _frame("products", products),
              "subscriptions": _frame("subscriptions", lines)}  # fmt: skip
    frames.update((name, _frame(name, rows)) for name, rows in other.items())
    for name, columns in COLUMNS.items():
        if name in frames:
            con.create_table(name, ibis.memtable(frames[name], schema=columns))
        else:
            con.create_table(name, schema=ibis.schema(columns))
    return store_tables(con)


@pytest.fixture(scope="module")
def tables() -> Iterator[StoreTables]:
    t = store(ACCOUNTS, LINES)
    yield t
    t.backend.disconnect()


GRID = MonthGrid(AS_OF, months=3, lookback=1)


def test_the_grid_snapshots_are_the_month_ends_and_as_of() -> None:
    assert GRID.frame()["snapshot"].tolist() == [D(2025, 12, 31), D(2026, 1, 31), D(2026, 2, 28), AS_OF]


def test_account_mrr_at_each_snapshot(tables: StoreTables) -> None:
    amm = revenue.account_mrr(tables, GRID, "JPY").execute()
    got = {(ACCOUNTS[int(a)], int(mi)): int(m) for a, mi, m in amm[["account_id", "mi", "mrr"]].itertuples(index=False)}
    assert got == {
        ("B1", 0): 10_000, ("B2", 0): 20_000, ("B5", 0): 10_000, ("B8", 0): 50_000,
        ("B1", 1): 100_000, ("B2", 1): 20_000, ("B5", 1): 10_000, ("B8", 1): 50_000,
        ("B1", 2): 100_000, ("B2", 2): 20_000, ("B3", 2): 30_000, ("B5", 2): 10_000, ("B6", 2): 40_000,
        ("B8", 2): 20_000,
        ("B1", 3): 100_000, ("B3", 3): 30_000, ("B5", 3): 10_000, ("B6", 3): 40_000, ("B7", 3): 5_000,
        ("B8", 3): 20_000,
    }  # fmt: skip


def test_movements_by_account(tables: StoreTables) -> None:
    amm = revenue.account_mrr(tables, GRID, "JPY")
    mv = revenue.movements_by_account(tables, GRID, "JPY", amm).execute()
    got = sorted((int(r.mi), ACCOUNTS[int(r.account_id)], int(r.prev), int(r.cur), int(r.delta), r.kind)
                 for r in mv.itertuples(index=False))  # fmt: skip
    assert got == [
        (1, "B1", 10_000, 100_000, 90_000, "expansion"),
        (2, "B3", 0, 30_000, 30_000, "new"),
        (2, "B6", 0, 40_000, 40_000, "new"),
        (2, "B8", 50_000, 20_000, -30_000, "contraction"),
        (3, "B2", 20_000, 0, -20_000, "churned"),
        (3, "B7", 0, 5_000, 5_000, "reactivation"),
    ]


def test_the_revenue_table_a_user_sees(tables: StoreTables) -> None:
    amm = revenue.account_mrr(tables, GRID, "JPY")
    mv = revenue.movements_by_account(tables, GRID, "JPY", amm)
    table = revenue.revenue_table(
        GRID, revenue.mrr_totals(amm).execute(), revenue.movement_totals(mv).execute(),
        revenue.trailing_totals(amm).execute(),
    )  # fmt: skip
    cols = ["month", "start_mrr", "mrr", "accounts", "new", "expansion", "contraction", "churned", "reactivation",
            "net_change", "arr"]  # fmt: skip
    assert [tuple(r) for r in table[cols].itertuples(index=False)] == [
        ("2026-01", 90_000, 180_000, 4, 0, 90_000, 0, 0, 0, 90_000, 2_160_000),
        ("2026-02", 180_000, 220_000, 6, 70_000, 0, -30_000, 0, 0, 40_000, 2_640_000),
        ("2026-03", 220_000, 205_000, 6, 0, 0, 0, -20_000, 5_000, -15_000, 2_460_000),
    ]
    assert table["start_accounts"].tolist() == [4, 4, 6]
    assert table["new_accounts"].tolist() == [0, 2, 0]
    assert table["expansion_accounts"].tolist() == [1, 0, 0]
    assert table["contraction_accounts"].tolist() == [0, 1, 0]
    assert table["churned_accounts"].tolist() == [0, 0, 1]
    assert table["reactivation_accounts"].tolist() == [0, 0, 1]
    # March: logo churn 1 of 6 paying at the end of February; revenue churn: February
    # 30,000 ÷ 180,000, March 20,000 ÷ 220,000
    assert table["logo_churn_rate"].tolist() == pytest.approx([0.0, 0.0, 1 / 6])
    assert table["revenue_churn_rate"].tolist() == pytest.approx([0.0, 1 / 6, 1 / 11])
    assert table["grr"].tolist() == pytest.approx([1.0, 5 / 6, 10 / 11])
    # January: (90,000 + 90,000) ÷ 90,000; February: (180,000 − 30,000) ÷ 180,000
    assert table["nrr"].tolist() == pytest.approx([2.0, 5 / 6, 10 / 11])
    # with one month of history there are no 12-month figures
    assert table["start_mrr_12m"].tolist() == [0, 0, 0]
    assert table["nrr_12m"].isna().all()


def test_customer_since_and_the_other_currency(tables: StoreTables) -> None:
    first = revenue.first_earned(tables, "JPY", AS_OF).execute()
    got = {ACCOUNTS[int(a)]: d for a, d in zip(first["account_id"], pd.to_datetime(first["first_earned"]).dt.date,
                                                 strict=True)}  # fmt: skip
    # B4 (a trial) never earned
    assert got == {"B1": D(2025, 6, 1), "B2": D(2025, 10, 1), "B3": D(2026, 2, 28), "B5": D(2025, 1, 1),
                   "B6": D(2026, 2, 28), "B7": D(2025, 1, 1), "B8": D(2025, 1, 1)}  # fmt: skip
    other = revenue.other_currencies(tables, "JPY", AS_OF).execute()
    assert [tuple(r) for r in other[["currency", "lines", "accounts", "mrr"]].itertuples(index=False)] == [
        ("USD", 1, 1, 10_000)
    ]
    usd = revenue.account_mrr(tables, GRID, "USD").execute()
    assert sorted(zip(usd["mi"], usd["mrr"], strict=True)) == [(0, 10_000), (1, 10_000), (2, 10_000), (3, 10_000)]


def test_an_earlier_report_day_ending_on_a_line_end(tables: StoreTables) -> None:
    # as of 2026-01-31 the Basic line of B1 has ended and Pro earns: 100,000, not 110,000
    grid = MonthGrid(D(2026, 1, 31), months=1, lookback=1)
    amm = revenue.account_mrr(tables, grid, "JPY").execute()
    assert dict(zip(amm.loc[amm["mi"] == 1, "account_id"].map(ACCOUNTS), amm.loc[amm["mi"] == 1, "mrr"],
                    strict=True)) == {"B1": 100_000, "B2": 20_000, "B5": 10_000, "B8": 50_000}  # fmt: skip


def _named(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(account=frame["account_id"].map(ACCOUNTS))


def test_plans_as_they_were_at_each_month_start_and_the_revenue_table_by_plan(tables: StoreTables) -> None:
    plans = _named(segments.plan_segments(tables, GRID, "JPY").execute())
    at = {(r.account, r.mi): r.segment for r in plans.itertuples()}
    # B1 upgraded Basic → Pro on Jan 31 (the day before February): Basic at the start of
    # January, Pro from February; B8 downgraded Pro → Basic on Feb 15: Basic from March;
    # B3 and B6 start later and take their first plan; B4 (a trial) never had a plan
    assert [at[("B1", mi)] for mi in range(4)] == ["Basic", "Basic", "Pro", "Pro"]
    assert [at[("B8", mi)] for mi in range(4)] == ["Pro", "Pro", "Pro", "Basic"]
    assert [at[("B3", mi)] for mi in range(4)] == ["Pro"] * 4
    assert [at[("B7", mi)] for mi in range(4)] == ["Basic"] * 4
    assert {a for a, _mi in at} == {"B1", "B2", "B3", "B5", "B6", "B7", "B8"}
    names = _named(segments.column_segments(tables, "name").execute())
    assert dict(zip(names["account"], names["segment"], strict=True)) == {v: v for v in ACCOUNTS.values()}
    segs = segments.plan_segments(tables, GRID, "JPY")
    amm = revenue.account_mrr(tables, GRID, "JPY")
    mv = revenue.movements_by_account(tables, GRID, "JPY", amm)
    table = revenue.revenue_table(
        GRID, revenue.mrr_totals(amm, segs).execute(), revenue.movement_totals(mv, segs).execute(),
        revenue.trailing_totals(amm, segments=segs).execute(), keys=["segment"],
        start=revenue.start_totals(amm, segs).execute(),
    )  # fmt: skip
    cols = ["month", "segment", "start_mrr", "mrr", "accounts", "new", "expansion", "contraction", "churned",
            "reactivation", "start_accounts"]  # fmt: skip
    # each month by the plan at its start: January's upgrade of B1 (+90,000) is Basic's
    # expansion (B1 started January on Basic), not Pro's; in March B8 (Basic since
    # Feb 15) starts in Basic with its 20,000. Each row: start + movements = MRR.
    assert [tuple(r) for r in table[cols].itertuples(index=False)] == [
        ("2026-01", "Basic", 40_000, 130_000, 3, 0, 90_000, 0, 0, 0, 3),
        ("2026-01", "Pro", 50_000, 50_000, 1, 0, 0, 0, 0, 0, 1),
        ("2026-02", "Basic", 30_000, 30_000, 2, 0, 0, 0, 0, 0, 2),
        ("2026-02", "Pro", 150_000, 190_000, 4, 70_000, 0, -30_000, 0, 0, 2),
        ("2026-03", "Basic", 50_000, 35_000, 3, 0, 0, 0, -20_000, 5_000, 3),
        ("2026-03", "Pro", 170_000, 170_000, 3, 0, 0, 0, 0, 0, 3),
    ]


def test_trailing_figures_over_a_two_month_window(tables: StoreTables) -> None:
    amm = revenue.account_mrr(tables, GRID, "JPY")
    tr = revenue.trailing_totals(amm, window=2).execute()
    tr = tr[tr["mi"] <= GRID.last].sort_values("mi")
    cols = ["mi", "start_accounts", "start_mrr", "end_mrr", "retained_mrr", "retained_accounts"]
    # March from January: B1 100,000 → 100,000, B2 20,000 → 0, B5 10,000 → 10,000, B8 50,000 → 20,000
    # February from December: B1 10,000 → 100,000 (retained: capped at 10,000), B2, B5, B8 50,000 → 20,000
    assert [tuple(int(v) for v in r) for r in tr[cols].itertuples(index=False)] == [
        (2, 4, 90_000, 150_000, 60_000, 4),
        (3, 4, 180_000, 130_000, 130_000, 3),
    ]
    behind = _named(revenue.trailing_accounts(amm, 3, window=2).execute())
    assert sorted(zip(behind["account"], behind["start"], behind["end"], strict=True)) == [
        ("B1", 100_000, 100_000), ("B2", 20_000, 0), ("B5", 10_000, 10_000), ("B8", 50_000, 20_000)]  # fmt: skip


def test_trailing_logo_churn_and_plain_floats(tables: StoreTables) -> None:
    amm = revenue.account_mrr(tables, GRID, "JPY")
    mv = revenue.movements_by_account(tables, GRID, "JPY", amm)
    table = revenue.revenue_table(
        GRID, revenue.mrr_totals(amm).execute(), revenue.movement_totals(mv).execute(),
        revenue.trailing_totals(amm).execute(), lookback=True,
    )  # fmt: skip
    assert table["month"].tolist() == ["2026-01", "2026-02", "2026-03"]
    # one churn over the 4 + 4 + 6 accounts paying at the starts of the three months
    assert revenue.trailing_logo_churn(table) == pytest.approx(1 / 14)
    assert revenue.trailing_logo_churn(table, months=2) == pytest.approx(1 / 10)
    assert revenue.trailing_logo_churn(table, months=1) == pytest.approx(1 / 6)
    assert revenue.trailing_logo_churn(table.head(0)) is None
    assert [revenue.as_float(v) for v in (None, float("nan"), np.float64("nan"), np.float64(0.25), 3)] == [
        None, None, None, 0.25, 3.0]  # fmt: skip


# --- odd lines: free, one yen, trials without an end, a trial "ending" before the start -------

ODD = {21: "free", 22: "one-yen", 23: "stale trial", 24: "trial before start", 25: "never earned",
       26: "future", 27: "starts on as_of", 28: "gap", 29: "usd trial"}  # fmt: skip
ODD_LINES = [
    (31, 21, 1, 0, "JPY", "active", D(2025, 1, 1), None, None),  # a free plan: not paying
    (32, 22, 1, 1, "JPY", "active", D(2025, 1, 1), None, None),  # ¥1: paying
    (33, 23, 2, 30_000, "JPY", "trial", D(2026, 3, 1), None, None),  # a trial with no end day: earns nothing
    (34, 24, 1, 10_000, "JPY", "active", D(2026, 2, 15), D(2026, 1, 15), None),  # earns from its start
    (35, 25, 1, 10_000, "JPY", "canceled", D(2026, 1, 10), D(2026, 2, 1), D(2026, 2, 1)),  # ended as it would earn
    (36, 26, 1, 10_000, "JPY", "active", D(2026, 4, 1), None, None),  # starts after as_of
    (37, 27, 1, 10_000, "JPY", "active", AS_OF, None, None),
    (38, 28, 1, 10_000, "JPY", "canceled", D(2026, 2, 10), None, D(2026, 2, 20)),  # earned between snapshots
    (39, 28, 1, 10_000, "JPY", "active", D(2026, 3, 5), None, None),  # …and came back: a reactivation
    (40, 29, 3, 10_000, "USD", "trial", D(2026, 3, 1), None, None),
]


@pytest.fixture(scope="module")
def odd() -> Iterator[StoreTables]:
    t = store(ODD, ODD_LINES)
    yield t
    t.backend.disconnect()


def test_odd_lines_mrr_movements_and_customer_since(odd: StoreTables) -> None:
    amm = revenue.account_mrr(odd, GRID, "JPY")
    got = {(ODD[int(a)], int(mi)): int(m) for a, mi, m in amm.execute()[["account_id", "mi", "mrr"]].itertuples(index=False)}
    assert got == {
        ("one-yen", 0): 1, ("one-yen", 1): 1, ("one-yen", 2): 1, ("one-yen", 3): 1,
        ("trial before start", 2): 10_000, ("trial before start", 3): 10_000,
        ("starts on as_of", 3): 10_000, ("gap", 3): 10_000,
    }  # fmt: skip
    mv = revenue.movements_by_account(odd, GRID, "JPY", amm).execute()
    assert sorted((int(r.mi), ODD[int(r.account_id)], r.kind) for r in mv.itertuples(index=False)) == [
        (2, "trial before start", "new"), (3, "gap", "reactivation"), (3, "starts on as_of", "new")]  # fmt: skip
    first = revenue.first_earned(odd, "JPY", AS_OF).execute()
    days = pd.to_datetime(first["first_earned"]).dt.date
    since = {ODD[int(a)]: d for a, d in zip(first["account_id"], days, strict=True)}
    # "never earned" ended on the day it would have started; "future" starts after as_of
    assert since == {"free": D(2025, 1, 1), "one-yen": D(2025, 1, 1), "trial before start": D(2026, 2, 15),
                     "starts on as_of": AS_OF, "gap": D(2026, 2, 10)}  # fmt: skip
    assert revenue.other_currencies(odd, "JPY", AS_OF).execute().empty


def test_the_default_windows_are_twelve_months(tables: StoreTables) -> None:
    amm = revenue.account_mrr(tables, GRID, "JPY")
    # 12 snapshots after December: the accounts paying in December, with nothing at the end
    behind = _named(revenue.trailing_accounts(amm, 12).execute())
    assert sorted(zip(behind["account"], behind["start"], behind["end"], strict=True)) == [
        ("B1", 10_000, 0), ("B2", 20_000, 0), ("B5", 10_000, 0), ("B8", 50_000, 0)]  # fmt: skip
    table = pd.DataFrame({"start_accounts": [10] * 13, "churned_accounts": [5] + [1] * 12})
    assert revenue.trailing_logo_churn(table) == pytest.approx(12 / 120)
