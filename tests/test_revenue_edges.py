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
    # "never earned" ended on the day it would have started; "future" starts after as_of;
    # "free" has earned nothing (¥0): no customer-since day
    assert since == {"one-yen": D(2025, 1, 1), "trial before start": D(2026, 2, 15),
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


# --- the revenue table from hand-made totals: every column, its type, and each row ------------

TABLE_COLUMNS = [
    "mi", "month", "mrr", "accounts", "new", "new_accounts", "expansion", "expansion_accounts", "contraction",
    "contraction_accounts", "churned", "churned_accounts", "reactivation", "reactivation_accounts", "start_mrr",
    "start_accounts", "net_change", "arr", "logo_churn_rate", "revenue_churn_rate", "grr", "nrr",
    "start_accounts_12m", "start_mrr_12m", "end_mrr_12m", "retained_mrr_12m", "retained_accounts_12m", "grr_12m",
    "nrr_12m", "logo_retention_12m",
]  # fmt: skip
RATES = {"logo_churn_rate", "revenue_churn_rate", "grr", "nrr", "grr_12m", "nrr_12m", "logo_retention_12m"}
TRAILING_COLUMNS = ["mi", "start_accounts", "start_mrr", "end_mrr", "retained_mrr", "retained_accounts"]
NAN = float("nan")


def _totals(columns: list[str], rows: list[tuple[object, ...]]) -> pd.DataFrame:
    """A frame like the executed totals: integer columns as int64."""
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype({c: "int64" for c in columns if c not in ("segment", "kind")})


def _row(month: str, mrr: int, accounts: int, start: tuple[int, int], moves: dict[str, tuple[int, int]],
         rates: tuple[float, float, float, float], trailing: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0),
         rates_12m: tuple[float, float, float] = (NAN, NAN, NAN)) -> dict[str, object]:  # fmt: skip
    """One expected row; ``moves``: kind → (amount, accounts); ``trailing``: start accounts,
    start MRR, end MRR, retained MRR, retained accounts of the 12-month window."""
    row: dict[str, object] = {"month": month, "mrr": mrr, "accounts": accounts}
    for kind in revenue.MOVEMENTS:
        row[kind], row[f"{kind}_accounts"] = moves.get(kind, (0, 0))
    row["start_mrr"], row["start_accounts"] = start
    row["net_change"] = sum(amount for amount, _n in moves.values())
    row["arr"] = mrr * 12
    row["logo_churn_rate"], row["revenue_churn_rate"], row["grr"], row["nrr"] = rates
    (row["start_accounts_12m"], row["start_mrr_12m"], row["end_mrr_12m"], row["retained_mrr_12m"],
     row["retained_accounts_12m"]) = trailing  # fmt: skip
    row["grr_12m"], row["nrr_12m"], row["logo_retention_12m"] = rates_12m
    return row


def _check_table(table: pd.DataFrame, expected: list[dict[str, object]], keys: tuple[str, ...] = ()) -> None:
    cols = [TABLE_COLUMNS[0], TABLE_COLUMNS[1], *keys, *TABLE_COLUMNS[2:]]
    assert list(table.columns) == cols
    assert list(table.index) == list(range(len(expected)))
    for col in TABLE_COLUMNS[2:]:
        assert str(table[col].dtype) == ("float64" if col in RATES else "int64"), col
    got = table.drop(columns=["mi"]).to_dict("records")
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert {k: g[k] for k in e} == pytest.approx(e, nan_ok=True)


def test_a_month_with_no_paying_account_and_a_grid_without_lookback() -> None:
    # A pays 10,000 and B 20,000 at the end of January; both leave in February (no MRR
    # row at all for February); A comes back in March at 15,000. The grid has no earlier
    # month: January is reported, and starts from nothing.
    grid = MonthGrid(AS_OF, months=3, lookback=0)
    mrr = _totals(["mi", "mrr", "accounts"], [(0, 30_000, 2), (2, 15_000, 1)])
    mv = _totals(["mi", "kind", "accounts", "amount"], [(1, "churned", 2, -30_000), (2, "reactivation", 1, 15_000)])
    trailing = _totals(TRAILING_COLUMNS, [])
    expected = [
        # January: ARR 30,000 × 12; every rate is 0 ÷ 0 (no start): none
        _row("2026-01", 30_000, 2, (0, 0), {}, (NAN, NAN, NAN, NAN)),
        # February: 2 of 2 logos lost, 30,000 of 30,000: churn 1, GRR and NRR 0
        _row("2026-02", 0, 0, (30_000, 2), {"churned": (-30_000, 2)}, (1.0, 1.0, 0.0, 0.0)),
        # March starts from February's 0
        _row("2026-03", 15_000, 1, (0, 0), {"reactivation": (15_000, 1)}, (NAN, NAN, NAN, NAN)),
    ]
    _check_table(revenue.revenue_table(grid, mrr, mv, trailing), expected)
    # lookback=True keeps months from the second on (the first has no month before it)
    assert revenue.revenue_table(grid, mrr, mv, trailing, lookback=True)["month"].tolist() == ["2026-02", "2026-03"]


