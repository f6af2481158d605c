"""The checked form of the scorecards (``domain/health.py``): a parsed TOML document as
plain dicts into scorecards, every value at its edges, and every problem a bad document
has, in order, with its file, key path and reason as the user reads them (no TOML, no
store: the mutation run of the parser points at this file; see docs/testing.md).
"""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from kizuna.domain.health import (
    GRADE_LABELS,
    MEASURES,
    GradeBands,
    LetterGrade,
    MeasureGroup,
    MeasureRule,
    MeasureUnit,
    Scorecard,
    ScorecardInvalid,
    ScorecardProblem,
    ScorecardSet,
    Scoring,
    ScoringOptions,
    _number,
    parse_scorecards,
)
from kizuna.i18n import _catalogue, gettext, language

A, B, C, D = LetterGrade.A, LetterGrade.B, LetterGrade.C, LetterGrade.D
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
LETTERS = ((A, 85.0), (B, 70.0), (C, 55.0), (D, 40.0))  # the defaults

GOOD: dict[str, Any] = {
    "grades": {"green": 100, "yellow": 100, "letters": {"A": 100, "B": 75, "D": 0}},
    "scoring": {"nps_half_life_days": 3650, "csat_half_life_days": 0, "grade_margin": 50, "grade_confirm_days": 90,
                "partial_tracking_ratio": 0.5},
    "scorecards": {
        "main": {
            "name": "Main", "default": True, "tiers": ["high", "low"], "min_history_days": 90,
            "groups": {
                "usage": {"label": "Usage", "weight": 2, "measures": {
                    "login_days": {"weight": 1, "points": [[0, 0], [20, 100]]},
                    "nps": {"weight": 0.5, "scoring": "steps", "points": [[-1.5, 0], [7, 50], [9, 100]]},
                }},
                "voice": {"weight": 1, "measures": {"csat": {"weight": 3, "scoring": "linear", "points": [[1, 0]]}}},
            },
        },
        "onb": {
            "stages": ["onboarding"], "grades": {"green": 60, "yellow": 0}, "min_history_days": 1,
            "groups": {"g": {"weight": 0.25, "measures": {"login_days": {"weight": 2, "points": [[5, 10]]}}}},
        },
    },
}  # fmt: skip


def test_a_good_document_at_every_edge() -> None:
    cards = parse_scorecards(GOOD, "cards.toml")
    # every option at its limit: 3650 days, 0 (no half-life), 50 points, 90 days (a whole number)
    assert cards.options == ScoringOptions(3650.0, 0.0, 50.0, 90, 0.5)
    assert type(cards.options.grade_confirm_days) is int
    # the bands of the file: green and yellow both 100 (yellow not above green), C the default 55
    top = GradeBands(100.0, 100.0, ((A, 100.0), (B, 75.0), (C, 55.0), (D, 0.0)))
    main = Scorecard("main", "Main", (
        MeasureGroup("usage", "Usage", 2.0, (
            MeasureRule("login_days", 1.0, Scoring.LINEAR, ((0.0, 0.0), (20.0, 100.0))),
            MeasureRule("nps", 0.5, Scoring.STEPS, ((-1.5, 0.0), (7.0, 50.0), (9.0, 100.0))),
        )),
        MeasureGroup("voice", "voice", 1.0, (MeasureRule("csat", 3.0, Scoring.LINEAR, ((1.0, 0.0),)),)),
    ), top, (), ("high", "low"), True, 90)  # fmt: skip
    # the second card: its own green and yellow, the file's letters; its key as its name, not the default
    onb = Scorecard("onb", "onb", (
        MeasureGroup("g", "g", 0.25, (MeasureRule("login_days", 2.0, Scoring.LINEAR, ((5.0, 10.0),)),)),
    ), GradeBands(60.0, 0.0, top.letters), ("onboarding",), (), False, 1)  # fmt: skip
    assert cards.scorecards == (main, onb)
    assert cards == ScorecardSet((main, onb), cards.options)
    assert cards.default is cards.scorecards[0]
    assert cards.get("onb") is cards.scorecards[1]
    assert cards.get("Main") is None
    assert main.measure_keys == ("login_days", "nps", "csat")
    assert main.rule("csat") is main.groups[1].measures[0]
    assert main.rule("nps").weight == 0.5
    with pytest.raises(KeyError) as missing:
        main.rule("login_trend")
    assert missing.value.args == ("login_trend",)
    # the default's position does not matter
    swapped = copy.deepcopy(GOOD)
    swapped["scorecards"] = {"onb": {**GOOD["scorecards"]["onb"], "default": True},
                             "main": {**GOOD["scorecards"]["main"], "default": False}}  # fmt: skip
    assert parse_scorecards(swapped, "x").default.key == "onb"


