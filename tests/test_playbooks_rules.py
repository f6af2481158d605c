"""The playbook rules (``domain/playbooks.py``) called directly, without a store or an app:
each step kind with its defaults, the trigger parameters at their limits, a branch's
condition read and evaluated for every operator, the flat program of nested branches with
its jumps, the refusals with their exact path and message, the candidates, the holdout drawn
by hash and the merge fields filled in — each value worked out by hand.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from kizuna.domain.playbooks import (
    TRIGGERS,
    AccountFacts,
    Condition,
    Playbook,
    Step,
    Trigger,
    count_steps,
    days_after,
    parse_playbook,
    parse_playbooks,
    register_trigger,
    render,
)
from kizuna.errors import ConfigurationError

WAIT = {"kind": "wait", "days": 1}


def book(steps: list[Any] | None = None, trigger: dict[str, Any] | None = None, **kw: Any) -> Playbook:
    raw = {"name": "P", "trigger": trigger or {"kind": "at_risk"}, "steps": steps or [WAIT], **kw}
    return parse_playbook("k", raw, "t.toml")


def step(raw: dict[str, Any]) -> Step:
    return book([raw]).steps[0]


def refused(raw_or_text: Any, key: str = "k") -> tuple[str | None, str]:
    """The refusal's path and its message after ``t.toml: <path>: ``."""
    def parse() -> object:
        if isinstance(raw_or_text, str):
            return parse_playbooks(raw_or_text, "t.toml")
        return parse_playbook(key, raw_or_text, "t.toml")

    with pytest.raises(ConfigurationError) as caught:
        parse()
    err = caught.value
    assert err.code == "invalid_playbook"
    prefix = f"t.toml: {err.field}: "
    assert err.message.startswith(prefix), err.message
    return err.field, err.message[len(prefix):]


def bad_step(raw: dict[str, Any]) -> tuple[str | None, str]:
    return refused({"name": "P", "trigger": {"kind": "at_risk"}, "steps": [raw]})


def facts(**kw: Any) -> AccountFacts:
    base: dict[str, Any] = {"account_id": 1, "tier": "high", "stage": "adoption", "plan": "pro", "health_score": 50.0,
                            "health_grade": "yellow", "health_change_30d": -5.0, "at_risk": False, "renewal_in": 30,
                            "customer_days": 100}  # fmt: skip
    return AccountFacts(**{**base, **kw})


# --- a playbook and its steps, with their defaults ---------------------------------------------------


def test_a_playbook_and_a_task_with_every_default() -> None:
    b = parse_playbook("risk", {"name": "  Risk  ", "trigger": {"kind": "at_risk"},
                                "steps": [{"kind": "task", "title": " Call {account} "}]}, "t.toml")  # fmt: skip
    task = Step("task", {"title": "Call {account}", "task_kind": "other", "priority": "normal", "due_days": 3,
                         "assignee": "owner", "users": None, "lead": None, "notes": None})  # fmt: skip
    assert b == Playbook(key="risk", name="Risk", trigger=Trigger("at_risk", {}), steps=(task,), filters={},
                         cooldown_days=30, holdout=0.0, exit_when_cleared=True, enabled=True,
                         flat=(("steps[1]", task),))  # fmt: skip
    set_ = book(cooldown_days=0, holdout=0.5, exit_when_cleared=False, enabled=False,
                filters={"tier": ["low", "high"], "plan": [" pro "], "owner": ["a@x.example"]})  # fmt: skip
    assert (set_.cooldown_days, set_.holdout, set_.exit_when_cleared, set_.enabled) == (0, 0.5, False, False)
    assert set_.filters == {"tier": ("low", "high"), "plan": ("pro",), "owner": ("a@x.example",)}
    assert book(cooldown_days=3650).cooldown_days == 3650
    assert parse_playbook("a" * 64, {"name": "P", "trigger": {"kind": "at_risk"}, "steps": [WAIT]}).key == "a" * 64


