"""The scorecard editor's forms (``/health/scorecards``): fields to checked scorecards,
every bad field named by its key path, and the preview of how the grades would move."""

from __future__ import annotations

import dataclasses
import tomllib
from datetime import date

import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from kizuna.domain.health import MEASURES, MeasureRule, ScorecardInvalid, ScorecardSet, Scoring, parse_scorecards
from kizuna.services import health as health_service
from kizuna.services.health import editor
from tests.conftest import make_user, sign_in
from tests.demo_stores import SMALL_DEMO, DemoStores

AS_OF = date(2026, 11, 20)
LOGINS = "default.engagement.login_days"  # points [[0, 0], [8, 40], [18, 80], [24, 100]]
TREND = "default.engagement.logins_vs_baseline"  # a change: [[-0.8, 0], [-0.4, 30], [0.0, 75], [0.2, 100]]


@pytest.fixture(scope="module")
def shipped() -> ScorecardSet:
    return parse_scorecards(tomllib.loads(health_service.DEFAULT_SCORECARDS.read_text(encoding="utf-8")), "x")


def rule(cards: ScorecardSet, row: str):
    card, group, measure = row.split(".")
    found = cards.get(card)
    assert found is not None
    return next(m for g in found.groups if g.key == group for m in g.measures if m.key == measure)


def problems(cards: ScorecardSet, form: dict[str, str]) -> dict[str, str]:
    with pytest.raises(ScorecardInvalid) as caught:
        editor.apply_form(cards, form)
    return {p.key: p.reason for p in caught.value.problems}


def test_an_empty_form_changes_nothing(shipped: ScorecardSet) -> None:
    assert editor.apply_form(shipped, {"csrf_token": "t", "note": "n", "action": "save"}) == shipped


def test_breakpoints_are_typed_in_their_unit_and_percent_for_changes(shipped: ScorecardSet) -> None:
    form = {f"x:{TREND}.0": "−60%", f"y:{TREND}.0": "10", f"x:{TREND}.1": "", f"y:{TREND}.1": "",
            f"x:{TREND}.2": "０", f"y:{TREND}.2": "80", f"x:{TREND}.3": "1,000", f"y:{TREND}.3": "100",
            f"x:{LOGINS}.0": "0", f"y:{LOGINS}.0": "0", f"x:{LOGINS}.1": "30", f"y:{LOGINS}.1": "100",
            f"x:{LOGINS}.2": "", f"y:{LOGINS}.2": "", f"x:{LOGINS}.3": " ", f"y:{LOGINS}.3": "",
            f"s:{LOGINS}": "steps"}  # fmt: skip
    edited = editor.apply_form(shipped, form)
    assert rule(edited, TREND).points == ((-0.6, 10.0), (0.0, 80.0), (10.0, 100.0))  # the blank pair is dropped
    assert rule(edited, LOGINS).points == ((0.0, 0.0), (30.0, 100.0))  # a count: as typed
    assert rule(edited, LOGINS).scoring is Scoring.STEPS
    assert rule(edited, TREND).weight == rule(shipped, TREND).weight
    # a breakpoint not sent keeps its value, and half a pair keeps the other half
    partial = editor.apply_form(shipped, {f"y:{LOGINS}.1": "45", f"x:{LOGINS}.4": "30", f"y:{LOGINS}.4": "100"})
    assert rule(partial, LOGINS).points == ((0.0, 0.0), (8.0, 45.0), (18.0, 80.0), (24.0, 100.0), (30.0, 100.0))


def test_the_form_shows_what_it_reads_back(shipped: ScorecardSet) -> None:
    r = rule(shipped, TREND)
    shown = {f"x:{TREND}.{i}": editor.form_value("logins_vs_baseline", x) for i, (x, _) in enumerate(r.points)}
    shown |= {f"y:{TREND}.{i}": editor.plain_number(y) for i, (_, y) in enumerate(r.points)}
    assert shown[f"x:{TREND}.0"] == "-80"
    assert editor.apply_form(shipped, shown) == shipped
    assert editor.plain_number(37.5) == "37.5"
    assert editor.plain_number(-0.0) == "0"
    assert editor.form_value("login_days", 24.0) == "24"


