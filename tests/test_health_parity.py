"""The health measures on the analytics engines (issue 14, item 5): the feature table
computed from Ibis aggregates on SQLite, PostgreSQL, DuckDB (a file and Parquet) and Spark
is the one the daily job computes from the store's own queries — every measure of every
account on several days, to 1e-9. (Spark: in ``test_analytics_parity.py``, beside the
KPIs' Spark test, so that both use one Spark session.)"""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from kizuna.analytics import backend as analytics_backend
from kizuna.analytics import health as calc
from kizuna.analytics import health_inputs as hi
from kizuna.db import ensure_schema, make_engine, session_scope
from kizuna.db.models import Account
from kizuna.db.queries import health as q
from kizuna.demo import generate_demo
from kizuna.errors import InvalidInput
from kizuna.services import health as svc
from tests.cli import run_cli

AS_OF = date(2026, 9, 30)
#: The last day, one mid-history, and one early on (young accounts, short baselines).
DAYS = (AS_OF, AS_OF - timedelta(days=45), date(2026, 3, 20))


@pytest.fixture(scope="module")
def health_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('health-parity') / 'kizuna.db'}"
    engine = make_engine(url)
    ensure_schema(engine)
    with session_scope(engine) as session:
        generate_demo(session, accounts=30, months=8, seed=7, as_of=AS_OF)
        # CSM sentiments (the demo enters none): a later entry replaces an earlier one;
        # one falls out of the 180-day window by the last day; one is entered after a day
        first, second, third = sorted(session.scalars(select(Account.id)))[:3]
        for account, value, at in ((first, 2, datetime(2026, 3, 1, 9, tzinfo=UTC)),
                                   (first, 5, datetime(2026, 8, 10, 23, 30, tzinfo=UTC)),
                                   (second, 1, datetime(2026, 3, 19, 12, tzinfo=UTC)),
                                   (third, 3, datetime(2026, 9, 30, 0, 0, tzinfo=UTC))):  # fmt: skip
            q.add_sentiment(session, account, None, value, "", at)
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def health_reference(health_store: str) -> pd.DataFrame:
    """The daily job's own path: the store's queries (SQLAlchemy), then compute_measures."""
    engine = make_engine(health_store)
    frames = []
    try:
        with session_scope(engine) as session:
            lines = q.subscription_lines(session)
            for day in sorted(DAYS):
                accounts = calc.live_accounts(lines, day, paying_only=False)
                values = calc.compute_measures(accounts, svc._inputs(session, day, lines, None), day)
                frames.append(values.assign(day=pd.Timestamp(day)).set_index("day", append=True).swaplevel())
    finally:
        engine.dispose()
    return pd.concat(frames)


def _same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    _same_to(got, want, rtol=1e-9)


def _same_to(got: pd.DataFrame, want: pd.DataFrame, *, rtol: float) -> None:
    assert got.index.names == ["day", "account_id"]
    got, want = got.sort_index(), want.sort_index()
    assert list(got.index) == list(want.index)
    assert list(got.columns) == list(want.columns)
    for column in want.columns:
        a, b = got[column].to_numpy(dtype="float64"), want[column].to_numpy(dtype="float64")
        assert np.array_equal(np.isnan(a), np.isnan(b)), column  # missing where the store's path says missing
        ok = ~np.isnan(b)
        assert np.allclose(a[ok], b[ok], rtol=rtol, atol=1e-12), column


def test_the_reference_has_every_kind_of_measure(health_reference: pd.DataFrame) -> None:
    """The fixture exercises the measures (not a frame of NaN that any engine would match)."""
    filled = health_reference.notna().sum()
    for measure in ("logins_vs_baseline", "login_trend", "events_per_seat", "feature_breadth", "nps", "csat",
                    "open_tickets", "onboarding_progress", "days_to_renewal", "active_users_per_seat"):  # fmt: skip
        assert filled[measure] > 0, measure
    assert health_reference.xs(pd.Timestamp(AS_OF), level="day")["open_tickets"].sum() > 0
    assert len(health_reference.loc[pd.Timestamp(date(2026, 3, 20))]) < len(health_reference.loc[pd.Timestamp(AS_OF)])
    sentiments = health_reference["csm_sentiment"].dropna()
    assert sorted(sentiments.loc[pd.Timestamp(AS_OF)].tolist()) == [3.0, 5.0]  # the latest; one too old by then
    assert sentiments.loc[pd.Timestamp(date(2026, 3, 20))].tolist() == [2.0, 1.0]


