"""Playbooks (プレイブック): when an account meets a trigger (and the filters), what to do
about it, step by step — the seeds' "for each lifecycle phase × touch tier, decide the
action, act, measure" as data.

A playbook is written in TOML (one file may hold several)::

    [playbooks.risk-high]
    name = "High touch: account at risk"
    trigger = { kind = "at_risk" }               # see TRIGGERS
    filters = { tier = ["high"] }                # tier, stage, plan (plan codes)
    cooldown_days = 60                           # not again within 60 days of the last end
    holdout = 0.1                                # this share gets nothing (the control group)
    exit_when_cleared = true                     # stop when the trigger no longer holds

    [[playbooks.risk-high.steps]]
    kind = "task"                                # task | email | webhook | wait | branch | survey | onboarding_plan | article
    title = "Executive call: {account}"
    task_kind = "call"
    priority = "high"
    due_days = 2

This module is pure: it parses and checks definitions (each refusal names the path, e.g.
``risk-high.steps[2].days``), evaluates triggers and filters on an account's figures, and
draws the holdout by hash. ``kizuna.services.playbooks`` runs them.
"""

from __future__ import annotations

import hashlib
import re
import string
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from kizuna.domain.kb import SLUG as ARTICLE_SLUG
from kizuna.errors import ConfigurationError
from kizuna.i18n import N_, _

KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MERGE_FIELDS = frozenset({"account", "owner", "renewal_on", "health_score", "tier", "stage"})
TASK_KINDS = ("call", "meeting", "email", "review", "renewal_prep", "other")
PRIORITIES = ("low", "normal", "high")
#: owner: the account's owner; lead: the owner's team lead (else the step's ``lead``); round_robin:
#: the step's ``users`` in turn (the turn is stored, so it carries over between runs)
ASSIGNEES = ("owner", "lead", "round_robin")
RECIPIENTS = ("champion", "all_contacts")
TIERS = ("high", "low", "tech")
OPPORTUNITY_TYPES = ("upsell", "cross_sell")
STAGES = ("onboarding", "adoption", "expansion", "renewal", "churned")
GRADES = ("red", "yellow", "green")


@dataclass(frozen=True)
class AccountFacts:
    """What a trigger or filter reads of an account (from the accounts list's row)."""

    account_id: int
    tier: str | None
    stage: str | None
    plan: str | None
    health_score: float | None
    health_grade: str | None
    health_change_30d: float | None
    at_risk: bool
    renewal_in: int | None  # days to the renewal of a committed term; None: none, or monthly
    customer_days: int | None  # days since the account became a customer
    owner: str | None = None  # the owner's email
    churn_risk: float | None = None  # issue 16: probability of churn within the model's horizon (0–1)
    nps_score: int | None = None  # the newest NPS answer's score (issue 17)
    nps_days: int | None = None  # days since that answer
    onboarding_overdue_days: int | None = None  # days the most overdue open onboarding milestone is late
    open_opportunities: frozenset[str] | None = None  # issue 16: the types of its open opportunities


@dataclass(frozen=True)
class Trigger:
    kind: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def holds(self, facts: AccountFacts) -> bool:
        return TRIGGERS[self.kind][1](facts, self.params)


@dataclass(frozen=True)
class Step:
    kind: str
    params: Mapping[str, Any]


@dataclass(frozen=True)
class Playbook:
    key: str
    name: str
    trigger: Trigger
    steps: tuple[Step, ...]
    filters: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    cooldown_days: int = 30
    holdout: float = 0.0
    exit_when_cleared: bool = True
    enabled: bool = True
    flat: tuple[tuple[str, Step], ...] = ()  # the steps as one list with jumps (see :func:`program`)

    def matches(self, facts: AccountFacts) -> bool:
        """The filters pass and the trigger holds."""
        for name, allowed in self.filters.items():  # tier, stage, plan, owner: fields of AccountFacts
            if getattr(facts, name) not in allowed:
                return False
        return self.trigger.holds(facts)

    def candidates(self, by_tier: Mapping[str | None, list[AccountFacts]]) -> list[AccountFacts]:
        """The accounts worth testing: those of the tiers the filter allows (all when it names none)."""
        tiers = self.filters.get("tier")
        if tiers is None:
            return [f for group in by_tier.values() for f in group]
        return [f for tier in tiers for f in by_tier.get(tier, ())]

    def in_holdout(self, account_id: int) -> bool:
        """Reproducible: the same playbook and account always draw the same."""
        return self.holdout > 0 and holdout_draw(self.key, account_id) < self.holdout