def test_weights_bands_removal_and_addition(shipped: ScorecardSet) -> None:
    default = shipped.default
    new = next(k for k in ("milestones_on_time", "first_value", "nps") if k not in default.measure_keys)
    group = default.groups[0].key
    edited = editor.apply_form(shipped, {
        f"w:{LOGINS}": "2.5", "w:default.engagement": "７", "green:default": "75", "yellow:default": "40",
        f"rm:{TREND}": "1", f"add:default.{group}": new,
    })  # fmt: skip
    card = edited.default
    assert rule(edited, LOGINS).weight == 2.5
    assert next(g for g in card.groups if g.key == "engagement").weight == 7.0
    assert (card.bands.green, card.bands.yellow) == (75.0, 40.0)
    assert "logins_vs_baseline" not in card.measure_keys
    added = rule(edited, f"default.{group}.{new}")
    shipped_rule = next(m for c in shipped.scorecards for g in c.groups for m in g.measures if m.key == new)
    assert (added.weight, added.points, added.scoring) == (1.0, shipped_rule.points, shipped_rule.scoring)
    # the other scorecards keep their bands
    others = [c for c in edited.scorecards if not c.default]
    assert all(c.bands == shipped.get(c.key).bands for c in others)  # type: ignore[union-attr]


def test_a_measure_never_shipped_gets_its_units_usual_range(shipped: ScorecardSet) -> None:
    bare = parse_scorecards({"scorecards": {"x": {"default": True, "groups": {"g": {"weight": 1, "measures": {
        "nps": {"weight": 1, "points": [[0, 0], [10, 100]]}}}}}}}, "bare")  # fmt: skip
    expected = {"logins_vs_baseline": ((-0.5, 0.0), (0.0, 100.0)), "feature_breadth": ((0.0, 0.0), (1.0, 100.0)),
                "days_to_renewal": ((0.0, 0.0), (90.0, 100.0)), "csat": ((1.0, 0.0), (5.0, 100.0)),
                "open_tickets": ((0.0, 0.0), (10.0, 100.0)), "usage_minutes_per_seat": ((0.0, 0.0), (10.0, 100.0))}  # fmt: skip
    for key, points in expected.items():
        assert editor.default_rule(key, bare) == MeasureRule(key, 1.0, Scoring.LINEAR, points)
    assert editor.default_rule("nps", bare) == MeasureRule("nps", 1.0, Scoring.LINEAR, ((0.0, 0.0), (10.0, 100.0)))
    for key in MEASURES:  # with the shipped file: every catalogue measure has a rule that parses
        r = editor.default_rule(key)
        assert r.key == key
        assert r.weight == 1.0
        assert len(r.points) >= 2
        assert r.points[0][0] < r.points[-1][0]


def test_numbers_as_people_type_them() -> None:
    assert editor.parse_number(" −1,234.5 % ") == -1234.5
    assert editor.parse_number("４５") == 45.0
    for bad in ("", " ", "inf", "-inf", "nan", "1e999", "abc", "1.2.3"):
        assert editor.parse_number(bad) is None, bad
    assert editor.plain_number(-0.0) == "0"
    assert editor.plain_number(0.0) == "0"
    assert editor.plain_number(-0.0000001) == "0"
    assert editor.plain_number(100.0) == "100"
    assert editor.plain_number(0.125) == "0.125"


def test_every_bad_field_is_named_and_nothing_is_half_applied(shipped: ScorecardSet) -> None:
    found = problems(shipped, {
        f"w:{LOGINS}": "-3", "w:default.engagement": "heavy", "green:default": "120", "yellow:nope": "40",
        f"x:{LOGINS}.0": "lots", f"y:{LOGINS}.0": "0", f"s:{TREND}": "cubic",
        f"x:{LOGINS}.99": "1", "w:default.nothing.here": "1", 'w:default.engagement"]': "1",
        "add:default.engagement": "mood",
    })  # fmt: skip
    assert found == {
        "scorecards.default.groups.engagement.measures.login_days.weight": "the weight must be a positive number",
        "scorecards.default.groups.engagement.weight": "the weight must be a positive number",
        "scorecards.default.grades.green": "must be a number from 0 to 100",
        "nope": "no such scorecard",
        "scorecards.default.groups.engagement.measures.login_days.points[0]": "must be a pair [value, points] of numbers",
        f"{LOGINS}.99": "no such measure or breakpoint",
        "default.nothing.here": "no such group or measure",
        'default.engagement"]': "no such group or measure",
        "scorecards.default.groups.engagement.measures.mood": found[
            "scorecards.default.groups.engagement.measures.mood"
        ],
    }
    assert found["scorecards.default.groups.engagement.measures.mood"].startswith(
        "unknown measure (known: logins_vs_baseline, login_trend, login_days, ")