def test_each_step_kind_with_its_defaults() -> None:
    assert step({"kind": "email", "subject": "Hi {{ account }}", "body": "Text"}).params == {
        "to": "champion", "subject": "Hi {{ account }}", "body": "Text", "html": None, "ja": None, "en": None}  # fmt: skip
    assert step({"kind": "webhook", "text": "{account} is red"}).params == {
        "url": None, "text": "{account} is red", "slack": True}  # fmt: skip
    assert step({"kind": "webhook", "text": "x", "url": "http://h", "slack": False}).params == {
        "url": "http://h", "text": "x", "slack": False}  # fmt: skip
    assert step({"kind": "wait", "days": 365}).params == {"days": 365}
    assert step({"kind": "survey", "programme": "nps"}).params == {"programme": "nps", "to": "champion"}
    assert step({"kind": "onboarding_plan"}).params == {"template": "by_tier"}
    assert step({"kind": "article", "articles": "setup-guide, faq setup-guide"}).params == {
        "articles": ("setup-guide", "faq"), "to": "all_contacts"}  # fmt: skip
    rr = step({"kind": "task", "title": "x", "assignee": "round_robin", "users": [" A@X.example ", "b@x.example"],
               "lead": "Lead@X.example", "notes": "line 1\nline 2", "due_days": 0, "priority": "high",
               "task_kind": "renewal_prep"})  # fmt: skip
    assert rr.params == {"title": "x", "task_kind": "renewal_prep", "priority": "high", "due_days": 0,
                         "assignee": "round_robin", "users": ("a@x.example", "b@x.example"),
                         "lead": "lead@x.example", "notes": "line 1\nline 2"}  # fmt: skip
    both = step({"kind": "email", "ja": {"subject": "件名", "body": "本文"},
                 "en": {"subject": "Subject", "body": "Body", "html": "<p>Body</p>"}})  # fmt: skip
    assert both.params == {"to": "champion", "subject": None, "body": None, "html": None,
                           "ja": {"subject": "件名", "body": "本文"},
                           "en": {"subject": "Subject", "body": "Body", "html": "<p>Body</p>"}}  # fmt: skip


def test_the_trigger_parameters() -> None:
    def params(trigger: dict[str, Any]) -> Any:
        return book(trigger=trigger).trigger.params

    assert params({"kind": "health_grade", "grade": "red"}) == {"grade": "red"}
    assert params({"kind": "health_drop", "points": 100}) == {"points": 100.0}
    assert params({"kind": "health_drop", "points": 1}) == {"points": 1.0}
    assert params({"kind": "renewal_in_days", "days": 3650}) == {"days": 3650}
    assert params({"kind": "stage", "stage": "renewal"}) == {"stage": "renewal"}
    assert params({"kind": "opportunity_open", "type": "cross_sell"}) == {"type": "cross_sell"}
    # a probability: 0–1, or a percentage above 1 — 1 itself is 100 %, 50 is 50 %
    assert [params({"kind": "churn_risk_above", "probability": p})["probability"] for p in (1, 0.5, 50, 100, 0)] == [
        1.0, 0.5, 0.5, 1.0, 0]  # fmt: skip
    assert refused({"name": "P", "trigger": {"kind": "at_risk", "days": 3}, "steps": [WAIT]}) == (
        "k.trigger.days", "unknown key; known keys: kind")
    assert refused({"name": "P", "trigger": {"kind": "new_account", "days": 0}, "steps": [WAIT]}) == (
        "k.trigger.days", "must be from 1 to 3650, not 0")
    assert refused({"name": "P", "trigger": {"kind": "new_account", "days": 3651}, "steps": [WAIT]}) == (
        "k.trigger.days", "must be from 1 to 3650, not 3651")
    assert refused({"name": "P", "trigger": {"kind": "health_drop", "points": 100.5}, "steps": [WAIT]}) == (
        "k.trigger.points", "must be from 1 to 100, not 100.5")
    assert refused({"name": "P", "trigger": {"kind": "health_drop", "points": True}, "steps": [WAIT]}) == (
        "k.trigger.points", "must be a number, not True")
    assert refused({"name": "P", "trigger": {"kind": "health_grade", "grade": "blue"}, "steps": [WAIT]}) == (
        "k.trigger.grade", "must be one of: red, yellow, green, not 'blue'")
    assert refused({"name": "P", "steps": [WAIT]}) == ("k.trigger", "must be a table, not None")


