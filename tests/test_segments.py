"""Touch tiers, lifecycle stages, at-risk flags and customer fit: the rules, the
configuration file, overrides and history, the CLI, the API and the accounts list.

Data goes in through the importers (as with ``kizuna import``); the segments come out
of the daily pipeline's steps, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update

from kizuna.db import make_engine, session_scope
from kizuna.db.models import Account
from kizuna.domain.segments import (
    FitBand,
    FitConfig,
    FitInputs,
    LifecycleStage,
    StageConfig,
    StageFacts,
    TierConfig,
    TierMethod,
    TouchTier,
    assign_tiers,
    decide_stage,
    expected_ltv,
    fit_band,
    fit_score,
    size_fit,
)
from kizuna.domain.segments_config import DEFAULT_TOML, default_segments_config, parse_segments_config
from kizuna.errors import ConfigurationError, InvalidInput
from kizuna.services import accounts as accounts_service
from kizuna.services import segments
from kizuna.services.accounts import AccountQuery
from kizuna.services.context import RunContext
from kizuna.services.imports import ParseContext, import_file
from kizuna.services.pipeline import run_daily
from tests.cli import run_cli
from tests.conftest import make_api_key, make_user, sign_in

AS_OF = date(2026, 11, 20)
CTX = ParseContext(ZoneInfo("Asia/Tokyo"), "JPY")
sqlite_only = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


# --- the rules, pure -------------------------------------------------------------------------


def test_tiers_by_revenue_share_put_the_top_half_of_revenue_in_high_touch() -> None:
    # 100 + 60 + 20 + 10 + 10 = 200: the top 50% is made by A (100, reaching exactly 50%)
    values = {1: 100.0, 2: 60.0, 3: 20.0, 4: 10.0, 5: 10.0, 6: 0.0}
    tiers = assign_tiers(values, TierConfig())
    assert tiers == {1: TouchTier.HIGH, 2: TouchTier.LOW, 3: TouchTier.TECH, 4: TouchTier.TECH,
                     5: TouchTier.TECH, 6: TouchTier.TECH}  # fmt: skip
    # the account that crosses the line is high touch too
    assert assign_tiers({1: 40.0, 2: 40.0, 3: 20.0}, TierConfig())[2] is TouchTier.HIGH
    # a trial (zero MRR) is tech touch even when it is the only account
    assert assign_tiers({9: 0.0}, TierConfig()) == {9: TouchTier.TECH}


def test_tiers_by_amount_both_sides_of_each_threshold() -> None:
    cfg = TierConfig(method=TierMethod.AMOUNT, high_amount=300_000, low_amount=50_000)
    tiers = assign_tiers({1: 300_000, 2: 299_999, 3: 50_000, 4: 49_999, 5: 0}, cfg)
    assert [tiers[i] for i in range(1, 6)] == [TouchTier.HIGH, TouchTier.LOW, TouchTier.LOW, TouchTier.TECH,
                                               TouchTier.TECH]  # fmt: skip


def test_expected_ltv_is_mrr_times_margin_times_capped_lifetime() -> None:
    cfg = default_segments_config().tiers.ltv
    assert expected_ltv(100_000, None, cfg) == pytest.approx(100_000 * 0.8 * 50)
    capped = parse_segments_config("[tiers.ltv]\nmonthly_churn = 0.001\n", "t.toml").tiers.ltv
    assert expected_ltv(100_000, None, capped) == pytest.approx(100_000 * 0.8 * 60)


def _facts(**kw: object) -> StageFacts:
    base: dict[str, object] = {"status": "active", "customer_since": AS_OF - timedelta(days=200), "churned_on": None,
                               "mrr": 100_000, "mrr_before": 100_000}  # fmt: skip
    return StageFacts(**{**base, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("facts", "stage"),
    [
        (_facts(status="churned", churned_on=AS_OF - timedelta(days=3)), LifecycleStage.CHURNED),
        (_facts(status="trial", customer_since=None), LifecycleStage.ONBOARDING),
        (_facts(status="prospect", customer_since=None), None),
        # onboarding until 90 days since customer_since …
        (_facts(customer_since=AS_OF - timedelta(days=89)), LifecycleStage.ONBOARDING),
        (_facts(customer_since=AS_OF - timedelta(days=90)), LifecycleStage.ADOPTION),
        # … or until every milestone is done
        (_facts(customer_since=AS_OF - timedelta(days=10), milestones_total=3, milestones_done=3,
                milestones_done_on=AS_OF - timedelta(days=1)), LifecycleStage.ADOPTION),
        (_facts(customer_since=AS_OF - timedelta(days=10), milestones_total=3, milestones_done=2),
         LifecycleStage.ONBOARDING),
        # renewal: a yearly term ending within 90 days (inclusive), not 91
        (_facts(yearly_renewal_on=AS_OF + timedelta(days=90)), LifecycleStage.RENEWAL),
        (_facts(yearly_renewal_on=AS_OF + timedelta(days=91)), LifecycleStage.ADOPTION),
        (_facts(renewal_on=AS_OF + timedelta(days=10)), LifecycleStage.ADOPTION),  # a monthly term: no
        # expansion: MRR +10% over the lookback (not +9.9%), or seats nearly all used
        (_facts(mrr=110_000), LifecycleStage.EXPANSION),
        (_facts(mrr=109_900), LifecycleStage.ADOPTION),
        (_facts(seats=20, peak_active_users=18), LifecycleStage.EXPANSION),
        (_facts(seats=20, peak_active_users=17), LifecycleStage.ADOPTION),
    ],
)  # fmt: skip
def test_stage_rules_at_their_boundaries(facts: StageFacts, stage: LifecycleStage | None) -> None:
    assert decide_stage(facts, AS_OF, StageConfig()).stage == stage


def test_fit_scores_against_the_profile_and_leaves_missing_parts_out() -> None:
    cfg = FitConfig(industries={"製造業": 1.0, "飲食": 0.0}, plans={"plan-pro": 1.0}, employees_min=50,
                    employees_max=1000)  # fmt: skip
    assert fit_score(FitInputs("製造業", 300, "plan-pro", None), cfg) == 100.0
    assert fit_score(FitInputs("飲食", 300, "plan-pro", None), cfg) == pytest.approx(100 * 55 / 85, abs=0.1)
    assert fit_score(FitInputs(None, None, None, None), cfg) is None  # no data: no score, not zero
    assert fit_score(FitInputs(None, 300, None, None), cfg) == 100.0  # weights renormalise
    assert size_fit(50, 50, 1000) == 1.0
    assert size_fit(25, 50, 1000) == pytest.approx(0.5)
    assert size_fit(12, 50, 1000) < 0.01
    assert size_fit(4000, 50, 1000) == pytest.approx(0.0)
    assert fit_band(70.0, cfg) is FitBand.STRONG
    assert fit_band(69.9, cfg) is FitBand.MODERATE
    assert fit_band(39.9, cfg) is FitBand.WEAK
    assert fit_band(None, cfg) is None


# --- the configuration file ------------------------------------------------------------------


def test_the_shipped_default_is_what_the_docs_show() -> None:
    docs = (Path(__file__).parents[1] / "docs" / "segments.md").read_text(encoding="utf-8")
    assert DEFAULT_TOML.strip() in docs
    cfg = default_segments_config()
    assert (cfg.tiers.high_share, cfg.tiers.low_share, cfg.stages.renewal_window_days) == (0.5, 0.3, 90)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[tiers]\nhigh_share = 0.8\nlow_share = 0.3\n", "bad.toml: tiers.low_share: high_share + low_share must be 1 or less"),
        ("[tiers]\nbasis = \"arr\"\n", "bad.toml: tiers.basis: must be one of: mrr, ltv, not 'arr'"),
        ("[tiers]\nhigh_shares = 0.5\n", "bad.toml: tiers.high_shares: unknown key"),
        ("[stages]\nonboarding_days = \"90\"\n", "bad.toml: stages.onboarding_days: must be a whole number, not '90'"),
        ("[stages]\nrenewal_window_days = -1\n", "bad.toml: stages.renewal_window_days: must be from 0 to 3650, not -1"),
        ("[fit.industries]\n\"製造業\" = 2\n", "bad.toml: fit.industries.製造業: must be from 0 to 1, not 2"),
        ("[fit]\nemployees_min = 500\nemployees_max = 100\n", "bad.toml: fit.employees_min: must not be more than employees_max"),
        ("[fit.weights]\nindustry = 0\nsize = 0\nplan = 0\nuse_case = 0\n", "bad.toml: fit.weights: at least one weight"),
        ("[at_risk]\nred_grade = 1\n", "bad.toml: at_risk.red_grade: must be true or false, not 1"),
        ("[tiers\n", "bad.toml: not valid TOML"),
        ("colour = 1\n", "bad.toml: colour: unknown key"),
    ],
)  # fmt: skip
def test_bad_configuration_names_file_key_and_why(text: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_segments_config(text, "bad.toml")
    assert message in caught.value.message


def test_configuration_file_not_found_or_unreadable(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        segments.load_config(tmp_path / "missing.toml")
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigurationError, match="cannot be read"):
        segments.load_config(binary)


# --- a small company through the importers ----------------------------------------------------

ACCOUNTS = """external_id,name,domain,industry,employee_count,owner_email,parent_external_id,custom.use_case
BIG,大口商事,big.example,IT・通信,300,,,
MID,中堅工業,mid.example,製造業,120,,,
SMALL,小さな食堂,small.example,飲食,8,,,
TRIAL,お試し株式会社,trial.example,教育,30,,,
GONE,解約済み株式会社,gone.example,飲食,5,,,
NEW,新規株式会社,new.example,IT・通信,60,,,
"""

SUBSCRIPTIONS = """external_id,account_external_id,product_code,quantity,currency,monthly_amount,billing_interval,status,started_on,trial_ends_on,current_term_end,canceled_at,ended_on,cancel_reason
S-BIG,BIG,plan-pro,60,JPY,600000,year,active,2025/01/10,,2027/01/10,,,
S-MID,MID,plan-pro,30,JPY,300000,year,active,2025/06/01,,2027/06/01,,,
S-SMALL,SMALL,plan-starter,1,JPY,100000,month,active,2025/03/01,,2026/12/01,,,
S-TRIAL,TRIAL,plan-starter,1,JPY,10000,month,trial,2026/11/10,2026/11/24,,,,
S-GONE,GONE,plan-starter,1,JPY,10000,month,canceled,2025/01/01,,2025/08/01,2025-07-10T10:00:00+09:00,2025/08/01,price
S-NEW,NEW,plan-starter,1,JPY,10000,month,active,2026/10/01,,2026/12/01,,,
"""

MILESTONES = """external_id,account_external_id,name,position,due_on,completed_at
M-1,NEW,キックオフ,1,2026-10-05,2026-10-04T10:00:00+09:00
M-2,NEW,初期設定,2,2026-10-20,
"""


def load_company(app: FastAPI, tmp_path: Path) -> dict[str, int]:
    data = Path(__file__).parent / "data" / "import"
    folder = tmp_path / "company"
    folder.mkdir()
    (folder / "products.csv").write_bytes((data / "products.csv").read_bytes())
    (folder / "accounts.csv").write_text(ACCOUNTS, encoding="utf-8")
    (folder / "subscriptions.csv").write_text(SUBSCRIPTIONS, encoding="utf-8")
    (folder / "onboarding_milestones.csv").write_text(MILESTONES, encoding="utf-8")
    with app.state.kizuna.unit_of_work() as session:
        for name in ("products", "accounts", "subscriptions", "onboarding_milestones"):
            import_file(session, name, folder / f"{name}.csv", ctx=CTX)
        accounts_service.refresh_account_summaries(session, AS_OF)
        segments.recompute_all(session, AS_OF)  # the daily pipeline's segment steps
        page = accounts_service.list_accounts(session, AccountQuery(per_page=50), as_of=AS_OF)
    return {row.external_id: row.id for row in page.items}


def segs(app: FastAPI, account_id: int) -> segments.AccountSegments:
    with app.state.kizuna.unit_of_work() as session:
        return segments.account_segments(session, account_id, as_of=AS_OF)


def test_the_pipeline_assigns_tiers_stages_and_fit(app: FastAPI, tmp_path: Path) -> None:
    ids = load_company(app, tmp_path)
    got = {k: segs(app, i) for k, i in ids.items()}
    # MRR 600k + 300k + 100k + 10k = 1,010k: BIG alone passes 50%; MID is in the next 30%
    assert {k: s.touch_tier for k, s in got.items()} == {
        "BIG": TouchTier.HIGH, "MID": TouchTier.LOW, "SMALL": TouchTier.TECH, "TRIAL": TouchTier.TECH,
        "NEW": TouchTier.TECH, "GONE": None,
    }  # fmt: skip
    assert {k: s.lifecycle_stage for k, s in got.items()} == {
        "BIG": LifecycleStage.RENEWAL, "MID": LifecycleStage.ADOPTION, "SMALL": LifecycleStage.ADOPTION,
        "TRIAL": LifecycleStage.ONBOARDING, "NEW": LifecycleStage.ONBOARDING, "GONE": LifecycleStage.CHURNED,
    }  # fmt: skip
    assert got["NEW"].days_in_stage == (AS_OF - date(2026, 10, 1)).days  # dated from customer_since
    assert got["BIG"].stage_since == date(2027, 1, 10) - timedelta(days=90)  # the window's start
    assert got["BIG"].fit_band is FitBand.STRONG
    assert got["SMALL"].fit_band is FitBand.WEAK
    assert got["GONE"].fit_score is not None  # a churned account keeps its last plan for fit
    # running again changes nothing and adds no history
    with app.state.kizuna.unit_of_work() as session:
        assert segments.recompute_all(session, AS_OF).tiers == 0
    assert len(segs(app, ids["BIG"]).history) == 2


def test_overrides_persist_across_recomputes_and_keep_history(app: FastAPI, tmp_path: Path) -> None:
    ids = load_company(app, tmp_path)
    small = ids["SMALL"]
    with app.state.kizuna.unit_of_work() as session:
        segments.set_override(session, small, segments.parse_dimension("tier"), "high", "戦略アカウント",
                              set_by="lead", set_by_id=None, as_of=AS_OF + timedelta(days=1))  # fmt: skip
    later = AS_OF + timedelta(days=5)
    with app.state.kizuna.unit_of_work() as session:
        run_daily(session, later, RunContext())  # the whole pipeline, as every night
    seg = segs(app, small)
    assert seg.touch_tier is TouchTier.HIGH
    assert seg.touch_tier_rule is TouchTier.TECH
    assert seg.tier_override is not None
    assert seg.tier_override.reason == "戦略アカウント"
    [current, first] = seg.tier_history
    assert (first.value, first.to_on, current.value, current.from_on) == ("tech", AS_OF + timedelta(days=1), "high",
                                                                         AS_OF + timedelta(days=1))  # fmt: skip
    assert current.set_by == "lead"
    assert current.reason == "戦略アカウント"
    with app.state.kizuna.unit_of_work() as session:
        assert segments.clear_override(session, small, segments.parse_dimension("tier"), set_by="lead", as_of=later)
        assert not segments.clear_override(session, small, segments.parse_dimension("tier"), set_by="lead", as_of=later)
    seg = segs(app, small)
    assert seg.touch_tier is TouchTier.TECH
    assert seg.tier_override is None
    assert [p.value for p in seg.tier_history] == ["tech", "high", "tech"]


def test_override_bad_input_writes_nothing(app: FastAPI, tmp_path: Path) -> None:
    ids = load_company(app, tmp_path)
    with app.state.kizuna.unit_of_work() as session:
        with pytest.raises(InvalidInput, match="tier must be one of: high, low, tech"):
            segments.set_override(session, ids["BIG"], segments.parse_dimension("tier"), "platinum", "x",
                                  set_by="lead", set_by_id=None, as_of=AS_OF)  # fmt: skip
        with pytest.raises(InvalidInput, match="give a reason"):
            segments.set_override(session, ids["BIG"], segments.parse_dimension("stage"), "renewal", "  ",
                                  set_by="lead", set_by_id=None, as_of=AS_OF)  # fmt: skip
    seg = segs(app, ids["BIG"])
    assert seg.tier_override is None
    assert seg.stage_override is None
    assert len(seg.history) == 2


def test_at_risk_when_logins_fall_against_the_own_baseline(app: FastAPI, tmp_path: Path) -> None:
    ids = load_company(app, tmp_path)
    rows = ["account_external_id,day,metric,value"]
    for d in range(120):  # 3 logins a day for 90 days, then 1 a day for the last 30
        day = AS_OF - timedelta(days=d)
        rows.append(f"BIG,{day.isoformat()},logins,{1 if d < 30 else 3}")
        rows.append(f"MID,{day.isoformat()},logins,3")
    path = tmp_path / "usage_daily.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with app.state.kizuna.unit_of_work() as session:
        import_file(session, "usage_daily", path, ctx=CTX)
        logins_only = parse_segments_config("[at_risk]\nred_grade = false\nhealth_drop_points = 0\n", "t.toml")
        assert segments.recompute_at_risk(session, AS_OF, logins_only) == 1
    assert segs(app, ids["BIG"]).at_risk
    assert not segs(app, ids["MID"]).at_risk
    # a red health grade (written by the health scores step) flags a live customer, not a churned one
    with app.state.kizuna.unit_of_work() as session:
        session.execute(update(Account).where(Account.id.in_([ids["MID"], ids["GONE"]])).values(health_grade="red"))
        segments.recompute_at_risk(session, AS_OF)
    assert segs(app, ids["MID"]).at_risk
    assert not segs(app, ids["GONE"]).at_risk
    assert not segs(app, ids["SMALL"]).at_risk


def test_churn_by_fit_band(app: FastAPI, tmp_path: Path) -> None:
    load_company(app, tmp_path)
    with app.state.kizuna.unit_of_work() as session:
        rows = {r.band: r for r in segments.churn_by_fit(session, AS_OF)}
        before = {r.band: r for r in segments.churn_by_fit(session, date(2025, 7, 1))}
    assert rows[FitBand.WEAK].churned == 1
    assert rows[FitBand.WEAK].customers == 2
    assert rows[FitBand.WEAK].churn_rate == 0.5
    assert rows[FitBand.STRONG].churned == 0
    assert before[FitBand.WEAK].churned == 0  # GONE churned in August 2025


# --- the accounts list and the API -----------------------------------------------------------


def test_list_filters_and_sorts_by_segments(app: FastAPI, client: TestClient, tmp_path: Path) -> None:
    ids = load_company(app, tmp_path)
    client.headers["Authorization"] = f"Bearer {make_api_key(app, 'read')}"
    names = lambda r: sorted(i["external_id"] for i in r.json()["items"])  # noqa: E731
    assert names(client.get("/api/accounts", params={"touch_tier": "high"})) == ["BIG"]
    assert names(client.get("/api/accounts", params={"lifecycle_stage": "onboarding"})) == ["NEW", "TRIAL"]
    assert names(client.get("/api/accounts", params={"fit_band": "weak", "status": "active"})) == ["SMALL"]
    risky, safe = (client.get("/api/accounts", params={"at_risk": v}).json() for v in ("true", "false"))
    assert risky["total"] + safe["total"] == len(ids)
    assert all(i["at_risk"] for i in risky["items"])
    assert not any(i["at_risk"] for i in safe["items"])
    with app.state.kizuna.unit_of_work() as session:
        session.execute(
            update(Account)
            .where(Account.id.in_([ids["MID"], ids["SMALL"]]))
            .values(health_score=30.0, health_grade="red")
        )  # as the health scores step writes them
        session.execute(update(Account).where(Account.id == ids["BIG"]).values(health_score=80.0, health_grade="green"))
    assert names(client.get("/api/accounts", params={"health_grade": "red"})) == ["MID", "SMALL"]
    by_health = client.get("/api/accounts", params={"sort": "-health"}).json()["items"]
    assert [i["external_id"] for i in by_health[:3]] == ["BIG", "SMALL", "MID"]  # ties by id; no score last
    page = client.get("/api/accounts", params={"sort": "-fit", "per_page": 2}).json()
    assert page["items"][0]["fit_score"] >= page["items"][1]["fit_score"]
    one = client.get(f"/api/accounts/{ids['BIG']}").json()
    assert (one["touch_tier"], one["lifecycle_stage"], one["fit_band"]) == ("high", "renewal", "strong")
    bad = client.get("/api/accounts", params={"touch_tier": "gold"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "touch_tier"


@sqlite_only
def test_list_page_filters_and_columns(app: FastAPI, client: TestClient, tmp_path: Path) -> None:
    load_company(app, tmp_path)
    make_user(app, "viewer@kizuna.example", "viewer")
    sign_in(client, "viewer@kizuna.example")
    page = client.get("/accounts", params={"tier": "high"})
    assert page.status_code == 200
    assert re.findall(r'data-total="(\d+)"', page.text) == ["1"]
    assert "大口商事" in page.text
    assert 'data-testid="filter-tier"' in page.text
    assert "high touch" in page.text
    assert "小さな食堂" in client.get("/accounts", params={"fit": "weak", "stage": "adoption"}).text
    bad = client.get("/accounts", params={"stage": "dormant"})
    assert bad.status_code == 422
    assert "stage must be one of" in bad.text
    assert client.get("/accounts", params={"risk": "maybe"}).status_code == 422


def test_api_overrides_who_may_and_bad_input(app: FastAPI, client: TestClient, tmp_path: Path) -> None:
    ids = load_company(app, tmp_path)
    url = f"/api/accounts/{ids['MID']}/tier-override"
    body = {"tier": "high", "reason": "経営層との関係が深い"}
    for scope in ("read",):
        r = client.put(url, json=body, headers={"Authorization": f"Bearer {make_api_key(app, scope)}"})
        assert r.status_code == 403
        assert r.json()["errors"][0]["code"] == "permission_denied"
    write = {"Authorization": f"Bearer {make_api_key(app, 'write')}"}
    assert client.put(url, json={"tier": "gold", "reason": "x"}, headers=write).status_code == 422
    no_reason = client.put(url, json={"tier": "high", "reason": ""}, headers=write)
    assert no_reason.status_code == 422
    assert no_reason.json()["errors"][0]["field"] == "reason"
    assert client.put("/api/accounts/999999/tier-override", json=body, headers=write).status_code == 404
    r = client.put(url, json=body, headers=write)
    assert r.status_code == 200
    assert r.json()["touch_tier"] == "high"
    assert r.json()["tier_override"]["set_by"]
    stage = client.put(f"/api/accounts/{ids['MID']}/stage-override", json={"stage": "renewal", "reason": "前倒し交渉"},
                       headers=write)  # fmt: skip
    assert stage.status_code == 200
    assert stage.json()["lifecycle_stage"] == "renewal"
    history = client.get(f"/api/accounts/{ids['MID']}/segments/history", headers=write).json()
    assert [(p["dimension"], p["value"], p["to_on"]) for p in history["history"] if p["to_on"] is None] == [
        ("tier", "high", None), ("stage", "renewal", None)] or len(history["history"]) == 4  # fmt: skip
    assert client.delete(url, headers=write).status_code == 204
    assert client.get(f"/api/accounts/{ids['MID']}", headers=write).json()["touch_tier"] == "low"
    fit = client.get("/api/segments/fit", params={"as_of": "2026-11-20"}, headers=write).json()
    assert {b["band"] for b in fit["bands"]} >= {"strong", "weak"}
    assert client.get("/api/segments/fit", params={"as_of": "yesterday"}, headers=write).status_code == 422


@sqlite_only
def test_web_override_needs_a_lead_and_the_csrf_token(app: FastAPI, client: TestClient, tmp_path: Path) -> None:
    ids = load_company(app, tmp_path)
    make_user(app, "csm@kizuna.example", "csm")
    make_user(app, "lead@kizuna.example", "lead")
    token = sign_in(client, "csm@kizuna.example")
    form = {"dimension": "tier", "value": "high", "reason": "重要顧客", "csrf_token": token}
    assert 'data-testid="segment-form"' not in client.get(f"/accounts/{ids['SMALL']}").text
    assert client.post(f"/accounts/{ids['SMALL']}/segments", data=form).status_code == 403
    api = client.put(f"/api/accounts/{ids['SMALL']}/tier-override", json={"tier": "high", "reason": "x"},
                     headers={"X-CSRF-Token": token})  # fmt: skip
    assert api.status_code == 403  # a CSM may not, even with the token
    client.post("/logout", data={"csrf_token": token})
    token = sign_in(client, "lead@kizuna.example")
    page = client.get(f"/accounts/{ids['SMALL']}")
    assert 'data-testid="segment-form"' in page.text
    assert client.post(f"/accounts/{ids['SMALL']}/segments", data={**form, "csrf_token": "nope"}).status_code == 403
    bad = client.post(f"/accounts/{ids['SMALL']}/segments", data={**form, "csrf_token": token, "value": "adoption"})
    assert bad.status_code == 422
    assert "tier must be one of" in bad.text
    done = client.post(f"/accounts/{ids['SMALL']}/segments", data={**form, "csrf_token": token}, follow_redirects=False)
    assert done.status_code == 303
    page = client.get(f"/accounts/{ids['SMALL']}").text
    assert 'data-value="high"' in page
    assert "重要顧客" in page
    assert 'data-testid="tier-clear"' in page


# --- the command line ------------------------------------------------------------------------


@sqlite_only
def test_cli_recompute_set_show_clear_and_fit_report(
    store_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    app: FastAPI,
) -> None:  # fmt: skip
    load_company(app, tmp_path)
    monkeypatch.setenv("KIZUNA_DATABASE_URL", store_url)
    result = run_cli(capsys, "segments", "recompute", "--as-of", "2026-11-20")
    assert result.code == 0
    assert "high touch" in result.out
    result = run_cli(capsys, "tier", "set", "SMALL", "high", "--reason", "戦略顧客")
    assert result.code == 0, result.err
    shown = run_cli(capsys, "tier", "show", "SMALL")
    assert "high touch" in shown.out
    assert "戦略顧客" in shown.out
    assert run_cli(capsys, "tier", "set", "SMALL", "gold", "--reason", "x").code == 1
    missing = run_cli(capsys, "stage", "set", "NOPE", "renewal", "--reason", "x")
    assert missing.code == 1
    assert "no account 'NOPE' (give its id, external id, or part of its name)" in missing.err
    assert "Override removed" in run_cli(capsys, "tier", "clear", "SMALL").out
    report = run_cli(capsys, "fit", "report", "--as-of", "2026-11-20", "--format", "json")
    bands = {b["band"]: b for b in json.loads(report.out)["bands"]}
    assert bands["weak"]["churn_rate"] == 0.5
    bad = tmp_path / "segments.toml"
    bad.write_text("[tiers]\nhigh_share = 2\n", encoding="utf-8")
    checked = run_cli(capsys, "segments", "config", "--check", str(bad))
    assert checked.code == 1
    assert "tiers.high_share: must be from 0 to 1, not 2" in checked.err
    monkeypatch.setenv("KIZUNA_SEGMENTS_CONFIG", str(bad))
    assert run_cli(capsys, "segments", "recompute").code == 1
    assert "[tiers]" in run_cli(capsys, "segments", "config").out


@sqlite_only
def test_a_configured_file_changes_the_tiers(store_url: str, tmp_path: Path, app: FastAPI) -> None:
    ids = load_company(app, tmp_path)
    path = tmp_path / "segments.toml"
    path.write_text('[tiers]\nmethod = "amount"\nhigh_amount = 90000\nlow_amount = 5000\n', encoding="utf-8")
    engine = make_engine(store_url)
    with session_scope(engine) as session:
        segments.recompute_tiers(session, AS_OF, segments.load_config(path))
    engine.dispose()
    assert segs(app, ids["SMALL"]).touch_tier is TouchTier.HIGH
    assert segs(app, ids["NEW"]).touch_tier is TouchTier.LOW