def holdout_draw(playbook: str, account_id: int) -> float:
    """A number in [0, 1) from the hash of the playbook key and the account id."""
    digest = hashlib.sha256(f"{playbook}:{account_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


# --- triggers: kind → (parameter checks, predicate) -----------------------------------------------

Check = Callable[["_Reader", str, Mapping[str, Any]], dict[str, Any]]
Predicate = Callable[[AccountFacts, Mapping[str, Any]], bool]


def _no_params(r: _Reader, path: str, t: Mapping[str, Any]) -> dict[str, Any]:
    r.known(path, t, {"kind"})
    return {}


def _days_param(r: _Reader, path: str, t: Mapping[str, Any]) -> dict[str, Any]:
    r.known(path, t, {"kind", "days"})
    return {"days": r.whole(f"{path}.days", t.get("days"), 1, 3650)}


def _grade_param(r: _Reader, path: str, t: Mapping[str, Any]) -> dict[str, Any]:
    r.known(path, t, {"kind", "grade"})
    return {"grade": r.choice(f"{path}.grade", t.get("grade"), GRADES)}


def _points_param(r: _Reader, path: str, t: Mapping[str, Any]) -> dict[str, Any]:
    r.known(path, t, {"kind", "points"})
    return {"points": r.number(f"{path}.points", t.get("points"), 1, 100)}


def _probability_param(r: _Reader, path: str, t: Mapping[str, Any]) -> dict[str, Any]:
    """``probability``: 0–1, or a percentage above 1 (30 = 0.3)."""
    r.known(path, t, {"kind", "probability"})
    value = r.number(f"{path}.probability", t.get("probability"), 0, 100)
    return {"probability": value / 100 if value > 1 else value}


def _stage_param(r: _Reader, path: str, t: Mapping[str, Any]) -> dict[str, Any]:
    r.known(path, t, {"kind", "stage"})
    return {"stage": r.choice(f"{path}.stage", t.get("stage"), STAGES)}


def _opportunity_param(r: _Reader, path: str, t: Mapping[str, Any]) -> dict[str, Any]:
    r.known(path, t, {"kind", "type"})
    return {"type": r.choice(f"{path}.type", t.get("type"), OPPORTUNITY_TYPES)}


#: The triggers there are. A later feature registers its own (churn risk, an opportunity)
#: with :func:`register_trigger`.
TRIGGERS: dict[str, tuple[Check, Predicate]] = {
    "at_risk": (_no_params, lambda f, p: f.at_risk),
    "health_grade": (_grade_param, lambda f, p: f.health_grade == p["grade"]),
    "health_drop": (_points_param, lambda f, p: f.health_change_30d is not None
                    and f.health_change_30d <= -p["points"]),
    "renewal_in_days": (_days_param, lambda f, p: f.renewal_in is not None and f.renewal_in <= p["days"]),
    "new_account": (_days_param, lambda f, p: f.customer_days is not None and 0 <= f.customer_days <= p["days"]),
    "stage": (_stage_param, lambda f, p: f.stage == p["stage"]),
    "churn_risk_above": (_probability_param, lambda f, p: f.churn_risk is not None and f.churn_risk > p["probability"]),
    # the newest NPS answer, given within the last N days, was a detractor's (0–6) / a promoter's (9–10)
    "survey_detractor": (_days_param, lambda f, p: f.nps_score is not None and f.nps_score <= 6
                         and f.nps_days is not None and f.nps_days <= p["days"]),
    "survey_promoter": (_days_param, lambda f, p: f.nps_score is not None and f.nps_score >= 9
                        and f.nps_days is not None and f.nps_days <= p["days"]),
    # an onboarding milestone open ``days`` or more days after its due day (1: the day after)
    "onboarding_overdue": (_days_param, lambda f, p: f.onboarding_overdue_days is not None
                           and f.onboarding_overdue_days >= p["days"]),
    "opportunity_open": (_opportunity_param, lambda f, p: p["type"] in (f.open_opportunities or ())),
}  # fmt: skip


def register_trigger(kind: str, check: Check, predicate: Predicate) -> None:
    TRIGGERS[kind] = (check, predicate)


# --- reading a definition ------------------------------------------------------------------------


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: str, why: str) -> ConfigurationError:
        return ConfigurationError(f"{self.source}: {path}: {why}", code="invalid_playbook", field=path)

    def table(self, path: str, value: Any) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, _("must be a table, not {value!r}").format(value=value))
        return value

    def known(self, path: str, table: Mapping[str, Any], allowed: set[str]) -> None:
        for key in table:
            if key not in allowed:
                raise self.fail(f"{path}.{key}", _("unknown key; known keys: {keys}").format(
                    keys=", ".join(sorted(allowed))))  # fmt: skip

    def number(self, path: str, value: Any, lo: float, hi: float) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(path, _("must be a number, not {value!r}").format(value=value))
        if not lo <= value <= hi:
            raise self.fail(path, _("must be from {lo} to {hi}, not {value}").format(lo=lo, hi=hi, value=value))
        return float(value)

    def whole(self, path: str, value: Any, lo: int, hi: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(path, _("must be a whole number, not {value!r}").format(value=value))
        if not lo <= value <= hi:
            raise self.fail(path, _("must be from {lo} to {hi}, not {value}").format(lo=lo, hi=hi, value=value))
        return value

    def text(self, path: str, value: Any, most: int, *, merge: bool = False) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(path, _("must be a text, not {value!r}").format(value=value))
        if len(value) > most:
            raise self.fail(path, _("is longer than {n} characters").format(n=most))
        if merge:
            self.merge_fields(path, value)
        return value.strip()

    def merge_fields(self, path: str, text: str) -> None:
        try:
            names = {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name is not None}
        except ValueError:
            raise self.fail(path, _("a brace is not closed; write {{ and }} for a brace").format()) from None
        unknown = sorted(n for n in names if n not in MERGE_FIELDS)
        if unknown:
            raise self.fail(path, _("unknown merge field {{{name}}}; known: {known}").format(
                name=unknown[0], known=", ".join(sorted(MERGE_FIELDS))))  # fmt: skip

    def choice(self, path: str, value: Any, allowed: tuple[str, ...]) -> str:
        if value not in allowed:
            raise self.fail(path, _("must be one of: {choices}, not {value!r}").format(
                choices=", ".join(allowed), value=value))  # fmt: skip
        return str(value)

    def flag(self, path: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.fail(path, _("must be true or false, not {value!r}").format(value=value))
        return value


# --- the steps: each kind's fields, described once --------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    """One field of a step kind: what the TOML reader checks and what a form shows.

    ``type``: ``text`` (one line unless ``lines``), ``template`` (a task or webhook text with
    ``{account}``-style merge fields), ``jinja`` (an email template: ``{{ account }}``, checked at
    save), ``slugs`` (knowledge-base article slugs), ``choice``, ``whole`` (``lo``…``hi``), ``flag``, ``url``, ``emails`` (a list of user
    addresses), ``email`` (one address), ``mail`` (a table of ``subject``/``body``/``html`` in one
    language), ``condition`` (a branch's test) or ``steps`` (a list of steps)."""

    name: str
    type: str
    label: str
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] = ()
    lo: int = 0
    hi: int = 0
    most: int = 0
    lines: bool = False


# run only at import, to build STEP_FIELDS: mutmut switches a mutant on later, in each test, so
# none of its mutants could ever be tested (test_email.py and test_playbooks_rules.py read the table)
def _f(name: str, type_: str, label: str, **kw: Any) -> FieldSpec:  # pragma: no mutate block
    return FieldSpec(name, type_, label, **kw)


#: Every step kind's fields, in the order a form shows them. The reader below, the docs and the
#: playbook forms follow this one table.
STEP_FIELDS: dict[str, tuple[FieldSpec, ...]] = {
    "task": (
        _f("title", "template", N_("Title"), required=True, most=300),
        _f("task_kind", "choice", N_("Task type"), default="other", choices=TASK_KINDS),
        _f("priority", "choice", N_("Priority"), default="normal", choices=PRIORITIES),
        _f("due_days", "whole", N_("Due in days"), default=3, lo=0, hi=365),
        _f("assignee", "choice", N_("Assignee"), default="owner", choices=ASSIGNEES),
        _f("users", "emails", N_("Users taking turns (round robin)"), most=50),
        _f("lead", "email", N_("Lead when the owner has none")),
        _f("notes", "template", N_("Notes"), most=5000, lines=True),
    ),
    "email": (
        _f("to", "choice", N_("Recipients"), default="champion", choices=RECIPIENTS),
        _f("subject", "jinja", N_("Subject"), most=200),
        _f("body", "jinja", N_("Text"), most=20_000, lines=True),
        _f("html", "jinja", N_("HTML"), most=50_000, lines=True),
        _f("ja", "mail", N_("Japanese version")),
        _f("en", "mail", N_("English version")),
    ),
    "webhook": (
        _f("url", "url", N_("Webhook URL (empty: the Slack webhook of the settings)"), most=2000),
        _f("text", "template", N_("Text"), required=True, most=2000),
        _f("slack", "flag", N_("Slack message"), default=True),
    ),
    "wait": (_f("days", "whole", N_("Days"), required=True, lo=1, hi=365),),
    "survey": (
        _f("programme", "text", N_("Survey (its key)"), required=True, most=64),
        _f("to", "choice", N_("Recipients"), default="champion", choices=RECIPIENTS),
    ),
    # apply an onboarding plan from today: a template key, or by_tier (the account's tier's template)
    "onboarding_plan": (_f("template", "text", N_("Onboarding template (a key, or by_tier)"), default="by_tier",
                           most=64),),
    # knowledge-base articles by slug (a list, or one text of slugs separated by spaces or commas),
    # each link signed per contact so that its views are counted (kizuna.services.kb)
    "article": (
        _f("articles", "slugs", N_("Articles (their slugs)"), required=True, most=10),
        _f("to", "choice", N_("Recipients"), default="all_contacts", choices=RECIPIENTS),
    ),
    "branch": (
        _f("if", "condition", N_("Condition"), required=True),
        _f("then", "steps", N_("Steps when it holds"), default=()),
        _f("else", "steps", N_("Steps otherwise"), default=()),
    ),
}
STEP_KINDS = tuple(STEP_FIELDS)
MAIL_PARTS = ("subject", "body", "html")
LANGUAGES = ("ja", "en")

#: What a branch may test: field → its type (number, grade, tier, stage, text or flag).
CONDITION_FIELDS: dict[str, str] = {
    "health_score": "number", "health_change_30d": "number", "renewal_in": "number", "customer_days": "number",
    "health_grade": "grade", "tier": "tier", "stage": "stage", "plan": "text", "at_risk": "flag",
}  # fmt: skip
NUMBER_OPS = ("<", "<=", ">", ">=", "==", "!=")
CHOICE_OPS = ("==", "!=", "in", "not in")


@dataclass(frozen=True)
class Condition:
    """A branch's test on an account's figures: ``{ field = "health_score", op = "<", value = 50 }``.
    A missing figure never holds (an account without a score takes the ``else`` steps)."""

    field: str
    op: str
    value: Any

    def holds(self, facts: AccountFacts) -> bool:
        actual = getattr(facts, self.field)
        if actual is None:
            return False
        if self.op in ("in", "not in"):
            return (actual in self.value) == (self.op == "in")
        return bool({"<": actual < self.value, "<=": actual <= self.value, ">": actual > self.value,
                     ">=": actual >= self.value, "==": actual == self.value, "!=": actual != self.value}[self.op])  # fmt: skip

    def __str__(self) -> str:
        value = ", ".join(self.value) if isinstance(self.value, tuple) else self.value
        return f"{self.field} {self.op} {value}"


def _condition(r: _Reader, path: str, raw: Any) -> Condition:
    t = r.table(path, raw)
    r.known(path, t, {"field", "op", "value"})
    name = r.choice(f"{path}.field", t.get("field"), tuple(CONDITION_FIELDS))
    kind = CONDITION_FIELDS[name]
    value = t.get("value")
    if kind == "number":
        op = r.choice(f"{path}.op", t.get("op", "=="), NUMBER_OPS)
        number = r.number(f"{path}.value", value, -1e9, 1e9)
        return Condition(name, op, int(number) if number.is_integer() else number)
    if kind == "flag":
        r.choice(f"{path}.op", t.get("op", "=="), ("==",))
        return Condition(name, "==", r.flag(f"{path}.value", value))
    op = r.choice(f"{path}.op", t.get("op", "=="), CHOICE_OPS)
    allowed = {"grade": GRADES, "tier": TIERS, "stage": STAGES}.get(kind)

    def one(p: str, v: Any) -> str:
        return r.choice(p, v, allowed) if allowed else r.text(p, v, 64)

    if op in ("in", "not in"):
        if not isinstance(value, list) or not value:
            raise r.fail(f"{path}.value", _("must be a list of values, not {value!r}").format(value=value))
        return Condition(name, op, tuple(one(f"{path}.value[{i}]", v) for i, v in enumerate(value)))
    return Condition(name, op, one(f"{path}.value", value))


def _jinja(r: _Reader, path: str, value: Any, spec: FieldSpec) -> str:
    """An email template's text; its merge fields and syntax are checked where Jinja lives
    (``kizuna.services.email_templates``, when the playbook is saved)."""
    text = r.text(path, value, spec.most)
    if spec.name == "subject" and ("\n" in text or "\r" in text):
        raise r.fail(path, _("must be one line"))
    return text


def _mail(r: _Reader, path: str, raw: Any) -> dict[str, str]:
    t = r.table(path, raw)
    r.known(path, t, set(MAIL_PARTS))
    specs = {s.name: s for s in STEP_FIELDS["email"]}
    out = {name: _jinja(r, f"{path}.{name}", t[name], specs[name]) for name in MAIL_PARTS if name in t}
    for name in ("subject", "body"):
        if name not in out:
            raise r.fail(f"{path}.{name}", _("is missing: an email needs a subject and a text"))
    return out


def _field(r: _Reader, path: str, spec: FieldSpec, value: Any, depth: int) -> Any:
    if spec.type in ("text", "template"):
        return r.text(path, value, spec.most, merge=spec.type == "template")
    if spec.type == "jinja":
        return _jinja(r, path, value, spec)
    if spec.type == "choice":
        return r.choice(path, value, spec.choices)
    if spec.type == "whole":
        return r.whole(path, value, spec.lo, spec.hi)
    if spec.type == "flag":
        return r.flag(path, value)
    if spec.type == "url":
        url = r.text(path, value, spec.most)
        if not re.fullmatch(r"https?://[^\s/]+[^\s]*", url):
            raise r.fail(path, _("must start with https:// or http://"))
        return url
    if spec.type == "email":
        return _address(r, path, value)
    if spec.type == "emails":
        if not isinstance(value, list) or not value or len(value) > spec.most:
            raise r.fail(path, _("must be a list of 1 to {n} user email addresses").format(n=spec.most))
        return tuple(_address(r, f"{path}[{i}]", v) for i, v in enumerate(value))
    if spec.type == "slugs":
        return _slugs(r, path, value, spec.most)
    if spec.type == "mail":
        return _mail(r, path, value)
    if spec.type == "condition":
        return _condition(r, path, value)
    if spec.type == "steps":
        if not isinstance(value, list):
            raise r.fail(path, _("must be a list of steps, not {value!r}").format(value=value))
        if depth >= 3:
            raise r.fail(path, _("branches nest at most {n} deep").format(n=3))
        return tuple(_step(r, f"{path}[{i + 1}]", s, depth + 1) for i, s in enumerate(value))
    raise AssertionError(spec.type)  # pragma: no mutate  (unreachable: every type of STEP_FIELDS is handled above)


def _slugs(r: _Reader, path: str, value: Any, most: int) -> tuple[str, ...]:
    """Article slugs: a list, or one text with the slugs separated by spaces or commas."""
    items = value.replace(",", " ").split() if isinstance(value, str) else value
    if not isinstance(items, list) or not items or len(items) > most:
        raise r.fail(path, _("must be a list of 1 to {n} article slugs").format(n=most))
    out: list[str] = []
    for i, item in enumerate(items):
        if not isinstance(item, str) or not ARTICLE_SLUG.fullmatch(item):
            raise r.fail(f"{path}[{i}]", _("a slug is 1–120 lower-case letters, digits or -, not {value!r}").format(
                value=str(item)[:40]))  # fmt: skip
        if item not in out:
            out.append(item)
    return tuple(out)


def _address(r: _Reader, path: str, value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[^@\s]+@[^@\s]+", value.strip()) or len(value) > 254:
        raise r.fail(path, _("must be an email address, not {value!r}").format(value=value))
    return value.strip().lower()


def _step(r: _Reader, path: str, raw: Any, depth: int = 0) -> Step:
    t = r.table(path, raw)
    kind = r.choice(f"{path}.kind", t.get("kind"), STEP_KINDS)
    specs = STEP_FIELDS[kind]
    r.known(path, t, {"kind", *(s.name for s in specs)})
    params: dict[str, Any] = {}
    for spec in specs:
        if spec.name in t:
            params[spec.name] = _field(r, f"{path}.{spec.name}", spec, t[spec.name], depth)
        elif spec.required:
            raise r.fail(f"{path}.{spec.name}", _("is missing"))
        else:
            params[spec.name] = spec.default
    if kind == "task":
        if params["assignee"] == "round_robin" and not params["users"]:
            raise r.fail(f"{path}.users", _("round robin needs the list of users who take turns"))
        if params["users"] and params["assignee"] != "round_robin":
            raise r.fail(f"{path}.users", _("only a round-robin assignee takes a list of users"))
    elif kind == "email":
        if params["subject"] is None and params["ja"] is None and params["en"] is None:
            raise r.fail(f"{path}.subject", _("is missing: an email needs a subject and a text"))
        if (params["subject"] is None) != (params["body"] is None):
            missing = "body" if params["body"] is None else "subject"
            raise r.fail(f"{path}.{missing}", _("is missing: an email needs a subject and a text"))
    elif kind == "branch" and not params["then"] and not params["else"]:
        raise r.fail(f"{path}.then", _("a branch needs steps in then or else"))
    return Step(kind, params)


def program(steps: tuple[Step, ...], prefix: str = "steps") -> tuple[tuple[str, Step], ...]:
    """The steps as one flat list with jumps, so that a run keeps its place in one number:
    a branch becomes ``branch`` (``else_at``: where its else steps begin, ``end_at``: after
    them) and its then steps end with a ``goto`` past the else steps. Each item carries its
    path (``steps[2].then[1]``) for the round-robin state and the log."""
    out: list[tuple[str, Step]] = []

    def emit(items: tuple[Step, ...], base: str) -> None:
        for i, step in enumerate(items):
            path = f"{base}[{i + 1}]"
            if step.kind != "branch":
                out.append((path, step))
                continue
            at = len(out)
            # placeholders, replaced below once the else steps' and the end's positions are known
            out.append((path, step))  # pragma: no mutate
            emit(step.params["then"], f"{path}.then")
            goto = len(out)
            out.append((f"{path}.end", Step("goto", {})))  # pragma: no mutate  (a placeholder, as above)
            else_at = len(out)
            emit(step.params["else"], f"{path}.else")
            end = len(out)
            out[goto] = (f"{path}.end", Step("goto", {"to": end}))
            out[at] = (path, Step("branch", {**step.params, "else_at": else_at, "end_at": end}))

    emit(steps, prefix)
    return tuple(out)


def count_steps(steps: tuple[Step, ...]) -> int:
    return sum(1 + (count_steps(s.params["then"]) + count_steps(s.params["else"]) if s.kind == "branch" else 0)
               for s in steps)  # fmt: skip


def parse_playbook(key: str, raw: Any, source: str = "playbooks") -> Playbook:
    """One playbook from its TOML table; ``ConfigurationError`` (``invalid_playbook``) names the bad path."""
    r = _Reader(source)
    if not KEY.fullmatch(key):
        raise r.fail(key, _("a playbook key is 1–64 lower-case letters, digits, - or _"))
    t = r.table(key, raw)
    r.known(key, t, {"name", "trigger", "filters", "steps", "cooldown_days", "holdout", "exit_when_cleared",
                     "enabled"})  # fmt: skip
    trig = r.table(f"{key}.trigger", t.get("trigger"))
    kind = r.choice(f"{key}.trigger.kind", trig.get("kind"), tuple(sorted(TRIGGERS)))
    params = TRIGGERS[kind][0](r, f"{key}.trigger", trig)
    filters: dict[str, tuple[str, ...]] = {}
    raw_filters = r.table(f"{key}.filters", t.get("filters", {}))
    r.known(f"{key}.filters", raw_filters, {"tier", "stage", "plan", "owner"})
    for name, value in raw_filters.items():
        path = f"{key}.filters.{name}"
        if not isinstance(value, list) or not value:
            raise r.fail(path, _("must be a list of values, not {value!r}").format(value=value))
        allowed = {"tier": TIERS, "stage": STAGES}.get(name)
        texts = tuple(r.choice(f"{path}[{i}]", v, allowed) if allowed else r.text(f"{path}[{i}]", v, 254)
                      for i, v in enumerate(value))  # fmt: skip
        # owners are matched by email, which the store keeps in lower case (as the steps' users)
        filters[name] = tuple(t.lower() for t in texts) if name == "owner" else texts
    raw_steps = t.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise r.fail(f"{key}.steps", _("a playbook needs at least one step"))
    steps = tuple(_step(r, f"{key}.steps[{i + 1}]", s) for i, s in enumerate(raw_steps))
    if len(raw_steps) > 30:
        raise r.fail(f"{key}.steps", _("at most {n} steps").format(n=30))
    if count_steps(steps) > 60:
        raise r.fail(f"{key}.steps", _("at most {n} steps in all, counting the steps inside branches").format(n=60))
    return Playbook(
        key=key, name=r.text(f"{key}.name", t.get("name"), 200), trigger=Trigger(kind, params), steps=steps,
        filters=filters, cooldown_days=r.whole(f"{key}.cooldown_days", t.get("cooldown_days", 30), 0, 3650),
        holdout=r.number(f"{key}.holdout", t.get("holdout", 0.0), 0, 0.5),
        exit_when_cleared=r.flag(f"{key}.exit_when_cleared", t.get("exit_when_cleared", True)),
        enabled=r.flag(f"{key}.enabled", t.get("enabled", True)), flat=program(steps),
    )  # fmt: skip


def parse_playbooks(text: str, source: str) -> tuple[Playbook, ...]:
    """Every playbook of a TOML file (``[playbooks.<key>]`` tables)."""
    r = _Reader(source)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{source}: {exc}", code="invalid_playbook") from None
    unknown = sorted(set(data) - {"playbooks"})
    if unknown:
        raise r.fail(unknown[0], _("unknown table; a playbook file holds [playbooks.<key>] tables"))
    books = r.table("playbooks", data.get("playbooks", {}))
    return tuple(parse_playbook(str(k), v, source) for k, v in books.items())


def render(template: str, values: Mapping[str, Any]) -> str:
    """A checked template with its merge fields filled (missing values show as —)."""
    return template.format_map({k: ("—" if values.get(k) is None else values[k]) for k in MERGE_FIELDS})


def days_after(today: date, days: int) -> date:
    return today + timedelta(days=days)