def test_the_triggers_at_their_edges() -> None:
    def holds(trigger: dict[str, Any], **kw: Any) -> bool:
        return book(trigger=trigger).trigger.holds(facts(**kw))

    drop = {"kind": "health_drop", "points": 10}
    assert [holds(drop, health_change_30d=c) for c in (-10.0, -9.9, None)] == [True, False, False]
    renewal = {"kind": "renewal_in_days", "days": 40}
    assert [holds(renewal, renewal_in=d) for d in (40, 41, None)] == [True, False, False]
    new = {"kind": "new_account", "days": 30}
    assert [holds(new, customer_days=d) for d in (0, 30, 31, -1, None)] == [True, True, False, False, False]
    detractor, promoter = {"kind": "survey_detractor", "days": 14}, {"kind": "survey_promoter", "days": 14}
    assert [holds(detractor, nps_score=s, nps_days=d) for s, d in ((6, 14), (7, 0), (0, 15), (0, None), (None, 1))] == [
        True, False, False, False, False]  # fmt: skip
    assert [holds(promoter, nps_score=s, nps_days=d) for s, d in ((9, 14), (8, 0), (10, 15))] == [True, False, False]
    overdue = {"kind": "onboarding_overdue", "days": 3}
    assert [holds(overdue, onboarding_overdue_days=d) for d in (3, 2, None)] == [True, False, False]
    up = {"kind": "opportunity_open", "type": "upsell"}
    assert [holds(up, open_opportunities=o) for o in (frozenset({"upsell"}), frozenset({"cross_sell"}), None)] == [
        True, False, False]  # fmt: skip
    assert [holds({"kind": "stage", "stage": v}) for v in ("adoption", "renewal")] == [True, False]
    assert [holds({"kind": "health_grade", "grade": v}) for v in ("yellow", "red")] == [True, False]


# --- a branch's condition ----------------------------------------------------------------------------


def condition(raw: Any) -> Condition:
    cond = step({"kind": "branch", "if": raw, "then": [WAIT]}).params["if"]
    assert isinstance(cond, Condition)
    return cond


def bad_condition(raw: Any) -> tuple[str | None, str]:
    return bad_step({"kind": "branch", "if": raw, "then": [WAIT]})


def test_a_condition_is_read_with_its_default_operator_and_whole_numbers() -> None:
    assert condition({"field": "health_score", "value": 50}) == Condition("health_score", "==", 50)
    whole = condition({"field": "health_score", "op": "<", "value": 50.0}).value
    assert (whole, type(whole)) == (50, int)  # written 50.0, shown as 50
    assert condition({"field": "health_change_30d", "op": ">=", "value": -0.5}).value == -0.5
    assert condition({"field": "renewal_in", "op": "<=", "value": -1e9}).value == -1_000_000_000
    assert condition({"field": "at_risk", "value": True}) == Condition("at_risk", "==", True)
    assert condition({"field": "tier", "op": "in", "value": ["high", "low"]}) == Condition("tier", "in", ("high", "low"))
    assert condition({"field": "plan", "op": "not in", "value": [" pro "]}) == Condition("plan", "not in", ("pro",))
    assert condition({"field": "plan", "value": " pro "}) == Condition("plan", "==", "pro")
    assert condition({"field": "health_grade", "op": "!=", "value": "red"}) == Condition("health_grade", "!=", "red")
    assert condition({"field": "stage", "value": "renewal"}) == Condition("stage", "==", "renewal")
    assert str(condition({"field": "health_score", "op": "<", "value": 49.5})) == "health_score < 49.5"
    assert str(condition({"field": "tier", "op": "in", "value": ["high", "low"]})) == "tier in high, low"
    assert str(condition({"field": "at_risk", "value": False})) == "at_risk == False"


def test_a_bad_condition_names_its_path() -> None:
    at = "k.steps[1].if"
    assert bad_condition({"field": "health_score", "value": 1e9 + 1}) == (
        f"{at}.value", "must be from -1000000000.0 to 1000000000.0, not 1000000001.0")
    assert bad_condition({"field": "health_score", "op": "in", "value": [1]}) == (
        f"{at}.op", "must be one of: <, <=, >, >=, ==, !=, not 'in'")
    assert bad_condition({"field": "at_risk", "op": "!=", "value": True}) == (
        f"{at}.op", "must be one of: ==, not '!='")
    assert bad_condition({"field": "at_risk", "value": 1}) == (f"{at}.value", "must be true or false, not 1")
    assert bad_condition({"field": "tier", "op": "<", "value": "high"}) == (
        f"{at}.op", "must be one of: ==, !=, in, not in, not '<'")
    assert bad_condition({"field": "tier", "op": "in", "value": []}) == (
        f"{at}.value", "must be a list of values, not []")
    assert bad_condition({"field": "tier", "op": "not in", "value": "high"}) == (
        f"{at}.value", "must be a list of values, not 'high'")
    assert bad_condition({"field": "stage", "op": "in", "value": ["renewal", "won"]}) == (
        f"{at}.value[1]", "must be one of: onboarding, adoption, expansion, renewal, churned, not 'won'")
    assert bad_condition({"field": "plan", "value": "p" * 65}) == (f"{at}.value", "is longer than 64 characters")
    assert bad_condition({"field": "plan", "value": "x", "unit": "yen"}) == (
        f"{at}.unit", "unknown key; known keys: field, op, value")
    assert bad_condition("health_score < 50") == (at, "must be a table, not 'health_score < 50'")