def test_problems_the_scorecard_check_finds_are_named_too(shipped: ScorecardSet) -> None:
    with pytest.raises(ScorecardInvalid) as caught:  # the check's own problems carry the form's name too
        editor.apply_form(shipped, {f"s:{TREND}": "cubic"})
    assert str(caught.value.problems[0]).startswith("the scorecard form: scorecards.default.groups.engagement.")
    assert problems(shipped, {f"s:{TREND}": "cubic"}) == {
        "scorecards.default.groups.engagement.measures.logins_vs_baseline.scoring": "must be linear or steps"
    }
    assert problems(shipped, {"yellow:default": "90"}) == {
        "scorecards.default.grades.yellow":
            "the yellow band (90.0) overlaps the green band: it must not start above green (70.0)"}  # fmt: skip
    assert problems(
        shipped, {f"x:{LOGINS}.0": "10", f"y:{LOGINS}.0": "0", f"x:{LOGINS}.1": "5", f"y:{LOGINS}.1": "100"}
    ) == {
        "scorecards.default.groups.engagement.measures.login_days.points[1]": "the values must increase from one pair to the next"
    }
    assert problems(shipped, {f"{xy}:{LOGINS}.{i}": "" for xy in "xy" for i in range(4)}) == {
        "scorecards.default.groups.engagement.measures.login_days.points": "must be a list of [value, points] pairs"
    }
    already = shipped.default.groups[1].measures[0].key
    assert problems(shipped, {"add:default.engagement": already}) == {
        f"scorecards.default.groups.engagement.measures.{already}": "the measure is already used in this scorecard"
    }
    group = shipped.default.groups[-1]
    assert problems(shipped, {f"rm:default.{group.key}.{m.key}": "1" for m in group.measures}) == {
        f"scorecards.default.groups.{group.key}.measures": "at least one measure is needed"
    }


def test_fields_that_name_nothing_are_refused_and_the_rest_still_read(shipped: ScorecardSet) -> None:
    with pytest.raises(ScorecardInvalid) as caught:
        editor.apply_form(shipped, {"add:default.engagement.login_days": "nps", "w:default.engagement.login_days": "2"})
    assert [str(p) for p in caught.value.problems] == ["the scorecard form: default.engagement.login_days: no such group"]
    assert problems(shipped, {
        f"x:{LOGINS}.12": "1", f"y:{LOGINS}": "1", "green:default.engagement": "80",
        f"w:{LOGINS}.extra": "1", "w:default.engagement:x": "1", "add:nope.engagement": "nps", f"w:{LOGINS}": "0",
    }) == {
        f"{LOGINS}.12": "no such measure or breakpoint",
        LOGINS: "no such measure or breakpoint",
        "default.engagement": "no such scorecard",
        f"{LOGINS}.extra": "no such group or measure",
        "default.engagement:x": "no such group or measure",
        "nope.engagement": "no such group",
        "scorecards.default.groups.engagement.measures.login_days.weight": "the weight must be a positive number",
    }
    both = problems(shipped, {"s:default.engagement": "steps", "rm:default.engagement": "1"})
    assert both == {"default.engagement": "no such group or measure"}
    # a field without a colon is not the editor's, whatever its name; the bands reach 0 and 100
    edited = editor.apply_form(shipped, {"csrf_token": "t", "w": "x", "green:default": "100", "yellow:default": "0",
                                         f"w:{LOGINS}": "0.5"})  # fmt: skip
    assert (edited.default.bands.green, edited.default.bands.yellow) == (100.0, 0.0)
    assert rule(edited, LOGINS).weight == 0.5
    assert problems(shipped, {"green:default": "100.5"}) == {"scorecards.default.grades.green": "must be a number from 0 to 100"}
    assert problems(shipped, {"yellow:default": "-1"}) == {"scorecards.default.grades.yellow": "must be a number from 0 to 100"}


def test_half_a_breakpoint_and_a_kept_percent(shipped: ScorecardSet) -> None:
    # the value of a change is kept as it was (−80 %), not read back as −0.8 %
    edited = editor.apply_form(shipped, {"csrf_token": "t", f"y:{TREND}.0": "5"})
    assert rule(edited, TREND).points == ((-0.8, 5.0), (-0.4, 30.0), (0.0, 75.0), (0.2, 100.0))
    assert problems(shipped, {f"y:{LOGINS}.4": "50"}) == {
        "scorecards.default.groups.engagement.measures.login_days.points[4]": "must be a pair [value, points] of numbers"}


