"""Onboarding plans and success plans (issue 17, items 2 and 3): templates applied by tier,
milestones ticked, overdue detection on the exact day, the KPI medians on a hand-computed
set, bad input on the forms and the API, the customer-facing summary (escaped) and its PDF
in both languages."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from kizuna.analytics.onboarding import km_median, onboarding_kpis
from kizuna.domain import onboarding as rules
from kizuna.domain.playbooks import AccountFacts, Trigger
from kizuna.domain.success_plans import track
from kizuna.errors import InvalidInput
from kizuna.main import create_app
from kizuna.services import onboarding, playbooks, success_plans, success_summary
from kizuna.settings import Settings
from tests.cli import run_cli
from tests.conftest import make_api_key, make_user, sign_in

TODAY = date(2026, 11, 20)
TEMPLATES = """
[templates.high]
name = "High touch: meetings"
tier = "high"
[[templates.high.milestones]]
name = "Kickoff meeting"
offset_days = 3
owner = "csm"
[[templates.high.milestones]]
name = "Training session"
offset_days = 14
owner = "csm"
first_value = true
[[templates.high.milestones]]
name = "First report built"
offset_days = 30
owner = "customer"

[templates.tech]
name = "Tech touch: manuals"
tier = "tech"
[[templates.tech.milestones]]
name = "Manual sent"
offset_days = 0
owner = "csm"
[[templates.tech.milestones]]
name = "First login"
offset_days = 7
owner = "customer"
first_value = true
"""


def sql(app: FastAPI, statement: str, **params: Any) -> list[Any]:
    with app.state.kizuna.unit_of_work() as session:
        result = session.execute(text(statement), params)
        return list(result) if result.returns_rows else []


def add_account(app: FastAPI, key: str, tier: str | None, since: date | None = None) -> int:
    sql(app, "INSERT INTO accounts (external_id, name, custom_fields, status, mrr, currency, touch_tier, customer_since,"
             " at_risk, created_at, updated_at) VALUES (:k, :name, '{}', 'active', 10000, 'JPY', :tier, :since, false,"
             " :now, :now)", k=key, name=f"{key} 株式会社", tier=tier, since=since,
        now=datetime(2026, 1, 1, tzinfo=UTC))  # fmt: skip
    return int(sql(app, "SELECT id FROM accounts WHERE external_id = :k", k=key)[0][0])


@pytest.fixture
def app(tmp_path: Any) -> Iterator[FastAPI]:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'k.db'}", today=TODAY))
    with app.state.kizuna.unit_of_work() as session:
        onboarding.import_toml(session, TEMPLATES, "templates.toml")
    yield app
    app.state.kizuna.engine.dispose()


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver", headers={"Accept-Language": "en"}) as c:
        yield c


def _milestones(app: FastAPI, account_id: int) -> list[tuple[str, date, str]]:
    rows = sql(app, "SELECT name, due_on, owner FROM onboarding_milestones WHERE account_id = :a ORDER BY position",
               a=account_id)  # fmt: skip
    return [(r[0], r[1] if isinstance(r[1], date) else date.fromisoformat(r[1]), r[2]) for r in rows]


# --- applying templates ---------------------------------------------------------------------


def test_a_plan_by_tier_gives_high_and_tech_touch_accounts_their_own_milestones_due_start_plus_offset(app: FastAPI) -> None:
    high, tech, untiered = add_account(app, "H", "high"), add_account(app, "T", "tech"), add_account(app, "N", None)
    start = date(2026, 11, 2)
    with app.state.kizuna.unit_of_work() as session:
        applied = onboarding.apply(session, [high, tech, untiered], rules.BY_TIER, start=start)
    assert applied == {high: "high", tech: "tech"}  # no template for an account without a tier
    assert _milestones(app, high) == [("Kickoff meeting", date(2026, 11, 5), "csm"),
                                      ("Training session", date(2026, 11, 16), "csm"),
                                      ("First report built", date(2026, 12, 2), "customer")]  # fmt: skip
    assert _milestones(app, tech) == [("Manual sent", date(2026, 11, 2), "csm"),
                                      ("First login", date(2026, 11, 9), "customer")]  # fmt: skip
    assert _milestones(app, untiered) == []
    # applied again without replace: nothing doubles
    with app.state.kizuna.unit_of_work() as session:
        assert onboarding.apply(session, [high], rules.BY_TIER, start=start) == {}
    assert len(_milestones(app, high)) == 3


def test_the_playbook_step_applies_the_plan_to_a_new_account(app: FastAPI) -> None:
    new = add_account(app, "NEW", "tech", since=TODAY - timedelta(days=2))
    old = add_account(app, "OLD", "tech", since=TODAY - timedelta(days=400))
    book = """