def test_what_a_document_may_leave_out() -> None:
    minimal = {"scorecards": {"only": {"default": True, "groups": {
        "g": {"weight": 1, "measures": {"nps": {"weight": 1, "points": [[0, 100]]}}}}}}}  # fmt: skip
    cards = parse_scorecards(minimal, "m")
    assert cards.options == ScoringOptions()
    only = cards.default
    # the defaults: green 70, yellow 45, A–D 85/70/55/40, 14 days, linear, no stages or tiers
    assert (only.key, only.name, only.bands, only.stages, only.tiers, only.min_history_days) == (
        "only", "only", GradeBands(70.0, 45.0, LETTERS), (), (), 14)
    assert only.groups == (MeasureGroup("g", "g", 1.0, (MeasureRule("nps", 1.0, Scoring.LINEAR, ((0.0, 100.0),)),)),)


def problems_of(doc: dict[str, Any], source: str = "cards.toml") -> list[str]:
    with pytest.raises(ScorecardInvalid) as caught:
        parse_scorecards(doc, source)
    return [str(p) for p in caught.value.problems]


RULE_OK = {"weight": 1, "points": [[0, 0], [1, 100]]}

BAD: dict[str, Any] = {
    "grades": {"green": 101, "yellow": True, "blue": 1, "letters": {"A": 90, "B": "x", "E": 5, "D": -1}},
    "scoring": {"nps_half_life_days": -1, "grade_confirm_days": 2.5, "grade_margin": 50, "speed": 3,
                "partial_tracking_ratio": float("inf"), "csat_half_life_days": True},
    "scorecards": {
        "notatable": 3,
        "a": {
            "name": " ", "default": "yes", "stages": ["onboarding", ""], "tiers": "high", "colour": 1,
            "grades": {"green": 40, "letters": {"C": 70}}, "min_history_days": 0,
            "groups": {
                "g1": 5,
                "g2": {"weight": 0, "label": 3, "x": 1,
                       "measures": {"nps": RULE_OK, "bogus": RULE_OK}},
                "g3": {"weight": 1, "measures": {}},
                "g4": {"weight": -2, "measures": {"nps": RULE_OK}},
            },
        },
        "b": {"default": True, "groups": {}},
        "c": {"default": True, "stages": ["onboarding"], "tiers": ["high"], "groups": {"u": {"weight": 1, "measures": {
            "login_days": {"weight": "1", "scoring": "cubic", "points": [[0, 0], [0, 101], [5, 50]], "z": 0}}}}},
        "d": {"default": True, "stages": ["onboarding"], "tiers": ["high"], "min_history_days": True,
              "groups": {"v": {"weight": 1, "measures": {
                  "nps": "x", "csat": {"weight": 1, "points": []}, "open_tickets": {"weight": 1, "points": [[0, 0], [1]]},
                  "escalated_tickets": {"weight": 1, "points": [[0, "a"]]},
                  "account_age": {"weight": 0, "scoring": "steps", "points": [[0, 0], [1, 100]]}}}}},
    },
    "extra": 1,
}  # fmt: skip


