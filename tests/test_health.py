"""Health scores: scoring by hand, missing measures, grades, explanations, the
scorecard file's errors, CSM sentiment, who may edit scorecards, and a weight change
going all the way through to the scores."""

from __future__ import annotations

import html
import re
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kizuna.analytics import health as calc
from kizuna.db import session_scope
from kizuna.demo import generate_demo
from kizuna.domain.health import (
    GradeBands,
    HealthGrade,
    LetterGrade,
    MeasureRule,
    ScorecardInvalid,
    Scoring,
)
from kizuna.services import health as health_service
from tests.cli import run_cli
from tests.conftest import make_user, sign_in
from tests.demo_stores import SMALL_DEMO, DemoStores

AS_OF = date(2026, 11, 20)

SMALL = """
[grades]
green = 70
yellow = 40
letters = { A = 90, B = 75, C = 60, D = 40 }

[scorecards.main]
name = "Main"
default = true

[scorecards.main.groups.usage]
label = "Usage"
weight = 3

[scorecards.main.groups.usage.measures]
login_days = { weight = 2, scoring = "linear", points = [[0, 0], [20, 100]] }
active_users_per_seat = { weight = 1, scoring = "linear", points = [[0, 0], [0.5, 100]] }

[scorecards.main.groups.voice]
label = "Voice"
weight = 1

[scorecards.main.groups.voice.measures]
nps = { weight = 1, scoring = "steps", points = [[0, 0], [7, 50], [9, 100]] }

[scorecards.onboarding]
name = "Onboarding"
stages = ["onboarding"]
tiers = ["tech"]

[scorecards.onboarding.groups.progress]
label = "Progress"
weight = 1

[scorecards.onboarding.groups.progress.measures]
onboarding_progress = { weight = 1, scoring = "linear", points = [[0, 0], [1, 100]] }
"""


def cards():
    return health_service.parse_toml(SMALL, "small.toml")


# --- scoring by hand -------------------------------------------------------------------------


def test_a_score_computed_by_hand() -> None:
    card = cards().default
    # login_days 10 → 50 points; users/seat 0.25 → 50; usage group = 50.
    # nps 9 → 100 (steps). Overall = 3/4 × 50 + 1/4 × 100 = 62.5 → yellow, C.
    result = card.score({"login_days": 10, "active_users_per_seat": 0.25, "nps": 9})
    assert result is not None
    assert result.score == pytest.approx(62.5)
    assert result.grade is HealthGrade.YELLOW
    assert result.letter is LetterGrade.C
    assert result.weights == pytest.approx({"login_days": 0.5, "active_users_per_seat": 0.25, "nps": 0.25})


def test_a_missing_measure_is_not_zero_and_the_weights_renormalise() -> None:
    card = cards().default
    # No NPS answer: the voice group has no data, usage carries the whole score.
    result = card.score({"login_days": 20, "active_users_per_seat": 0.5, "nps": None})
    assert result is not None
    assert result.score == pytest.approx(100.0)
    assert result.weights["nps"] == 0.0
    # One usage measure missing: its weight goes to the other one in its group.
    result = card.score({"login_days": 20, "active_users_per_seat": float("nan"), "nps": 0})
    assert result is not None
    assert result.score == pytest.approx(0.75 * 100 + 0.25 * 0)
    # Nothing at all: no score rather than zero.
    assert card.score({"login_days": None}) is None


def test_the_vectorised_scores_match_the_hand_computed_ones() -> None:
    card = cards().default
    values = pd.DataFrame(
        {"login_days": [10, 20, float("nan")], "active_users_per_seat": [0.25, float("nan"), 0.1],
         "nps": [9, float("nan"), 6]}, index=[1, 2, 3],
    )  # fmt: skip
    scores = calc.score_accounts(values, card)
    for account_id, row in values.iterrows():
        expected = card.score({k: (None if pd.isna(v) else float(v)) for k, v in row.items()})
        assert expected is not None
        assert scores.score[account_id] == pytest.approx(expected.score)
    colour, letter = calc.grades(scores.score, card.bands)
    assert list(colour) == ["yellow", "green", "red"]  # 62.5, 100, (20·0.75 + 0·0.25 = 15)
    assert list(letter) == ["C", "A", "F"]


