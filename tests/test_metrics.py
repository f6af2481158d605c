"""KPIs against figures worked out by hand on the small company of ``tests/data/metrics``.

The company (as of 2026-03-15, a 3-month report: January to March 2026; snapshots on
2025-12-31, 2026-01-31, 2026-02-28 and 2026-03-15; money in yen):

- A1: Basic 10,000 from 2025-01-01 until 2026-02-10, then Pro 30,000; add-on X 5,000 from 2026-03-01
- A2: Basic 10,000 from 2025-06-01, ended 2026-02-01 (churns in February)
- A3: Pro 30,000 from 2026-01-05 (new in January); add-on X 5,000 from 2026-03-01
- A4: a trial only (never earns)
- A5: Basic 10,000 2025-03-01 → 2025-08-01, again from 2026-03-01 (reactivation in March)
- A6: Pro 30,000 from 2025-02-01 with a trial to 2025-03-01; add-on X 2025-10-01 → 2026-01-20
- A7: a USD line (left out of the JPY figures)
- A8: Basic 10,000 from 2025-12-10, trial to 2026-01-10 (new in January)

MRR at the snapshots: Dec 55,000 (A1 10k, A2 10k, A6 35k; 3 accounts);
Jan 90,000 (A1, A2, A3 30k, A6 30k, A8; 5); Feb 100,000 (A1 30k, A3, A6, A8; 4);
Mar 120,000 (A1 35k, A3 35k, A5 10k, A6 30k, A8 10k; 5).
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from kizuna.analytics import compiled
from kizuna.services import kpis
from tests.cli import run_cli
from tests.metrics_fixture import AS_OF, load_fixture

OPTIONS = kpis.KpiOptions(months=3, gross_margin=0.8, acquisition_cost=100_000, retention_cost=12_000)


@pytest.fixture(scope="module")
def fixture_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    from kizuna.db import ensure_schema, make_engine

    url = f"sqlite:///{tmp_path_factory.mktemp('metrics') / 'kizuna.db'}"
    engine = make_engine(url)
    ensure_schema(engine)
    engine.dispose()
    return load_fixture(url)


@pytest.fixture(scope="module")
def report(fixture_url: str) -> kpis.KpiReport:
    backend = kpis.open_backend(fixture_url)
    try:
        return kpis.kpi_report(backend, AS_OF, OPTIONS)
    finally:
        kpis.close_backend(backend)


def rows(frame, *cols):  # type: ignore[no-untyped-def]
    return [tuple(r) for r in frame[list(cols)].itertuples(index=False)]


def test_mrr_and_movements_by_month(report: kpis.KpiReport) -> None:
    # Jan: new A3 +30,000 and A8 +10,000; contraction A6 −5,000 (add-on ended) → +35,000
    # Feb: expansion A1 +20,000 (Basic → Pro); churned A2 −10,000 → +10,000
    # Mar: expansion A1 +5,000 and A3 +5,000 (add-ons); reactivation A5 +10,000 → +20,000
    assert rows(report.revenue, "month", "mrr", "accounts", "new", "expansion", "contraction", "churned",
                "reactivation", "net_change") == [
        ("2026-01", 90_000, 5, 40_000, 0, -5_000, 0, 0, 35_000),
        ("2026-02", 100_000, 4, 0, 20_000, 0, -10_000, 0, 10_000),
        ("2026-03", 120_000, 5, 0, 10_000, 0, 0, 10_000, 20_000),
    ]  # fmt: skip
    # movements add up to the change in MRR, every month
    rev = report.revenue
    assert (rev["mrr"] - rev["start_mrr"] == rev["net_change"]).all()
    assert report.revenue["arr"].tolist() == [1_080_000, 1_200_000, 1_440_000]


JAN = ("2026-01", 90_000, 5, 40_000, 0, -5_000, 0, 0, 35_000)
FEB = ("2026-02", 100_000, 4, 0, 20_000, 0, -10_000, 0, 10_000)
MAR = ("2026-03", 120_000, 5, 0, 10_000, 0, 0, 10_000, 20_000)


def test_a_second_report_reuses_the_compiled_sql_and_gives_a_fresh_process_figures(
    fixture_url: str, report: kpis.KpiReport
) -> None:
    """Issue 19: the SQL of a report is compiled once per shape; a report for another day
    compiles nothing and gives the hand-computed figures; every SQL text taken from a
    kept shape is the one Ibis compiles for those values (``compiled.checking``), i.e.
    what a fresh process runs."""

    def run(day: date, months: int) -> kpis.KpiReport:
        backend = kpis.open_backend(fixture_url)
        try:
            return kpis.kpi_report(backend, day, replace(OPTIONS, months=months))
        finally:
            kpis.close_backend(backend)

    cols = ("month", "mrr", "accounts", "new", "expansion", "contraction", "churned", "reactivation", "net_change")
    compiled.clear()
    feb = run(date(2026, 2, 28), 2)
    first = compiled.stats()
    with compiled.checking():
        mar = run(AS_OF, 2)
        second = compiled.stats()
        three = run(AS_OF, 3)
        third = compiled.stats()
    # one shape a query: 6 (25 before issue 19 computed the revenue totals, the cohorts and the
    # support KPIs from one fetch each of the account-month MRR and the ticket facts; 10 before
    # the account-month MRR, the plan segments, the lifetimes and the upsell/cross-sell counts
    # came from one fetch of the earning lines, and the NPS from one of the answers): the
    # lines, onboarding, NPS answers, usage, tickets, other currencies
    assert first["misses"] == 6
    assert first["opaque"] == 0
    assert second["misses"] == first["misses"]  # another day: no query compiled again
    assert second["hits"] - first["hits"] == first["misses"] + first["hits"]
    # another number of months: the same shapes (no query's shape depends on the months now)
    assert third["misses"] == second["misses"]
    # every query of the block compared with Ibis' own (the suite may be checking already: deltas)
    assert third["checked"] - first["checked"] == third["misses"] + third["hits"] - first["misses"] - first["hits"]
    assert third["opaque"] == 0
    assert rows(feb.revenue, *cols) == [JAN, FEB]
    assert rows(mar.revenue, *cols) == [FEB, MAR]
    assert rows(three.revenue, *cols) == [JAN, FEB, MAR]
    assert (feb.headline.mrr, feb.headline.paying_accounts, mar.headline.mrr) == (100_000, 4, 120_000)
    assert three.to_dict() == report.to_dict()  # to the last digit


def test_churn_grr_nrr(report: kpis.KpiReport) -> None:
    rev = report.revenue
    # logo churn: Jan 0/3, Feb 1/5 (A2), Mar 0/4
    assert rev["logo_churn_rate"].tolist() == [0.0, 0.2, 0.0]
    # revenue churn = (churned + contraction) ÷ previous MRR: 5k/55k, 10k/90k, 0
    assert rev["revenue_churn_rate"].tolist() == pytest.approx([5 / 55, 10 / 90, 0.0])
    assert rev["grr"].tolist() == pytest.approx([50 / 55, 80 / 90, 1.0])
    # NRR = (previous + expansion − contraction − churned) ÷ previous
    assert rev["nrr"].tolist() == pytest.approx([50 / 55, 100 / 90, 110 / 100])
    # 12 months: paying on 2025-03-31 were A1 10k, A5 10k, A6 30k = 50k; now 35k + 10k + 30k = 75k
    last = rev.iloc[-1]
    assert (last["start_mrr_12m"], last["end_mrr_12m"], last["retained_mrr_12m"]) == (50_000, 75_000, 50_000)
    assert last["nrr_12m"] == pytest.approx(1.5)
    assert last["grr_12m"] == pytest.approx(1.0)
    # Feb: on 2025-02-28 only A1 paid (A6 was in its trial): 10k → 30k
    assert rev.iloc[1]["nrr_12m"] == pytest.approx(3.0)


def test_mrr_at_as_of_equals_the_accounts_list(fixture_url: str, report: kpis.KpiReport) -> None:
    from kizuna.db import make_engine, session_scope
    from kizuna.services.accounts import AccountQuery, list_accounts

    engine = make_engine(fixture_url)
    with session_scope(engine) as session:
        page = list_accounts(session, AccountQuery(per_page=200), as_of=AS_OF)
    engine.dispose()
    jpy = sum(a.mrr for a in page.items if a.currency == "JPY")
    assert jpy == report.headline.mrr == 120_000
    # the USD account is left out and counted
    assert report.excluded_currencies == [{"currency": "USD", "lines": 1, "accounts": 1, "mrr": 1_000_000}]


def test_cohorts_and_survival(report: kpis.KpiReport) -> None:
    # January cohort: A3 (first earned 01-05) and A8 (01-10, after its trial); both still pay
    logo, revenue = report.cohorts_logo, report.cohorts_revenue
    assert logo.loc["2026-01", "size"] == 2
    assert logo.loc["2026-01", [0, 1, 2]].tolist() == [1.0, 1.0, 1.0]
    # revenue: 40,000 at age 0; 35k + 10k = 45k at age 2 → 1.125
    assert revenue.loc["2026-01", "mrr0"] == 40_000
    assert revenue.loc["2026-01", 2] == pytest.approx(1.125)
    assert logo.loc["2026-02", "size"] == 0
    assert math.isnan(logo.loc["2026-02", 0])
    # Kaplan–Meier, Basic: A2 churns after 245 days (8.05 months) with A5 still at risk → 0.5 from month 9
    basic = report.survival[report.survival["segment"] == "Basic"].set_index("month")
    assert basic.loc[8, "survival"] == 1.0
    assert basic.loc[9, "survival"] == pytest.approx(0.5)
    assert basic.loc[9, "lower"] < 0.5 < basic.loc[9, "upper"]


def test_success_kpis(report: kpis.KpiReport) -> None:
    # onboarding: A3 (started 01-05) finished both milestones on 02-04 → 30 days; A4 has one of two;
    # A8 started before the window and does not count
    assert report.onboarding == {"accounts": 2, "completed": 1, "completion_rate": 0.5,
                                 "mean_days_to_complete": 30.0, "median_days_to_complete": 30.0}  # fmt: skip
    # paying on 2025-12-31: A1, A2, A6. A1 moved Basic → Pro (upsell) and added X (cross-sell);
    # A3's add-on does not count (A3 was not a customer at the start)
    e = report.expansion
    assert (e.base_accounts, e.upsell_accounts, e.cross_sell_accounts) == (3, 1, 1)
    # tickets per paying account: 1/5, 2/4, 2/5; slope of (0.2, 0.5, 0.4) = 0.1 a month
    assert report.effort["tickets_per_account"].tolist() == pytest.approx([0.2, 0.5, 0.4])
    assert report.effort_trend == pytest.approx(0.1)
    # NPS: Jan 10, 9, 3 → (2 − 1)/3 = 33.3; Feb 7, 0 → (0 − 1)/2 = −50; overall (2 − 2)/5 = 0
    assert rows(report.nps, "month", "responses", "promoters", "passives", "detractors") == [
        ("2026-01", 3, 2, 0, 1), ("2026-02", 2, 0, 1, 1)]  # fmt: skip
    assert report.nps["nps"].tolist() == pytest.approx([100 / 3, -50.0])
    assert report.nps_total.nps == 0.0
    # usage: Jan A1 + A3 (15 events); Feb A3 (A6's zero does not count); Mar A8 (the 16th is after as_of)
    assert rows(report.usage, "month", "active_accounts", "events") == [
        ("2026-01", 2, 15.0), ("2026-02", 1, 7.0), ("2026-03", 1, 1.0)]  # fmt: skip


def test_support_kpis(report: kpis.KpiReport) -> None:
    # T2 opened 2026-02-01 08:00 in Tokyo (still January in UTC) counts in February;
    # T5's first response comes after as_of, so it is unanswered as of 03-15
    s = report.support
    assert rows(s, "month", "tickets", "answered", "resolved") == [
        ("2026-01", 1, 1, 1), ("2026-02", 2, 2, 1), ("2026-03", 2, 0, 0)]  # fmt: skip
    assert s["mean_frt_hours"].tolist()[:2] == [1.0, 2.5]
    assert s["median_frt_hours"].tolist()[:2] == [1.0, 2.5]
    t = report.support_totals
    # 3 of 5 answered after 1, 3 and 2 hours; 2 of 5 resolved with 4 and 6 messages; CSAT 5 and 2
    assert (t["tickets"], t["answered"], t["resolved"]) == (5, 3, 2)
    assert (t["answer_rate"], t["resolution_rate"], t["mean_frt_hours"], t["median_frt_hours"]) == (0.6, 0.4, 2.0, 2.0)
    assert (t["exchanges_to_resolve"], t["csat"], t["csat_pct"]) == (5.0, 3.5, 0.5)


def test_pareto(report: kpis.KpiReport) -> None:
    # MRR ascending 10k, 10k, 30k, 35k, 35k (120k): the top ⌈0.2 × 5⌉ = 1 holds 35k
    p = report.pareto
    assert (p.accounts, p.total_mrr, p.top_accounts, p.top_mrr) == (5, 120_000, 1, 35_000)
    assert p.top_share == pytest.approx(35 / 120)
    # Gini = Σ (2i − n − 1)·x ÷ (n Σx) = (−4·10 − 2·10 + 0 + 2·35 + 4·35) ÷ (5 · 120) = 0.25
    assert p.gini == pytest.approx(0.25)
    assert p.lorenz[0] == (0.0, 0.0)
    assert p.lorenz[-1] == (1.0, 1.0)


def test_ltv_formulas(report: kpis.KpiReport) -> None:
    # churn over the 12 months to March: 2 churned (A5 in Aug 2025, A2 in Feb 2026) ÷ 41
    # paying accounts at the months' starts (3+3+3+4+4+3+3+3+3+3+5+4) → lifetime 20.5 months
    # ARPA = 120,000 ÷ 5 = 24,000
    f = {x.key: x for x in report.ltv.formulas}
    assert f["arpa_over_churn"].value == 492_000  # 24,000 × 100 ÷ (2/41 × 100)
    assert f["average_x_frequency_x_duration"].value == 492_000  # 24,000 × 12 × 20.5/12
    assert f["annual_x_margin_x_years"].value == 393_600  # 288,000 × 0.8 × 1.7083
    assert f["net"].value == 273_100  # 393,600 − (100,000 + 12,000 × 1.7083)
    # realised: 310,000 of MRR over 14 paying account-months by 6 accounts
    assert f["average_x_count"].value == 51_667
    inputs = {i.key: i.value for i in f["average_x_count"].inputs}
    assert inputs == {"average_payment": 22_143, "payments": pytest.approx(14 / 6)}
    assert {i.key: i.value for i in f["net"].inputs}["acquisition_cost"] == 100_000
    assert report.ltv.ltv_cac == pytest.approx(3.936)


def test_drilldown_lists_the_accounts_behind_a_number(fixture_url: str) -> None:
    backend = kpis.open_backend(fixture_url)
    try:
        churned = kpis.kpi_accounts(backend, AS_OF, OPTIONS, metric="churned", month="2026-02")
        new = kpis.kpi_accounts(backend, AS_OF, OPTIONS, metric="new", month="2026-01")
        cohort = kpis.kpi_accounts(backend, AS_OF, OPTIONS, metric="cohort", month="2026-01", age=2)
        top = kpis.kpi_accounts(backend, AS_OF, OPTIONS, metric="top_20")
        pro = kpis.kpi_accounts(backend, AS_OF, OPTIONS, metric="mrr", segment="Pro")
        with pytest.raises(kpis.InvalidInput, match="unknown metric 'bogus'"):
            kpis.kpi_accounts(backend, AS_OF, OPTIONS, metric="bogus")
        with pytest.raises(kpis.InvalidInput, match="month '2025-01' is not in the report"):
            kpis.kpi_accounts(backend, AS_OF, OPTIONS, metric="mrr", month="2025-01")
    finally:
        kpis.close_backend(backend)
    assert rows(churned, "external_id", "value", "before", "after") == [("A2", -10_000, 10_000, 0)]
    assert rows(new, "external_id", "value") == [("A3", 30_000), ("A8", 10_000)]
    assert rows(cohort, "external_id", "value") == [("A3", 35_000), ("A8", 10_000)]
    assert top["external_id"].tolist() == ["A1"]  # 35k each for A1 and A3: the lower id first
    assert sorted(pro["external_id"]) == ["A1", "A3", "A6"]


def test_cli_api_and_service_agree(fixture_url: str, report: kpis.KpiReport, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from fastapi.testclient import TestClient

    from kizuna.main import create_app
    from kizuna.settings import Settings
    from tests.conftest import make_api_key

    for key, value in {"DATABASE_URL": fixture_url, "GROSS_MARGIN": "0.8", "ACQUISITION_COST": "100000",
                       "RETENTION_COST": "12000"}.items():  # fmt: skip
        monkeypatch.setenv(f"KIZUNA_{key}", value)
    result = run_cli(capsys, "kpis", "--as-of", "2026-03-15", "--months", "3", "--format", "json")
    assert result.code == 0, result.err
    from_cli = json.loads(result.out)
    old = run_cli(capsys, "report", "kpis", "--as-of", "2026-03-15", "--months", "3", "--format", "json")
    assert json.loads(old.out) == from_cli  # the old spelling still answers, for scripts
    app = create_app(Settings(database_url=fixture_url, gross_margin=0.8, acquisition_cost=100000,
                              retention_cost=12000))  # fmt: skip
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {make_api_key(app, 'read')}"
        response = client.get("/api/kpis", params={"as_of": "2026-03-15", "months": 3})
        assert response.status_code == 200, response.text
        drill = client.get("/api/kpis/accounts", params={"as_of": "2026-03-15", "months": 3, "metric": "churned",
                                                         "month": "2026-02"})  # fmt: skip
        bad = client.get("/api/kpis/accounts", params={"as_of": "2026-03-15", "metric": "bogus"})
        ltv = client.get("/api/kpis/ltv", params={"as_of": "2026-03-15", "months": 3})
    expected = json.loads(json.dumps(report.to_dict()))
    api = response.json()
    # the API adds what the KPI page reads from the store: the at-risk count and the targets
    assert api.pop("at_risk") == {"accounts": 0, "mrr": 0}
    assert [t["key"] for t in api.pop("targets")] == ["nrr_12m", "grr_12m", "logo_churn_rate"]
    assert from_cli == expected == api
    assert [a["external_id"] for a in drill.json()["accounts"]] == ["A2"]
    assert bad.status_code == 422
    assert "unknown metric" in bad.text
    assert ltv.json()["formulas"] == expected["ltv"]["formulas"]
    # the LTV command shows each formula with its inputs
    result = run_cli(capsys, "ltv", "formulas", "--as-of", "2026-03-15", "--months", "3", "--format", "json")
    assert json.loads(result.out)["formulas"] == expected["ltv"]["formulas"]
    table = run_cli(capsys, "ltv", "formulas", "--as-of", "2026-03-15", "--months", "3")
    assert "492,000" in table.out
    assert "ARPA" in table.out
    assert "LTV:CAC = 3.94" in table.out
    csv = run_cli(capsys, "kpis", "--as-of", "2026-03-15", "--months", "3", "--format", "csv")
    assert csv.out.splitlines()[1].startswith("2026-01,90000,1080000,5,40000,0,-5000,0,0,35000")


def test_bad_options_are_refused_with_clear_messages(fixture_url: str, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("KIZUNA_DATABASE_URL", fixture_url)
    result = run_cli(capsys, "kpis", "--as-of", "15/03/2026")
    assert result.code == 1
    assert "--as-of must be a date like 2025-03-31, not '15/03/2026'" in result.err
    result = run_cli(capsys, "kpis", "--as-of", "2026-03-15", "--format", "xml")
    assert result.code == 1
    assert "--format must be one of table, json, csv, not 'xml'" in result.err
    result = run_cli(capsys, "kpis", "--as-of", "2026-03-15", "--months", "0")
    assert result.code == 1
    assert "months must be from 1 to 120" in result.err
    result = run_cli(capsys, "kpis", "--as-of", "2026-03-15", "--by", "owner_secret")
    assert result.code == 1
    assert "cannot break KPIs down by 'owner_secret'" in result.err
    monkeypatch.setenv("KIZUNA_GROSS_MARGIN", "80")
    result = run_cli(capsys, "ltv", "formulas")
    assert result.code == 1
    assert "KIZUNA_GROSS_MARGIN" in result.err
    assert "fraction from 0 to 1" in result.err
    monkeypatch.setenv("KIZUNA_GROSS_MARGIN", "0.8")
    monkeypatch.setenv("KIZUNA_ANALYTICS_URL", "mysql://x/y")
    result = run_cli(capsys, "kpis")
    assert result.code == 1
    assert "KIZUNA_ANALYTICS_URL" in result.err
    assert "unknown analytics URL" in result.err
    monkeypatch.setenv("KIZUNA_ANALYTICS_URL", f"duckdb:///{Path(fixture_url[10:]).parent / 'empty.duckdb'}")
    result = run_cli(capsys, "kpis")
    assert result.code == 1
    assert "the analytics backend has no table 'accounts'" in result.err


def test_the_api_keeps_a_report_while_the_store_is_unchanged(fixture_url: str, tmp_path: Path) -> None:
    """Issue 19: ``/api/kpis`` asked again with the same parameters (the day resolved)
    answers from the report it kept — nothing compiled or run — until a change is
    committed to the store, which the next answer shows."""
    import sqlite3

    from fastapi.testclient import TestClient

    from kizuna.main import create_app
    from kizuna.settings import Settings
    from tests.conftest import make_api_key

    path = tmp_path / "kizuna.db"  # a copy: this test changes the store
    with sqlite3.connect(fixture_url.removeprefix("sqlite:///")) as src, sqlite3.connect(path) as dst:
        src.backup(dst)
    app = create_app(Settings(database_url=f"sqlite:///{path}"))
    params = {"as_of": "2026-03-15", "months": 3}
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {make_api_key(app, 'write')}"
        first = client.get("/api/kpis", params=params).json()
        before = compiled.stats()
        again = client.get("/api/kpis", params=params).json()
        kept = compiled.stats()
        with sqlite3.connect(path) as con:  # as another process would: A8's plan 10,000 → 17,000
            con.execute("UPDATE subscriptions SET monthly_amount = 17000 WHERE external_id = 'S13'")
        changed = client.get("/api/kpis", params=params).json()
    assert kept == before  # the second answer compiled and ran nothing
    assert again == first
    assert first["headline"]["mrr"] == 120_000
    assert changed["headline"]["mrr"] == 127_000