def test_a_problem_belongs_to_its_row() -> None:
    assert editor.field_of("scorecards.default.groups.engagement.measures.login_days.points[1]") == LOGINS
    assert editor.field_of("scorecards.default.groups.engagement.measures") == "default.engagement"
    assert editor.field_of("scorecards.default.groups.engagement.weight") == "default.engagement"
    assert editor.field_of("scorecards.default.grades.green") == "default"
    assert editor.field_of("grades.green") == ""
    assert editor.field_of("scorecards.default.groups.engagement") == "default.engagement"
    assert editor.field_of("scorecards.default.groups.engagement.measures.login_days") == LOGINS
    assert editor.field_of("scorecards.default") == "default"
    assert editor.field_of("scorecards") == ""
    assert editor.field_of("nope") == ""


def test_the_comparison_counts_moves_and_lists_the_largest_changes_first() -> None:
    before = pd.DataFrame({"score": [80.0, 50.0, 30.0, 71.0, 90.0], "grade": ["green", "yellow", "red", "green", "green"]},
                          index=[1, 2, 3, 5, 6])  # fmt: skip
    after = pd.DataFrame({"score": [60.0, 50.0, 50.0, 90.0, 69.0], "grade": ["yellow", "yellow", "yellow", "green",
                          "yellow"]}, index=[1, 2, 3, 4, 5])  # fmt: skip
    result = editor.compare(before, after, {1: "Alpha", 3: "Gamma"}, AS_OF, limit=3)
    assert result.day == AS_OF
    assert result.accounts == 6  # 4 is scored with the edit only, 6 in force only
    assert result.before == {"green": 3, "yellow": 1, "red": 1}
    assert result.after == {"green": 1, "yellow": 4, "red": 0}
    assert result.moves == (editor.GradeMove("green", "yellow", 2), editor.GradeMove("red", "yellow", 1))
    assert result.changed_total == 3  # 6 is on one side only: no move
    assert [(a.account_id, a.name, a.score_before, a.score_after, a.grade_before, a.grade_after)
            for a in result.changed] == [(1, "Alpha", 80.0, 60.0, "green", "yellow"),
                                         (3, "Gamma", 30.0, 50.0, "red", "yellow"),
                                         (5, "5", 71.0, 69.0, "green", "yellow")]  # |−20|, |+20|, then −2; no name: the id
    assert (result.mean_before, result.mean_after) == (64.2, 63.8)
    # equal counts: in the order of the grades
    tie = editor.compare(before.loc[[3, 1]], after.loc[[3, 1]], {}, AS_OF)
    assert tie.moves == (editor.GradeMove("green", "yellow", 1), editor.GradeMove("red", "yellow", 1))
    assert tie.before == {"green": 1, "yellow": 0, "red": 1}
    empty = editor.compare(before.iloc[:0], after, {}, AS_OF)
    assert (empty.mean_before, empty.changed_total, empty.before) == (None, 0, {"green": 0, "yellow": 0, "red": 0})


# --- on a small demo company -------------------------------------------------------------


def _recompute(session: Session) -> None:
    health_service.recompute(session, AS_OF)


#: The small demo company with its health scores (built once per test process, copied for each test).
SCORED_DEMO = dataclasses.replace(SMALL_DEMO, then=_recompute)


@pytest.fixture
def demo_app(app: FastAPI, demo_stores: DemoStores, request: pytest.FixtureRequest) -> FastAPI:
    demo_stores.fill(app.state.kizuna.engine, SCORED_DEMO, request)
    return app