def test_every_problem_of_a_bad_document_in_order() -> None:
    known = ", ".join(MEASURES)
    m = "cards.toml: scorecards"
    assert problems_of(BAD) == [
        # the file's grades: an unknown key, green over 100, a yes/no as yellow, a text, an
        # unknown letter and a negative D (the defaults stand in for each)
        "cards.toml: grades.blue: unknown key (expected green, yellow or letters)",
        "cards.toml: grades.green: must be a number from 0 to 100",
        "cards.toml: grades.yellow: must be a number from 0 to 100",
        "cards.toml: grades.letters.B: must be a number from 0 to 100",
        "cards.toml: grades.letters.E: unknown letter (expected A, B, C or D; F is below D)",
        "cards.toml: grades.letters.D: must be a number from 0 to 100",
        # the options: unknown first, then in their own order (a yes/no is not a number, nor infinity)
        "cards.toml: scoring.speed: unknown key (expected one of: nps_half_life_days, csat_half_life_days, "
        "grade_margin, grade_confirm_days, partial_tracking_ratio)",
        "cards.toml: scoring.nps_half_life_days: must be a number from 0 to 3650",
        "cards.toml: scoring.csat_half_life_days: must be a number from 0 to 3650",
        "cards.toml: scoring.grade_confirm_days: must be a whole number from 1 to 90",
        "cards.toml: scoring.partial_tracking_ratio: must be a number from 0 to 1000",
        "cards.toml: extra: unknown key (expected grades, scoring or scorecards)",
        f"{m}.notatable: must be a table",
        f"{m}.a.colour: unknown key (expected one of: default, grades, groups, min_history_days, name, stages, tiers)",
        f"{m}.a.name: must be a non-empty text",
        f"{m}.a.default: must be true or false",
        f"{m}.a.stages: must be a list of names",
        f"{m}.a.tiers: must be a list of names",
        # the card's green under the file's yellow (45, the default), C equal to B
        f"{m}.a.grades.yellow: the yellow band (45.0) overlaps the green band: it must not start above green (40.0)",
        f"{m}.a.grades.letters.C: the bands overlap: C (70.0) must be below B (70.0)",
        f"{m}.a.min_history_days: must be a whole number of days from 1 to 90",
        f"{m}.a.groups.g1: must be a table",
        f"{m}.a.groups.g2.x: unknown key (expected label, weight or measures)",
        f"{m}.a.groups.g2.weight: the weight must be a positive number",
        f"{m}.a.groups.g2.label: must be a text",
        f"{m}.a.groups.g2.measures.bogus: unknown measure (known: {known})",
        f"{m}.a.groups.g3.measures: at least one measure is needed",
        f"{m}.a.groups.g4.weight: the weight must be a positive number",
        f"{m}.a.groups.g4.measures.nps: the measure is already used in this scorecard",
        f"{m}.b.groups: at least one group of measures is needed",
        f"{m}.c.groups.u.measures.login_days.z: unknown key (expected weight, scoring or points)",
        f"{m}.c.groups.u.measures.login_days.weight: the weight must be a positive number",
        f"{m}.c.groups.u.measures.login_days.scoring: must be linear or steps",
        f"{m}.c.groups.u.measures.login_days.points[1]: points must be from 0 to 100",
        f"{m}.c.groups.u.measures.login_days.points[1]: the values must increase from one pair to the next",
        f"{m}.d.min_history_days: must be a whole number of days from 1 to 90",
        f"{m}.d.groups.v.measures.nps: must be a table with weight, scoring and points",
        f"{m}.d.groups.v.measures.csat.points: must be a list of [value, points] pairs",
        f"{m}.d.groups.v.measures.open_tickets.points[1]: must be a pair [value, points] of numbers",
        f"{m}.d.groups.v.measures.escalated_tickets.points[0]: must be a pair [value, points] of numbers",
        f"{m}.d.groups.v.measures.account_age.weight: the weight must be a positive number",
        # a, whose default was not true or false, counts as not the default: c and d are two
        "cards.toml: scorecards: exactly one scorecard must have default = true (found 2)",
        f"{m}.d.stages: 'onboarding' is already assigned to scorecard 'c'",
        f"{m}.d.tiers: 'high' is already assigned to scorecard 'c'",
    ]