def test_twelve_month_figures_and_the_lookback_months() -> None:
    # 12 months of lookback, February and March reported (mi 12 and 13). A 10,000 and
    # B 20,000 pay from mi 0 to 11 (30,000, 2 accounts). February: A expands to 12,000
    # (+2,000), C arrives at 3,000: 35,000, 3 accounts. March: B contracts to 8,000
    # (−12,000), A leaves (−12,000): 11,000, 2 accounts.
    grid = MonthGrid(AS_OF, months=2, lookback=12)
    mrr = _totals(["mi", "mrr", "accounts"], [*((mi, 30_000, 2) for mi in range(12)), (12, 35_000, 3), (13, 11_000, 2)])
    mv = _totals(["mi", "kind", "accounts", "amount"], [
        (12, "expansion", 1, 2_000), (12, "new", 1, 3_000), (13, "contraction", 1, -12_000), (13, "churned", 1, -12_000)])  # fmt: skip
    # the accounts paying 12 snapshots back (A, B): February from mi 0: A 10,000 → 12,000
    # (retained capped at 10,000), B 20,000 → 20,000; March from mi 1: A → 0, B → 8,000;
    # the window ending at mi 14, beyond the grid, is left out
    trailing = _totals(TRAILING_COLUMNS, [(12, 2, 30_000, 32_000, 30_000, 2), (13, 2, 30_000, 8_000, 8_000, 1),
                                          (14, 3, 35_000, 0, 0, 0)])  # fmt: skip
    expected = [
        # NRR (30,000 + 2,000) ÷ 30,000; GRR₁₂ 30,000 ÷ 30,000, NRR₁₂ 32,000 ÷ 30,000, logos 2 ÷ 2
        _row("2026-02", 35_000, 3, (30_000, 2), {"expansion": (2_000, 1), "new": (3_000, 1)},
             (0.0, 0.0, 1.0, 32 / 30), (2, 30_000, 32_000, 30_000, 2), (1.0, 32 / 30, 1.0)),
        # logo churn 1 ÷ 3; lost 24,000 ÷ 35,000; GRR = NRR = 11,000 ÷ 35,000;
        # GRR₁₂ = NRR₁₂ = 8,000 ÷ 30,000, logos 1 ÷ 2
        _row("2026-03", 11_000, 2, (35_000, 3), {"contraction": (-12_000, 1), "churned": (-12_000, 1)},
             (1 / 3, 24 / 35, 11 / 35, 11 / 35), (2, 30_000, 8_000, 8_000, 1), (8 / 30, 8 / 30, 0.5)),
    ]  # fmt: skip
    _check_table(revenue.revenue_table(grid, mrr, mv, trailing), expected)
    full = revenue.revenue_table(grid, mrr, mv, trailing, lookback=True)
    # mi 1 … 13: the months from 2025-03 (mi 0 is 2025-02, 13 months before March) to 2026-03
    assert full["month"].tolist() == [f"2025-{m:02d}" for m in range(3, 13)] + ["2026-01", "2026-02", "2026-03"]
    assert full["start_mrr"].tolist() == [30_000] * 12 + [35_000]
    assert list(full.index) == list(range(13))


def test_segments_start_from_their_own_month_before() -> None:
    # no start frame: each segment starts from its own MRR and accounts a month before.
    # Basic 10,000 (1 account) every month; Pro 50,000 (2 accounts), then 60,000 in March
    # (one of them +10,000). A
    # trailing window ending beyond the grid (mi 3) names a segment seen nowhere else.
    grid = MonthGrid(AS_OF, months=2, lookback=1)
    mrr = _totals(["mi", "segment", "mrr", "accounts"], [
        (0, "Basic", 10_000, 1), (0, "Pro", 50_000, 2), (1, "Basic", 10_000, 1), (1, "Pro", 50_000, 2),
        (2, "Basic", 10_000, 1), (2, "Pro", 60_000, 2)])  # fmt: skip
    mv = _totals(["mi", "segment", "kind", "accounts", "amount"], [(2, "Pro", "expansion", 1, 10_000)])
    trailing = _totals(["mi", "segment", *TRAILING_COLUMNS[1:]], [(3, "Enterprise", 1, 90_000, 0, 0, 0)])
    expected = [
        _row("2026-02", 10_000, 1, (10_000, 1), {}, (0.0, 0.0, 1.0, 1.0)) | {"segment": "Basic"},
        _row("2026-02", 50_000, 2, (50_000, 2), {}, (0.0, 0.0, 1.0, 1.0)) | {"segment": "Pro"},
        _row("2026-03", 10_000, 1, (10_000, 1), {}, (0.0, 0.0, 1.0, 1.0)) | {"segment": "Basic"},
        # NRR 60,000 ÷ 50,000
        _row("2026-03", 60_000, 2, (50_000, 2), {"expansion": (10_000, 1)}, (0.0, 0.0, 1.0, 1.2)) | {"segment": "Pro"},
    ]
    _check_table(revenue.revenue_table(grid, mrr, mv, trailing, keys=["segment"]), expected, keys=("segment",))