def test_a_condition_holds_for_each_operator_and_never_on_a_missing_figure() -> None:
    ops = ("<", "<=", ">", ">=", "==", "!=")
    # the account's score is 50
    assert [Condition("health_score", op, 50).holds(facts()) for op in ops] == [False, True, False, True, True, False]
    assert [Condition("health_score", op, 49.5).holds(facts()) for op in ops] == [
        False, False, True, True, False, True]  # fmt: skip
    assert [Condition("health_score", op, 50).holds(facts(health_score=None)) for op in ops] == [False] * 6
    assert Condition("tier", "in", ("high", "low")).holds(facts())
    assert not Condition("tier", "not in", ("high", "low")).holds(facts())
    assert Condition("tier", "not in", ("high", "low")).holds(facts(tier="tech"))
    assert not Condition("tier", "not in", ("high",)).holds(facts(tier=None))  # missing: never holds
    assert Condition("at_risk", "==", False).holds(facts())  # False is a figure, not a missing one


# --- nested branches as one program ------------------------------------------------------------------


def test_nested_branches_become_one_list_with_jumps() -> None:
    def task(title: str) -> dict[str, Any]:
        return {"kind": "task", "title": title}

    inner = {"kind": "branch", "if": {"field": "at_risk", "value": True}, "then": [task("C")]}
    outer = {"kind": "branch", "if": {"field": "health_score", "op": "<", "value": 40},
             "then": [task("B"), {"kind": "wait", "days": 2}, inner], "else": [task("D")]}  # fmt: skip
    b = book([task("A"), outer, task("E")])
    assert [(path, s.kind) for path, s in b.flat] == [
        ("steps[1]", "task"),  # 0
        ("steps[2]", "branch"),  # 1: else at 8, end at 9
        ("steps[2].then[1]", "task"),  # 2
        ("steps[2].then[2]", "wait"),  # 3
        ("steps[2].then[3]", "branch"),  # 4: no else steps: else and end at 7
        ("steps[2].then[3].then[1]", "task"),  # 5
        ("steps[2].then[3].end", "goto"),  # 6 → 7
        ("steps[2].end", "goto"),  # 7 → 9
        ("steps[2].else[1]", "task"),  # 8
        ("steps[3]", "task"),  # 9
    ]
    flat = [s for _path, s in b.flat]
    assert (flat[1].params["else_at"], flat[1].params["end_at"]) == (8, 9)
    assert (flat[4].params["else_at"], flat[4].params["end_at"]) == (7, 7)
    assert (flat[6].params, flat[7].params) == ({"to": 7}, {"to": 9})
    assert flat[1].params["if"] == Condition("health_score", "<", 40)
    assert flat[8].params["title"] == "D"
    # A, the branch (1) with B, the wait and the inner branch (1 + C), D, E: 8 steps
    assert count_steps(b.steps) == 8


def test_at_most_30_steps_60_with_branches_and_branches_three_deep() -> None:
    assert len(book([WAIT] * 30).steps) == 30
    assert bad_step_list([WAIT] * 31) == ("k.steps", "at most 30 steps")

    def branch(n: int) -> dict[str, Any]:
        return {"kind": "branch", "if": {"field": "at_risk", "value": True}, "then": [WAIT] * n}

    assert count_steps(book([branch(29), branch(29)]).steps) == 60  # 2 × (1 + 29)
    in_all = "at most 60 steps in all, counting the steps inside branches"
    assert bad_step_list([branch(29), branch(30)]) == ("k.steps", in_all)  # 30 + 31 = 61, two top-level steps
    assert bad_step_list([branch(29), branch(29)] + [WAIT] * 29) == ("k.steps", "at most 30 steps")  # 31 top-level

    def nested(depth: int) -> dict[str, Any]:
        raw: dict[str, Any] = WAIT
        for _ in range(depth):
            raw = {"kind": "branch", "if": {"field": "at_risk", "value": True}, "then": [raw]}
        return raw

    assert count_steps(book([nested(3)]).steps) == 4  # three branches and the wait
    assert bad_step_list([nested(4)]) == ("k.steps[1].then[1].then[1].then[1].then", "branches nest at most 3 deep")
    assert bad_step({"kind": "branch", "if": {"field": "at_risk", "value": True}, "then": "wait"}) == (
        "k.steps[1].then", "must be a list of steps, not 'wait'")
    assert bad_step_list([]) == ("k.steps", "a playbook needs at least one step")
    assert refused({"name": "P", "trigger": {"kind": "at_risk"}}) == ("k.steps", "a playbook needs at least one step")


