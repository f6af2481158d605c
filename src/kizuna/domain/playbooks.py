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
    kind = "task"                                # task | email | webhook | wait
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

from kizuna.errors import ConfigurationError
from kizuna.i18n import _

KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
MERGE_FIELDS = frozenset({"account", "owner", "renewal_on", "health_score", "tier", "stage"})
STEP_KINDS = ("task", "email", "webhook", "wait")
TASK_KINDS = ("call", "meeting", "email", "review", "renewal_prep", "other")
PRIORITIES = ("low", "normal", "high")
ASSIGNEES = ("owner",)  # the account's owner (more rules — lead, round robin — to come)
RECIPIENTS = ("champion", "all_contacts")
TIERS = ("high", "low", "tech")
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

    def matches(self, facts: AccountFacts) -> bool:
        """The filters pass and the trigger holds."""
        for name, allowed in self.filters.items():
            value = {"tier": facts.tier, "stage": facts.stage, "plan": facts.plan, "owner": facts.owner}[name]
            if value not in allowed:
                return False
        return self.trigger.holds(facts)

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


def _stage_param(r: _Reader, path: str, t: Mapping[str, Any]) -> dict[str, Any]:
    r.known(path, t, {"kind", "stage"})
    return {"stage": r.choice(f"{path}.stage", t.get("stage"), STAGES)}


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


def _step(r: _Reader, path: str, raw: Any) -> Step:
    t = r.table(path, raw)
    kind = r.choice(f"{path}.kind", t.get("kind"), STEP_KINDS)
    params: dict[str, Any]
    if kind == "task":
        r.known(path, t, {"kind", "title", "task_kind", "priority", "due_days", "assignee", "notes"})
        params = {
            "title": r.text(f"{path}.title", t.get("title"), 300, merge=True),
            "task_kind": r.choice(f"{path}.task_kind", t.get("task_kind", "other"), TASK_KINDS),
            "priority": r.choice(f"{path}.priority", t.get("priority", "normal"), PRIORITIES),
            "due_days": r.whole(f"{path}.due_days", t.get("due_days", 3), 0, 365),
            "assignee": r.choice(f"{path}.assignee", t.get("assignee", "owner"), ASSIGNEES),
            "notes": r.text(f"{path}.notes", t["notes"], 5000, merge=True) if "notes" in t else None,
        }
    elif kind == "email":
        r.known(path, t, {"kind", "to", "subject", "body"})
        subject = r.text(f"{path}.subject", t.get("subject"), 200, merge=True)
        if "\n" in subject or "\r" in subject:
            raise r.fail(f"{path}.subject", _("must be one line"))
        params = {
            "to": r.choice(f"{path}.to", t.get("to", "champion"), RECIPIENTS),
            "subject": subject,
            "body": r.text(f"{path}.body", t.get("body"), 20_000, merge=True),
        }
    elif kind == "webhook":
        r.known(path, t, {"kind", "url", "text", "slack"})
        url = r.text(f"{path}.url", t.get("url"), 2000)
        if not re.fullmatch(r"https?://[^\s]+", url):
            raise r.fail(f"{path}.url", _("must start with https:// or http://"))
        params = {"url": url, "text": r.text(f"{path}.text", t.get("text"), 2000, merge=True),
                  "slack": r.flag(f"{path}.slack", t.get("slack", True))}  # fmt: skip
    else:
        r.known(path, t, {"kind", "days"})
        params = {"days": r.whole(f"{path}.days", t.get("days"), 1, 365)}
    return Step(kind, params)


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
        filters[name] = tuple(r.choice(f"{path}[{i}]", v, allowed) if allowed else r.text(f"{path}[{i}]", v, 254)
                              for i, v in enumerate(value))  # fmt: skip
    raw_steps = t.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise r.fail(f"{key}.steps", _("a playbook needs at least one step"))
    if len(raw_steps) > 30:
        raise r.fail(f"{key}.steps", _("at most {n} steps").format(n=30))
    steps = tuple(_step(r, f"{key}.steps[{i + 1}]", s) for i, s in enumerate(raw_steps))
    return Playbook(
        key=key, name=r.text(f"{key}.name", t.get("name"), 200), trigger=Trigger(kind, params), steps=steps,
        filters=filters, cooldown_days=r.whole(f"{key}.cooldown_days", t.get("cooldown_days", 30), 0, 3650),
        holdout=r.number(f"{key}.holdout", t.get("holdout", 0.0), 0, 0.5),
        exit_when_cleared=r.flag(f"{key}.exit_when_cleared", t.get("exit_when_cleared", True)),
        enabled=r.flag(f"{key}.enabled", t.get("enabled", True)),
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