def test_the_error_names_the_count_the_first_problem_and_its_key() -> None:
    doc = copy.deepcopy(GOOD)
    doc["scorecards"]["main"]["groups"]["usage"]["weight"] = 0
    doc["scorecards"]["onb"]["min_history_days"] = 91
    with pytest.raises(ScorecardInvalid) as caught:
        parse_scorecards(doc, "f.toml")
    error = caught.value
    assert [str(p) for p in error.problems] == [
        "f.toml: scorecards.main.groups.usage.weight: the weight must be a positive number",
        "f.toml: scorecards.onb.min_history_days: must be a whole number of days from 1 to 90",
    ]
    assert error.problems[0] == ScorecardProblem("f.toml", "scorecards.main.groups.usage.weight",
                                                 "the weight must be a positive number")  # fmt: skip
    assert str(error) == ("the scorecards are not valid (2 problems): f.toml: scorecards.main.groups.usage.weight: "
                          "the weight must be a positive number")  # fmt: skip
    assert (error.code, error.field) == ("invalid_scorecard", "scorecards.main.groups.usage.weight")
    empty = ScorecardInvalid([])
    assert (str(empty), empty.field) == ("the scorecards are not valid (0 problems): ", None)
    # a problem of the whole file has no key path
    assert str(ScorecardProblem("f.toml", "", "not valid TOML")) == "f.toml: not valid TOML"


@pytest.mark.parametrize("cards", [None, {}, 3])
def test_no_scorecards_stops_at_once(cards: Any) -> None:
    doc = {"grades": {"green": "x"}, "scorecards": cards, "later": 1}
    assert problems_of(doc) == [
        "cards.toml: grades.green: must be a number from 0 to 100",
        "cards.toml: scorecards: at least one scorecard is needed ([scorecards.<key>])",
    ]


def test_tables_that_are_not_tables() -> None:
    doc = copy.deepcopy(GOOD)
    doc["grades"] = [1]
    doc["scoring"] = "fast"
    doc["scorecards"]["main"]["grades"] = {"letters": ["A"]}
    doc["scorecards"]["onb"]["groups"]["g"]["measures"] = ["login_days"]
    assert problems_of(doc) == [
        "cards.toml: grades: must be a table",
        "cards.toml: scoring: must be a table",
        "cards.toml: scorecards.main.grades.letters: must be a table",
        "cards.toml: scorecards.onb.groups.g.measures: at least one measure is needed",
    ]
    doc["scorecards"]["onb"]["groups"] = ["g"]
    assert problems_of(doc)[-1] == "cards.toml: scorecards.onb.groups: at least one group of measures is needed"


