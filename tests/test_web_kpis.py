"""The KPI dashboard (``/kpis``) and its drill-down (``/kpis/accounts``) on the small
hand-built company of ``tests/data/metrics`` (figures worked out in ``tests/test_metrics.py``),
loaded through the real importers; checked against ``/api/kpis`` and ``kizuna kpis``.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kizuna.main import create_app
from kizuna.settings import Settings
from kizuna.web.routes.kpis import ReportCache, heat_class
from tests.cli import run_cli
from tests.conftest import make_user, sign_in
from tests.metrics_fixture import load_fixture

AS_OF = "2026-03-15"
PARAMS = {"as_of": AS_OF, "months": "3"}
COSTS = {"gross_margin": 0.8, "acquisition_cost": 100_000, "retention_cost": 12_000}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    from kizuna.db import ensure_schema, make_engine

    url = f"sqlite:///{tmp_path_factory.mktemp('web_kpis') / 'kizuna.db'}"
    engine = make_engine(url)
    ensure_schema(engine)
    engine.dispose()
    return load_fixture(url)


@pytest.fixture(scope="module")
def kpi_app(store: str) -> FastAPI:
    app = create_app(Settings(database_url=store, **COSTS))  # type: ignore[arg-type]
    app.state.kpi_report_cache = ReportCache(seconds=3600)  # one computation per option set in this module
    make_user(app, "csm@kizuna.example", "csm", name="佐藤 健")
    make_user(app, "viewer@kizuna.example", "viewer", name="田中 花子")
    return app


def _client(app: FastAPI, language: str = "en", email: str | None = "csm@kizuna.example") -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver", headers={"Accept-Language": language}) as c:
        if email:
            sign_in(c, email)
        yield c


@pytest.fixture(scope="module")
def web(kpi_app: FastAPI) -> Iterator[TestClient]:
    """A CSM signed in once for the module (English)."""
    yield from _client(kpi_app)


def tiles(page: str) -> dict[str, str]:
    """``data-kpi`` → raw ``data-value`` of the headline tiles."""
    return dict(re.findall(r'data-kpi="([a-z_0-9]+)" data-value="([^"]*)"', page))


def shown(page: str, key: str) -> str:
    match = re.search(rf'data-kpi="{key}" data-value="[^"]*">([^<]*)<', page)
    assert match, key
    return html.unescape(match.group(1))


def chart(page: str, chart_id: str) -> dict[str, Any]:
    match = re.search(rf'<script type="application/json" id="{chart_id}">(.*?)</script>', page, re.S)
    assert match, chart_id
    data: dict[str, Any] = json.loads(html.unescape(match.group(1)))
    return data


def drilled(page: str) -> list[str]:
    return re.findall(r'<tr data-account="([^"]*)">', page)


def message(page: str) -> str:
    main = page[page.index("<main") :]
    match = re.search(r"<p>(.*?)</p>", main, re.S)
    assert match
    return html.unescape(match.group(1)).strip()


def test_the_figures_shown_equal_the_api_and_the_cli(web: TestClient, store: str, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    page = web.get("/kpis", params=PARAMS)
    assert page.status_code == 200, page.text
    api = web.get("/api/kpis", params=PARAMS)  # the JSON twin, with the same session
    assert api.status_code == 200, api.text
    report = api.json()
    for key, value in {"DATABASE_URL": store, "GROSS_MARGIN": "0.8", "ACQUISITION_COST": "100000",
                       "RETENTION_COST": "12000"}.items():  # fmt: skip
        monkeypatch.setenv(f"KIZUNA_{key}", value)
    cli = run_cli(capsys, "kpis", "--as-of", AS_OF, "--months", "3", "--format", "json")
    assert cli.code == 0, cli.err
    # the API adds what the page shows from the store: the at-risk count and the targets
    assert json.loads(cli.out) == {k: v for k, v in report.items() if k not in ("at_risk", "targets")}

    values = tiles(page.text)
    headline, last = report["headline"], report["revenue"][-1]
    expected = headline | {"nrr": last["nrr"], "grr": last["grr"], "at_risk_accounts": report["at_risk"]["accounts"]}
    assert set(values) <= set(expected)
    assert len(values) == 20
    for key, raw in values.items():
        want = expected[key]
        if want is None:
            assert raw == "", key
        else:
            assert float(raw) == pytest.approx(want), key
    # formatted for the reader (the hand-worked figures of tests/test_metrics.py)
    assert (shown(page.text, "mrr"), shown(page.text, "arr")) == ("¥120,000", "¥1,440,000")
    assert (shown(page.text, "nrr_12m"), shown(page.text, "grr_12m")) == ("150.0%", "100.0%")
    assert (shown(page.text, "nps"), shown(page.text, "top_20_share")) == ("0.0", "29.2%")
    assert (shown(page.text, "ltv"), shown(page.text, "ltv_cac")) == ("¥492,000", "3.94")
    # the waterfall chart and table carry the same movements as the API
    waterfall = chart(page.text, "kpi-waterfall")
    by_label = {d["label"]: d["data"] for d in waterfall["data"]["datasets"]}
    for key, label in (("new", "New"), ("expansion", "Expansion"), ("reactivation", "Reactivation"),
                       ("contraction", "Contraction"), ("churned", "Churned"), ("net_change", "Net change")):  # fmt: skip
        assert by_label[label] == [row[key] for row in report["revenue"]], key
    # 2026-03-15: March is not over, and says so on the chart (drawn lighter by kizuna.js)
    assert waterfall["data"]["labels"] == ["Jan 2026", "Feb 2026", "Mar 2026 (to date)"]
    assert waterfall["kizuna"]["partial_last"] is True
    assert waterfall["kizuna"]["money_axes"] == ["y"]
    assert 'data-testid="drill-churned-2026-02">-¥10,000</a>' in page.text
    assert 'data-testid="drill-new-2026-01">¥40,000</a>' in page.text
    # every LTV formula with its inputs, as in the report
    for formula in report["ltv"]["formulas"]:
        assert f'data-testid="ltv-{formula["key"]}"' in page.text
    assert "ARPA (MRR per paying account): <strong>¥24,000</strong>" in page.text
    # retention curves: a band (upper, lower filled to it) and a curve per plan
    survival = chart(page.text, "kpi-survival")["data"]["datasets"]
    assert [d["label"] for d in survival] == ["Basic: upper 95 %", "Basic: lower 95 %", "Basic",
                                              "Pro: upper 95 %", "Pro: lower 95 %", "Pro"]  # fmt: skip
    assert survival[1]["fill"] == "-1"
    assert survival[2]["data"][9] == 50.0
    # no inline scripts or styles (the CSP allows neither)
    assert "style=" not in page.text
    assert re.findall(r"<script(?![^>]*(?:src=|type=\"application/json\"))", page.text) == []


def test_the_page_speaks_japanese_and_english(kpi_app: FastAPI) -> None:
    for language, expected in (
        ("ja", ["KPIダッシュボード", "MRRの内訳", "コホート", "継続率曲線", "ジニ係数", "初回応答時間", "解決率",
                "顧客満足度 CSAT", "売上継続率 NRR と GRR", "2026年1月"]),
        ("en", ["KPI dashboard", "MRR movements", "Cohorts", "Retention curves", "Gini coefficient",
                "First response, median (hours)", "Resolution rate", "CSAT (1–5)", "Jan 2026"]),
    ):  # fmt: skip
        for c in _client(kpi_app, language):
            page = c.get("/kpis", params=PARAMS)
            assert page.status_code == 200
            for text in expected:
                assert text in page.text, (language, text)
            if language == "ja":
                labels = [d["label"] for d in chart(page.text, "kpi-waterfall")["data"]["datasets"]]
                assert labels == ["新規", "拡大", "再開", "縮小", "解約", "純増減"]
                assert "Churned" not in page.text
                assert "MRR movements" not in page.text
                drill = c.get("/kpis/accounts", params=PARAMS | {"metric": "churned", "month": "2026-02"})
                assert "2026年2月の解約MRR" in drill.text


def test_the_drill_down_lists_the_accounts_behind_a_number(web: TestClient, kpi_app: FastAPI) -> None:
    page = web.get("/kpis", params=PARAMS).text
    # the dashboard links each figure to its accounts
    assert 'href="/kpis/accounts?as_of=2026-03-15&amp;months=3&amp;metric=churned&amp;month=2026-02"' in page
    assert 'href="/kpis/accounts?as_of=2026-03-15&amp;months=3&amp;metric=cohort&amp;month=2026-01&amp;age=2"' in page
    churned = web.get("/kpis/accounts", params=PARAMS | {"metric": "churned", "month": "2026-02"})
    assert churned.status_code == 200
    assert drilled(churned.text) == ["A2"]
    assert "Churned MRR in Feb 2026" in churned.text
    row = churned.text[churned.text.index('data-account="A2"') :]
    assert re.search(r'<a href="/accounts/\d+">', row)
    # value, before and after
    assert re.findall(r'<td class="num"[^>]*>([^<]*)</td>', row)[:3] == ["-¥10,000", "¥10,000", "¥0"]
    # the January cohort two months on: A3 (35,000) and A8 (10,000)
    cohort = web.get("/kpis/accounts", params=PARAMS | {"metric": "cohort", "month": "2026-01", "age": "2"})
    assert drilled(cohort.text) == ["A3", "A8"]
    assert "Total ¥45,000" in cohort.text
    # the account links open the 360 page
    account = re.search(r'<a href="(/accounts/\d+)">', cohort.text)
    assert account
    assert web.get(account.group(1)).status_code == 200
    # the same list as the JSON twin
    api = web.get("/api/kpis/accounts", params=PARAMS | {"metric": "cohort", "month": "2026-01", "age": 2}).json()
    assert [a["external_id"] for a in api["accounts"]] == ["A3", "A8"]
    # a segment keeps one plan's accounts
    pro = web.get("/kpis/accounts", params=PARAMS | {"metric": "mrr", "month": "2026-03", "segment": "Pro"})
    assert sorted(drilled(pro.text)) == ["A1", "A3", "A6"]


@pytest.mark.parametrize(
    ("path", "params", "expected"),
    [
        ("/kpis", {"as_of": "15/03/2026"}, "as_of must be a date like 2026-03-31, not '15/03/2026'"),
        ("/kpis", {"as_of": "2026-02-30"}, "as_of must be a date like 2026-03-31, not '2026-02-30'"),
        ("/kpis", {"months": "0"}, "months must be a whole number from 1 to 120, not '0'"),
        ("/kpis", {"months": "twelve"}, "months must be a whole number from 1 to 120, not 'twelve'"),
        ("/kpis", {"by": "owner_secret"}, "by must be one of: plan, tier, stage, owner, fit, none"),
        ("/kpis/accounts", {"metric": "bogus"}, "unknown metric 'bogus'; one of: mrr, new, expansion"),
        ("/kpis/accounts", {}, "unknown metric ''; one of: mrr"),
        ("/kpis/accounts", {"metric": "churned", "month": "Feb"}, "month must be a month like 2026-03, not 'Feb'"),
        ("/kpis/accounts", {"metric": "churned", "month": "2025-01"},
         "month '2025-01' is not in the report (from 2026-01 to 2026-03)"),
        ("/kpis/accounts", {"metric": "cohort"}, "a cohort needs its month (month=YYYY-MM)"),
        ("/kpis/accounts", {"metric": "cohort", "month": "2026-01", "age": "3"},
         "age must be a whole number of months from 0 to 2, not '3'"),
        ("/kpis/accounts", {"metric": "mrr", "as_of": "yesterday"}, "as_of must be a date like 2026-03-31"),
    ],
)  # fmt: skip
def test_bad_parameters_get_a_clear_400_page(web: TestClient, path: str, params: dict[str, str], expected: str) -> None:
    query = ({"as_of": AS_OF, "months": "3"} if path == "/kpis/accounts" else {}) | params
    response = web.get(path, params=query)
    assert response.status_code == 400
    assert "text/html" in response.headers["content-type"]
    assert expected in message(response.text)


def test_a_viewer_sees_the_page_and_a_stranger_is_sent_to_sign_in(kpi_app: FastAPI) -> None:
    for c in _client(kpi_app, email="viewer@kizuna.example"):
        assert c.get("/kpis", params=PARAMS).status_code == 200
        assert c.get("/kpis/accounts", params=PARAMS | {"metric": "top_20"}).status_code == 200
    for c in _client(kpi_app, email=None):
        for path in ("/kpis", "/kpis/accounts?metric=mrr"):
            response = c.get(path, follow_redirects=False)
            assert response.status_code == 303
            assert response.headers["location"].startswith("/login?next=/kpis")


@pytest.mark.slow
def test_segment_selector_by_touch_tier_and_none(web: TestClient) -> None:
    page = web.get("/kpis", params=PARAMS).text
    for value in ("tier", "stage", "owner", "fit"):
        assert f'<option value="{value}"' in page
    assert '<option value="plan" selected>' in page
    assert 'data-testid="segments-table"' in page
    # the metrics company has no tier history yet: one group, named as such; the old
    # spelling touch_tier still works
    for by in ("tier", "touch_tier"):
        tiers = web.get("/kpis", params=PARAMS | {"by": by})
        assert tiers.status_code == 200
        assert [d["label"] for d in chart(tiers.text, "kpi-survival")["data"]["datasets"]][-1] == "No segment"
        assert '<option value="tier" selected>' in tiers.text
    flat = web.get("/kpis", params=PARAMS | {"by": "none"})
    assert 'data-testid="segments-table"' not in flat.text
    assert [d["label"] for d in chart(flat.text, "kpi-survival")["data"]["datasets"]][-1] == "All accounts"
    # links keep the chosen options
    link = re.search(r'href="([^"]*)" data-testid="drill-churned-2026-02"', flat.text)
    assert link
    assert "by=none" in link.group(1)


@pytest.mark.slow
def test_an_empty_store_shows_zeros_not_an_error(sqlite_url: str) -> None:
    app = create_app(Settings(database_url=sqlite_url))
    make_user(app, "csm@kizuna.example", "csm")
    for c in _client(app):
        page = c.get("/kpis", params=PARAMS)
        assert page.status_code == 200
        assert shown(page.text, "mrr") == "¥0"
        assert shown(page.text, "nrr_12m") == "—"
        assert "kpi-survival" not in page.text  # no curve without a paying account
        assert "no paying accounts at the reporting date" in page.text


def test_the_report_is_reused_for_a_minute_then_recomputed() -> None:
    calls: list[int] = []

    def compute() -> Any:
        calls.append(1)
        return len(calls)

    cache = ReportCache(seconds=60)
    assert cache.get("k", compute) == 1
    assert cache.get("k", compute) == 1
    assert cache.get("j", compute) == 2
    stale = ReportCache(seconds=0)
    assert stale.get("k", compute) == 3
    assert stale.get("k", compute) == 4
    small = ReportCache(seconds=60, entries=2)
    for key in "abc":
        small.get(key, compute)
    assert len(small._items) == 2
    assert "a" not in small._items


def test_cohort_cells_are_shaded_in_buckets() -> None:
    assert [heat_class(v) for v in (None, float("nan"), 0.0, 0.04, 0.55, 1.0, 1.125)] == [
        "heat-none", "heat-none", "heat-0", "heat-0", "heat-6", "heat-10", "heat-over"]  # fmt: skip


def tile(page: str, key: str) -> str:
    """The HTML of one tile (``data-testid="tile-KEY"``), tags stripped to its text."""
    match = re.search(rf'<(a|div) class="kpi[^"]*"[^>]*data-testid="tile-{key}">(.*?)</\1>', page, re.S)
    assert match, key
    return html.unescape(match.group(0))


def text(fragment: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())


def test_tiles_put_the_few_that_matter_first_with_their_change_and_target(web: TestClient) -> None:
    page = web.get("/kpis", params=PARAMS).text
    primary = page[page.index('data-testid="primary-tiles"') : page.index('data-testid="more-tiles"')]
    assert re.findall(r'data-testid="tile-([a-z_0-9]+)"', primary) == [
        "mrr", "nrr_12m", "grr_12m", "logo_churn_rate", "at_risk_accounts",
    ]  # fmt: skip
    # MRR ¥100,000 in February, ¥120,000 on 15 March: up ¥20,000, good news
    mrr = tile(page, "mrr")
    assert 'class="change good"' in mrr
    assert "▲ ¥20,000 vs last month" in text(mrr)
    assert "Previous month: ¥100,000" in mrr
    # 12-month NRR 300 % → 150 %: down 150 points, bad news; the default target (≥ 100 %) is met
    nrr = tile(page, "nrr_12m")
    assert 'class="change bad"' in nrr
    assert "▼ 150.0 pt vs last month" in text(nrr)
    assert "Target ≥ 100.0% · met" in text(nrr)
    assert "target-met" in nrr
    # GRR unchanged at 100 %
    assert "± 0.0 pt vs last month" in text(tile(page, "grr_12m"))
    # logo churn 5.3 % → 4.9 %: down is good; the 1 % target is not met
    churn = tile(page, "logo_churn_rate")
    assert 'class="change good"' in churn
    assert "▼ 0.4 pt vs last month" in text(churn)
    assert "Target ≤ 1.0% · not met" in text(churn)
    assert "target-missed" in churn
    # March is running: the month's flows say so, and a note explains it
    assert 'data-testid="to-date"' in tile(page, "net_change")
    assert 'data-testid="to-date"' not in mrr
    assert "Mar 2026 is not over (15 of 31 days)" in page
    # no engine name
    assert "sqlite" not in text(page[page.index("<main") :]).lower()


def test_the_api_carries_the_previous_month_the_targets_and_the_at_risk_count(web: TestClient) -> None:
    report = web.get("/api/kpis", params=PARAMS).json()
    assert report["headline_previous"]["mrr"] == 100_000
    assert report["headline_previous"]["nrr_12m"] == pytest.approx(3.0)
    assert report["current_month"] == {"month": "2026-03", "days": 15, "days_in_month": 31, "complete": False}
    assert report["targets"] == [
        {"key": "nrr_12m", "op": ">=", "value": 1.0, "kind": "percent"},
        {"key": "grr_12m", "op": ">=", "value": 0.9, "kind": "percent"},
        {"key": "logo_churn_rate", "op": "<=", "value": 0.01, "kind": "percent"},
    ]
    assert set(report["at_risk"]) == {"accounts", "mrr"}
    # a month that is over is not marked partial
    done = web.get("/api/kpis", params={"as_of": "2026-02-28", "months": "3"}).json()
    assert done["current_month"]["complete"] is True
    page = web.get("/kpis", params={"as_of": "2026-02-28", "months": "3"}).text
    assert 'data-testid="partial-note"' not in page
    assert chart(page, "kpi-waterfall")["kizuna"]["partial_last"] is False


def test_targets_come_from_the_setting(store: str) -> None:
    app = create_app(Settings(database_url=store, kpi_targets="mrr >= 150,000, logo_churn_rate <= 5%"))  # type: ignore[arg-type]
    make_user(app, "lead@kizuna.example", "lead")
    for c in _client(app, email="lead@kizuna.example"):
        page = c.get("/kpis", params=PARAMS).text
        assert "Target ≥ ¥150,000 · not met" in text(tile(page, "mrr"))
        assert "Target ≤ 5.0% · met" in text(tile(page, "logo_churn_rate"))
        assert 'data-testid="target"' not in tile(page, "nrr_12m")  # no default targets once set


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("nrr_12m >= 100", "a rate is written with %"),
        ("mrr >= 5%", "not a rate"),
        ("speed >= 3", "unknown KPI 'speed'"),
        ("nrr_12m = 100%", "KPI target 1 ('nrr_12m = 100%') is not like"),
        ("mrr >= 1, mrr <= 2", "KPI target 2: mrr has a target already"),
    ],
)
def test_a_bad_target_setting_is_refused_naming_it(value: str, expected: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=re.escape(expected)):
        Settings(database_url="sqlite://", kpi_targets=value)  # type: ignore[arg-type]


def test_money_axes_and_partial_months_are_marked_for_kizuna_js(kpi_app: FastAPI) -> None:
    for c in _client(kpi_app, "ja"):
        page = c.get("/kpis", params=PARAMS).text
        waterfall = chart(page, "kpi-waterfall")
        assert waterfall["kizuna"]["money"] == {"currency": "JPY", "exponent": 0, "locale": "ja-JP"}
        assert waterfall["data"]["labels"][-1] == "2026年3月（途中）"
        assert chart(page, "kpi-retention")["kizuna"]["partial_last"] is True
        assert chart(page, "kpi-pareto")["kizuna"]["partial_last"] is False  # not by month
        assert "前月比" in page