def bad_step_list(steps: list[Any]) -> tuple[str | None, str]:
    return refused({"name": "P", "trigger": {"kind": "at_risk"}, "steps": steps})


# --- refusals --------------------------------------------------------------------------------------


def test_fields_are_refused_with_their_path_and_why() -> None:
    s = "k.steps[1]"
    assert bad_step({"kind": "wait"}) == (f"{s}.days", "is missing")
    assert bad_step({"kind": "wait", "days": 2.0}) == (f"{s}.days", "must be a whole number, not 2.0")
    assert bad_step({"kind": "wait", "days": True}) == (f"{s}.days", "must be a whole number, not True")
    assert bad_step({"kind": "wait", "days": 366}) == (f"{s}.days", "must be from 1 to 365, not 366")
    assert bad_step({"kind": "nap"}) == (
        f"{s}.kind", "must be one of: task, email, webhook, wait, survey, onboarding_plan, article, branch, not 'nap'")
    assert bad_step({"kind": "wait", "days": 1, "hours": 2}) == (f"{s}.hours", "unknown key; known keys: days, kind")
    assert bad_step({"kind": "task", "title": "  "}) == (f"{s}.title", "must be a text, not '  '")
    assert bad_step({"kind": "task", "title": "t" * 301}) == (f"{s}.title", "is longer than 300 characters")
    assert step({"kind": "task", "title": "t" * 300}).params["title"] == "t" * 300
    assert bad_step({"kind": "task", "title": "Call {score}"}) == (
        f"{s}.title", "unknown merge field {score}; known: account, health_score, owner, renewal_on, stage, tier")
    assert bad_step({"kind": "task", "title": "Call {account"}) == (
        f"{s}.title", "a brace is not closed; write { and } for a brace")
    assert step({"kind": "task", "title": "Call {{ {account} }}"}).params["title"] == "Call {{ {account} }}"
    assert bad_step({"kind": "webhook", "text": "x", "slack": "yes"}) == (
        f"{s}.slack", "must be true or false, not 'yes'")
    assert bad_step({"kind": "webhook", "text": "x", "url": "ftp://h/x"}) == (
        f"{s}.url", "must start with https:// or http://")
    assert bad_step({"kind": "webhook", "text": "x", "url": "https://"}) == (
        f"{s}.url", "must start with https:// or http://")
    assert bad_step("wait") == (s, "must be a table, not 'wait'")  # type: ignore[arg-type]


def test_addresses_and_article_slugs() -> None:
    s = "k.steps[1]"
    rr = {"kind": "task", "title": "x", "assignee": "round_robin"}
    assert bad_step({**rr, "users": []}) == (f"{s}.users", "must be a list of 1 to 50 user email addresses")
    assert bad_step({**rr, "users": "a@x.example"}) == (f"{s}.users", "must be a list of 1 to 50 user email addresses")
    many = [f"u{i}@x.example" for i in range(51)]
    assert bad_step({**rr, "users": many}) == (f"{s}.users", "must be a list of 1 to 50 user email addresses")
    assert len(step({**rr, "users": many[:50]}).params["users"]) == 50
    assert bad_step({**rr, "users": ["a@x.example", "a@@x"]}) == (
        f"{s}.users[1]", "must be an email address, not 'a@@x'")
    long = "a" * 244 + "@x.example"  # 244 + 10 = 254 characters: the longest address
    assert step({"kind": "task", "title": "x", "lead": long}).params["lead"] == long
    assert bad_step({"kind": "task", "title": "x", "lead": "a" + long}) == (
        f"{s}.lead", f"must be an email address, not 'a{long}'")
    assert bad_step({"kind": "task", "title": "x", "lead": "two words@x.example"})[0] == f"{s}.lead"
    art = {"kind": "article"}
    assert step({**art, "articles": ["faq"]}).params["articles"] == ("faq",)
    slugs = [f"a{i}" for i in range(11)]
    assert step({**art, "articles": slugs[:10]}).params["articles"] == tuple(slugs[:10])
    assert bad_step({**art, "articles": slugs}) == (f"{s}.articles", "must be a list of 1 to 10 article slugs")
    assert bad_step({**art, "articles": " , "}) == (f"{s}.articles", "must be a list of 1 to 10 article slugs")
    assert bad_step({**art, "articles": 5}) == (f"{s}.articles", "must be a list of 1 to 10 article slugs")
    assert bad_step({**art, "articles": ["faq", "Set Up"]}) == (
        f"{s}.articles[1]", "a slug is 1–120 lower-case letters, digits or -, not 'Set Up'")
    assert bad_step({**art, "articles": ["X" * 50]}) == (
        f"{s}.articles[0]", f"a slug is 1–120 lower-case letters, digits or -, not '{'X' * 40}'")
    assert bad_step({**art, "articles": [7]}) == (
        f"{s}.articles[0]", "a slug is 1–120 lower-case letters, digits or -, not '7'")


