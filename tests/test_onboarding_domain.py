"""The onboarding template rules (``domain/onboarding.py``) on tables written here, without a
store: every refusal with its code, field and message, names and offsets on both sides of
their limits, a TOML file's refusals prefixed with the file and the key, the due dates of a
plan, the template picked for a tier and the overdue day — each value worked out by hand.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from kizuna.domain.dates import DateOutOfRange
from kizuna.domain.onboarding import (
    OnboardingTemplate,
    PlannedMilestone,
    TemplateMilestone,
    overdue,
    parse_template,
    parse_templates_toml,
    pick,
    plan,
)
from kizuna.errors import InvalidInput

KICKOFF = {"name": "Kick-off", "offset_days": 0}


def refusal(key: Any, table: dict[str, Any]) -> tuple[str, str | None, str]:
    with pytest.raises(InvalidInput) as caught:
        parse_template(key, table)
    return caught.value.code, caught.value.field, caught.value.message


def test_a_template_read_with_its_defaults() -> None:
    t = parse_template("high-1", {
        "name": "  High\ttouch   onboarding ", "tier": "high",
        "milestones": [
            {"name": "Kick-off  call", "offset_days": 0},
            {"name": "Training", "offset_days": " 14 ", "owner": "customer", "first_value": True},
            {"name": "Review", "offset_days": "730", "owner": "", "first_value": False},
        ],
    })  # fmt: skip
    # names collapse their white space; an offset may be typed as text; the owner defaults to the CSM
    assert t == OnboardingTemplate("high-1", "High touch onboarding", "high", (
        TemplateMilestone("Kick-off call", 0, "csm", False),
        TemplateMilestone("Training", 14, "customer", True),
        TemplateMilestone("Review", 730, "csm", False),
    ))  # fmt: skip
    assert t.as_table() == {"name": "High touch onboarding", "tier": "high", "milestones": [
        {"name": "Kick-off call", "offset_days": 0, "owner": "csm", "first_value": False},
        {"name": "Training", "offset_days": 14, "owner": "customer", "first_value": True},
        {"name": "Review", "offset_days": 730, "owner": "csm", "first_value": False},
    ]}  # fmt: skip
    # no tier (or an empty one): a template for any tier, and its table has no tier
    for tier in ({}, {"tier": ""}, {"tier": None}):
        general = parse_template("any", {"name": "Any", **tier, "milestones": [KICKOFF]})
        assert general.tier is None
        assert general.as_table() == {"name": "Any", "milestones": [
            {"name": "Kick-off", "offset_days": 0, "owner": "csm", "first_value": False}]}


@pytest.mark.parametrize(("key", "table", "code", "field", "message"), [
    ("Bad Key", {"name": "x", "milestones": [KICKOFF]}, "invalid_key", "key",
     "key: use 1 to 64 lower-case letters, digits, - or _ (starting with a letter or digit)"),
    (5, {"name": "x", "milestones": [KICKOFF]}, "invalid_key", "key",
     "key: use 1 to 64 lower-case letters, digits, - or _ (starting with a letter or digit)"),
    ("k", {"name": "x", "zeta": 1, "alpha": 2, "milestones": [KICKOFF]}, "unknown_field", "alpha",
     "alpha: unknown field"),
    ("k", {"milestones": [KICKOFF]}, "name_missing", "name", "name: a name is needed"),
    ("k", {"name": " \t ", "milestones": [KICKOFF]}, "name_missing", "name", "name: a name is needed"),
    ("k", {"name": 12, "milestones": [KICKOFF]}, "name_missing", "name", "name: a name is needed"),
    ("k", {"name": "x" * 201, "milestones": [KICKOFF]}, "name_too_long", "name",
     "name: the name is longer than 200 characters"),
    ("k", {"name": "x", "tier": "mid", "milestones": [KICKOFF]}, "invalid_tier", "tier",
     "tier must be one of: high, low, tech"),
    ("k", {"name": "x"}, "milestones_missing", "milestones", "milestones: a template needs at least one milestone"),
    ("k", {"name": "x", "milestones": []}, "milestones_missing", "milestones",
     "milestones: a template needs at least one milestone"),
    ("k", {"name": "x", "milestones": "kick-off"}, "milestones_missing", "milestones",
     "milestones: a template needs at least one milestone"),
    ("k", {"name": "x", "milestones": {"name": "a", "offset_days": 1}}, "milestones_missing", "milestones",
     "milestones: a template needs at least one milestone"),
    ("k", {"name": "x", "milestones": [KICKOFF] * 51}, "too_many_milestones", "milestones", "milestones: at most 50"),
    ("k", {"name": "x", "milestones": [KICKOFF, "call"]}, "invalid_milestone", "milestones[2]",
     "milestones[2]: must be a table"),
    ("k", {"name": "x", "milestones": [KICKOFF, {**KICKOFF, "due": 1, "by": 2}]}, "unknown_field",
     "milestones[2].by", "milestones[2].by: unknown field"),
    ("k", {"name": "x", "milestones": [{**KICKOFF, "owner": "boss"}]}, "invalid_owner", "milestones[1].owner",
     "milestones[1].owner must be one of: csm, customer"),
    ("k", {"name": "x", "milestones": [{**KICKOFF, "first_value": "yes"}]}, "invalid_flag",
     "milestones[1].first_value", "milestones[1].first_value must be true or false"),
    ("k", {"name": "x", "milestones": [{**KICKOFF, "first_value": 1}]}, "invalid_flag",
     "milestones[1].first_value", "milestones[1].first_value must be true or false"),
    ("k", {"name": "x", "milestones": [{"offset_days": 3}]}, "name_missing", "milestones[1].name",
     "milestones[1].name: a name is needed"),
    ("k", {"name": "x", "milestones": [{**KICKOFF, "first_value": True}, {**KICKOFF, "first_value": True}]},
     "first_value_twice", "milestones", "milestones: only one milestone can mark the first value"),
])  # fmt: skip
def test_each_refusal_names_its_field(key: Any, table: dict[str, Any], code: str, field: str, message: str) -> None:
    assert refusal(key, table) == (code, field, message)


@pytest.mark.parametrize(("offset", "message"), [
    (-1, "the offset must be from 0 to 730 days after the start, not -1"),
    (731, "the offset must be from 0 to 730 days after the start, not 731"),
    (" -5 ", "the offset must be from 0 to 730 days after the start, not -5"),
    ("1234567890", "the offset must be a whole number of days"),  # 10 digits: not read as a number
    ("1e3", "the offset must be a whole number of days"),
    ("3 days", "the offset must be a whole number of days"),
    (3.0, "the offset must be a whole number of days"),
    (True, "the offset must be a whole number of days"),
    (None, "the offset must be a whole number of days"),
])  # fmt: skip
def test_an_offset_from_0_to_730_whole_days(offset: Any, message: str) -> None:
    table = {"name": "x", "milestones": [KICKOFF, {"name": "Review", "offset_days": offset}]}
    assert refusal("k", table) == ("invalid_offset", "milestones[2].offset_days",
                                   f"milestones[2].offset_days: {message}")


def test_the_limits_themselves_are_accepted() -> None:
    # a name of exactly 200 characters, 50 milestones, one first value, 9 digits of offset text that is in range
    t = parse_template("a" * 64, {"name": "n" * 200, "tier": "tech",
                                  "milestones": [{"name": f"m{i}", "offset_days": i} for i in range(50)]})  # fmt: skip
    assert (t.key, len(t.name), t.tier, len(t.milestones), t.milestones[49]) == (
        "a" * 64, 200, "tech", 50, TemplateMilestone("m49", 49, "csm", False))
    one = parse_template("k", {"name": "x", "milestones": [{**KICKOFF, "first_value": True}, {"name": "y",
                                                                                            "offset_days": "000000007"}]})
    assert one.milestones == (TemplateMilestone("Kick-off", 0, "csm", True), TemplateMilestone("y", 7, "csm", False))


TOML = """
[templates.high]
name = "High touch"
tier = "high"
[[templates.high.milestones]]
name = "Kick-off"
offset_days = 0
[[templates.high.milestones]]
name = "Training"
offset_days = 21
owner = "customer"
first_value = true