def test_segments_with_a_start_frame() -> None:
    # the start frame names a segment no other frame has (Legacy: 20,000, 1 account at
    # the start of February) and has no row for Pro in March: that start is 0
    grid = MonthGrid(AS_OF, months=2, lookback=1)
    mrr = _totals(["mi", "segment", "mrr", "accounts"], [(0, "Pro", 50_000, 1), (1, "Pro", 50_000, 1),
                                                          (2, "Pro", 50_000, 1)])  # fmt: skip
    mv = _totals(["mi", "segment", "kind", "accounts", "amount"], [])
    trailing = _totals(["mi", "segment", *TRAILING_COLUMNS[1:]], [])
    start = _totals(["mi", "segment", "start_mrr", "start_accounts"], [
        (1, "Legacy", 20_000, 1), (1, "Pro", 50_000, 1), (3, "Pro", 50_000, 1)])  # fmt: skip
    expected = [
        _row("2026-02", 0, 0, (20_000, 1), {}, (0.0, 0.0, 1.0, 1.0)) | {"segment": "Legacy"},
        _row("2026-02", 50_000, 1, (50_000, 1), {}, (0.0, 0.0, 1.0, 1.0)) | {"segment": "Pro"},
        _row("2026-03", 0, 0, (0, 0), {}, (NAN, NAN, NAN, NAN)) | {"segment": "Legacy"},
        _row("2026-03", 50_000, 1, (0, 0), {}, (NAN, NAN, NAN, NAN)) | {"segment": "Pro"},
    ]
    table = revenue.revenue_table(grid, mrr, mv, trailing, keys=["segment"], start=start)
    _check_table(table, expected, keys=("segment",))


def test_ratio_divides_by_any_non_zero() -> None:
    got = revenue._ratio(pd.Series([3, 2, 5]), pd.Series([1, 0, 4]))
    assert str(got.dtype) == "float64"
    assert got.tolist() == pytest.approx([3.0, NAN, 1.25], nan_ok=True)


# --- segments joined to a table, trailing windows from hand-made MRR ----------------------------


def test_with_segment_static_and_by_month() -> None:
    table = ibis.memtable(pd.DataFrame({"account_id": [1, 2, 3], "mi": [1, 1, 2], "v": [10, 20, 30]}))
    assert revenue.with_segment(table, None) == (table, [])
    static = ibis.memtable(pd.DataFrame({"account_id": [1, 2], "segment": ["A", "B"]}))
    joined, keys = revenue.with_segment(table, static)
    assert keys == ["segment"]
    got = joined.execute().sort_values("account_id")
    # account 3 has no segment: "(none)"
    assert list(got.columns) == ["account_id", "mi", "v", "segment"]
    assert [tuple(r) for r in got.itertuples(index=False)] == [(1, 1, 10, "A"), (2, 1, 20, "B"), (3, 2, 30, "(none)")]
    # by month: account 1 was Old at the start of month 0 and New from month 1; account 2
    # B from month 1 only
    by_month = ibis.memtable(pd.DataFrame({"account_id": [1, 1, 2], "mi": [0, 1, 1], "segment": ["Old", "New", "B"]}))
    for back, segs in ((0, ["New", "B", "(none)"]), (1, ["Old", "(none)", "(none)"])):
        joined, _keys = revenue.with_segment(table, by_month, back=back)
        got = joined.execute().sort_values("account_id")
        assert list(got.columns) == ["account_id", "mi", "v", "segment"]
        assert got["segment"].tolist() == segs


def test_trailing_totals_with_one_yen_accounts_and_the_default_window() -> None:
    # at mi 0 and 12: account 1 pays ¥1 then ¥1; account 2 ¥100 then ¥1; account 3 ¥50 then ¥50
    amm = ibis.memtable(pd.DataFrame({"account_id": [1, 2, 3, 1, 2, 3], "mi": [0, 0, 0, 12, 12, 12],
                                      "mrr": [1, 100, 50, 1, 1, 50]}))  # fmt: skip
    got = revenue.trailing_totals(amm).execute().sort_values("mi")
    # mi 12 (12 snapshots after mi 0): 3 accounts, start 1 + 100 + 50 = 151, end 1 + 1 + 50 = 52,
    # retained min(1, 1) + min(1, 100) + min(50, 50) = 52, all 3 still paying;
    # mi 24: the accounts of mi 12, start 52, nothing after
    assert [tuple(int(v) for v in r) for r in got[TRAILING_COLUMNS].itertuples(index=False)] == [
        (12, 3, 151, 52, 52, 3),
        (24, 3, 52, 0, 0, 0),
    ]