def test_the_preview_moves_exactly_the_accounts_a_band_moves(demo_app: FastAPI) -> None:
    with demo_app.state.kizuna.unit_of_work() as session:
        current = health_service.active_scorecards(session).cards
        same = editor.preview(session, current, current, AS_OF)
        raised = editor.preview(session, current, editor.apply_form(current, {
            f"green:{c.key}": "100" for c in current.scorecards}), AS_OF)  # fmt: skip
        scored = health_service.score_day(session, AS_OF, current)
    assert (same.day, raised.day) == (AS_OF, AS_OF)
    with demo_app.state.kizuna.unit_of_work() as session:
        assert editor.newest_day(session) == AS_OF
    assert same.changed_total == 0
    assert same.moves == ()
    assert same.before == same.after
    assert sum(same.before.values()) == same.accounts == len(scored.score) > 30
    assert same.before == {g: int((scored.grade == g).sum()) for g in ("green", "yellow", "red")}
    green = int((scored.grade == "green").sum())
    assert green > 0
    perfect = int((scored.score >= 100).sum())
    assert raised.after["green"] == perfect
    assert raised.moves == (editor.GradeMove("green", "yellow", green - perfect),)
    assert raised.after["red"] == raised.before["red"]
    assert all(a.grade_before == "green" and a.grade_after == "yellow" for a in raised.changed)
    assert len(raised.changed) == min(editor.PREVIEW_LIMIT, green - perfect)
    assert all(a.name and not a.name.isdigit() for a in raised.changed)
    # the late feeds' measures count as missing, as in the daily job
    with demo_app.state.kizuna.unit_of_work() as session:
        usage = frozenset(k for k in current.default.measure_keys if k not in ("nps", "csat", "account_age"))
        late = editor.preview(session, current, current, AS_OF, usage)
        blind = health_service.score_day(session, AS_OF, current, missing=usage)
    assert late.mean_before == round(float(blind.score.round(2).mean()), 1)
    assert late.mean_before != same.mean_before


def test_a_lead_previews_then_saves_an_edit_in_the_web_app(demo_app: FastAPI, client: TestClient) -> None:
    make_user(demo_app, "lead@kizuna.example", "lead")
    token = sign_in(client, "lead@kizuna.example")
    page = client.get("/health/scorecards").text
    assert f'name="x:{TREND}.0" value="-80"' in page
    assert f'name="y:{LOGINS}.3" value="100"' in page
    assert f'name="x:{LOGINS}.4" value=""' in page  # one empty line to add a breakpoint
    response = client.post("/health/scorecards/edit", data={
        "csrf_token": token, "action": "preview", "green:default": "100", f"x:{LOGINS}.0": "1", f"y:{LOGINS}.0": "0"})  # fmt: skip
    assert response.status_code == 200
    assert 'data-testid="grade-preview"' in response.text
    assert 'name="green:default" value="100"' in response.text  # the edit stays in the form
    assert client.get("/api/health/scorecards").json()["versions"] == []  # a preview saves nothing
    saved = client.post("/health/scorecards/edit", data={
        "csrf_token": token, "action": "save", f"x:{LOGINS}.0": "1", f"y:{LOGINS}.0": "5", "note": "gentler"},
        follow_redirects=False)  # fmt: skip
    assert saved.status_code == 303
    source = client.get("/api/health/scorecards").json()["source"]
    saved_rule = tomllib.loads(source)["scorecards"]["default"]["groups"]["engagement"]["measures"]["login_days"]
    assert saved_rule == {"weight": 20, "scoring": "linear", "points": [[1, 5], [8, 40], [18, 80], [24, 100]]}


def test_a_bad_edit_keeps_what_was_typed_and_names_the_row(demo_app: FastAPI, client: TestClient) -> None:
    make_user(demo_app, "lead@kizuna.example", "lead")
    token = sign_in(client, "lead@kizuna.example")
    hostile = '"><script>alert(1)</script>'
    response = client.post("/health/scorecards/edit", data={
        "csrf_token": token, "action": "save", f"x:{LOGINS}.0": hostile, f"rm:{TREND}": "1"})  # fmt: skip
    assert response.status_code == 422
    assert "<script>alert(1)" not in response.text
    assert 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in response.text
    assert f'data-testid="error-{LOGINS}">' in response.text
    assert f'name="rm:{TREND}" value="1" checked' in response.text
    assert client.get("/api/health/scorecards").json()["versions"] == []


def test_a_csm_cannot_preview_or_save(demo_app: FastAPI, client: TestClient) -> None:
    make_user(demo_app, "csm@kizuna.example", "csm")
    token = sign_in(client, "csm@kizuna.example")
    page = client.get("/health/scorecards").text
    assert 'name="x:' not in page
    assert "preview-grades" not in page
    assert "straight lines: −80% → 0 points" in page  # the rule for people, not "linear: -0.8→0.0"
    assert client.post("/health/scorecards/edit", data={"csrf_token": token, "action": "preview"}).status_code == 403