def test_numbers_at_and_past_their_limits() -> None:
    def options(**values: Any) -> list[str]:
        doc = copy.deepcopy(GOOD)
        doc["scoring"] = values
        try:
            parse_scorecards(doc, "o")
        except ScorecardInvalid as error:
            return [p.key for p in error.problems]
        return []

    assert options(nps_half_life_days=0, csat_half_life_days=3650, grade_margin=0, grade_confirm_days=1,
                   partial_tracking_ratio=1000) == []  # fmt: skip
    assert options(nps_half_life_days=3650.5, csat_half_life_days=-0.1, grade_margin=50.01, grade_confirm_days=0,
                   partial_tracking_ratio=1000.5) == [
        "scoring.nps_half_life_days", "scoring.csat_half_life_days", "scoring.grade_margin",
        "scoring.grade_confirm_days", "scoring.partial_tracking_ratio"]  # fmt: skip
    assert options(grade_confirm_days=91) == ["scoring.grade_confirm_days"]
    assert options(grade_confirm_days=2.0) == []  # a whole number written as a float
    # a whole number of days: 2.0 read as 2
    doc = copy.deepcopy(GOOD)
    doc["scoring"] = {"grade_confirm_days": 2.0, "grade_margin": 2}
    parsed = parse_scorecards(doc, "o").options
    assert (parsed.grade_confirm_days, type(parsed.grade_confirm_days), parsed.grade_margin) == (2, int, 2.0)

    def bands(**values: Any) -> list[str]:
        doc = copy.deepcopy(GOOD)
        doc["grades"] = values
        try:
            parse_scorecards(doc, "g")
        except ScorecardInvalid as error:
            return [str(p) for p in error.problems]
        return []

    assert bands(green=0, yellow=0, letters={"A": 100, "B": 99.5, "C": 0.5, "D": 0}) == []
    assert bands(green=-0.5, yellow=100.5) == ["g: grades.green: must be a number from 0 to 100",
                                               "g: grades.yellow: must be a number from 0 to 100"]  # fmt: skip
    assert bands(yellow=70.5) == ["g: grades.yellow: the yellow band (70.5) overlaps the green band: it must not "
                                  "start above green (70.0)"]  # fmt: skip
    assert bands(letters={"A": 100.5, "B": -1}) == ["g: grades.letters.A: must be a number from 0 to 100",
                                                    "g: grades.letters.B: must be a number from 0 to 100"]  # fmt: skip
    # B above A and D equal to C (the default 55): each pair named from the lower letter; the card
    # with grades of its own inherits those letters and is checked again
    assert bands(letters={"A": 60, "B": 80, "D": 55}) == [
        "g: grades.letters.B: the bands overlap: B (80.0) must be below A (60.0)",
        "g: grades.letters.D: the bands overlap: D (55.0) must be below C (55.0)",
        "g: scorecards.onb.grades.letters.B: the bands overlap: B (80.0) must be below A (60.0)",
        "g: scorecards.onb.grades.letters.D: the bands overlap: D (55.0) must be below C (55.0)",
    ]


