"""The playbook editor's forms (``domain/playbook_forms.py``) on forms and tables written
here, without an app: which playbooks the forms can show, each kind of field as posted
text, a whole posted form as the playbook's table, a new step's defaults, moving a step
at the ends of the list, the paths the validator names, and the TOML written back.
"""

from __future__ import annotations

import tomllib
from datetime import date
from typing import Any

import pytest

from kizuna.domain.playbook_forms import (
    COOLDOWN,
    FORM_KEYS,
    HOLDOUT,
    FormField,
    _value,
    field_path,
    forms_cover,
    move,
    new_step,
    step_fields,
    table_from_form,
    to_toml,
)

RISK: dict[str, Any] = {
    "name": "Risk", "trigger": {"kind": "health_drop", "points": 10}, "filters": {"tier": ["high"]},
    "cooldown_days": 30, "holdout": 0.1, "exit_when_cleared": True, "enabled": True,
    "steps": [{"kind": "task", "title": "Call", "task_kind": "call", "priority": "high", "due_days": 2,
               "assignee": "owner", "notes": "n"}, {"kind": "wait", "days": 7}],
}  # fmt: skip


def test_the_forms_cover_a_playbook_of_their_own_keys_and_kinds() -> None:
    assert set(RISK) == FORM_KEYS  # every key the forms show, each trigger and step field of its kind
    assert forms_cover(RISK) is True
    assert forms_cover({"name": "x"}) is True  # fewer keys, no trigger, no steps
    assert forms_cover({**RISK, "trigger": "at_risk", "steps": None}) is True  # not tables: the check says why
    assert forms_cover({**RISK, "trigger": {"kind": "at_risk"}}) is True
    # what saving the forms would lose: an unknown key, a trigger's or a step's field or kind they do not show
    assert forms_cover({**RISK, "owner_note": "x"}) is False
    assert forms_cover({**RISK, "trigger": {"kind": "at_risk", "days": 3}}) is False
    assert forms_cover({**RISK, "trigger": {"kind": "someday", "days": 3}}) is False
    assert forms_cover({**RISK, "trigger": {"days": 3}}) is False  # no kind
    assert forms_cover({**RISK, "steps": [{"kind": "wait", "days": 7}, {"kind": "branch", "if": "x"}]}) is False
    assert forms_cover({**RISK, "steps": [{"kind": "email", "to": "champion", "ja": {"subject": "x"}}]}) is False
    assert forms_cover({**RISK, "steps": [{"kind": "wait", "days": 7}, "wait"]}) is False
    assert forms_cover({**RISK, "steps": [{"days": 7}]}) is False


def test_a_kinds_fields_and_the_paths_the_validator_names() -> None:
    assert step_fields("wait") == (FormField("days", "Days", "whole", default=7),)
    assert [f.name for f in step_fields("task")] == ["title", "task_kind", "priority", "due_days", "assignee", "notes"]
    assert step_fields("branch") == ()
    assert field_path("risk") == "risk"
    assert field_path("risk", "trigger", "days") == "risk.trigger.days"
    assert field_path("risk", "steps", 2, "title") == "risk.steps[2].title"


WHOLE = FormField("n", "N", "whole")
NUMBER = FormField("p", "P", "number")
CHOICE = FormField("c", "C", "choice", ("a", "b"), "a")
TEXT = FormField("t", "T")
FLAG = FormField("f", "F", "flag")


