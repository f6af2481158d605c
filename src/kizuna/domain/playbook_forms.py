"""The playbook editor's forms, as data: which fields a trigger and each kind of step has,
how a posted form becomes a playbook's table (the same table the TOML file holds), and the
table written back as TOML (the editor's TOML mode).

One spec per step kind (:data:`STEP_FIELDS`) and per trigger kind (:data:`TRIGGER_FIELDS`):
a new kind needs only its entry here to get its form. A kind without an entry (a trigger a
later feature registers) is still edited in TOML mode. Nothing here checks a value: the
table goes to :func:`kizuna.domain.playbooks.parse_playbook`, which names the bad path
(``risk-high.steps[2].days``); :func:`field_path` gives each form field that same path,
so the page shows the reason next to the field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from kizuna.domain import playbooks as pb
from kizuna.i18n import N_


@dataclass(frozen=True)
class FormField:
    """One field of the editor: ``kind`` is text, textarea, choice, whole, number or flag."""

    name: str
    label: str  # a msgid (N_), translated when shown
    kind: str = "text"
    choices: tuple[str, ...] = ()
    default: Any = None  # shown when the table has no value; None: optional, left out when empty
    maxlength: int = 300


#: The fields of each step kind, in the order shown.
STEP_FIELDS: dict[str, tuple[FormField, ...]] = {
    "task": (
        FormField("title", N_("Title"), default=""),
        FormField("task_kind", N_("Task type"), "choice", pb.TASK_KINDS, "other"),
        FormField("priority", N_("Priority"), "choice", pb.PRIORITIES, "normal"),
        FormField("due_days", N_("Due after (days)"), "whole", default=3),
        FormField("assignee", N_("Assignee"), "choice", pb.ASSIGNEES, "owner"),
        FormField("notes", N_("Notes"), "textarea", maxlength=5000),
    ),
    "email": (
        FormField("to", N_("Send to"), "choice", pb.RECIPIENTS, "champion"),
        FormField("subject", N_("Subject"), default="", maxlength=200),
        FormField("body", N_("Body"), "textarea", default="", maxlength=20_000),
    ),
    "webhook": (
        FormField("url", N_("URL"), default="", maxlength=2000),
        FormField("text", N_("Message"), default="", maxlength=2000),
        FormField("slack", N_("Slack incoming webhook (otherwise signed JSON)"), "flag", default=True),
    ),
    "wait": (FormField("days", N_("Days"), "whole", default=7),),
    "survey": (
        FormField("programme", N_("Survey (its key)"), default="", maxlength=64),
        FormField("to", N_("Send to"), "choice", pb.RECIPIENTS, "champion"),
    ),
    "onboarding_plan": (FormField("template", N_("Onboarding template (a key, or by_tier)"), default="by_tier",
                                  maxlength=64),),
    "article": (
        FormField("articles", N_("Articles (slugs, separated by spaces)"), default="", maxlength=1300),
        FormField("to", N_("Send to"), "choice", pb.RECIPIENTS, "all_contacts"),
    ),
}

#: The parameters of each trigger kind.
TRIGGER_FIELDS: dict[str, tuple[FormField, ...]] = {
    "at_risk": (),
    "health_grade": (FormField("grade", N_("Grade"), "choice", pb.GRADES, "red"),),
    "health_drop": (FormField("points", N_("Points"), "number", default=10),),
    "renewal_in_days": (FormField("days", N_("Days"), "whole", default=90),),
    "new_account": (FormField("days", N_("Days"), "whole", default=14),),
    "stage": (FormField("stage", N_("Stage"), "choice", pb.STAGES, "onboarding"),),
    "churn_risk_above": (FormField("probability", N_("Probability (0–1, or per cent)"), "number", default=0.3),),
    "survey_detractor": (FormField("days", N_("Answered within (days)"), "whole", default=7),),
    "survey_promoter": (FormField("days", N_("Answered within (days)"), "whole", default=7),),
    "onboarding_overdue": (FormField("days", N_("Days"), "whole", default=1),),
    "opportunity_open": (FormField("type", N_("Opportunity type"), "choice", pb.OPPORTUNITY_TYPES, "upsell"),),
}

#: The playbook's own fields.
NAME = FormField("name", N_("Name"), maxlength=200)
COOLDOWN = FormField("cooldown_days", N_("Cooldown (days before the same account may enter again)"), "whole")
HOLDOUT = FormField("holdout", N_("Holdout share (0–0.5): held out, they get nothing"), "number")
EXIT = FormField("exit_when_cleared", N_("Leave when the trigger clears"), "flag")

#: Filters with a fixed list of values (plan and owner list the store's plans and users).
FILTER_CHOICES: dict[str, tuple[str, ...]] = {"tier": pb.TIERS, "stage": pb.STAGES}
FILTERS = ("tier", "stage", "plan", "owner")


#: The playbook's keys the forms show.
FORM_KEYS = frozenset({"name", "trigger", "filters", "cooldown_days", "holdout", "exit_when_cleared", "enabled", "steps"})


def forms_cover(table: Mapping[str, Any]) -> bool:
    """Whether the forms show every part of the playbook: a step kind without a spec (a
    branch), an email with versions per language or an unknown key would be lost by
    saving the forms, so such a playbook is edited as TOML."""
    if not set(table) <= FORM_KEYS:
        return False
    trigger = table.get("trigger")
    if isinstance(trigger, Mapping):
        kind = str(trigger.get("kind", ""))
        if kind not in TRIGGER_FIELDS or not set(trigger) <= {"kind"} | {f.name for f in TRIGGER_FIELDS[kind]}:
            return False
    for step in table.get("steps") or []:
        if not isinstance(step, Mapping):
            return False
        kind = str(step.get("kind", ""))
        if kind not in STEP_FIELDS or not set(step) <= {"kind"} | {f.name for f in STEP_FIELDS[kind]}:
            return False
    return True


def step_fields(kind: str) -> tuple[FormField, ...]:
    return STEP_FIELDS.get(kind, ())


def field_path(key: str, *parts: str | int) -> str:
    """The path the validator names for a field: ``key.trigger.days``, ``key.steps[2].title``
    (steps count from 1, like the validator's messages)."""
    path = key
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _value(field: FormField, raw: str | None) -> Any:
    """The posted text as the table's value; a number that does not parse stays text, so the
    validator names it (``must be a whole number, not '3x'``)."""
    if field.kind == "flag":
        return raw is not None and raw not in ("", "0", "false")
    text = (raw or "").replace("\r\n", "\n")
    if field.kind in ("whole", "number"):
        text = text.strip()
        if text == "":
            return None
        if re.fullmatch(r"-?\d{1,12}", text):
            return int(text)
        if field.kind == "number" and re.fullmatch(r"-?\d{1,12}\.\d{1,12}", text):
            return float(text)
        return text
    if field.kind == "choice":
        return text.strip() or None
    return text if text.strip() else None


def table_from_form(form: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(key, the playbook's table) from the editor's posted fields.

    ``form`` maps a name to its value, or to a list of values for the filters' check boxes
    (``filters.tier``) and the textarea of plan names (``filters.plan``, one per line)."""

    def one(name: str) -> str | None:
        value = form.get(name)
        if isinstance(value, list):
            value = value[0] if value else None
        return None if value is None else str(value)

    def many(name: str) -> list[str]:
        value = form.get(name)
        return [str(v) for v in value] if isinstance(value, list) else ([str(value)] if value else [])

    key = (one("key") or "").strip()
    table: dict[str, Any] = {"name": one("name") or ""}
    trigger_kind = (one("trigger.kind") or "").strip()
    trigger: dict[str, Any] = {"kind": trigger_kind}
    for f in TRIGGER_FIELDS.get(trigger_kind, ()):
        value = _value(f, one(f"trigger.{f.name}"))
        if value is not None:
            trigger[f.name] = value
    table["trigger"] = trigger
    filters: dict[str, list[str]] = {}
    for name in FILTERS:
        values = [v.strip() for raw in many(f"filters.{name}") for v in raw.splitlines() if v.strip()]
        if values:
            filters[name] = list(dict.fromkeys(values))
    if filters:
        table["filters"] = filters
    for f in (COOLDOWN, HOLDOUT):
        value = _value(f, one(f.name))
        if value is not None:
            table[f.name] = value
    table["exit_when_cleared"] = one("exit_when_cleared") not in (None, "", "0", "false")
    table["enabled"] = one("enabled") not in (None, "", "0", "false")
    steps = []
    posted = one("steps")
    count = int(posted) if posted is not None and posted.isdecimal() else 0  # "²".isdigit(), int("²") fails
    for i in range(min(count, 40)):
        kind = (one(f"s{i}.kind") or "").strip()
        step: dict[str, Any] = {"kind": kind}
        for f in STEP_FIELDS.get(kind, ()):
            value = _value(f, one(f"s{i}.{f.name}"))
            if value is not None:
                step[f.name] = value
        steps.append(step)
    table["steps"] = steps
    return key, table


def new_step(kind: str) -> dict[str, Any]:
    """A step of ``kind`` with each field's default (what "add a step" puts in the form)."""
    step: dict[str, Any] = {"kind": kind}
    for f in STEP_FIELDS.get(kind, ()):
        if f.default is not None:
            step[f.name] = f.default
    return step


def move(steps: Sequence[dict[str, Any]], index: int, by: int) -> list[dict[str, Any]]:
    """The steps with the one at ``index`` moved ``by`` places (−1 up, +1 down), clipped."""
    out = list(steps)
    to = index + by
    if 0 <= index < len(out) and 0 <= to < len(out):
        out[index], out[to] = out[to], out[index]
    return out


# --- the table as TOML (the editor's TOML mode) -------------------------------------------------


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    return _toml_value(str(value))  # a date or a time from TOML: its text


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else _toml_value(key)


def to_toml(key: str, table: Mapping[str, Any]) -> str:
    """``[playbooks.<key>]`` with its values, steps as an array of inline tables."""
    lines = [f"[playbooks.{_toml_key(key)}]"]
    for name, value in table.items():
        if name == "steps" and isinstance(value, list):
            lines.append("steps = [")
            lines += [f"  {_toml_value(step)}," for step in value]
            lines.append("]")
        else:
            lines.append(f"{_toml_key(name)} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"