def test_scoring_functions_and_grade_thresholds() -> None:
    linear = MeasureRule("x", 1, Scoring.LINEAR, ((0, 0), (10, 100)))
    assert [linear.to_points(v) for v in (-5, 0, 2.5, 10, 99)] == [0, 0, 25, 100, 100]
    steps = MeasureRule("x", 1, Scoring.STEPS, ((0, 100), (1, 50), (3, 0)))
    assert [steps.to_points(v) for v in (0, 1, 2, 3, 7)] == [100, 50, 50, 0, 0]
    bands = GradeBands(green=70, yellow=40)
    assert [bands.grade(s) for s in (70, 69.9, 40, 39.9)] == ["green", "yellow", "yellow", "red"]
    assert [bands.letter(s) for s in (85, 84.9, 70, 55, 40, 39.9)] == ["A", "B", "B", "C", "D", "F"]


def test_scorecards_are_assigned_by_stage_then_tier_then_default() -> None:
    s = cards()
    assert s.for_account("onboarding", "high").key == "onboarding"
    assert s.for_account("adoption", "tech").key == "onboarding"
    assert s.for_account("adoption", "high").key == "main"
    assert s.for_account(None, None).key == "main"


def test_the_explanation_names_the_largest_point_contributions() -> None:
    now = {"logins_vs_baseline": {"value": -0.45, "points": 20.0, "weight": 0.5},
           "nps": {"value": 8.0, "points": 80.0, "weight": 0.5}}  # fmt: skip
    then = {"logins_vs_baseline": {"value": 0.05, "points": 80.0, "weight": 0.5},
            "nps": {"value": 8.0, "points": 79.0, "weight": 0.5}}  # fmt: skip
    items = calc.explain(now, then)
    assert items == [
        {"kind": "change", "measure": "logins_vs_baseline", "value": -0.45, "before": 0.05, "points": -30.0}
    ]  # fmt: skip (nps: 0.5 points, too small to explain)
    lines = health_service.explanation_lines(items)
    assert lines == ["Logins vs the account's 90-day baseline −45% (30 days ago: +5%): −30 points"]
    level = health_service.explanation_lines(calc.explain(now, None))
    assert level[0].startswith("Logins vs the account's 90-day baseline −45%: −40 points")


# --- the scorecard file's errors ---------------------------------------------------------------


def problems_of(text: str) -> list[str]:
    with pytest.raises(ScorecardInvalid) as info:
        health_service.parse_toml(text, "cards.toml")
    return [str(p) for p in info.value.problems]


def test_bad_scorecards_name_the_file_the_key_and_why() -> None:
    bad = (SMALL.replace("login_days = { weight = 2", "login_days = { weight = -2")
           .replace("nps = {", "happiness = {").replace("green = 70", "green = 30"))  # fmt: skip
    found = problems_of(bad)
    assert (
        "cards.toml: scorecards.main.groups.usage.measures.login_days.weight: the weight must be a positive number"
        in found
    )
    assert any(
        p.startswith("cards.toml: scorecards.main.groups.voice.measures.happiness: unknown measure") for p in found
    )
    assert any(p.startswith("cards.toml: grades.yellow: the yellow band (40.0) overlaps the green band") for p in found)
    assert problems_of("[grades\n")[0].startswith("cards.toml: not valid TOML")
    assert "exactly one scorecard must have default = true (found 2)" in problems_of(
        SMALL.replace('stages = ["onboarding"]', 'default = true\nstages = ["onboarding"]'))[0]  # fmt: skip
    overlap = problems_of(SMALL.replace("B = 75", "B = 95"))
    assert any("grades.letters.B: the bands overlap" in p for p in overlap)
    assert any("points[1]: the values must increase" in p for p in problems_of(
        SMALL.replace("[[0, 0], [20, 100]]", "[[5, 0], [2, 100]]")))  # fmt: skip