def test_an_email_needs_a_subject_and_a_text_in_some_language() -> None:
    s = "k.steps[1]"
    need = "is missing: an email needs a subject and a text"
    assert bad_step({"kind": "email", "subject": "Hi"}) == (f"{s}.body", need)
    assert bad_step({"kind": "email", "body": "Text"}) == (f"{s}.subject", need)
    assert bad_step({"kind": "email", "to": "champion"}) == (f"{s}.subject", need)
    assert bad_step({"kind": "email", "subject": "Hi\nthere", "body": "x"}) == (f"{s}.subject", "must be one line")
    assert bad_step({"kind": "email", "subject": "Hi\rthere", "body": "x"}) == (f"{s}.subject", "must be one line")
    assert step({"kind": "email", "subject": "Hi", "body": "line 1\nline 2"}).params["body"] == "line 1\nline 2"
    assert bad_step({"kind": "email", "ja": {"subject": "件名"}}) == (f"{s}.ja.body", need)
    assert bad_step({"kind": "email", "en": {"body": "Body"}}) == (f"{s}.en.subject", need)
    assert bad_step({"kind": "email", "ja": {"subject": "件\n名", "body": "x"}}) == (f"{s}.ja.subject", "must be one line")
    assert bad_step({"kind": "email", "ja": {"subject": "a", "body": "b", "to": "c"}}) == (
        f"{s}.ja.to", "unknown key; known keys: body, html, subject")
    assert bad_step({"kind": "email", "ja": "件名"}) == (f"{s}.ja", "must be a table, not '件名'")
    assert bad_step({"kind": "email", "subject": "s" * 201, "body": "x"}) == (
        f"{s}.subject", "is longer than 200 characters")
    assert bad_step({"kind": "task", "title": "x", "assignee": "round_robin"}) == (
        f"{s}.users", "round robin needs the list of users who take turns")
    assert bad_step({"kind": "task", "title": "x", "users": ["a@x.example"]}) == (
        f"{s}.users", "only a round-robin assignee takes a list of users")
    assert bad_step({"kind": "branch", "if": {"field": "at_risk", "value": True}, "then": [], "else": []}) == (
        f"{s}.then", "a branch needs steps in then or else")
    only_else = step({"kind": "branch", "if": {"field": "at_risk", "value": True}, "else": [WAIT]})
    assert (only_else.params["then"], only_else.params["else"]) == ((), (Step("wait", {"days": 1}),))


def test_a_playbook_and_a_file_are_refused_with_their_path_and_why() -> None:
    ok: dict[str, Any] = {"name": "P", "trigger": {"kind": "at_risk"}, "steps": [WAIT]}
    assert refused(ok, key="a" * 65) == ("a" * 65, "a playbook key is 1–64 lower-case letters, digits, - or _")
    assert refused(ok, key="-a")[0] == "-a"
    assert refused({**ok, "name": None}) == ("k.name", "must be a text, not None")
    assert refused({**ok, "name": "n" * 201}) == ("k.name", "is longer than 200 characters")
    assert refused({**ok, "colour": 1}) == (
        "k.colour", "unknown key; known keys: cooldown_days, enabled, exit_when_cleared, filters, holdout, name, "
                    "steps, trigger")  # fmt: skip
    assert refused({**ok, "filters": {"region": ["x"]}}) == (
        "k.filters.region", "unknown key; known keys: owner, plan, stage, tier")
    assert refused({**ok, "filters": {"tier": "high"}}) == ("k.filters.tier", "must be a list of values, not 'high'")
    assert refused({**ok, "filters": {"stage": []}}) == ("k.filters.stage", "must be a list of values, not []")
    assert refused({**ok, "filters": {"stage": ["renewal", "won"]}})[0] == "k.filters.stage[1]"
    assert refused({**ok, "filters": {"plan": ["pro", ""]}}) == ("k.filters.plan[1]", "must be a text, not ''")
    assert refused({**ok, "filters": "high"}) == ("k.filters", "must be a table, not 'high'")
    assert refused({**ok, "cooldown_days": 3651}) == ("k.cooldown_days", "must be from 0 to 3650, not 3651")
    assert refused({**ok, "holdout": 0.51}) == ("k.holdout", "must be from 0 to 0.5, not 0.51")
    assert refused({**ok, "exit_when_cleared": "yes"}) == ("k.exit_when_cleared", "must be true or false, not 'yes'")
    assert refused({**ok, "enabled": 0}) == ("k.enabled", "must be true or false, not 0")
    assert refused("[other]\nx = 1\n") == ("other", "unknown table; a playbook file holds [playbooks.<key>] tables")
    assert refused("playbooks = 1\n") == ("playbooks", "must be a table, not 1")
    assert parse_playbooks("", "t.toml") == ()
    with pytest.raises(ConfigurationError) as caught:
        parse_playbooks("[playbooks.k\n", "t.toml")
    assert (caught.value.code, caught.value.field) == ("invalid_playbook", None)
    assert caught.value.message.startswith("t.toml: ")