def test_trailing_totals_by_plan_over_a_two_month_window(tables: StoreTables) -> None:
    # the plan at the start of the window's first month (mi − 1): for February (mi 2)
    # the plans of January's end (mi 1): B1, B2, B5 Basic, B8 Pro; for March those at
    # February's end: B1 Pro, B2 Basic, B5 Basic, B8 Pro (Basic only from March)
    amm = revenue.account_mrr(tables, GRID, "JPY")
    segs = segments.plan_segments(tables, GRID, "JPY")
    tr = revenue.trailing_totals(amm, window=2, segments=segs).execute()
    tr = tr[tr["mi"] <= GRID.last].sort_values(["mi", "segment"])
    cols = ["mi", "segment", *TRAILING_COLUMNS[1:]]
    assert [tuple(r) for r in tr[cols].itertuples(index=False)] == [
        # B1 10,000 → 100,000 (retained 10,000), B2 20,000 → 20,000, B5 10,000 → 10,000
        (2, "Basic", 3, 40_000, 130_000, 40_000, 3),
        # B8 50,000 → 20,000
        (2, "Pro", 1, 50_000, 20_000, 20_000, 1),
        # B2 20,000 → 0, B5 10,000 → 10,000
        (3, "Basic", 2, 30_000, 10_000, 10_000, 1),
        # B1 100,000 → 100,000, B8 50,000 → 20,000
        (3, "Pro", 2, 150_000, 120_000, 120_000, 2),
    ]


def test_a_free_plan_then_paid_is_new_whenever_the_free_line_began() -> None:
    # a free line earns ¥0: the account's first earning day is its first paid day
    # (2026-02-10), after January's snapshot, so February's 10,000 is new MRR — whether the
    # free line began on that snapshot day (41), the day after (42) or long before (43); a
    # reactivation is an account that paid, stopped paying and pays again
    t = store({41: "free then paid", 42: "free later", 43: "free long before"}, [
        (51, 41, 1, 0, "JPY", "active", D(2026, 1, 31), None, None),
        (52, 41, 2, 10_000, "JPY", "active", D(2026, 2, 10), None, None),
        (53, 42, 1, 0, "JPY", "active", D(2026, 2, 1), None, None),
        (54, 42, 2, 10_000, "JPY", "active", D(2026, 2, 10), None, None),
        (55, 43, 1, 0, "JPY", "active", D(2024, 6, 1), None, None),
        (56, 43, 2, 10_000, "JPY", "active", D(2026, 2, 10), None, None),
    ])  # fmt: skip
    try:
        amm = revenue.account_mrr(t, GRID, "JPY")
        mv = revenue.movements_by_account(t, GRID, "JPY", amm).execute()
        assert sorted((int(r.mi), int(r.account_id), r.kind) for r in mv.itertuples(index=False)) == [
            (2, 41, "new"), (2, 42, "new"), (2, 43, "new")]  # fmt: skip
        first = revenue.first_earned(t, "JPY", AS_OF).execute()
        assert sorted(pd.to_datetime(first["first_earned"]).dt.date) == [D(2026, 2, 10)] * 3
    finally:
        t.backend.disconnect()


def _fetched(t: StoreTables, grid: MonthGrid, segs: ibis.Table | None = None, window: int = 12) -> revenue.RevenueTotals:
    """The report's way (issue 19): the account-month MRR and first earning days fetched once."""
    amm = revenue.account_mrr(t, grid, "JPY")
    months = revenue.account_months(amm, segs).execute()
    return revenue.revenue_totals(grid, months, revenue.first_earned(t, "JPY", grid.as_of).execute(), window)


def test_revenue_totals_fetched_once_give_the_table_a_user_sees(tables: StoreTables) -> None:
    totals = _fetched(tables, GRID)
    assert totals.mrr.columns.tolist() == ["mi", "mrr", "accounts"]
    assert totals.movements.columns.tolist() == ["mi", "kind", "accounts", "amount"]
    assert totals.trailing.columns.tolist() == ["mi", *TRAILING_COLUMNS[1:]]
    assert [tuple(r) for r in totals.mrr.itertuples(index=False)] == [
        (0, 90_000, 4), (1, 180_000, 4), (2, 220_000, 6), (3, 205_000, 6)]  # fmt: skip
    assert [tuple(r) for r in totals.movements.itertuples(index=False)] == [
        (1, "expansion", 1, 90_000), (2, "contraction", 1, -30_000), (2, "new", 2, 70_000),
        (3, "churned", 1, -20_000), (3, "reactivation", 1, 5_000)]  # fmt: skip
    table = revenue.revenue_table(GRID, totals.mrr, totals.movements, totals.trailing)
    cols = ["month", "start_mrr", "mrr", "accounts", "new", "expansion", "contraction", "churned", "reactivation",
            "net_change", "arr"]  # fmt: skip
    assert [tuple(r) for r in table[cols].itertuples(index=False)] == [
        ("2026-01", 90_000, 180_000, 4, 0, 90_000, 0, 0, 0, 90_000, 2_160_000),
        ("2026-02", 180_000, 220_000, 6, 70_000, 0, -30_000, 0, 0, 40_000, 2_640_000),
        ("2026-03", 220_000, 205_000, 6, 0, 0, 0, -20_000, 5_000, -15_000, 2_460_000),
    ]
    assert table["new_accounts"].tolist() == [0, 2, 0]
    assert table["churned_accounts"].tolist() == [0, 0, 1]
    assert table["start_mrr_12m"].tolist() == [0, 0, 0]
    # over two months: as test_trailing_figures_over_a_two_month_window
    tr = _fetched(tables, GRID, window=2).trailing
    tr = tr[tr["mi"] <= GRID.last]
    assert [tuple(int(v) for v in r) for r in tr[TRAILING_COLUMNS].itertuples(index=False)] == [
        (2, 4, 90_000, 150_000, 60_000, 4),
        (3, 4, 180_000, 130_000, 130_000, 3),
    ]


