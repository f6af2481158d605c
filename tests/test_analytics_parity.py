"""The same KPI suite on SQLite, PostgreSQL, DuckDB and Spark gives the same numbers:
money exactly, rates to 1e-9. One fixture (``tests/data/metrics``), one report each."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from kizuna.analytics import backend as analytics_backend
from kizuna.db import ensure_schema, make_engine, session_scope
from kizuna.db.models import Account, SegmentChange
from kizuna.services import kpis
from tests import test_health_parity as health_parity
from tests.metrics_fixture import AS_OF, load_fixture

# the health parity suite's store and reference (the measures from the store's own queries)
health_store, health_reference = health_parity.health_store, health_parity.health_reference
OPTIONS = kpis.KpiOptions(months=3, gross_margin=0.8, acquisition_cost=100_000, retention_cost=12_000)
TIERS = ("high", "low", "tech")


def load_fixture_with_tiers(url: str) -> str:
    """The fixture, and tier periods: every account a tier from 2025-06-01; every other
    one moves to the next tier on 2026-02-01 (the KPIs by tier read them as they were)."""
    load_fixture(url)
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            rows = []
            for i, account_id in enumerate(session.scalars(select(Account.id).order_by(Account.id))):
                moves = i % 2 == 0
                rows.append({"account_id": account_id, "dimension": "tier", "value": TIERS[i % 3],
                             "from_on": date(2025, 6, 1), "to_on": date(2026, 2, 1) if moves else None, "reason": ""})
                if moves:
                    rows.append({"account_id": account_id, "dimension": "tier", "value": TIERS[(i + 1) % 3],
                                 "from_on": date(2026, 2, 1), "to_on": None, "reason": ""})
            session.execute(insert(SegmentChange), rows)
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="module")
def sqlite_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('parity') / 'kizuna.db'}"
    engine = make_engine(url)
    ensure_schema(engine)
    engine.dispose()
    return load_fixture_with_tiers(url)


@pytest.fixture(scope="module")
def reference(sqlite_store: str) -> dict[str, Any]:
    return run(kpis.open_backend(sqlite_store))


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    session = analytics_backend.local_spark("kizuna-tests")
    yield session
    session.stop()


BY_TIER = replace(OPTIONS, segment_by="tier")


def _by_tier(backend: Any) -> tuple[dict[str, Any], list[dict[Any, Any]]]:
    """The report by tier and its drill-down into the low tier's MRR."""
    report = kpis.kpi_report(backend, AS_OF, BY_TIER).to_dict()
    drill = kpis.kpi_accounts(backend, AS_OF, BY_TIER, metric="mrr", month="2026-02", segment="low")
    return report, drill.to_dict(orient="records")


def run(backend: Any) -> dict[str, Any]:
    try:
        report = kpis.kpi_report(backend, AS_OF, OPTIONS).to_dict()
        drill = kpis.kpi_accounts(backend, AS_OF, OPTIONS, metric="churned", month="2026-02")
        report["drill"] = drill.to_dict(orient="records")
        tiers, report["drill_tier"] = _by_tier(backend)
        report["by_tier"] = {k: tiers[k] for k in ("revenue_by_segment", "nps", "survival")}
    finally:
        kpis.close_backend(backend)
    report.pop("backend")
    return report


def same(a: Any, b: Any, path: str = "") -> None:
    """Equal, floats to 1e-9 (relative) and integers exactly."""
    if isinstance(a, dict):
        assert isinstance(b, dict), path
        assert a.keys() == b.keys(), path
        for k in a:
            same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list | tuple):
        assert isinstance(b, list | tuple), path
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{path}[{i}]")
    elif isinstance(a, float) or isinstance(b, float):
        if a is None or b is None or (isinstance(a, float) and math.isnan(a)):
            assert a is b or (isinstance(b, float) and math.isnan(b)) or a == b, path
        else:
            assert math.isclose(float(a), float(b), rel_tol=1e-9, abs_tol=1e-12), f"{path}: {a} != {b}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def test_the_reference_is_the_hand_checked_report(reference: dict[str, Any]) -> None:
    assert reference["headline"]["mrr"] == 120_000
    assert reference["headline"]["nrr_12m"] == 1.5
    # by tier: the tiers add up to the whole in every month, with no "(none)"
    rows = reference["by_tier"]["revenue_by_segment"]
    assert {r["segment"] for r in rows} <= set(TIERS)
    for month in reference["revenue"]:
        for col in ("mrr", "accounts", "churned", "churned_accounts", "start_mrr", "new", "expansion"):
            assert sum(r[col] for r in rows if r["month"] == month["month"]) == month[col], (month["month"], col)


@pytest.mark.postgres
def test_postgresql_gives_the_same_numbers(reference: dict[str, Any], postgres: Any, postgres_template: str) -> None:
    url = postgres.create_database("kizuna_parity", template=postgres_template)
    load_fixture_with_tiers(url)
    same(run(kpis.open_backend(url)), reference)


def test_duckdb_gives_the_same_numbers(reference: dict[str, Any], sqlite_store: str, tmp_path: Path) -> None:
    target = analytics_backend.connect(f"duckdb:///{tmp_path / 'kpis.duckdb'}")
    counts = analytics_backend.copy_tables(analytics_backend.connect(sqlite_store), target)
    assert counts["subscriptions"] == 13
    same(run(target), reference)
    # and over Parquet files, as KIZUNA_ANALYTICS_URL=duckdb:///folder reads them
    analytics_backend.write_parquet(analytics_backend.connect(sqlite_store), tmp_path / "parquet")
    same(run(kpis.open_backend(sqlite_store, f"duckdb:///{tmp_path / 'parquet'}")), reference)


def run_by_tier(backend: Any) -> dict[str, Any]:
    """The report by tier and its drill-down by tier only: every query of :func:`run` but the
    plan segmentation, once (a Spark query costs about a second; the whole :func:`run` ~80 s)."""
    try:
        report, drill = _by_tier(backend)
        report["drill_tier"] = drill
    finally:
        kpis.close_backend(backend)
    report.pop("backend")
    return report


@pytest.mark.slow
def test_spark_gives_the_same_numbers(reference: dict[str, Any], sqlite_store: str, spark: Any, tmp_path: Path) -> None:
    analytics_backend.write_parquet(analytics_backend.connect(sqlite_store), tmp_path / "parquet")
    backend = analytics_backend.connect(f"pyspark:///{tmp_path / 'parquet'}", spark_session=spark)
    got = run_by_tier(backend)
    # the figures that do not depend on the segmentation are the reference's; those by tier, its by-tier ones
    expected = {k: v for k, v in reference.items() if k not in ("drill", "by_tier")}
    expected |= reference["by_tier"] | {"segment_by": "tier", "drill_tier": reference["drill_tier"]}
    same(got, expected)


@pytest.mark.slow
def test_spark_gives_the_same_health_measures(health_store: str, health_reference: Any, spark: Any,
                                              tmp_path: Path) -> None:  # fmt: skip
    """The health feature table on Spark (issue 14; the other engines: test_health_parity.py)."""
    from kizuna.analytics import health_inputs

    analytics_backend.write_parquet(analytics_backend.connect(health_store), tmp_path / "parquet")
    backend = analytics_backend.connect(f"pyspark:///{tmp_path / 'parquet'}", spark_session=spark)
    health_parity._same(health_inputs.measures_on(health_inputs.health_tables(backend), health_parity.DAYS),
                        health_reference)