# --- candidates, matching, the holdout, merge fields -------------------------------------------------


def test_candidates_follow_the_tier_filter_in_its_order() -> None:
    h, lo, t, none = facts(account_id=1), facts(account_id=2, tier="low"), facts(account_id=3, tier="tech"), facts(
        account_id=4, tier=None)  # fmt: skip
    by_tier: dict[str | None, list[AccountFacts]] = {"high": [h], "low": [lo], "tech": [t], None: [none]}
    assert book(filters={"tier": ["low", "high"]}).candidates(by_tier) == [lo, h]
    assert book(filters={"tier": ["low"]}).candidates({"high": [h]}) == []  # no low-touch account
    assert book().candidates(by_tier) == [h, lo, t, none]  # no tier filter: every account
    assert book(filters={"plan": ["pro"]}).candidates(by_tier) == [h, lo, t, none]
    pro = book(filters={"plan": ["pro"], "owner": ["a@x.example"]})
    assert pro.matches(facts(at_risk=True, owner="a@x.example"))
    assert not pro.matches(facts(at_risk=True, owner="b@x.example"))
    assert not pro.matches(facts(at_risk=True, owner="a@x.example", plan="basic"))
    assert not pro.matches(facts(at_risk=False, owner="a@x.example"))  # filters pass, the trigger does not hold


def test_the_holdout_by_hash() -> None:
    # sha256("k:<id>")'s first 8 bytes ÷ 2**64: id 1 → 0x3263756b4d55dcaf / 2**64 = 0.19683…,
    # 3 → 0x1bc277491a752b00 → 0.10843…, 6 → 0x0a9769c2322b06dd → 0.04137…, 2 → 0.91700…
    ten = book(holdout=0.1)
    assert [ten.in_holdout(i) for i in (1, 2, 3, 6)] == [False, False, False, True]
    fifth = book(holdout=0.2)
    assert [fifth.in_holdout(i) for i in (1, 2, 3, 6)] == [True, False, True, True]
    assert [book(holdout=0.0).in_holdout(i) for i in (1, 2, 3, 6)] == [False] * 4


def test_merge_fields_and_days() -> None:
    values = {"account": "ACME", "health_score": 0, "owner": None, "password": "x"}
    text = "{account} {health_score} {owner} {tier} {stage} {renewal_on}"
    assert render(text, values) == "ACME 0 — — — —"  # 0 is a value; missing ones show as —
    assert days_after(date(2026, 2, 27), 2) == date(2026, 3, 1)


def test_an_owner_filter_typed_in_capitals_matches_the_owner() -> None:
    # users' emails are stored in lower case (services.auth.create_user), and so is the owner the
    # facts carry: a filter written "Tanaka@Example.COM" matched no account at all before
    b = book(filters={"owner": [" Tanaka@Example.COM "]})
    assert b.filters == {"owner": ("tanaka@example.com",)}
    assert b.matches(facts(at_risk=True, owner="tanaka@example.com"))


def test_a_later_feature_registers_its_own_trigger() -> None:
    def check(r: Any, path: str, t: Any) -> dict[str, Any]:
        return {"given": t.get("given")}

    register_trigger("test_given", check, lambda f, p: f.account_id == p["given"])
    try:
        b = book(trigger={"kind": "test_given", "given": 7})
        assert b.trigger == Trigger("test_given", {"given": 7})
        assert [b.trigger.holds(facts(account_id=i)) for i in (7, 8)] == [True, False]
    finally:
        del TRIGGERS["test_given"]