def test_revenue_totals_fetched_once_by_plan(tables: StoreTables) -> None:
    segs = segments.plan_segments(tables, GRID, "JPY")
    months = revenue.account_months(revenue.account_mrr(tables, GRID, "JPY"), segs).execute()
    # each row carries the plan at the start of its month and of the next (B1: Basic in
    # January, Pro from February; B8 Pro until March; none beyond the grid)
    at = {(ACCOUNTS[int(a)], int(mi)): (s, n) for a, mi, s, n in
          months[["account_id", "mi", "segment", "next_segment"]].itertuples(index=False)}  # fmt: skip
    assert [at[("B1", mi)] for mi in range(4)] == [("Basic", "Basic"), ("Basic", "Pro"), ("Pro", "Pro"),
                                                  ("Pro", "(none)")]  # fmt: skip
    assert at[("B8", 2)] == ("Pro", "Basic")
    totals = _fetched(tables, GRID, segs)
    table = revenue.revenue_table(GRID, totals.mrr, totals.movements, totals.trailing, keys=["segment"],
                                  start=totals.start)  # fmt: skip
    cols = ["month", "segment", "start_mrr", "mrr", "accounts", "new", "expansion", "contraction", "churned",
            "reactivation", "start_accounts"]  # fmt: skip
    assert [tuple(r) for r in table[cols].itertuples(index=False)] == [
        ("2026-01", "Basic", 40_000, 130_000, 3, 0, 90_000, 0, 0, 0, 3),
        ("2026-01", "Pro", 50_000, 50_000, 1, 0, 0, 0, 0, 0, 1),
        ("2026-02", "Basic", 30_000, 30_000, 2, 0, 0, 0, 0, 0, 2),
        ("2026-02", "Pro", 150_000, 190_000, 4, 70_000, 0, -30_000, 0, 0, 2),
        ("2026-03", "Basic", 50_000, 35_000, 3, 0, 0, 0, -20_000, 5_000, 3),
        ("2026-03", "Pro", 170_000, 170_000, 3, 0, 0, 0, 0, 0, 3),
    ]
    # March's churn of B2 (no row in March) is in its segment at March's start: Basic
    mv = totals.movements
    assert mv[(mv["mi"] == 3) & (mv["kind"] == "churned")][["segment", "amount"]].values.tolist() == [["Basic", -20_000]]
    tr = _fetched(tables, GRID, segs, window=2).trailing
    tr = tr[tr["mi"] <= GRID.last]
    assert [tuple(r) for r in tr[["mi", "segment", *TRAILING_COLUMNS[1:]]].itertuples(index=False)] == [
        (2, "Basic", 3, 40_000, 130_000, 40_000, 3),
        (2, "Pro", 1, 50_000, 20_000, 20_000, 1),
        (3, "Basic", 2, 30_000, 10_000, 10_000, 1),
        (3, "Pro", 2, 150_000, 120_000, 120_000, 2),
    ]
    # a breakdown by an accounts column: the same segment in every month
    names = segments.column_segments(tables, "name")
    by_name = _fetched(tables, GRID, names)
    assert by_name.mrr[by_name.mrr["mi"] == 3][["segment", "mrr"]].values.tolist() == [
        ["B1", 100_000], ["B3", 30_000], ["B5", 10_000], ["B6", 40_000], ["B7", 5_000], ["B8", 20_000]]  # fmt: skip


def test_revenue_totals_fetched_once_with_one_yen_accounts_and_twelve_months() -> None:
    # as test_trailing_totals_with_one_yen_accounts_and_the_default_window, on a 25-month grid
    grid = MonthGrid(AS_OF, months=12)
    months = pd.DataFrame({"account_id": [1, 2, 3, 1, 2, 3], "mi": [0, 0, 0, 12, 12, 12],
                           "mrr": [1, 100, 50, 1, 1, 50]})  # fmt: skip
    first = pd.DataFrame({"account_id": [1, 2, 3], "first_earned": pd.to_datetime(["2024-01-01"] * 3)})
    totals = revenue.revenue_totals(grid, months, first)
    assert [tuple(int(v) for v in r) for r in totals.trailing[TRAILING_COLUMNS].itertuples(index=False)] == [
        (12, 3, 151, 52, 52, 3),
        (24, 3, 52, 0, 0, 0),
    ]
    # mi 1: all three stop paying (churned); mi 12: they pay again (reactivation: they earned
    # before), account 2 with 1 instead of 100; mi 13: they stop again
    mv = totals.movements
    assert [tuple(r) for r in mv.itertuples(index=False)] == [
        (1, "churned", 3, -151), (12, "reactivation", 3, 52), (13, "churned", 3, -52)]  # fmt: skip
    assert totals.start.values.tolist() == [[1, 151, 3], [13, 52, 3]]