@pytest.mark.parametrize(("field", "raw", "value"), [
    (FLAG, None, False), (FLAG, "", False), (FLAG, "0", False), (FLAG, "false", False),
    (FLAG, "1", True), (FLAG, "on", True), (FLAG, "true", True),
    (WHOLE, None, None), (WHOLE, "", None), (WHOLE, "  ", None), (WHOLE, " 7 ", 7), (WHOLE, "-12", -12),
    (WHOLE, "123456789012", 123456789012), (WHOLE, "1234567890123", "1234567890123"),  # 13 digits stay text
    (WHOLE, "0.25", "0.25"), (WHOLE, "3x", "3x"),
    (NUMBER, "0.25", 0.25), (NUMBER, "-1.5", -1.5), (NUMBER, " 30 ", 30), (NUMBER, "1.", "1."),
    (NUMBER, "1.1234567890123", "1.1234567890123"), (NUMBER, "30%", "30%"),
    (CHOICE, " b ", "b"), (CHOICE, " ", None), (CHOICE, None, None),
    (TEXT, " hi ", " hi "), (TEXT, "a\r\nb", "a\nb"), (TEXT, " \r\n ", None), (TEXT, None, None),
])  # fmt: skip
def test_each_kind_of_field_as_posted(field: FormField, raw: str | None, value: Any) -> None:
    got = _value(field, raw)
    assert (got, type(got)) == (value, type(value))


def test_a_posted_form_becomes_the_playbooks_table() -> None:
    form: dict[str, Any] = {
        "key": "  risk-2 ", "name": ["Risk two", "ignored"], "trigger.kind": " health_drop ", "trigger.points": "12.5",
        "filters.tier": ["high", " low ", "high"], "filters.plan": "plan-a\r\nplan-b\n\n plan-a ",
        "filters.stage": [], "filters.owner": "", "cooldown_days": "30", "holdout": "", "exit_when_cleared": "1",
        "enabled": "0", "steps": "3",
        "s0.kind": "task", "s0.title": "Call {account}", "s0.task_kind": "call", "s0.priority": " high ",
        "s0.due_days": "2", "s0.assignee": "owner", "s0.notes": "",
        "s1.kind": " wait ", "s1.days": "",
        "s2.kind": "webhook", "s2.url": "https://hooks.example/x", "s2.text": "Hi\r\nthere",
        "s3.kind": "wait", "s3.days": "9",  # past the count: not read
    }  # fmt: skip
    assert table_from_form(form) == ("risk-2", {
        "name": "Risk two",
        "trigger": {"kind": "health_drop", "points": 12.5},
        "filters": {"tier": ["high", "low"], "plan": ["plan-a", "plan-b"]},
        "cooldown_days": 30,
        "exit_when_cleared": True, "enabled": False,
        "steps": [
            {"kind": "task", "title": "Call {account}", "task_kind": "call", "priority": "high", "due_days": 2,
             "assignee": "owner"},
            {"kind": "wait"},
            {"kind": "webhook", "url": "https://hooks.example/x", "text": "Hi\nthere", "slack": False},
        ],
    })  # fmt: skip


def test_an_empty_form_and_the_edges_of_the_step_count() -> None:
    assert table_from_form({}) == ("", {"name": "", "trigger": {"kind": ""}, "exit_when_cleared": False,
                                        "enabled": False, "steps": []})  # fmt: skip
    flags = {"exit_when_cleared": "false", "enabled": "", "holdout": "0.1", "cooldown_days": "x", "key": None,
             "name": [], "trigger.kind": "at_risk", "trigger.days": "3"}  # fmt: skip
    assert table_from_form(flags) == ("", {"name": "", "trigger": {"kind": "at_risk"}, "cooldown_days": "x",
                                           "holdout": 0.1, "exit_when_cleared": False, "enabled": False,
                                           "steps": []})  # fmt: skip
    waits = {f"s{i}.kind": "wait" for i in range(45)}
    assert len(table_from_form({**waits, "steps": "41"})[1]["steps"]) == 40  # at most 40 steps
    assert len(table_from_form({**waits, "steps": "40"})[1]["steps"]) == 40
    assert len(table_from_form({**waits, "steps": "39"})[1]["steps"]) == 39
    assert table_from_form({**waits, "steps": "-2"})[1]["steps"] == []
    assert table_from_form({**waits, "steps": "two"})[1]["steps"] == []
    # digits int() does not read ("²" is a digit to str.isdigit): no steps, not a ValueError (a 500)
    assert table_from_form({**waits, "steps": "²"})[1]["steps"] == []
    assert table_from_form({**waits, "steps": "1²"})[1]["steps"] == []
    assert table_from_form({**waits, "steps": ["1", "5"]})[1]["steps"] == [{"kind": "wait"}]
    # a step without a kind, and an unknown step kind, keep their kind only (the check names it)
    assert table_from_form({"steps": "1", "s0.days": "3"})[1]["steps"] == [{"kind": ""}]
    assert table_from_form({"steps": "1", "s0.kind": "branch", "s0.if": "x"})[1]["steps"] == [{"kind": "branch"}]