def test_the_shipped_default_is_valid_and_documented() -> None:
    active = health_service.parse_toml(health_service.DEFAULT_SCORECARDS.read_text(), "default")
    assert active.default.key == "default"
    docs = (Path(__file__).parents[1] / "docs" / "health.md").read_text()
    for card in active.scorecards:
        for key in card.measure_keys:
            assert f"`{key}`" in docs
    for key in ("nps_half_life_days", "csat_half_life_days", "grade_margin", "grade_confirm_days",
                "partial_tracking_ratio"):  # fmt: skip
        assert f"`{key}`" in docs


def test_a_bad_scorecard_file_setting_stops_the_cli(capsys, sqlite_url, tmp_path, monkeypatch) -> None:
    path = tmp_path / "cards.toml"
    path.write_text(SMALL.replace("weight = 3", "weight = 0"), encoding="utf-8")
    monkeypatch.setenv("KIZUNA_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("KIZUNA_HEALTH_SCORECARDS", str(path))
    result = run_cli(capsys, "health", "recompute", "--as-of", "2026-11-20")
    assert result.code == 1
    assert f"{path}: scorecards.main.groups.usage.weight: the weight must be a positive number" in result.err.replace(
        "\n", ""
    )


# --- on a small demo company ---------------------------------------------------------------------


@pytest.fixture
def demo_app(app: FastAPI, demo_stores: DemoStores, request: pytest.FixtureRequest) -> FastAPI:
    demo_stores.fill(app.state.kizuna.engine, SMALL_DEMO, request)  # built once, copied for each test
    return app


def recompute(app: FastAPI, since: date | None = None) -> None:
    with app.state.kizuna.unit_of_work() as session:
        health_service.recompute(session, AS_OF, since=since)


def scores_of(app: FastAPI) -> dict[int, float]:
    with app.state.kizuna.unit_of_work() as session:
        day = health_service.q.latest_snapshot_day(session)
        frame = health_service.q.snapshots_on(session, day)
    return dict(zip(frame["account_id"], frame["score"], strict=True))


def test_snapshots_have_measures_changes_and_explanations(demo_app: FastAPI, client: TestClient) -> None:
    recompute(demo_app, since=date(2026, 11, 13))
    with demo_app.state.kizuna.unit_of_work() as session:
        day = health_service.q.latest_snapshot_day(session)
        assert day == AS_OF
        live = calc.live_accounts(health_service.q.subscription_lines(session), AS_OF, paying_only=False)
        some = int(live[0])
        data = health_service.account_health(session, some)
    history = data.history
    assert len(history) == 8  # every day of the backfill
    snap = history[-1]
    # the score is the weighted points of its measures, and the grades are its scorecard's bands
    measures = snap.measures.values()
    assert snap.score == pytest.approx(sum(m.weight * m.points for m in measures if m.points is not None),
                                       abs=0.05)  # fmt: skip (stored rounded: weights 4, points 2 decimals)
    with demo_app.state.kizuna.unit_of_work() as session:
        card = health_service.active_scorecards(session).cards.get(snap.scorecard)
    assert card is not None
    assert (snap.grade, snap.letter) == (card.bands.grade(snap.score), card.bands.letter(snap.score))
    assert sum(m.weight for m in snap.measures.values()) == pytest.approx(1.0, abs=1e-3)
    assert snap.measures["payment_state"] == health_service.Measure(value=None, points=None, weight=0.0)
    assert snap.change_7d == pytest.approx(snap.score - history[-8].score, abs=0.02)
    assert snap.change_30d is not None  # computed from the data 30 days before, though not stored
    assert snap.reasons == health_service.explanation_lines([i.as_dict() for i in snap.explanation])
    with demo_app.state.kizuna.unit_of_work() as session:
        from kizuna.db.models import Account

        account = session.get(Account, some)
        assert account.health_score == pytest.approx(snap.score)
        assert account.health_as_of == AS_OF


def test_a_lead_changes_a_weight_and_the_scores_change(demo_app: FastAPI, client: TestClient) -> None:
    recompute(demo_app)
    before = scores_of(demo_app)
    make_user(demo_app, "lead@kizuna.example", "lead")
    token = sign_in(client, "lead@kizuna.example")
    page = client.get("/health/scorecards").text
    assert 'name="w:default.engagement.login_days"' in page
    response = client.post("/health/scorecards/edit", data={
        "csrf_token": token, "w:default.engagement.login_days": "500", "note": "logins matter most"},
        follow_redirects=False)  # fmt: skip
    assert response.status_code == 303
    assert client.post("/health/recompute", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    after = scores_of(demo_app)
    assert before.keys() == after.keys()
    assert sum(abs(after[k] - before[k]) > 0.5 for k in before) > len(before) // 2
    versions = client.get("/api/health/scorecards").json()
    assert versions["version"] == 1
    assert versions["versions"][0]["note"] == "logins matter most"
    assert versions["versions"][0]["author"] == "lead"


def test_a_bad_weight_in_the_form_saves_nothing(demo_app: FastAPI, client: TestClient) -> None:
    make_user(demo_app, "lead@kizuna.example", "lead")
    token = sign_in(client, "lead@kizuna.example")
    response = client.post("/health/scorecards/edit", data={
        "csrf_token": token, "w:default.engagement.login_days": "-3"})  # fmt: skip
    assert response.status_code == 422
    assert "scorecards.default.groups.engagement.measures.login_days.weight: the weight must be a positive number" in (
        response.text)  # fmt: skip
    assert client.get("/api/health/scorecards").json()["versions"] == []


def test_the_api_put_reports_every_problem_in_the_documented_shape(demo_app: FastAPI, client: TestClient) -> None:
    make_user(demo_app, "lead@kizuna.example", "lead")
    token = sign_in(client, "lead@kizuna.example")
    bad = SMALL.replace("weight = 3", 'weight = "heavy"').replace("nps = {", "mood = {")
    response = client.put("/api/health/scorecards", json={"source": bad}, headers={"X-CSRF-Token": token})
    assert response.status_code == 422
    errors = response.json()["errors"]
    assert {e["field"] for e in errors} == {"scorecards.main.groups.usage.weight",
                                            "scorecards.main.groups.voice.measures.mood"}  # fmt: skip
    assert all(e["code"] == "invalid_scorecard" for e in errors)
    good = client.put("/api/health/scorecards", json={"source": SMALL, "note": "smaller"},
                      headers={"X-CSRF-Token": token})  # fmt: skip
    assert good.status_code == 200
    assert good.json() == {"version": 1}
    assert client.get("/api/health/scorecards").json()["source"] == SMALL


def test_a_viewer_and_a_csm_cannot_edit_scorecards(demo_app: FastAPI, client: TestClient) -> None:
    for email, role in (("viewer@kizuna.example", "viewer"), ("csm@kizuna.example", "csm")):
        make_user(demo_app, email, role)
        token = sign_in(client, email)
        page = client.get("/health/scorecards")
        assert page.status_code == 200
        assert "save-weights" not in page.text
        assert client.post("/health/scorecards/edit", data={"csrf_token": token,
                           "w:default.engagement.login_days": "5"}).status_code == 403  # fmt: skip
        assert client.put("/api/health/scorecards", json={"source": SMALL},
                          headers={"X-CSRF-Token": token}).status_code == 403  # fmt: skip
        assert client.post("/health/recompute", data={"csrf_token": token}).status_code == 403
        client.post("/logout", data={"csrf_token": token})
    assert client.get("/api/health/scorecards").status_code == 401


def test_csm_sentiment_keeps_who_when_why_and_refuses_bad_input(demo_app: FastAPI, client: TestClient) -> None:
    with demo_app.state.kizuna.unit_of_work() as session:  # an account paying with no end: live on any later day
        lines = health_service.q.subscription_lines(session)
    paying = lines[lines["ended_on"].isna() & (lines["started_on"] <= pd.Timestamp(AS_OF))]
    a = int(paying["account_id"].min())
    make_user(demo_app, "csm@kizuna.example", "csm", name="佐藤 健")
    token = sign_in(client, "csm@kizuna.example")
    bad = [({"value": "9", "reason": "x"}, "the sentiment must be a whole number from 1 to 5"),
           ({"value": "two", "reason": "x"}, "the sentiment must be a whole number from 1 to 5"),
           ({"value": "2", "reason": "  "}, "say why: the reason is required"),
           ({"value": "2", "reason": "x" * 2001}, "the reason is longer than 2000 characters")]  # fmt: skip
    for form, message in bad:
        response = client.post(f"/accounts/{a}/health/sentiment", data={**form, "csrf_token": token})
        assert response.status_code == 422
        assert message in response.text
    api_bad = client.post(f"/api/health/accounts/{a}/sentiments", json={"value": 0, "reason": "x"},
                          headers={"X-CSRF-Token": token})  # fmt: skip
    assert api_bad.status_code == 422
    assert api_bad.json()["errors"][0]["field"] == "value"
    assert client.post(f"/accounts/{a}/health/sentiment", data={"value": "2", "reason": "x"}).status_code == 403
    assert client.get(f"/api/health/accounts/{a}").json()["sentiments"] == []  # nothing half-written
    ok = client.post(f"/accounts/{a}/health/sentiment", data={"value": "2", "reason": "担当者が退職", "csrf_token": token},
                     follow_redirects=False)  # fmt: skip
    assert ok.status_code == 303
    [entry] = client.get(f"/api/health/accounts/{a}").json()["sentiments"]
    assert entry["value"] == 2
    assert entry["reason"] == "担当者が退職"
    assert entry["author"] == "佐藤 健"
    with demo_app.state.kizuna.unit_of_work() as session:  # it counts from the day it was entered
        health_service.recompute(session, date.fromisoformat(entry["entered_at"][:10]))
    snap = client.get(f"/api/health/accounts/{a}?days=1").json()["history"]
    # the account is live that day: the sentiment counts as a measure
    assert str(snap[-1]["day"]) == entry["entered_at"][:10]
    assert snap[-1]["measures"]["csm_sentiment"]["value"] == 2


def test_the_360_panel_and_health_pages_show_scores(demo_app: FastAPI, client: TestClient) -> None:
    recompute(demo_app, since=date(2026, 11, 19))  # two days: a trend to draw
    make_user(demo_app, "viewer@kizuna.example", "viewer")
    sign_in(client, "viewer@kizuna.example")
    account = next(iter(scores_of(demo_app)))
    page = client.get(f"/accounts/{account}").text
    assert f'hx-get="/accounts/{account}/health"' in page
    panel = client.get(f"/accounts/{account}/health").text
    assert 'data-testid="health-score"' in panel
    assert 'data-testid="health-measures"' in panel
    assert 'data-chart="health-trend-data"' in panel
    assert "sentiment-form" not in panel  # a viewer cannot enter sentiment
    summary = client.get("/health").text
    counts = [int(n) for n in re.findall(r'data-testid="grade-\w+">(\d+)<', summary)]
    assert sum(counts) == len(scores_of(demo_app))
    api = client.get("/api/health/summary").json()
    assert sum(api["grades"].values()) == sum(counts)


def test_cli_recompute_and_show(capsys, sqlite_url: str, monkeypatch) -> None:
    monkeypatch.setenv("KIZUNA_DATABASE_URL", sqlite_url)
    from kizuna.db import make_engine

    engine = make_engine(sqlite_url)
    with session_scope(engine) as session:
        generate_demo(session, accounts=20, months=6, seed=3, as_of=AS_OF)
    result = run_cli(capsys, "health", "recompute", "--as-of", "2026-11-20", "--from", "2026-11-18")
    assert result.code == 0, result.err
    assert "health snapshots written for 2026-11-18 to 2026-11-20" in result.out
    with session_scope(engine) as session:
        live = calc.live_accounts(health_service.q.subscription_lines(session), AS_OF, paying_only=False)
    shown = run_cli(capsys, "health", "show", str(int(live[0])))
    assert shown.code == 0
    assert "health score" in shown.out
    assert "Measures" in shown.out
    assert run_cli(capsys, "health", "show", "no-such-account").code == 1
    bad = run_cli(capsys, "health", "recompute", "--as-of", "2026-11-20", "--from", "2026-12-01")
    assert bad.code == 1
    assert "--from must not be after --as-of" in bad.err
    bad = run_cli(capsys, "health", "recompute", "--from", "yesterday")
    assert bad.code == 1
    assert "--from must be a date like 2025-03-31" in bad.err


def test_the_daily_pipeline_uses_the_configured_scorecard_file(capsys, sqlite_url: str, tmp_path, monkeypatch) -> None:
    path = tmp_path / "cards.toml"
    path.write_text(SMALL, encoding="utf-8")
    monkeypatch.setenv("KIZUNA_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("KIZUNA_HEALTH_SCORECARDS", str(path))
    from kizuna.db import make_engine

    engine = make_engine(sqlite_url)
    with session_scope(engine) as session:
        generate_demo(session, accounts=12, months=6, seed=5, as_of=AS_OF)
    result = run_cli(capsys, "pipeline", "run", "--as-of", "2026-11-20")
    assert result.code == 0, result.err
    with session_scope(engine) as session:
        cards_used = {row["scorecard"] for row in _snapshot_rows(session)}
    assert cards_used
    assert cards_used <= {"main", "onboarding"}  # the file's, not the shipped default's


def _snapshot_rows(session) -> list[dict[str, object]]:
    day = health_service.q.latest_snapshot_day(session)
    assert day == AS_OF
    frame = health_service.q.snapshots_on(session, day)
    return [health_service.q.snapshot_history(session, int(a))[-1] for a in frame["account_id"]]


def test_the_health_panel_opened_directly_is_a_full_page_and_no_page_shows_a_server_path(
    demo_app: FastAPI, client: TestClient
) -> None:
    recompute(demo_app, since=date(2026, 11, 19))
    make_user(demo_app, "viewer@kizuna.example", "viewer")
    sign_in(client, "viewer@kizuna.example")
    account = next(iter(scores_of(demo_app)))
    # htmx (the 360 page loading it): the panel alone
    fragment = client.get(f"/accounts/{account}/health", headers={"HX-Request": "true"}).text
    assert fragment.lstrip().startswith("<div id=\"health-panel\"")
    assert "<html" not in fragment
    # a link opened in a new tab, or a reload: the styled page with the menu and the panel
    page = client.get(f"/accounts/{account}/health").text
    assert page.lstrip().startswith("<!doctype html>")
    assert 'href="/static/kizuna.css' in page
    assert 'class="main-nav"' in page
    assert 'data-testid="health-score"' in page
    name = re.search(r'data-testid="health-account">([^<]+)<', page)
    assert name
    assert f"{html.unescape(name.group(1))} · Kizuna" in html.unescape(re.search(r"<title>(.*?)</title>", page).group(1))  # type: ignore[union-attr]
    # where the scorecards come from, without the server's file path
    scorecards = client.get("/health/scorecards").text
    assert "In force: the default scorecards" in scorecards
    assert "default_scorecards.toml" not in scorecards
    assert "/src/kizuna" not in scorecards
    backtest = client.get("/health/backtest").text
    assert "scorecards: the default scorecards." in backtest
    assert "default_scorecards.toml" not in backtest