def test_cards_at_their_edges() -> None:
    def card_problems(card: dict[str, Any]) -> list[str]:
        base = {"default": True, "groups": {"g": {"weight": 1, "measures": {"nps": dict(RULE_OK)}}}}
        try:
            parse_scorecards({"scorecards": {"k": {**base, **card}}}, "c")
        except ScorecardInvalid as error:
            return [str(p) for p in error.problems]
        return []

    assert card_problems({"min_history_days": 91}) == ["c: scorecards.k.min_history_days: must be a whole number "
                                                       "of days from 1 to 90"]  # fmt: skip
    assert card_problems({"min_history_days": 14.0}) == ["c: scorecards.k.min_history_days: must be a whole number "
                                                         "of days from 1 to 90"]  # fmt: skip
    assert card_problems({"name": 5}) == ["c: scorecards.k.name: must be a non-empty text"]
    assert card_problems({"default": 1}) == ["c: scorecards.k.default: must be true or false",
                                             "c: scorecards: exactly one scorecard must have default = true (found 0)"]
    assert card_problems({"stages": [], "tiers": ["a", "b"], "name": "N"}) == []
    assert card_problems({"stages": [1]}) == ["c: scorecards.k.stages: must be a list of names"]
    # a weight of 0 in a group is refused, a tiny one is not
    assert card_problems({"groups": {"g": {"weight": 0.001, "measures": {"nps": dict(RULE_OK)}}}}) == []
    rule = {"weight": 1, "scoring": "Steps", "points": [[0, -0.5], [1, 100.5], "x"]}
    assert card_problems({"groups": {"g": {"weight": 1, "measures": {"nps": rule}}}}) == [
        "c: scorecards.k.groups.g.measures.nps.scoring: must be linear or steps",
        "c: scorecards.k.groups.g.measures.nps.points[0]: points must be from 0 to 100",
        "c: scorecards.k.groups.g.measures.nps.points[1]: points must be from 0 to 100",
        "c: scorecards.k.groups.g.measures.nps.points[2]: must be a pair [value, points] of numbers",
    ]
    three = {"weight": 1, "points": [[0, 0, 0]]}
    assert card_problems({"groups": {"g": {"weight": 1, "measures": {"nps": three}}}}) == [
        "c: scorecards.k.groups.g.measures.nps.points[0]: must be a pair [value, points] of numbers"]
    no_weight = {"points": [[0, 0]]}
    assert card_problems({"groups": {"g": {"weight": 1, "measures": {"nps": no_weight}}}}) == [
        "c: scorecards.k.groups.g.measures.nps.weight: the weight must be a positive number"]
    # a pair that is a bare number: named, not a crash
    bare = {"weight": 1, "points": [[0, 0], 7]}
    assert card_problems({"groups": {"g": {"weight": 1, "measures": {"nps": bare}}}}) == [
        "c: scorecards.k.groups.g.measures.nps.points[1]: must be a pair [value, points] of numbers"]
    # an unknown and a repeated measure do not stop the check of the group's next ones
    groups = {"g": {"weight": 1, "measures": {"nps": dict(RULE_OK)}},
              "h": {"weight": 1, "measures": {"zzz": dict(RULE_OK), "nps": dict(RULE_OK), "csat": {"points": [[0, 0]]}}}}
    assert card_problems({"groups": groups}) == [
        f"c: scorecards.k.groups.h.measures.zzz: unknown measure (known: {', '.join(MEASURES)})",
        "c: scorecards.k.groups.h.measures.nps: the measure is already used in this scorecard",
        "c: scorecards.k.groups.h.measures.csat.weight: the weight must be a positive number"]
    # a group without a weight
    assert card_problems({"groups": {"g": {"measures": {"nps": dict(RULE_OK)}}}}) == [
        "c: scorecards.k.groups.g.weight: the weight must be a positive number"]


def test_numbers_are_ints_and_floats_only() -> None:
    assert [_number(v) for v in (3, 2.5, -1, 0)] == [3.0, 2.5, -1.0, 0.0]
    assert type(_number(3)) is float
    assert [_number(v) for v in (True, False, "3", None, [1], float("nan"), float("inf"), -float("inf"))] == [None] * 8


def test_the_stage_then_tier_then_default() -> None:
    cards = parse_scorecards(GOOD, "cards.toml")
    assert cards.for_account("onboarding", "high").key == "onb"
    assert cards.for_account(None, "low").key == "main"
    assert cards.for_account("renewal", None).key == "main"


def test_every_measure_and_grade_label_is_translated() -> None:
    assert list(MEASURES)[:3] == ["logins_vs_baseline", "login_trend", "login_days"]
    assert len(MEASURES) == 23
    assert all(key == info.key for key, info in MEASURES.items())
    units = {key: info.unit for key, info in MEASURES.items()}
    assert (units["logins_vs_baseline"], units["active_users_per_seat"], units["login_days"],
            units["usage_minutes_per_seat"], units["account_age"], units["nps"]) == (
        MeasureUnit.CHANGE, MeasureUnit.SHARE, MeasureUnit.COUNT, MeasureUnit.MINUTES, MeasureUnit.DAYS,
        MeasureUnit.SCORE)  # fmt: skip
    assert MEASURES["account_age"].label == "Account age"
    assert GRADE_LABELS == {"green": "green", "yellow": "yellow", "red": "red"}
    japanese = _catalogue("ja")  # every English msgid has its entry ("CSAT" stays "CSAT")
    with language("ja"):
        for info in MEASURES.values():
            for text in (info.label, info.description):
                assert not JAPANESE.search(text), text
                assert text in japanese, text
            assert JAPANESE.search(gettext(info.description)), info.description
        for text in GRADE_LABELS.values():
            assert JAPANESE.search(gettext(text)), text