def test_revenue_totals_fetched_once_new_or_reactivation() -> None:
    # as test_a_free_plan_then_paid_is_new_whenever_the_free_line_began: first paid on
    # 2026-02-10, after January's snapshot: new in February; an account first earning on
    # the day of January's snapshot (Jan 31) and not paying then is a reactivation
    months = pd.DataFrame({"account_id": [41, 42, 42], "mi": [2, 0, 2], "mrr": [10_000, 5_000, 10_000]})
    first = pd.DataFrame({"account_id": [41, 42], "first_earned": pd.to_datetime(["2026-02-10", "2025-12-01"])})
    mv = revenue.revenue_totals(GRID, months, first).movements
    # (neither has a line at March's snapshot in this frame: both churn then)
    assert [tuple(r) for r in mv.itertuples(index=False)] == [
        (1, "churned", 1, -5_000), (2, "new", 1, 10_000), (2, "reactivation", 1, 10_000),
        (3, "churned", 2, -20_000)]  # fmt: skip
    on_snapshot = pd.DataFrame({"account_id": [41], "first_earned": pd.to_datetime(["2026-01-31"])})
    mv = revenue.revenue_totals(GRID, months[months["account_id"] == 41], on_snapshot).movements
    assert mv.values.tolist() == [[2, "reactivation", 1, 10_000], [3, "churned", 1, -10_000]]
    # up or down from a paying month: expansion, contraction
    months = pd.DataFrame({"account_id": [1, 1, 1], "mi": [0, 1, 2], "mrr": [100, 300, 200]})
    first = pd.DataFrame({"account_id": [1], "first_earned": pd.to_datetime(["2025-12-01"])})
    mv = revenue.revenue_totals(GRID, months, first).movements
    assert mv.values.tolist() == [[1, "expansion", 1, 200], [2, "contraction", 1, -100], [3, "churned", 1, -200]]


def test_revenue_totals_fetched_once_put_each_movement_in_its_segment() -> None:
    # rows as account_months gives them (the segment at the start of the month and of the
    # next): account 8 pays 300 in January and February, in B, moves to C from March and
    # churns then; account 7 is new in February paying ¥1, in A
    months = pd.DataFrame({
        "account_id": [8, 8, 7, 7], "mi": [1, 2, 2, 3], "mrr": [300, 300, 1, 1],
        "segment": ["B", "B", "A", "A"], "next_segment": ["B", "C", "A", "(none)"],
    })  # fmt: skip
    # first earning days in another order than the accounts', with one account not paying in the grid
    first = pd.DataFrame({"account_id": [8, 7, 99], "first_earned": pd.to_datetime(["2025-06-01", "2026-02-10",
                                                                                    "2025-01-01"])})  # fmt: skip
    totals = revenue.revenue_totals(GRID, months, first)
    mv = totals.movements
    assert mv.columns.tolist() == ["mi", "segment", "kind", "accounts", "amount"]
    assert [str(mv[c].dtype) for c in ("mi", "accounts", "amount")] == ["int64"] * 3
    # 8 earned before: a reactivation in January (in B); its churn in March is in C, the
    # segment it started March in; 7's ¥1 is new in A
    assert [tuple(r) for r in mv.itertuples(index=False)] == [
        (1, "B", "reactivation", 1, 300), (2, "A", "new", 1, 1), (3, "C", "churned", 1, -300)]  # fmt: skip
    assert totals.mrr.columns.tolist() == ["mi", "segment", "mrr", "accounts"]
    assert [tuple(r) for r in totals.mrr.itertuples(index=False)] == [
        (1, "B", 300, 1), (2, "A", 1, 1), (2, "B", 300, 1), (3, "A", 1, 1)]  # fmt: skip
    assert totals.start.columns.tolist() == ["mi", "segment", "start_mrr", "start_accounts"]
    assert [tuple(r) for r in totals.start.itertuples(index=False)] == [
        (2, "B", 300, 1), (3, "A", 1, 1), (3, "C", 300, 1), (4, "(none)", 1, 1)]  # fmt: skip
    assert totals.trailing.columns.tolist() == ["mi", "segment", *TRAILING_COLUMNS[1:]]
    assert [str(d) for d in totals.trailing.dtypes.iloc[2:]] == ["int64"] * 5


# --- the report's way since issue 19's fixed part: the earning lines fetched once -------------


def _lines(t: StoreTables, currency: str = "JPY") -> pd.DataFrame:
    return revenue.line_facts(t, currency).execute()