def test_sqlite_through_ibis_gives_the_same_measures(health_store: str, health_reference: pd.DataFrame) -> None:
    _same(hi.measures_on(hi.health_tables(analytics_backend.connect(health_store)), DAYS), health_reference)


def test_duckdb_gives_the_same_measures(health_store: str, health_reference: pd.DataFrame, tmp_path: Path) -> None:
    target = analytics_backend.connect(f"duckdb:///{tmp_path / 'health.duckdb'}")
    counts = analytics_backend.copy_tables(analytics_backend.connect(health_store), target)
    assert counts["health_sentiments"] == 4
    assert counts["contacts"] > 0
    _same(hi.measures_on(hi.health_tables(target), DAYS), health_reference)
    analytics_backend.write_parquet(analytics_backend.connect(health_store), tmp_path / "parquet")
    parquet = analytics_backend.connect(f"duckdb:///{tmp_path / 'parquet'}")
    _same(hi.measures_on(hi.health_tables(parquet), DAYS), health_reference)


@pytest.mark.postgres
def test_postgresql_gives_the_same_measures(health_store: str, health_reference: pd.DataFrame, postgres: Any) -> None:
    url = postgres.create_database("kizuna_health_parity")
    target = analytics_backend.connect(url)
    analytics_backend.copy_tables(analytics_backend.connect(health_store), target)
    _same(hi.measures_on(hi.health_tables(target), DAYS), health_reference)


def test_an_engine_without_the_health_tables_is_named(health_store: str, tmp_path: Path) -> None:
    """A warehouse that holds only the KPIs' tables: the error names the first table missing."""
    target = analytics_backend.connect(f"duckdb:///{tmp_path / 'kpis-only.duckdb'}")
    source = analytics_backend.connect(health_store)
    for name, columns in analytics_backend.COLUMNS.items():
        target.create_table(name, analytics_backend.uniform_table(source, name, columns).to_pyarrow())
    with pytest.raises(InvalidInput, match=r"lack columns: subscriptions\.billing_interval, quantity"):
        hi.health_tables(target)


def test_kizuna_health_measures_prints_the_feature_table_from_the_analytics_engine(
    health_store: str, health_reference: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    analytics_backend.write_parquet(analytics_backend.connect(health_store), tmp_path / "parquet")
    monkeypatch.setenv("KIZUNA_DATABASE_URL", health_store)
    monkeypatch.setenv("KIZUNA_ANALYTICS_URL", f"duckdb:///{tmp_path / 'parquet'}")
    done = run_cli(capsys, "health", "measures", "--as-of", "2026-09-30", "--from", "2026-08-16", "--step", "45")
    assert done.code == 0, done.err
    got = pd.read_csv(io.StringIO(done.out), parse_dates=["day"]).set_index(["day", "account_id"])
    want = health_reference.loc[[pd.Timestamp(AS_OF), pd.Timestamp(AS_OF - timedelta(days=45))]]
    assert list(got.columns) == list(want.columns)
    assert got.shape == want.shape
    _same_to(got, want, rtol=1e-5)  # the CSV keeps six significant digits
    as_json = run_cli(capsys, "health", "measures", "--as-of", "2026-09-30", "--format", "json")
    rows = json.loads(as_json.out)
    assert len(rows) == len(health_reference.loc[pd.Timestamp(AS_OF)])
    assert rows[0]["day"] == "2026-09-30"
    assert any(r["nps"] is None for r in rows)  # missing is null, not 0 or NaN


@pytest.mark.parametrize(("args", "message"), [
    (("--from", "2026-10-01", "--as-of", "2026-09-30"), "--from must not be after --as-of"),
    (("--from", "2020-01-01", "--as-of", "2026-09-30", "--step", "1"), "at most 400 days at once"),
    (("--format", "xml"), "--format must be one of csv, json, not 'xml'"),
    (("--as-of", "2026-02-30"), "2026-02-30"),
    (("--step", "0"), "--step"),
])  # fmt: skip
def test_kizuna_health_measures_refuses_bad_options(
    health_store: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...],
    message: str,
) -> None:  # fmt: skip
    monkeypatch.setenv("KIZUNA_DATABASE_URL", health_store)
    done = run_cli(capsys, "health", "measures", *args)
    assert done.code != 0
    assert message in done.out + done.err
    assert "Traceback" not in done.out + done.err