[playbooks.welcome]
name = "Welcome"
trigger = { kind = "new_account", days = 14 }
[[playbooks.welcome.steps]]
kind = "onboarding_plan"
template = "by_tier"
"""
    with app.state.kizuna.unit_of_work() as session:
        playbooks.save(session, book, "welcome.toml")
    with app.state.kizuna.unit_of_work() as session:
        playbooks.run(session, TODAY)
    assert _milestones(app, new) == [("Manual sent", TODAY, "csm"), ("First login", TODAY + timedelta(days=7), "customer")]
    assert _milestones(app, old) == []
    with app.state.kizuna.unit_of_work() as session:  # the next day's run does not apply it twice
        playbooks.run(session, TODAY + timedelta(days=1))
    assert len(_milestones(app, new)) == 2


def test_a_playbook_naming_an_unknown_template_is_refused_when_run_skips_it(app: FastAPI) -> None:
    a = add_account(app, "A", "high", since=TODAY)
    with app.state.kizuna.unit_of_work() as session:
        playbooks.save(session, '[playbooks.w]\nname = "W"\ntrigger = { kind = "new_account", days = 3 }\n'
                                '[[playbooks.w.steps]]\nkind = "onboarding_plan"\ntemplate = "nope"\n', "w.toml")  # fmt: skip
        playbooks.run(session, TODAY)
    assert _milestones(app, a) == []
    log = sql(app, "SELECT log FROM playbook_enrollments")[0][0]
    assert "no template 'nope'" in log


# --- overdue ----------------------------------------------------------------------------------


def test_a_milestone_is_overdue_the_day_after_its_due_day_not_on_it(app: FastAPI) -> None:
    a = add_account(app, "H", "high")
    with app.state.kizuna.unit_of_work() as session:
        onboarding.apply(session, [a], "high", start=date(2026, 11, 1))  # kickoff due 11-04
    with app.state.kizuna.unit_of_work() as session:
        assert onboarding.overdue_days(session, date(2026, 11, 4)) == {}
        assert onboarding.overdue_days(session, date(2026, 11, 5)) == {a: 1}
        assert onboarding.overdue_days(session, date(2026, 11, 16)) == {a: 12}  # the oldest open one counts
    assert not rules.overdue(date(2026, 11, 4), False, date(2026, 11, 4))  # the 360 page's and the API's flag
    assert rules.overdue(date(2026, 11, 4), False, date(2026, 11, 5))
    assert not rules.overdue(date(2026, 11, 4), True, date(2026, 11, 5))
    trigger = Trigger("onboarding_overdue", {"days": 1})
    facts = AccountFacts(account_id=a, tier="high", stage=None, plan=None, health_score=None, health_grade=None,
                         health_change_30d=None, at_risk=False, renewal_in=None, customer_days=None)  # fmt: skip
    assert not trigger.holds(facts)
    assert trigger.holds(AccountFacts(**{**facts.__dict__, "onboarding_overdue_days": 1}))
    # ticked: no longer overdue
    mid = sql(app, "SELECT id FROM onboarding_milestones WHERE name = 'Kickoff meeting'")[0][0]
    with app.state.kizuna.unit_of_work() as session:
        onboarding.tick(session, mid, done=True, user_id=None, now=datetime(2026, 11, 5, 9, tzinfo=UTC))
        assert onboarding.overdue_days(session, date(2026, 11, 5)) == {}


def test_the_overdue_trigger_enrolls_the_account_in_a_playbook(app: FastAPI) -> None:
    a = add_account(app, "H", "high")
    with app.state.kizuna.unit_of_work() as session:
        onboarding.apply(session, [a], "high", start=TODAY - timedelta(days=4))  # kickoff due yesterday
        playbooks.save(session, '[playbooks.late]\nname = "Late"\ntrigger = { kind = "onboarding_overdue", days = 1 }\n'
                                '[[playbooks.late.steps]]\nkind = "task"\ntitle = "Chase {account}"\n', "late.toml")  # fmt: skip
        playbooks.run(session, TODAY)
    assert sql(app, "SELECT title FROM tasks") == [("Chase H 株式会社",)]


# --- KPIs -------------------------------------------------------------------------------------


def test_the_kaplan_meier_median_on_a_hand_computed_set() -> None:
    # 10 done, 20 done, 30 still going, 40 done, 50 still going:
    # S(10) = 4/5 = 0.8, S(20) = 0.8 × 3/4 = 0.6, S(40) = 0.6 × 1/2 = 0.3 → median 40
    assert km_median([10, 20, 30, 40, 50], [True, True, False, True, False]) == 40.0
    assert km_median([10, 20, 30], [True, False, False]) is None  # fewer than half finished
    assert km_median([5, 5, 9, 9], [True, True, True, True]) == 5.0  # S(5) = 0.5


def test_onboarding_kpis_by_tier_and_cohort_treat_those_still_onboarding_as_censored() -> None:
    def row(tier: str, start: date, done_days: int | None, first_days: int | None) -> dict[str, Any]:
        def at(d: int | None) -> datetime | None:
            return None if d is None else datetime.combine(start + timedelta(days=d), datetime.min.time(), UTC)

        return {"tier": tier, "started_on": start, "milestones": 3, "completed": 3 if done_days is not None else 1,
                "last_done": at(done_days) if done_days is not None else at(1), "has_first_value": 1,
                "first_value_at": at(first_days)}  # fmt: skip

    as_of = date(2026, 11, 30)
    rows = [row("high", date(2026, 10, 1), 10, 5), row("high", date(2026, 10, 1), 20, 8),
            row("high", date(2026, 11, 1), None, None),  # 29 days in, still going
            row("tech", date(2026, 11, 1), 4, 2)]  # fmt: skip
    k = onboarding_kpis(rows, as_of)
    high = next(g for g in k.by_tier if g.group == "high")
    # complete: 10, 20 done; 29 censored → S(10)=2/3, S(20)=1/3 → median 20; finished median 15
    assert (high.complete.started, high.complete.finished, high.complete.censored) == (3, 2, 1)
    assert high.complete.km_median == 20.0
    assert high.complete.median_finished == 15.0
    # first value: 5, 8 done, 29 censored → S(5)=2/3, S(8)=1/3 → 8
    assert high.first_value.km_median == 8.0
    nov = next(g for g in k.by_cohort if g.group == "2026-11")
    # 29 censored, 4 done → S(4) = 1/2 → median 4; finished median 4
    assert (nov.complete.km_median, nov.complete.finished, nov.complete.censored) == (4.0, 1, 1)
    assert k.overall.complete.started == 4


def test_the_kpi_page_shows_the_onboarding_medians(app: FastAPI, client: TestClient) -> None:
    a = add_account(app, "H", "high")
    with app.state.kizuna.unit_of_work() as session:
        onboarding.apply(session, [a], "high", start=date(2026, 11, 1))
    ids = [r[0] for r in sql(app, "SELECT id FROM onboarding_milestones WHERE account_id = :a", a=a)]
    with app.state.kizuna.unit_of_work() as session:
        for mid in ids:  # all ticked on 11-13 (Tokyo) → 12 days
            onboarding.tick(session, mid, done=True, user_id=None, now=datetime(2026, 11, 13, 3, tzinfo=UTC))
    make_user(app, "lead@kizuna.example", "lead")
    sign_in(client, "lead@kizuna.example")
    page = client.get("/kpis").text
    row = re.search(r'data-testid="onboarding-kpi-tier-high">(.*?)</tr>', page, re.S)
    assert row, page[-3000:]
    cells = re.findall(r'<td class="num">([^<]*)</td>', row.group(1))
    assert cells == ["12", "12", "1 / 1", "12", "12", "1 / 1"]


# --- ticking and the pages ----------------------------------------------------------------------


def test_ticking_through_the_api_records_who_and_when_and_the_list_shows_progress(app: FastAPI, client: TestClient) -> None:
    a = add_account(app, "H", "high")
    client.headers["Authorization"] = f"Bearer {make_api_key(app, 'write')}"
    applied = client.post(f"/api/accounts/{a}/onboarding-plan", json={"template": "by_tier", "start": "2026-11-01"})
    assert applied.status_code == 200, applied.text
    first = applied.json()[0]
    assert (first["name"], first["due_on"], first["overdue"]) == ("Kickoff meeting", "2026-11-04", True)
    done = client.post(f"/api/onboarding/milestones/{first['id']}/tick", json={"done": True}).json()
    assert done["completed_at"] is not None
    assert done["overdue"] is False
    del client.headers["Authorization"]
    uid = make_user(app, "csm@kizuna.example", "csm", name="佐藤 健")
    token = sign_in(client, "csm@kizuna.example")
    second = client.get(f"/api/accounts/{a}/onboarding").json()[1]
    fragment = client.post(f"/onboarding/milestones/{second['id']}/tick", data={"csrf_token": token, "done": "1"},
                           headers={"HX-Request": "true"})  # fmt: skip
    assert fragment.status_code == 200
    assert "佐藤 健" in fragment.text
    assert "<html" not in fragment.text
    assert sql(app, "SELECT completed_by_id FROM onboarding_milestones WHERE id = :i", i=second["id"]) == [(uid,)]
    listing = client.get("/accounts").text
    assert re.search(r'data-testid="onboarding">\s*(?:<span[^>]*>)?2/3', listing)
    page = client.get(f"/accounts/{a}").text
    assert "2 of 3 done" in page


def test_a_template_is_authored_in_the_form_and_bad_lines_are_refused(app: FastAPI, client: TestClient) -> None:
    make_user(app, "csm@kizuna.example", "csm")
    token = sign_in(client, "csm@kizuna.example")
    ok = client.post("/onboarding/templates", data={"csrf_token": token, "key": "low", "name": "Welcome plan",
                     "tier": "low", "milestones": "2 | csm | Welcome call\n10 | customer | Import data | first"},
                     follow_redirects=False)  # fmt: skip
    assert ok.status_code == 303
    listing = client.get("/onboarding/templates").text
    assert "Import data" in listing
    # the tier by its name, as everywhere else, not its key
    assert re.search(r"<td>Welcome plan</td><td>low touch</td>", listing)
    for lines, reason in [("-3 | csm | Kickoff", "the offset must be from 0 to 730 days"),
                          ("3 | csm | ", "a name is needed"), ("3 | boss | Kickoff", "owner must be one of")]:
        bad = client.post("/onboarding/templates", data={"csrf_token": token, "key": "low", "name": "Low touch",
                          "tier": "low", "milestones": lines})  # fmt: skip
        assert bad.status_code == 422, lines
        assert reason in bad.text, lines
    empty = client.post("/onboarding/templates", data={"csrf_token": token, "key": "x", "name": " ", "milestones": "1|csm|a"})
    assert empty.status_code == 422
    assert "a name is needed" in empty.text
    no_csrf = client.post("/onboarding/templates", data={"key": "x", "name": "X", "milestones": "1|csm|a"})
    assert no_csrf.status_code == 403
    with app.state.kizuna.unit_of_work() as session:
        assert [m.name for m in onboarding.get_template(session, "low").milestones] == ["Welcome call", "Import data"]


@pytest.mark.parametrize(("body", "code", "field"), [
    ({"name": "", "milestones": [{"name": "a", "offset_days": 1}]}, "name_missing", "name"),
    ({"name": "X", "milestones": [{"name": "a", "offset_days": -1}]}, "invalid_offset", "milestones[1].offset_days"),
    ({"name": "X", "milestones": []}, "milestones_missing", "milestones"),
    ({"name": "X", "tier": "gold", "milestones": [{"name": "a", "offset_days": 1}]}, "invalid_tier", "tier"),
])  # fmt: skip
def test_the_template_api_refuses_bad_input_by_field(app: FastAPI, client: TestClient, body: dict[str, Any],
                                                     code: str, field: str) -> None:  # fmt: skip
    client.headers["Authorization"] = f"Bearer {make_api_key(app, 'write')}"
    answer = client.put("/api/onboarding/templates/x", json=body)
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["code"] == code
    assert answer.json()["errors"][0]["field"] == field
    assert client.get("/api/onboarding/templates").json()[-1]["key"] == "tech"  # nothing saved


def test_a_plan_whose_due_dates_leave_the_accepted_range_is_refused(app: FastAPI) -> None:
    a = add_account(app, "H", "high")
    with pytest.raises(InvalidInput) as caught, app.state.kizuna.unit_of_work() as session:
        onboarding.apply(session, [a], "high", start=date(2200, 12, 20))
    assert caught.value.code == "date_out_of_range"
    assert _milestones(app, a) == []


# --- success plans ----------------------------------------------------------------------------


def test_the_status_rule_progress_against_time_elapsed() -> None:
    s, d = date(2026, 1, 1), date(2026, 12, 27)  # 360 days
    half = date(2026, 6, 30)  # 180 days: half the time
    assert track(baseline=10, target=20, current=14.5, started_on=s, due_on=d, today=half).status == "on_track"  # 45%
    assert track(baseline=10, target=20, current=13, started_on=s, due_on=d, today=half).status == "at_risk"  # 30%
    assert track(baseline=10, target=20, current=12, started_on=s, due_on=d, today=half).status == "off_track"  # 20%
    # a target below the baseline (churn 8% → 4%): 6% is half way
    assert track(baseline=8, target=4, current=6, started_on=s, due_on=d, today=half).status == "on_track"
    assert track(baseline=8, target=4, current=7.9, started_on=s, due_on=d + timedelta(days=1),
                 today=d + timedelta(days=1)).status == "off_track"  # fmt: skip
    assert track(baseline=10, target=20, current=20, started_on=s, due_on=d, today=d + timedelta(days=9)).status == "on_track"


@pytest.mark.parametrize(("changes", "code", "field"), [
    ({"due_on": "0001-01-01"}, "date_out_of_range", "due_on"),
    ({"title": "  "}, "title_missing", "title"),
    ({"target_value": 8}, "target_equals_baseline", "target_value"),
    ({"due_on": "2026-11-01"}, "due_before_start", "due_on"),
])  # fmt: skip
def test_the_objective_api_refuses_bad_input(app: FastAPI, client: TestClient, changes: dict[str, Any], code: str,
                                             field: str) -> None:  # fmt: skip
    a = add_account(app, "H", "high")
    client.headers["Authorization"] = f"Bearer {make_api_key(app, 'write')}"
    body = {"title": "解約率を下げる", "metric": "月次解約率 %", "baseline_value": 8, "target_value": 4,
            "due_on": "2027-06-30", **changes}  # fmt: skip
    answer = client.post(f"/api/accounts/{a}/success-plan/objectives", json=body)
    assert answer.status_code == 422, answer.text
    assert (answer.json()["errors"][0]["code"], answer.json()["errors"][0]["field"]) == (code, field)
    assert sql(app, "SELECT count(*) FROM success_goals") == [(0,)]


def test_an_objective_with_milestones_and_tasks_through_the_api(app: FastAPI, client: TestClient) -> None:
    a = add_account(app, "H", "high")
    client.headers["Authorization"] = f"Bearer {make_api_key(app, 'write')}"
    made = client.post(f"/api/accounts/{a}/success-plan/objectives", json={
        "title": "Cut support tickets", "metric": "tickets a month", "baseline_value": 100, "target_value": 50,
        "current_value": 95, "started_on": "2026-07-01", "due_on": "2027-01-01"})  # fmt: skip
    assert made.status_code == 201, made.text
    goal = made.json()["objectives"][0]
    # 142 of 184 days gone (77%), 10% of the way: off track
    assert goal["track"]["status"] == "off_track"
    client.post(f"/api/success-plan/objectives/{goal['id']}/milestones", json={"name": "FAQ published"})
    plan = client.post(f"/api/success-plan/objectives/{goal['id']}/tasks", json={"name": "Write the FAQ"}).json()
    assert [m["name"] for m in plan["objectives"][0]["milestones"]] == ["FAQ published"]
    assert [t["title"] for t in plan["objectives"][0]["tasks"]] == ["Write the FAQ"]
    assert sql(app, "SELECT account_id, source FROM tasks") == [(a, "success_plan")]
    better = client.patch(f"/api/success-plan/objectives/{goal['id']}", json={"current_value": 62}).json()
    assert better["objectives"][0]["track"]["status"] == "on_track"  # 76% of the way


def test_the_web_form_refuses_a_due_date_out_of_range_with_the_reason(app: FastAPI, client: TestClient) -> None:
    a = add_account(app, "H", "high")
    make_user(app, "csm@kizuna.example", "csm")
    token = sign_in(client, "csm@kizuna.example")
    bad = client.post(f"/accounts/{a}/success-plan/objectives", data={"csrf_token": token, "title": "T", "metric": "m",
                      "baseline_value": "1", "target_value": "2", "due_on": "0001-01-01"})  # fmt: skip
    assert bad.status_code == 422
    assert "outside the accepted range" in bad.text
    good = client.post(f"/accounts/{a}/success-plan/objectives", data={"csrf_token": token, "title": "T",
                       "metric": "m", "baseline_value": "1", "target_value": "2", "due_on": "2027-01-01"},
                       follow_redirects=False)  # fmt: skip
    assert good.status_code == 303
    assert sql(app, "SELECT title FROM success_goals") == [("T",)]


def test_the_summary_escapes_what_users_typed_in_both_languages(app: FastAPI, client: TestClient) -> None:
    a = add_account(app, "<b>H</b>", "high")
    with app.state.kizuna.unit_of_work() as session:
        success_plans.create_objective(session, a, {"title": "<script>alert(1)</script>", "metric": "<img src=x>",
                                       "baseline_value": 1, "target_value": 2, "due_on": "2027-01-01"}, today=TODAY)  # fmt: skip
    make_user(app, "csm@kizuna.example", "csm")
    sign_in(client, "csm@kizuna.example")
    for lang, heading in (("ja", "サクセスプラン"), ("en", "Success plan")):
        page = client.get(f"/accounts/{a}/success-plan/summary?lang={lang}")
        assert page.status_code == 200
        assert "<script>alert(1)</script>" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert "<img src=x>" not in page.text
        assert "<b>H</b>" not in page.text
        assert heading in page.text
        assert f'<html lang="{lang}">' in page.text
        assert "@media print" in page.text


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return re.sub(r"[\s\x00]+", "", "".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages))


def test_the_pdf_carries_the_objectives_in_both_languages(app: FastAPI, client: TestClient) -> None:
    a = add_account(app, "H", "high")
    with app.state.kizuna.unit_of_work() as session:
        for title in ("解約率を下げる", "Reduce churn"):
            success_plans.create_objective(session, a, {"title": title, "metric": "churn", "baseline_value": 8,
                                           "target_value": 4, "due_on": "2027-06-30"}, today=TODAY)  # fmt: skip
    make_user(app, "csm@kizuna.example", "csm")
    sign_in(client, "csm@kizuna.example")
    for lang, label in (("ja", "サクセスプラン"), ("en", "Successplan")):
        answer = client.get(f"/accounts/{a}/success-plan/summary.pdf?lang={lang}")
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "application/pdf"
        found = _pdf_text(answer.content)
        assert "解約率を下げる" in found, found
        assert "Reducechurn" in found, found
        assert label in found, found


def test_a_pdf_without_a_japanese_font_is_a_clear_503(app: FastAPI, client: TestClient,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    a = add_account(app, "H", "high")
    monkeypatch.setattr(success_summary, "FONTS", (("/nonexistent/font.ttf", 0),))
    make_user(app, "csm@kizuna.example", "csm")
    sign_in(client, "csm@kizuna.example")
    answer = client.get(f"/accounts/{a}/success-plan/summary.pdf?lang=en")
    assert answer.status_code == 503
    assert "fonts-noto-cjk" in answer.text


# --- the command line -------------------------------------------------------------------------


def test_the_command_line_imports_templates_all_or_nothing_and_applies_a_plan(
    app: FastAPI, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("KIZUNA_DATABASE_URL", str(app.state.kizuna.settings.database_url))
    monkeypatch.setenv("KIZUNA_TODAY", TODAY.isoformat())
    a = add_account(app, "LOW1", "low")
    bad = tmp_path / "bad.toml"
    bad.write_text('[templates.low]\nname = "Low"\ntier = "low"\n[[templates.low.milestones]]\nname = "Call"\n'
                   'offset_days = 2\n[templates.zz]\nname = ""\n[[templates.zz.milestones]]\nname = "x"\n'
                   'offset_days = 1\n', encoding="utf-8")  # fmt: skip
    refused = run_cli(capsys, "onboarding", "import", str(bad))
    assert refused.code == 1
    assert "bad.toml: zz: name: a name is needed" in refused.err
    assert sql(app, "SELECT count(*) FROM onboarding_templates WHERE key = 'low'") == [(0,)]  # nothing half-written
    bad.write_text(bad.read_text(encoding="utf-8").replace('name = ""', 'name = "Z"'), encoding="utf-8")
    assert run_cli(capsys, "onboarding", "import", str(bad)).code == 0
    applied = run_cli(capsys, "onboarding", "apply", "LOW1", "--start", "2026-11-10")
    assert applied.code == 0, applied.err
    assert _milestones(app, a) == [("Call", date(2026, 11, 12), "csm")]
    listed = run_cli(capsys, "onboarding", "list", "--format", "json")
    assert [t["key"] for t in json.loads(listed.out)] == ["high", "low", "tech", "zz"]