def test_account_mrr_from_the_fetched_lines(tables: StoreTables) -> None:
    amm = revenue.account_mrr_frame(GRID, _lines(tables))
    assert amm.columns.tolist() == ["account_id", "mi", "mrr"]
    assert [str(amm[c].dtype) for c in amm.columns] == ["int64", "int64", "int64"]
    # by account, then month: the figures of test_account_mrr_at_each_snapshot
    assert [(ACCOUNTS[int(a)], int(mi), int(m)) for a, mi, m in amm.itertuples(index=False)] == [
        ("B1", 0, 10_000), ("B1", 1, 100_000), ("B1", 2, 100_000), ("B1", 3, 100_000),
        ("B2", 0, 20_000), ("B2", 1, 20_000), ("B2", 2, 20_000),
        ("B3", 2, 30_000), ("B3", 3, 30_000),
        ("B5", 0, 10_000), ("B5", 1, 10_000), ("B5", 2, 10_000), ("B5", 3, 10_000),
        ("B6", 2, 40_000), ("B6", 3, 40_000),
        ("B7", 3, 5_000),
        ("B8", 0, 50_000), ("B8", 1, 50_000), ("B8", 2, 20_000), ("B8", 3, 20_000),
    ]  # fmt: skip
    usd = revenue.account_mrr_frame(GRID, _lines(tables, "USD"))
    assert usd.values.tolist() == [[5, 0, 10_000], [5, 1, 10_000], [5, 2, 10_000], [5, 3, 10_000]]
    # as of 2026-01-31 (a line's end): B1's Basic has ended and Pro earns, 100,000
    early = revenue.account_mrr_frame(MonthGrid(D(2026, 1, 31), months=1, lookback=1), _lines(tables))
    assert early.loc[early["mi"] == 1].values.tolist() == [[1, 1, 100_000], [2, 1, 20_000], [5, 1, 10_000],
                                                           [8, 1, 50_000]]  # fmt: skip


def test_odd_lines_from_the_fetched_lines(odd: StoreTables) -> None:
    lines = _lines(odd)
    amm = revenue.account_mrr_frame(GRID, lines)
    # free (¥0) pays nothing; the stale trial and "never earned" earn nothing; "future" starts
    # after the grid; "gap" earned only between two snapshots before coming back
    assert [(ODD[int(a)], int(mi), int(m)) for a, mi, m in amm.itertuples(index=False)] == [
        ("one-yen", 0, 1), ("one-yen", 1, 1), ("one-yen", 2, 1), ("one-yen", 3, 1),
        ("trial before start", 2, 10_000), ("trial before start", 3, 10_000),
        ("starts on as_of", 3, 10_000), ("gap", 3, 10_000),
    ]  # fmt: skip
    spans = revenue.line_spans(lines, AS_OF)
    assert spans.columns.tolist() == ["account_id", "first_earned", "last_end"]
    assert [str(spans[c].dtype) for c in spans.columns] == ["int64", "datetime64[s]", "datetime64[s]"]
    got = {ODD[int(a)]: (f.date(), None if pd.isna(e) else e.date()) for a, f, e in spans.itertuples(index=False)}
    assert got == {"one-yen": (D(2025, 1, 1), None), "trial before start": (D(2026, 2, 15), None),
                   "starts on as_of": (AS_OF, None), "gap": (D(2026, 2, 10), D(2026, 2, 20))}  # fmt: skip


def test_customer_since_and_last_ends_from_the_fetched_lines(tables: StoreTables) -> None:
    spans = revenue.line_spans(_lines(tables), AS_OF)
    got = {ACCOUNTS[int(a)]: (f.date(), None if pd.isna(e) else e.date()) for a, f, e in spans.itertuples(index=False)}
    # last ends up to as_of: B1's Basic (Jan 31), B2 (as_of itself), B7's first line, B8's Pro;
    # B4's trial never earned (no customer-since day, so no row)
    assert got == {
        "B1": (D(2025, 6, 1), D(2026, 1, 31)), "B2": (D(2025, 10, 1), AS_OF), "B3": (D(2026, 2, 28), None),
        "B5": (D(2025, 1, 1), None), "B6": (D(2026, 2, 28), None), "B7": (D(2025, 1, 1), D(2025, 12, 31)),
        "B8": (D(2025, 1, 1), D(2026, 2, 15)),
    }  # fmt: skip
    # a day earlier, B2's end (as_of) is not yet a last end, and B7's and B6's…
    before = revenue.line_spans(_lines(tables), D(2026, 3, 14))
    assert {ACCOUNTS[int(a)]: None if pd.isna(e) else e.date() for a, e in before[["account_id", "last_end"]].itertuples(
        index=False)} == {"B1": D(2026, 1, 31), "B2": None, "B3": None, "B5": None, "B6": None, "B7": D(2025, 12, 31),
                          "B8": D(2026, 2, 15)}  # fmt: skip
    # …and on 2026-02-27 B3 (earning from its trial's end, Feb 28) and B6 are no customers yet
    assert sorted(ACCOUNTS[int(a)] for a in revenue.line_spans(_lines(tables), D(2026, 2, 27))["account_id"]) == [
        "B1", "B2", "B5", "B7", "B8"]


