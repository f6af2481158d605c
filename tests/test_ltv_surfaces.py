"""Lifetime value per account (issue 21) through the real store: a company imported as
CSV files (contracts drawn from the sBG process, plus a veteran and a newcomer on the
same plan and MRR), the daily job's ``ltv`` step, and what users see — the 360 header,
the LTV page, the list, the API, the CLI and the touch tiers."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kizuna.analytics import ltv_accounts as la
from kizuna.domain.segments import LtvSource, TierBasis, TierMethod
from kizuna.domain.segments_config import default_segments_config
from kizuna.domain.subscriptions import add_months
from kizuna.services import accounts as accounts_service
from kizuna.services import ltv_accounts, segments
from kizuna.services.accounts import AccountQuery
from kizuna.services.context import LtvSettings, RunContext
from kizuna.services.imports import ParseContext, import_file
from kizuna.services.pipeline import run_daily
from tests.cli import run_cli

AS_OF = date(2026, 11, 20)
CTX = ParseContext(ZoneInfo("Asia/Tokyo"), "JPY")
PRODUCTS = """code,name,kind,rank,currency,list_price,seats_included,description,is_active
plan-starter,ライト,plan,1,JPY,10000,5,,true
plan-pro,プロ,plan,3,JPY,98000,50,,true
plan-enterprise,エンタープライズ,plan,5,JPY,500000,500,,true
"""
MRR = {"plan-starter": 10_000, "plan-pro": 98_000, "plan-enterprise": 500_000}
#: Hand-made accounts: a veteran with 4 renewals and a newcomer, same plan and MRR; an
#: enterprise account alone in its segment; one churned; one in a trial.
HAND = [
    ("VET", "老舗商事", "plan-pro", "year", "active", "2022-01-10", "", "2027-01-10"),
    ("NEWBIE", "新顔工業", "plan-pro", "year", "active", "2026-06-01", "", "2027-06-01"),
    ("BIG", "大口ホールディングス", "plan-enterprise", "year", "active", "2025-04-01", "", "2027-04-01"),
    ("GONE", "解約済み食堂", "plan-starter", "month", "canceled", "2024-01-01", "2025-08-01", "2025-08-01"),
    ("TRY", "お試し株式会社", "plan-starter", "month", "trial", "2026-11-10", "", ""),
]


def _company(folder: Path) -> None:
    contracts = la.simulate_contracts(
        [("plan-starter", 1, 0.5, 3.0, 150), ("plan-pro", 12, 0.6, 2.0, 120)], date(2019, 1, 1), AS_OF, seed=5
    )
    accounts = io.StringIO()
    subs = io.StringIO()
    a = csv.writer(accounts)
    s = csv.writer(subs)
    a.writerow(["external_id", "name", "domain", "industry", "employee_count", "owner_email", "parent_external_id"])
    s.writerow(["external_id", "account_external_id", "product_code", "quantity", "currency", "monthly_amount",
                "billing_interval", "status", "started_on", "trial_ends_on", "current_term_end", "canceled_at",
                "ended_on", "cancel_reason"])  # fmt: skip
    for r in contracts.itertuples(index=False):
        key = f"G-{r.account_id:04d}"
        a.writerow([key, f"生成 {r.account_id}", "", "", "", "", ""])
        term = int(r.term_months)
        end = r.ended_on
        renewal = r.started_on
        while renewal <= AS_OF:
            renewal = add_months(renewal, term)
        s.writerow([f"S-{key}", key, r.segment, 1, "JPY", MRR[r.segment], "year" if term == 12 else "month",
                    "canceled" if end else "active", r.started_on.isoformat(), "",
                    (end or renewal).isoformat(), "", end.isoformat() if end else "", ""])  # fmt: skip
    for key, name, plan, interval, status, start, end, term_end in HAND:
        a.writerow([key, name, "", "", "", "", ""])
        s.writerow([f"S-{key}", key, plan, 1, "JPY", MRR[plan], interval, status, start,
                    "2026-11-24" if status == "trial" else "", term_end, "", end, ""])  # fmt: skip
    (folder / "products.csv").write_text(PRODUCTS, encoding="utf-8")
    (folder / "accounts.csv").write_text(accounts.getvalue(), encoding="utf-8")
    (folder / "subscriptions.csv").write_text(subs.getvalue(), encoding="utf-8")


@pytest.fixture
def company(app: FastAPI, tmp_path: Path) -> dict[str, int]:
    """The company imported, and the daily job run for AS_OF; external id → account id."""
    folder = tmp_path / "company"
    folder.mkdir()
    _company(folder)
    with app.state.kizuna.unit_of_work() as session:
        for name in ("products", "accounts", "subscriptions"):
            import_file(session, name, folder / f"{name}.csv", ctx=CTX)
        run_daily(session, AS_OF, RunContext())
        rows = accounts_service.all_accounts(session, AccountQuery(), as_of=AS_OF)
    return {r.external_id: r.id for r in rows}


def _brute_derl(alpha: float, beta: float, n: int, d: float) -> float:
    t = np.arange(n + 1, n + 5000)
    log_s = np.array([la.SBGFit(alpha, beta, 0, 0, True, 0).survival(x) for x in (t, n)], dtype=object)
    return float(np.sum(log_s[0] / log_s[1] / (1 + d) ** (t - n - 1)))


def test_the_daily_job_scores_every_paying_account_and_survivors_are_worth_more(
    app: FastAPI, company: dict[str, int]
) -> None:
    with app.state.kizuna.unit_of_work() as session:
        views = {v.external_id: v for v in ltv_accounts.accounts_ltv(session)}
        fits = {(f.segment, f.term_months): f for f in ltv_accounts.segment_fits(session)}
        paying = accounts_service.list_accounts(session, AccountQuery(status="active", per_page=1), as_of=AS_OF).total
    assert len(views) == paying > 100
    assert all(v.residual_value is not None and v.residual_value > 0 for v in views.values())
    assert "GONE" not in views
    assert "TRY" not in views
    vet, newbie = views["VET"], views["NEWBIE"]
    assert (vet.segment, vet.term_months, vet.renewals, vet.pooled) == ("plan-pro", 12, 4, False)
    assert (newbie.renewals, newbie.mrr, newbie.payment) == (0, 98_000, 98_000 * 12)  # ARR for an annual term
    assert vet.retention > newbie.retention
    assert vet.residual_value > newbie.residual_value
    # the residual value is DERL (checked by brute force) × ARR × the 80% margin
    pro = fits[("plan-pro", 12)]
    assert (vet.alpha, vet.beta) == (pro.alpha, pro.beta)
    assert vet.discount_rate == pytest.approx(0.10)
    assert vet.derl == pytest.approx(_brute_derl(pro.alpha, pro.beta, 4, 0.10), rel=1e-9)
    assert vet.residual_value == round(vet.derl * 98_000 * 12 * 0.8)
    assert vet.ltv == round(vet.revenue_to_date * 0.8) + vet.residual_value
    # ~58 months of ¥98,000 earned by the veteran
    assert 57 * 98_000 < vet.revenue_to_date < 59 * 98_000
    # the enterprise segment has one contract: it borrows the pooled annual fit and says so
    big = views["BIG"]
    assert big.pooled
    assert big.reason == la.REASON_FEW_COHORTS
    pooled = fits[(la.POOLED, 12)]
    assert (big.alpha, big.beta) == (pooled.alpha, pooled.beta)
    assert not fits[("plan-starter", 1)].pooled
    assert fits[("plan-starter", 1)].observed[0] == 1.0


def test_the_360_header_explains_the_value(client: TestClient, csm: str, company: dict[str, int]) -> None:
    page = client.get(f"/accounts/{company['VET']}").text
    ltv = re.search(r'data-testid="account-ltv">([^<]+)<', page)
    residual = re.search(r'data-testid="account-residual-value">([^<]+)<', page)
    api = client.get(f"/api/accounts/{company['VET']}/ltv").json()
    assert ltv is not None
    assert ltv.group(1) == f"¥{api['ltv']:,}"
    assert residual is not None
    assert residual.group(1) == f"¥{api['residual_value']:,}"
    assert 'data-testid="ltv-segment">plan-pro<' in page
    assert "4 renewals" in page
    assert f"¥{98_000 * 12:,}" in page  # payment per term
    assert "10.0%" in page  # discount rate a year
    big = client.get(f"/accounts/{company['BIG']}").text
    assert "too few start cohorts: the pooled fit of its term is used" in big
    assert 'data-testid="ltv-head"' not in client.get(f"/accounts/{company['TRY']}").text
    ja = client.get(f"/accounts/{company['VET']}", headers={"Accept-Language": "ja"}).text
    assert "残存価値" in ja


def test_the_ltv_page_shows_fits_and_observed_vs_fitted_survival(
    client: TestClient, csm: str, company: dict[str, int]
) -> None:
    page = client.get("/ltv")
    assert page.status_code == 200
    rows = re.findall(r'data-testid="ltv-fit-row" data-segment="([^"]*)"', page.text)
    assert set(rows) == {"*", "plan-starter", "plan-pro", "plan-enterprise"}
    chart = re.search(r'<script type="application/json" id="ltv-survival-12">(.*?)</script>', page.text, re.S)
    assert chart is not None
    datasets = {d["label"]: d["data"] for d in json.loads(chart.group(1))["data"]["datasets"]}
    observed, fitted = datasets["plan-pro: observed"], datasets["plan-pro: fitted (sBG)"]
    assert observed[0] == fitted[0] == 100
    assert abs(observed[3] - fitted[3]) < 8  # within 8 points at the third renewal
    api = {(f["segment"], f["term_months"]): f for f in client.get("/api/ltv/segments").json()}
    assert api[("plan-pro", 12)]["observed"][3] * 100 == pytest.approx(observed[3], abs=0.01)


def test_the_list_sorts_and_filters_by_lifetime_value(client: TestClient, csm: str, company: dict[str, int]) -> None:
    listed = client.get("/api/accounts", params={"sort": "-ltv", "per_page": 200}).json()
    values = [a["ltv"] for a in listed["items"] if a["ltv"] is not None]
    assert values == sorted(values, reverse=True)
    assert listed["items"][0]["external_id"] == "BIG"
    vet = client.get(f"/api/accounts/{company['VET']}/ltv").json()
    above = client.get("/api/accounts", params={"min_ltv": vet["ltv"], "per_page": 200}).json()
    assert all(a["ltv"] >= vet["ltv"] for a in above["items"])
    assert "VET" in {a["external_id"] for a in above["items"]}
    assert "NEWBIE" not in {a["external_id"] for a in above["items"]}
    page = client.get("/accounts", params={"sort": "-ltv", "ltv": str(vet["ltv"])}).text
    assert 'value="' + str(vet["ltv"]) + '"' in page
    cells = re.findall(r'data-testid="ltv"[^>]*>([^<]+)<', page)
    assert cells
    assert f"¥{vet['ltv']:,}" in cells
    bad = client.get("/accounts", params={"ltv": "lots"})
    assert bad.status_code == 422
    assert "ltv must be a whole number" in bad.text


def test_api_not_found_and_not_available(client: TestClient, csm: str, company: dict[str, int]) -> None:
    missing = client.get("/api/accounts/999999/ltv")
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["code"] == "account_not_found"
    trial = client.get(f"/api/accounts/{company['TRY']}/ltv")
    assert trial.status_code == 404
    assert trial.json()["errors"][0]["code"] == "ltv_not_available"
    assert client.get(f"/api/accounts/{company['NEWBIE']}/ltv").json()["renewals"] == 0


def test_touch_tiers_by_ltv_use_the_fitted_value(app: FastAPI, company: dict[str, int]) -> None:
    with app.state.kizuna.unit_of_work() as session:
        values = {v.external_id: v.residual_value for v in ltv_accounts.accounts_ltv(session)}
        threshold = (values["VET"] + values["NEWBIE"]) // 2
        base = default_segments_config()
        tiers = base.tiers.__class__(basis=TierBasis.LTV, method=TierMethod.AMOUNT, high_amount=threshold,
                                     low_amount=1, ltv=base.tiers.ltv)  # fmt: skip
        segments.recompute_tiers(session, AS_OF, base.__class__(tiers=tiers))
        fitted = {k: segments.account_segments(session, company[k], as_of=AS_OF).touch_tier for k in ("VET", "NEWBIE")}
        formula = tiers.__class__(**{**tiers.__dict__, "ltv": tiers.ltv.__class__(source=LtvSource.FORMULA)})
        segments.recompute_tiers(session, AS_OF, base.__class__(tiers=formula))
        plain = {k: segments.account_segments(session, company[k], as_of=AS_OF).touch_tier for k in ("VET", "NEWBIE")}
    # same plan, same MRR: the formula cannot tell them apart; the fitted value can
    assert (fitted["VET"].value, fitted["NEWBIE"].value) == ("high", "low")
    assert plain["VET"] == plain["NEWBIE"]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_cli_accounts_and_backtest(
    store_url: str, company: dict[str, int], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIZUNA_DATABASE_URL", store_url)
    out = run_cli(capsys, "ltv", "accounts", "--format", "csv")
    assert out.code == 0, out.err
    rows = list(csv.DictReader(io.StringIO(out.out)))
    vet = next(r for r in rows if r["external_id"] == "VET")
    assert (vet["segment"], vet["term_months"], vet["renewals"], vet["payment"]) == ("plan-pro", "12", "4", "1176000")
    as_json = json.loads(run_cli(capsys, "ltv", "accounts", "--format", "json").out)
    assert len(as_json) == len(rows)
    assert as_json[0]["ltv"] == max(int(r["ltv"]) for r in rows)
    table = run_cli(capsys, "ltv", "accounts", "--limit", "3")
    assert f"{len(rows)} accounts; discount rate 10.0% a year, margin 80%." in table.out
    bad = run_cli(capsys, "ltv", "accounts", "--format", "xml")
    assert bad.code == 1
    assert "--format must be one of table, csv, json, not 'xml'" in bad.err
    result = run_cli(capsys, "ltv", "backtest", "--cutoff", "2024-11-20", "--as-of", AS_OF.isoformat(), "--format", "json")
    assert result.code == 0, result.err
    report = json.loads(result.out)
    by = {(s["segment"], s["term_months"]): s for s in report["segments"]}
    assert by[("plan-starter", 1)]["contracts"] > 10
    assert by[("*", 1)]["mae_sbg"] < by[("*", 1)]["mae_baseline"]
    pooled = by[("*", 1)]
    first = [c for c in pooled["survivors"] if c["period"] == 1]
    assert sum(c["at_risk"] for c in first) == pooled["contracts"]
    assert pooled["log_likelihood_sbg"] > pooled["log_likelihood_baseline"]
    assert pooled["survivors_mae_sbg"] < pooled["survivors_mae_baseline"]
    assert {"survivors_mape_sbg", "survivors_mape_baseline"} <= set(pooled)
    shown = run_cli(capsys, "ltv", "backtest", "--cutoff", "2024-11-20", "--as-of", AS_OF.isoformat(), "--survivors")
    assert shown.code == 0, shown.err
    assert "log-likelihood of" in shown.out
    assert "plan-pro, 12 months: survivors by tenure band and renewal period" in shown.out
    cell = by[("plan-pro", 12)]["survivors"][0]  # the JSON's first cell is a row of the printed table
    row = [cell["tenure_band"], str(cell["period"]), str(cell["at_risk"]), str(cell["actual"]), f"{cell['sbg']:.1f}",
           f"{cell['baseline']:.1f}"]  # fmt: skip
    assert any(line.replace("│", " ").split() == row for line in shown.out.splitlines())
    truncated = run_cli(capsys, "ltv", "backtest", "--cutoff", "2024-11-20", "--as-of", AS_OF.isoformat(),
                        "--observed-from", "2023-01-01", "--format", "json")  # fmt: skip
    assert truncated.code == 0, truncated.err
    told = {(s["segment"], s["term_months"]): s for s in json.loads(truncated.out)["segments"]}
    assert told[("*", 1)]["contracts"] == pooled["contracts"]
    assert told[("*", 1)]["log_likelihood_baseline"] != pooled["log_likelihood_baseline"]
    bad_day = run_cli(capsys, "ltv", "backtest", "--observed-from", "2023-13-01")
    assert bad_day.code == 1
    assert "--observed-from must be a date like 2025-03-31, not '2023-13-01'" in bad_day.err
    later = run_cli(capsys, "ltv", "backtest", "--cutoff", "2027-01-01", "--as-of", AS_OF.isoformat())
    assert later.code == 1
    assert "the backtest cutoff must be before the as-of day" in later.err


def test_settings_reach_the_fit(app: FastAPI, company: dict[str, int]) -> None:
    with app.state.kizuna.unit_of_work() as session:
        ltv_accounts.refit_step(session, AS_OF, LtvSettings(segment_by="none", annual_discount_rate=0.25, margin=0.5))
        vet = ltv_accounts.account_ltv(session, company["VET"])
    assert vet is not None
    assert vet.segment == ""
    assert vet.annual_discount_rate == pytest.approx(0.25)
    assert vet.residual_value == round(vet.derl * 98_000 * 12 * 0.5)


def _import_usage(session, rows: list[tuple[str, str]], folder: Path) -> None:  # type: ignore[no-untyped-def]
    path = folder / "usage_daily.csv"
    path.write_text("account_external_id,day,metric,value\n" + "".join(f"{key},{day},logins,3\n" for key, day in rows),
                    encoding="utf-8")  # fmt: skip
    import_file(session, "usage_daily", path, ctx=CTX)


def test_the_history_start_is_inferred_from_the_first_usage_day_and_the_setting_overrides_it(
    app: FastAPI, company: dict[str, int], tmp_path: Path
) -> None:
    with app.state.kizuna.unit_of_work() as session:
        # no usage: every contract is seen from its start, as before
        assert ltv_accounts.history_start(session) == ltv_accounts.HistoryStart(None, inferred=False)
        frame = ltv_accounts.contracts(session, AS_OF)
        first_churn = min(d for d in frame["ended_on"] if d is not None and not pd.isna(d))
        # usage since before any churn: the history begins on its first day
        _import_usage(session, [("VET", "2018-06-01"), ("NEWBIE", "2026-07-01")], tmp_path)
        assert ltv_accounts.history_start(session) == ltv_accounts.HistoryStart(date(2018, 6, 1), inferred=True)
    with app.state.kizuna.unit_of_work() as session:
        _import_usage(session, [("VET", "2025-01-01")], tmp_path)
        session.execute(sa.text("DELETE FROM usage_daily WHERE day < '2020-01-01'"))
        # usage that begins after a recorded churn: the history begins no later than that churn
        start = ltv_accounts.history_start(session)
        assert start == ltv_accounts.HistoryStart(first_churn, inferred=True)
        ltv_accounts.refit_step(session, AS_OF)  # the daily job's ltv step
        stored = {(f.segment, f.term_months): f for f in ltv_accounts.segment_fits(session)}
    told = la.fit_segments(frame, AS_OF, la.LtvOptions(observed_from=first_churn))
    plain = la.fit_segments(frame, AS_OF)
    assert stored[(la.POOLED, 1)].alpha == pytest.approx(told[(la.POOLED, 1)].alpha, rel=1e-9)
    assert stored[(la.POOLED, 1)].alpha != pytest.approx(plain[(la.POOLED, 1)].alpha, rel=1e-6)
    with app.state.kizuna.unit_of_work() as session:
        setting = ltv_accounts.history_start(session, LtvSettings(observed_from=date(2023, 1, 1)))
    assert setting == ltv_accounts.HistoryStart(date(2023, 1, 1), inferred=False)


def test_a_term_with_too_few_churns_shows_a_constant_rate_everywhere(
    app: FastAPI, client: TestClient, csm: str, company: dict[str, int], store_url: str,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    # the annual contracts (from 2019) have made a few renewals with a handful of ends (4); the
    # monthly ones have 24, enough for sBG
    early = date(2021, 1, 1)
    with app.state.kizuna.unit_of_work() as session:
        ltv_accounts.refit_step(session, early)
        fits = {(f.segment, f.term_months): f for f in ltv_accounts.segment_fits(session)}
        annual = next(v for v in ltv_accounts.accounts_ltv(session) if v.term_months == 12)
    pooled = fits[(la.POOLED, 12)]
    assert 0 < pooled.churned < la.LtvOptions().min_churned
    assert (pooled.constant, pooled.reason) == (True, la.REASON_CONSTANT)
    assert not fits[(la.POOLED, 1)].constant
    page = client.get("/ltv").text
    row = re.search(r'data-segment="\*">(.*?)</tr>', page[page.index('data-testid="ltv-term-12"'):], re.S)
    assert row is not None
    cells = re.findall(r'<td class="num">([^<]*)</td>', row.group(1))
    assert cells[3:5] == ["—", "—"]  # α and β: no sBG fit
    assert cells[5] == f"{pooled.mean_churn:.1%}"
    assert "even pooled: a constant churn rate per renewal is used" in row.group(1)
    account = client.get(f"/accounts/{annual.account_id}").text
    assert "(a constant churn rate per renewal)" in account
    assert "sBG α =" not in account
    api = {(f["segment"], f["term_months"]): f for f in client.get("/api/ltv/segments").json()}
    assert api[("*", 12)]["constant"] is True
    assert api[("*", 1)]["constant"] is False
    assert client.get(f"/api/accounts/{annual.account_id}/ltv").json()["constant"] is True
    monkeypatch.setenv("KIZUNA_DATABASE_URL", store_url)
    result = run_cli(capsys, "ltv", "backtest", "--cutoff", early.isoformat(), "--as-of", "2022-01-01")
    assert result.code == 0, result.err
    assert "12 months: too few contracts with this term ended, even pooled: the sBG column is the constant churn" in (
        " ".join(result.out.split()))
    report = json.loads(run_cli(capsys, "ltv", "backtest", "--cutoff", early.isoformat(), "--as-of", "2022-01-01",
                                "--format", "json").out)  # fmt: skip
    constant = [s for s in report["segments"] if s["term_months"] == 12]
    assert constant
    assert all(s["constant"] for s in constant)
    assert all(s["log_likelihood_sbg"] == pytest.approx(s["log_likelihood_baseline"], abs=1e-3) for s in constant)
    assert report["observed_from"] is None