[templates.any]
name = "Any tier"
[[templates.any.milestones]]
name = "Welcome mail"
offset_days = 1
"""


def test_a_toml_file_of_templates() -> None:
    assert parse_templates_toml(TOML) == (
        OnboardingTemplate("high", "High touch", "high", (TemplateMilestone("Kick-off", 0, "csm", False),
                                                          TemplateMilestone("Training", 21, "customer", True))),
        OnboardingTemplate("any", "Any tier", None, (TemplateMilestone("Welcome mail", 1, "csm", False),)),
    )  # fmt: skip


@pytest.mark.parametrize(("text", "code", "field", "message"), [
    ("[templates\n", "invalid_toml", "templates",
     "plans.toml: not valid TOML: Expected ']' at the end of a table declaration (at line 1, column 11)"),
    ("", "invalid_toml", "templates", "plans.toml: expected [templates.KEY] tables only"),
    ("templates = 3\n", "invalid_toml", "templates", "plans.toml: expected [templates.KEY] tables only"),
    ("[templates]\n", "invalid_toml", "templates", "plans.toml: expected [templates.KEY] tables only"),
    (TOML + "[other]\nx = 1\n", "invalid_toml", "templates", "plans.toml: expected [templates.KEY] tables only"),
    # a refusal inside a template names the file, the key and the field
    (TOML.replace("offset_days = 21", "offset_days = 900"), "invalid_offset", "high.milestones[2].offset_days",
     "plans.toml: high: milestones[2].offset_days: the offset must be from 0 to 730 days after the start, not 900"),
    ("[templates]\nhigh = 5\n", "name_missing", "high.name", "plans.toml: high: name: a name is needed"),
    ('[templates."Bad Key"]\nname = "x"\n', "invalid_key", "Bad Key.key",
     "plans.toml: Bad Key: key: use 1 to 64 lower-case letters, digits, - or _ (starting with a letter or digit)"),
])  # fmt: skip
def test_a_toml_refusal_names_the_file_the_key_and_the_field(text: str, code: str, field: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_templates_toml(text, "plans.toml")
    assert (caught.value.code, caught.value.field, caught.value.message) == (code, field, message)


def test_the_default_source_name_is_templates_toml() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_templates_toml("x = 1\n")
    assert caught.value.message == "templates.toml: expected [templates.KEY] tables only"


def test_a_plan_is_due_start_plus_offset() -> None:
    t = OnboardingTemplate("k", "K", None, (TemplateMilestone("Kick-off", 0), TemplateMilestone("Training", 30,
                                            "customer", True), TemplateMilestone("Review", 365)))  # fmt: skip
    # 2026-01-31 + 30 = 2026-03-02 (28 days of February); + 365 = 2027-01-31
    assert plan(t, date(2026, 1, 31)) == [
        PlannedMilestone(0, "Kick-off", date(2026, 1, 31), "csm", False),
        PlannedMilestone(1, "Training", date(2026, 3, 2), "customer", True),
        PlannedMilestone(2, "Review", date(2027, 1, 31), "csm", False),
    ]


def test_a_plan_leaving_the_accepted_range_is_refused() -> None:
    t = OnboardingTemplate("k", "K", None, (TemplateMilestone("Kick-off", 0), TemplateMilestone("Review", 31)))
    # 2200-12-01 + 30 = 2200-12-31, the last day accepted; + 31 is 2201-01-01
    assert plan(OnboardingTemplate("k", "K", None, (TemplateMilestone("R", 30),)), date(2200, 12, 1))[0].due_on == \
        date(2200, 12, 31)  # fmt: skip
    with pytest.raises(DateOutOfRange, match=r"^2201-01-01 is outside the accepted range 1900-01-01 … 2200-12-31$"):
        plan(t, date(2200, 12, 1))
    with pytest.raises(DateOutOfRange, match=r"^1899-12-31 is outside the accepted range"):
        plan(t, date(1899, 12, 31))
    # a template built in code with an offset past year 9999: refused, not an OverflowError
    huge = OnboardingTemplate("k", "K", None, (TemplateMilestone("Far", 3_000_000),))
    with pytest.raises(DateOutOfRange, match=r"^2026-01-01 is outside the accepted range"):
        plan(huge, date(2026, 1, 1))


def _t(key: str, tier: str | None) -> OnboardingTemplate:
    return OnboardingTemplate(key, key, tier, (TemplateMilestone("m", 0),))


def test_the_template_for_a_tier_its_own_then_any_tiers_each_first_by_key() -> None:
    templates = [_t("z-high", "high"), _t("b-any", None), _t("a-high", "high"), _t("a-any", None), _t("low", "low")]
    assert pick(templates, "high") == _t("a-high", "high")
    assert pick(templates, "low") == _t("low", "low")
    assert pick(templates, "tech") == _t("a-any", None)  # no tech template: the first general one
    assert pick(templates, None) == _t("a-any", None)  # an account without a tier
    assert pick([_t("low", "low"), _t("a-high", "high")], None) is None
    assert pick([_t("low", "low")], "tech") is None
    assert pick([], "high") is None


def test_overdue_the_day_after_its_due_day() -> None:
    due = date(2026, 11, 4)
    assert overdue(due, False, date(2026, 11, 4)) is False  # due today: not yet
    assert overdue(due, False, date(2026, 11, 5)) is True
    assert overdue(due, True, date(2026, 11, 5)) is False  # done
    assert overdue(None, False, date(2026, 11, 5)) is False  # no due day