@pytest.mark.parametrize("name", ["exit_when_cleared", "enabled"])
def test_the_playbooks_own_check_boxes(name: str) -> None:
    for raw in (None, "", "0", "false", []):
        assert table_from_form({name: raw})[1][name] is False
    for raw in ("1", "on", "true", ["1"]):
        assert table_from_form({name: raw})[1][name] is True


def test_a_new_step_has_its_fields_defaults() -> None:
    assert new_step("task") == {"kind": "task", "title": "", "task_kind": "other", "priority": "normal",
                                "due_days": 3, "assignee": "owner"}  # notes: optional, left out
    assert new_step("webhook") == {"kind": "webhook", "url": "", "text": "", "slack": True}
    assert new_step("branch") == {"kind": "branch"}
    assert (COOLDOWN.kind, HOLDOUT.kind) == ("whole", "number")


def test_moving_a_step_stops_at_the_ends() -> None:
    steps = [{"kind": "a"}, {"kind": "b"}, {"kind": "c"}]
    a, b, c = steps
    assert move(steps, 0, 1) == [b, a, c]
    assert move(steps, 1, -1) == [b, a, c]
    assert move(steps, 2, -1) == [a, c, b]
    assert move(steps, 1, 1) == [a, c, b]
    assert move(steps, 0, -1) == [a, b, c]  # the first cannot go up
    assert move(steps, 2, 1) == [a, b, c]  # the last cannot go down
    assert move(steps, 3, -1) == [a, b, c]  # no such step
    assert move(steps, -1, 1) == [a, b, c]
    assert steps == [a, b, c]  # the list given is left as it was


def test_the_toml_written_back() -> None:
    table = {"name": "日本語 \"q\"", "trigger": {"kind": "health_drop", "points": 12.5},
             "filters": {"tier": ["high", "low"], "plan name": ["p"]}, "cooldown_days": 30, "enabled": False,
             "exit_when_cleared": True, "start": date(2026, 1, 2), "tags": ["a", 1],
             "steps": [{"kind": "wait", "days": 7}, {"kind": "email", "to": "champion", "subject": "件名"}]}  # fmt: skip
    text = to_toml("risk 2", table)
    assert text == (
        '[playbooks."risk 2"]\n'
        'name = "日本語 \\"q\\""\n'
        'trigger = { kind = "health_drop", points = 12.5 }\n'
        'filters = { tier = ["high", "low"], "plan name" = ["p"] }\n'
        "cooldown_days = 30\n"
        "enabled = false\n"
        "exit_when_cleared = true\n"
        'start = "2026-01-02"\n'
        'tags = ["a", 1]\n'
        "steps = [\n"
        '  { kind = "wait", days = 7 },\n'
        '  { kind = "email", to = "champion", subject = "件名" },\n'
        "]\n"
    )
    assert tomllib.loads(text)["playbooks"]["risk 2"] == {**table, "start": "2026-01-02"}
    # a key that is not bare is quoted as it is, not as escapes; capitals, digits, - and _ are bare
    assert to_toml("計画", {"名前": "x"}) == '[playbooks."計画"]\n"名前" = "x"\n'
    assert to_toml("Risk_2-b", {"Name": "x"}) == '[playbooks.Risk_2-b]\nName = "x"\n'
    # steps that are not a list are written as a plain value
    assert to_toml("k", {"steps": "none"}) == '[playbooks.k]\nsteps = "none"\n'
