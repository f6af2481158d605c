"""Onboarding plans (オンボーディング計画): templates per touch tier, applied to accounts
(the playbook step ``onboarding_plan``, the 360 page's button, ``POST /api/accounts/{id}/
onboarding-plan``), milestones ticked off (who and when recorded), progress, overdue
milestones for the ``onboarding_overdue`` trigger, and the time-to-value KPIs.

Templates are authored in the UI (a form), the API or TOML (``kizuna onboarding import``);
the rules are in :mod:`kizuna.domain.onboarding`. The caller's transaction commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, tzinfo
from typing import Any

from kizuna.analytics.onboarding import OnboardingKpis, onboarding_kpis
from kizuna.db import Session
from kizuna.db.queries import customer360 as reads
from kizuna.db.queries import onboarding as q
from kizuna.domain import onboarding as rules
from kizuna.domain.dates import DateOutOfRange
from kizuna.domain.onboarding import BY_TIER, OnboardingTemplate, parse_template, parse_templates_toml
from kizuna.errors import InvalidInput, NotFound
from kizuna.i18n import _

_MAX_ID = 2**31 - 1


@dataclass(frozen=True)
class MilestoneView:
    id: int
    name: str
    position: int
    due_on: date | None
    completed_at: datetime | None
    owner: str | None
    template_key: str | None
    started_on: date | None
    first_value: bool
    completed_by_id: int | None
    completed_by: str | None
    overdue: bool

    @property
    def done(self) -> bool:
        return self.completed_at is not None


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    overdue: int

    @property
    def share(self) -> float:
        return self.done / self.total if self.total else 0.0


def _template(row: Any) -> OnboardingTemplate:
    return parse_template(row.key, {"name": row.name, "tier": row.tier, "milestones": row.milestones})


def list_templates(session: Session) -> list[OnboardingTemplate]:
    return [_template(r) for r in q.templates(session)]


def get_template(session: Session, key: str) -> OnboardingTemplate:
    row = q.template(session, key) if isinstance(key, str) and len(key) <= 64 else None
    if row is None:
        raise NotFound(_("no onboarding template {key!r}").format(key=str(key)[:64]), code="template_not_found",
                       field="template")  # fmt: skip
    return _template(row)


def save_template(session: Session, key: Any, table: Mapping[str, Any]) -> tuple[OnboardingTemplate, bool]:
    """Check and store a template (replacing the one with that key); (template, created)."""
    t = parse_template(key, table)
    created = q.save_template(session, t.key, t.name, t.tier, t.as_table()["milestones"])
    return t, created


def import_toml(session: Session, text: str, source: str) -> list[OnboardingTemplate]:
    """Every template of a TOML file, all or nothing."""
    found = parse_templates_toml(text, source)
    for t in found:
        q.save_template(session, t.key, t.name, t.tier, t.as_table()["milestones"])
    return list(found)


def delete_template(session: Session, key: str) -> None:
    if not q.delete_template(session, key):
        raise NotFound(_("no onboarding template {key!r}").format(key=key[:64]), code="template_not_found",
                       field="template")  # fmt: skip


def apply(
    session: Session, account_ids: Sequence[int], template: str, *, start: date, replace: bool = False,
    templates: Sequence[OnboardingTemplate] | None = None,
) -> dict[int, str]:  # fmt: skip
    """Give each account the milestones of ``template`` (a key, or ``by_tier``: the template of
    the account's touch tier) due ``start`` + offset. An account that already has a plan is
    passed over unless ``replace`` (then its open template milestones give way; ticked ones
    stay). Returns account id → the template applied (accounts with no template for their
    tier are left out)."""
    known = list(templates) if templates is not None else list_templates(session)
    if template != BY_TIER:
        chosen = next((t for t in known if t.key == template), None)
        if chosen is None:
            raise NotFound(_("no onboarding template {key!r}").format(key=template[:64]), code="template_not_found",
                           field="template")  # fmt: skip
    tiers = q.account_tiers(session, account_ids)
    missing = [i for i in account_ids if i not in tiers]
    if missing:
        raise NotFound(_("no account with id {id}").format(id=missing[0]), code="account_not_found", field="account_id")
    ids = sorted(set(account_ids))
    if replace:
        q.drop_open_plan(session, ids)
    else:
        taken = q.accounts_with_plan(session, ids)
        ids = [i for i in ids if i not in taken]
    try:
        planned_by_key = {t.key: rules.plan(t, start) for t in known}
    except DateOutOfRange as exc:
        raise InvalidInput(str(exc), code=exc.code, field="start") from None
    rows: list[dict[str, Any]] = []
    applied: dict[int, str] = {}
    for account_id in ids:
        t = rules.pick(known, tiers[account_id]) if template == BY_TIER else chosen
        if t is None:
            continue
        applied[account_id] = t.key
        for m in planned_by_key[t.key]:
            rows.append({"external_id": f"OB-{uuid.uuid4().hex}", "account_id": account_id, "name": m.name,
                         "position": m.position, "due_on": m.due_on, "owner": m.owner, "template_key": t.key,
                         "started_on": start, "first_value": m.first_value})  # fmt: skip
    q.add_milestones(session, rows)
    return applied


def account_milestones(session: Session, account_id: int, today: date) -> list[MilestoneView]:
    return [MilestoneView(**r, overdue=rules.overdue(r["due_on"], r["completed_at"] is not None, today))
            for r in q.account_milestones(session, account_id)]  # fmt: skip


def tick(session: Session, milestone_id: int, *, done: bool, user_id: int | None, now: datetime) -> int:
    """Tick a milestone off (who and when recorded) or untick it; returns its account id."""
    row = q.milestone(session, milestone_id) if 0 < milestone_id <= _MAX_ID else None
    if row is None:
        raise NotFound(_("no onboarding milestone with id {id}").format(id=milestone_id), code="milestone_not_found",
                       field="milestone_id")  # fmt: skip
    if done and row["completed_at"] is None:
        q.set_completed(session, milestone_id, now.astimezone(UTC), user_id)
    elif not done and row["completed_at"] is not None:
        q.set_completed(session, milestone_id, None, None)
    return int(row["account_id"])


def progress_of(session: Session, account_ids: Sequence[int], today: date) -> dict[int, Progress]:
    return {i: Progress(*v) for i, v in q.progress(session, account_ids, today).items()}


def overdue_days(session: Session, today: date) -> dict[int, int]:
    """account id → days its most overdue open milestone is past due (only accounts with one)."""
    return {i: (today - due).days for i, due in q.oldest_overdue(session, today).items()}


def kpis(session: Session, as_of: date, zone: tzinfo = UTC) -> OnboardingKpis:
    """Time to first value and to complete onboarding, by tier and by cohort (start month)."""
    return onboarding_kpis(q.plan_rows(session), as_of, zone)


def check_account(session: Session, account_id: int) -> None:
    if not 0 < account_id <= _MAX_ID or not reads.account_exists(session, account_id):
        raise NotFound(_("no account with id {id}").format(id=account_id), code="account_not_found", field="account_id")