def test_each_trigger_names_its_own_bad_parameter() -> None:
    def bad(trigger: dict[str, Any]) -> tuple[str | None, str]:
        return refused({"name": "P", "trigger": trigger, "steps": [WAIT]})

    # the known keys in alphabetical order
    for kind, param, keys in (("renewal_in_days", "days", "days, kind"), ("health_grade", "grade", "grade, kind"),
                              ("health_drop", "points", "kind, points"),
                              ("churn_risk_above", "probability", "kind, probability"),
                              ("stage", "stage", "kind, stage"), ("opportunity_open", "type", "kind, type")):  # fmt: skip
        assert bad({"kind": kind, param: None, "colour": 1}) == ("k.trigger.colour", f"unknown key; known keys: {keys}")
    assert bad({"kind": "stage", "stage": "won"}) == (
        "k.trigger.stage", "must be one of: onboarding, adoption, expansion, renewal, churned, not 'won'")
    assert bad({"kind": "opportunity_open", "type": "renewal"}) == (
        "k.trigger.type", "must be one of: upsell, cross_sell, not 'renewal'")
    assert bad({"kind": "churn_risk_above", "probability": 100.5}) == (
        "k.trigger.probability", "must be from 0 to 100, not 100.5")
    # 2 is a percentage: 2 % = 0.02
    assert book(trigger={"kind": "churn_risk_above", "probability": 2}).trigger.params == {"probability": 0.02}
    # a grade condition takes a grade only
    assert bad_condition({"field": "health_grade", "value": "blue"}) == (
        "k.steps[1].if.value", "must be one of: red, yellow, green, not 'blue'")


def test_only_templates_read_merge_fields_and_each_field_names_its_path() -> None:
    # a name, a survey key or a plan is plain text: braces are kept, not read as merge fields
    assert parse_playbook("k", {"name": "Renewals {Q4}", "trigger": {"kind": "at_risk"}, "steps": [WAIT]}).name == (
        "Renewals {Q4}")  # fmt: skip
    s = "k.steps[1]"
    assert bad_step({"kind": "task", "title": "x", "priority": "urgent"}) == (
        f"{s}.priority", "must be one of: low, normal, high, not 'urgent'")
    assert bad_step({"kind": "webhook", "text": "x", "url": ""}) == (f"{s}.url", "must be a text, not ''")
    # a text and a language version without a subject: the subject is what is missing
    assert bad_step({"kind": "email", "body": "Text", "ja": {"subject": "件名", "body": "本文"}}) == (
        f"{s}.subject", "is missing: an email needs a subject and a text")


def test_a_file_of_playbooks_and_the_refusals_of_one() -> None:
    text = ('[playbooks.a]\nname = "A"\ntrigger = { kind = "at_risk" }\nsteps = [{ kind = "wait", days = 1 }]\n'
            '[playbooks.b]\nname = "B"\ntrigger = { kind = "stage", stage = "renewal" }\nsteps = [{ kind = "wait", days = 2 }]\n')  # fmt: skip
    assert [(b.key, b.name, b.trigger, b.steps) for b in parse_playbooks(text, "t.toml")] == [
        ("a", "A", Trigger("at_risk", {}), (Step("wait", {"days": 1}),)),
        ("b", "B", Trigger("stage", {"stage": "renewal"}), (Step("wait", {"days": 2}),))]  # fmt: skip
    assert refused(text.replace("days = 2", "days = 0")) == ("b.steps[1].days", "must be from 1 to 365, not 0")
    with pytest.raises(ConfigurationError) as caught:  # without a source: "playbooks"
        parse_playbook("k", {"name": "", "trigger": {"kind": "at_risk"}, "steps": [WAIT]})
    assert caught.value.message == "playbooks: k.name: must be a text, not ''"
    with pytest.raises(ConfigurationError) as caught:
        parse_playbook("k", "at_risk", "t.toml")
    assert (caught.value.field, caught.value.message) == ("k", "t.toml: k: must be a table, not 'at_risk'")
    ok: dict[str, Any] = {"name": "P", "trigger": {"kind": "sunny"}, "steps": [WAIT]}
    assert refused(ok)[0] == "k.trigger.kind"
    assert refused({**ok, "trigger": {"kind": "at_risk"}, "filters": {"tier": ["gold"]}}) == (
        "k.filters.tier[0]", "must be one of: high, low, tech, not 'gold'")
    assert refused({**ok, "trigger": {"kind": "at_risk"}, "filters": {"plan": ["p" * 255]}}) == (
        "k.filters.plan[0]", "is longer than 254 characters")
    # plan names keep their case (only owners' emails are lowered)
    assert book(filters={"plan": ["Pro", "p" * 254]}).filters == {"plan": ("Pro", "p" * 254)}
