"""Onboarding plans (オンボーディング計画): a template per touch tier — milestones with a due
offset in days and who does each (the CSM or the customer) — applied to an account from a
start day. The seeds onboard each tier at its own depth: meetings for high touch (面談を
通じて使用方法を説明), manuals for tech touch (マニュアルや説明書を送るだけ).

Pure: checks a template (from a form, the API or TOML; each refusal names the field, e.g.
``milestones[2].offset_days``), works out the due dates of a plan, and says when a
milestone is overdue: the day after its due day, not on it.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from kizuna.domain.dates import DateOutOfRange, check_in_range, out_of_range_message
from kizuna.errors import InvalidInput
from kizuna.i18n import N_, _

KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
TIERS = ("high", "low", "tech")
#: Who does a milestone.
OWNERS = ("csm", "customer")
OWNER_LABELS = {"csm": N_("CSM"), "customer": N_("Customer")}
NAME_MAX = 200
MAX_MILESTONES = 50
MAX_OFFSET_DAYS = 730
#: The playbook step's ``template`` value that picks the template of the account's tier.
BY_TIER = "by_tier"


@dataclass(frozen=True)
class TemplateMilestone:
    name: str
    offset_days: int
    owner: str = "csm"
    first_value: bool = False  # reaching it is the account's first value


@dataclass(frozen=True)
class OnboardingTemplate:
    key: str
    name: str
    tier: str | None  # the touch tier it is for (None: any tier; used when a tier has none of its own)
    milestones: tuple[TemplateMilestone, ...]

    def as_table(self) -> dict[str, Any]:
        return {"name": self.name, **({"tier": self.tier} if self.tier else {}),
                "milestones": [{"name": m.name, "offset_days": m.offset_days, "owner": m.owner,
                                "first_value": m.first_value} for m in self.milestones]}  # fmt: skip


@dataclass(frozen=True)
class PlannedMilestone:
    position: int
    name: str
    due_on: date
    owner: str
    first_value: bool


def _bad(message: str, code: str, field: str) -> InvalidInput:
    return InvalidInput(message, code=code, field=field)


def _name(value: Any, field: str) -> str:
    text = " ".join(str(value or "").split()) if isinstance(value, str | None) else ""
    if not text:
        raise _bad(_("{field}: a name is needed").format(field=field), "name_missing", field)
    if len(text) > NAME_MAX:
        raise _bad(_("{field}: the name is longer than {n} characters").format(field=field, n=NAME_MAX),
                   "name_too_long", field)  # fmt: skip
    return text


def _offset(value: Any, field: str) -> int:
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,9}\s*", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(_("{field}: the offset must be a whole number of days").format(field=field), "invalid_offset", field)
    if not 0 <= value <= MAX_OFFSET_DAYS:
        raise _bad(_("{field}: the offset must be from 0 to {n} days after the start, not {value}").format(
            field=field, n=MAX_OFFSET_DAYS, value=value), "invalid_offset", field)  # fmt: skip
    return value


def parse_template(key: Any, table: Mapping[str, Any]) -> OnboardingTemplate:
    """A template from a table (``name``, ``tier``, ``milestones``: a list of tables
    ``name``, ``offset_days``, ``owner``, ``first_value``), or ``InvalidInput`` naming the field."""
    if not isinstance(key, str) or not KEY.fullmatch(key):
        raise _bad(_("key: use 1 to 64 lower-case letters, digits, - or _ (starting with a letter or digit)"),
                   "invalid_key", "key")  # fmt: skip
    unknown = sorted(set(table) - {"name", "tier", "milestones"})
    if unknown:
        raise _bad(_("{field}: unknown field").format(field=unknown[0]), "unknown_field", unknown[0])
    name = _name(table.get("name"), "name")
    tier = table.get("tier") or None
    if tier is not None and tier not in TIERS:
        raise _bad(_("tier must be one of: {values}").format(values=", ".join(TIERS)), "invalid_tier", "tier")
    raw = table.get("milestones")
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
        raise _bad(_("milestones: a template needs at least one milestone"), "milestones_missing", "milestones")
    if len(raw) > MAX_MILESTONES:
        raise _bad(_("milestones: at most {n}").format(n=MAX_MILESTONES), "too_many_milestones", "milestones")
    out = []
    for i, item in enumerate(raw, start=1):
        path = f"milestones[{i}]"
        if not isinstance(item, Mapping):
            raise _bad(_("{field}: must be a table").format(field=path), "invalid_milestone", path)
        extra = sorted(set(item) - {"name", "offset_days", "owner", "first_value"})
        if extra:
            raise _bad(_("{field}: unknown field").format(field=f"{path}.{extra[0]}"), "unknown_field",
                       f"{path}.{extra[0]}")  # fmt: skip
        owner = item.get("owner") or "csm"
        if owner not in OWNERS:
            raise _bad(_("{field} must be one of: {values}").format(field=f"{path}.owner", values=", ".join(OWNERS)),
                       "invalid_owner", f"{path}.owner")  # fmt: skip
        first = item.get("first_value", False)
        if not isinstance(first, bool):
            raise _bad(_("{field} must be true or false").format(field=f"{path}.first_value"), "invalid_flag",
                       f"{path}.first_value")  # fmt: skip
        out.append(TemplateMilestone(_name(item.get("name"), f"{path}.name"),
                                     _offset(item.get("offset_days"), f"{path}.offset_days"), owner, first))  # fmt: skip
    if sum(m.first_value for m in out) > 1:
        raise _bad(_("milestones: only one milestone can mark the first value"), "first_value_twice", "milestones")
    return OnboardingTemplate(key, name, tier, tuple(out))


def parse_templates_toml(text: str, source: str = "templates.toml") -> tuple[OnboardingTemplate, ...]:
    """``[templates.KEY]`` tables (with ``[[templates.KEY.milestones]]``); a refusal names the
    file and the field, e.g. ``templates.toml: high.milestones[2].offset_days: …``."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _bad(_("{source}: not valid TOML: {reason}").format(source=source, reason=str(exc)), "invalid_toml",
                   "templates") from None  # fmt: skip
    tables = doc.get("templates")
    if not isinstance(tables, Mapping) or not tables or set(doc) - {"templates"}:
        raise _bad(_("{source}: expected [templates.KEY] tables only").format(source=source), "invalid_toml",
                   "templates")  # fmt: skip
    out = []
    for key, table in tables.items():
        try:
            out.append(parse_template(key, table if isinstance(table, Mapping) else {}))
        except InvalidInput as exc:
            # every refusal of parse_template names its field
            raise InvalidInput(f"{source}: {key}: {exc.message}", code=exc.code, field=f"{key}.{exc.field}") from None
    return tuple(out)


def plan(template: OnboardingTemplate, start: date) -> list[PlannedMilestone]:
    """The milestones of ``template`` from ``start``: due = start + offset (``DateOutOfRange``
    when a due date would leave the accepted range)."""
    check_in_range(start)
    out = []
    for i, m in enumerate(template.milestones):
        try:
            due = start + timedelta(days=m.offset_days)
        except OverflowError:
            raise DateOutOfRange(out_of_range_message(start)) from None
        check_in_range(due)
        out.append(PlannedMilestone(i, m.name, due, m.owner, m.first_value))
    return out


def pick(templates: Sequence[OnboardingTemplate], tier: str | None) -> OnboardingTemplate | None:
    """The template for a tier: its own, else one for any tier (the first by key), else None."""
    own = sorted((t for t in templates if t.tier is not None and t.tier == tier), key=lambda t: t.key)
    if own:
        return own[0]
    general = sorted((t for t in templates if t.tier is None), key=lambda t: t.key)
    return general[0] if general else None


def overdue(due_on: date | None, done: bool, today: date) -> bool:
    """Open and past its due day (a milestone due today is not overdue yet)."""
    return not done and due_on is not None and due_on < today