def test_account_months_with_the_plans_from_the_fetched_lines(tables: StoreTables) -> None:
    lines = _lines(tables)
    plans = segments.plan_segments_frame(GRID, lines)
    months = revenue.account_months_frame(revenue.account_mrr_frame(GRID, lines), plans)
    assert months.columns.tolist() == ["account_id", "mi", "mrr", "segment", "next_segment"]
    got = {(ACCOUNTS[int(r.account_id)], int(r.mi)): (r.segment, r.next_segment) for r in months.itertuples()}
    # B1 Basic at the start of January, Pro from February; B8 Pro until March; after the
    # last month there is no next segment
    assert [got[("B1", mi)] for mi in range(4)] == [("Basic", "Basic"), ("Basic", "Pro"), ("Pro", "Pro"),
                                                    ("Pro", "(none)")]  # fmt: skip
    assert [got[("B8", mi)] for mi in range(4)] == [("Pro", "Pro"), ("Pro", "Pro"), ("Pro", "Basic"),
                                                    ("Basic", "(none)")]  # fmt: skip
    assert got[("B7", 3)] == ("Basic", "(none)")
    # an account without a plan, and the segments of an accounts column (no months)
    only = plans[plans["account_id"] != 5]
    assert revenue.account_months_frame(months[months["account_id"] == 5], only)[["segment", "next_segment"]].values.tolist() == [
        ["(none)", "(none)"]] * 4  # fmt: skip
    names = pd.DataFrame({"account_id": [5, 8], "segment": ["five", "eight"]})
    assert revenue.segment_of(months[months["mi"] == 3], names).tolist() == ["(none)", "(none)", "five", "(none)",
                                                                            "(none)", "eight"]  # fmt: skip
    assert revenue.account_months_frame(months[["account_id", "mi", "mrr"]]).columns.tolist() == ["account_id", "mi", "mrr"]
    # no row: the segment columns are still texts
    none = revenue.account_months_frame(months.iloc[:0], plans.iloc[:0])
    assert [str(none[c].dtype) for c in ("segment", "next_segment")] == ["str", "str"]


def test_the_revenue_table_by_plan_from_the_fetched_lines(tables: StoreTables) -> None:
    lines = _lines(tables)
    months = revenue.account_months_frame(revenue.account_mrr_frame(GRID, lines), segments.plan_segments_frame(GRID, lines))
    totals = revenue.revenue_totals(GRID, months, revenue.line_spans(lines, AS_OF)[["account_id", "first_earned"]])
    table = revenue.revenue_table(GRID, totals.mrr, totals.movements, totals.trailing, keys=["segment"], start=totals.start)
    cols = ["month", "segment", "start_mrr", "mrr", "accounts", "new", "expansion", "contraction", "churned",
            "reactivation", "start_accounts"]  # fmt: skip
    # the figures of test_plans_as_they_were_at_each_month_start_and_the_revenue_table_by_plan
    assert [tuple(r) for r in table[cols].itertuples(index=False)] == [
        ("2026-01", "Basic", 40_000, 130_000, 3, 0, 90_000, 0, 0, 0, 3),
        ("2026-01", "Pro", 50_000, 50_000, 1, 0, 0, 0, 0, 0, 1),
        ("2026-02", "Basic", 30_000, 30_000, 2, 0, 0, 0, 0, 0, 2),
        ("2026-02", "Pro", 150_000, 190_000, 4, 70_000, 0, -30_000, 0, 0, 2),
        ("2026-03", "Basic", 50_000, 35_000, 3, 0, 0, 0, -20_000, 5_000, 3),
        ("2026-03", "Pro", 170_000, 170_000, 3, 0, 0, 0, 0, 0, 3),
    ]


def test_the_fetched_lines_and_a_trial_ending_after_its_line() -> None:
    lines = [
        (1, 1, 2, 30_000, "JPY", "active", D(2026, 1, 10), None, None),
        # B2: a trial to Mar 1 on a line ended Feb 1 (never earns: its run of months is empty,
        # from March back to February), then Basic from Feb 28
        (2, 2, 2, 30_000, "JPY", "canceled", D(2026, 1, 10), D(2026, 3, 1), D(2026, 2, 1)),
        (3, 2, 1, 10_000, "JPY", "active", D(2026, 2, 28), None, None),
    ]
    t = store({1: "B1", 2: "B2"}, lines)
    fetched = revenue.line_facts(t, "JPY").execute().sort_values(["product_id", "account_id"])
    assert fetched.columns.tolist() == ["account_id", "product_id", "amount", "earn_start", "ended_on", "kind", "rank",
                                        "product"]  # fmt: skip
    assert fetched[["account_id", "kind", "rank", "product"]].values.tolist() == [
        [2, "plan", 1, "Basic"], [1, "plan", 2, "Pro"], [2, "plan", 2, "Pro"]]  # fmt: skip
    amm = revenue.account_mrr_frame(GRID, fetched)
    assert amm.values.tolist() == [[1, 1, 30_000], [1, 2, 30_000], [1, 3, 30_000], [2, 2, 10_000], [2, 3, 10_000]]
