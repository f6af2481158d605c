"""The worklist (今日の仕事): what a CSM should do today, in order, each with its reason.

Two kinds of items:

- **tasks** assigned to the CSM that are open and not snoozed past today;
- **signals** on the accounts the CSM owns that no open task covers yet (an open task on
  the account, even snoozed, covers it): the account is at risk, its health is red, or its
  committed term renews within 90 days.

Each item's rank is ``urgency × (0.5 + risk) × revenue`` (docs/tasks.md has the worked
example):

- *urgency* — a task: overdue by d days 2 + min(d, 14)/7 (2–4), due today 2, due in k ≤ 7
  days 2 − k/7, later or undated 0.5; times 1.5 for high priority, 0.7 for low. A signal:
  renewal in k ≤ 90 days 1 + (90 − k)/45 (1–3), otherwise 1;
- *risk* — (100 − health score)/100, 0.3 without a score, plus 0.3 when the account is at
  risk (at most 1);
- *revenue* — √(MRR ÷ the book's median MRR), between 0.25 and 4 (0.25 without MRR).

The same figures explain the order: the reason line names what put the item there.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from kizuna.db import Session
from kizuna.db.queries import tasks as q
from kizuna.domain.enums import TaskPriority
from kizuna.domain.health import HealthGrade
from kizuna.domain.subscriptions import AccountStatus
from kizuna.i18n import N_, _, language
from kizuna.services import accounts as accounts_service
from kizuna.services.context import RunContext
from kizuna.services.tasks import TaskFilters, TaskView, list_tasks

#: Days ahead within which a renewal is a signal.
RENEWAL_HORIZON = 90
#: The most items a worklist holds (the rest are counted).
MAX_ITEMS = 200



@dataclass(frozen=True)
class WorkItem:
    """One line of the worklist."""

    kind: str  # "task" or "signal"
    rank: float
    urgency: float
    risk: float
    revenue: float
    account_id: int | None
    account_name: str | None
    mrr: int
    currency: str | None
    owner_name: str | None
    reason: str
    signals: tuple[str, ...] = ()
    task: TaskView | None = None
    due_on: date | None = None
    renewal_in: int | None = None
    health_score: float | None = None
    health_grade: HealthGrade | None = None


@dataclass(frozen=True)
class Worklist:
    user_id: int | None  # None: the whole team
    as_of: date
    items: tuple[WorkItem, ...]
    total: int
    overdue: int
    due_today: int
    signals: int
    at_risk_accounts: int = 0  # of the accounts owned (or all, for the team)
    renewals_90d: int = 0  # owned accounts whose committed term renews within 90 days


@dataclass(frozen=True)
class TeamMember:
    user_id: int
    name: str
    email: str
    open: int
    overdue: int
    due_week: int
    accounts: int
    at_risk: int
    mrr: int


# --- the three factors ------------------------------------------------------------------------


def task_urgency(task: TaskView, today: date) -> float:
    if task.due_on is None:
        base = 0.5
    else:
        days = (task.due_on - today).days
        if days < 0:
            base = 2 + min(-days, 14) / 7
        elif days <= 7:
            base = 2 - days / 7
        else:
            base = 0.5
    return base * {TaskPriority.HIGH: 1.5, TaskPriority.LOW: 0.7}.get(task.priority, 1.0)


def signal_urgency(renewal_in: int | None) -> float:
    if renewal_in is not None and 0 <= renewal_in <= RENEWAL_HORIZON:
        return 1 + (RENEWAL_HORIZON - renewal_in) / 45
    return 1.0


def risk_of(health_score: float | None, at_risk: bool) -> float:
    base = 0.3 if health_score is None else max(0.0, min(1.0, (100 - health_score) / 100))
    return min(1.0, base + (0.3 if at_risk else 0.0))


def revenue_weight(mrr: int, median: float) -> float:
    if mrr <= 0 or median <= 0:
        return 0.25
    return max(0.25, min(4.0, math.sqrt(mrr / median)))


# --- the reason line --------------------------------------------------------------------------


def _due_phrase(task: TaskView, today: date) -> str | None:
    if task.due_on is None:
        return None
    days = (task.due_on - today).days
    if days < 0:
        return _("{n} days overdue").format(n=-days)
    if days == 0:
        return _("due today")
    return _("due in {n} days").format(n=days)


def _grade_phrase(score: float | None, grade: HealthGrade | None) -> str | None:
    if score is None or grade is None or grade == HealthGrade.GREEN:
        return None
    words = {HealthGrade.RED: N_("red"), HealthGrade.YELLOW: N_("yellow")}
    return _("health {score} ({grade})").format(score=f"{score:.0f}", grade=_(words[grade]))


def _reason(parts: Sequence[str | None]) -> str:
    return " · ".join(p for p in parts if p)


def _renewal_in(row: accounts_service.AccountRow, today: date) -> int | None:
    """Days to the renewal of a committed term (monthly evergreen renews every month: none)."""
    if row.renewal_on is None or row.contract_term_months == 1:
        return None
    days = (row.renewal_on - today).days
    return days if 0 <= days <= RENEWAL_HORIZON else None


# --- the use cases ----------------------------------------------------------------------------


def worklist(session: Session, user_id: int | None, *, today: date, limit: int = MAX_ITEMS) -> Worklist:
    """The worklist of ``user_id`` (None: everybody's, the lead's view), best first."""
    book = accounts_service.all_accounts(
        session, accounts_service.AccountQuery(owner_id=user_id, sort="-mrr"), as_of=today
    )
    live = [r for r in book if r.status != AccountStatus.CHURNED and r.churned_on is None]
    by_id = {r.id: r for r in live}
    median = _median_mrr(session, today) if user_id is not None else _median([r.mrr for r in live])
    tasks = _open_tasks(session, user_id, today)
    covered = q.accounts_with_open_tasks(session, list(by_id))  # a task (even snoozed) covers its account
    items: list[WorkItem] = []
    for t in tasks:
        row = by_id.get(t.account_id) if t.account_id is not None else None
        row = row or (_account_row(session, t.account_id, today) if t.account_id is not None else None)
        score, grade = (row.health_score, row.health_grade) if row else (None, None)
        renewal = _renewal_in(row, today) if row else None
        urgency, risk = task_urgency(t, today), risk_of(score, bool(row and row.at_risk))
        revenue = revenue_weight(t.account_mrr or 0, median)
        reason = _reason([
            _due_phrase(t, today) or _("no due date"),
            _("high priority") if t.priority == TaskPriority.HIGH else None,
            _grade_phrase(score, grade),
            _("at risk") if row and row.at_risk else None,
            _("renewal in {n} days").format(n=renewal) if renewal is not None else None,
        ])  # fmt: skip
        items.append(WorkItem(
            kind="task", rank=urgency * (0.5 + risk) * revenue, urgency=urgency, risk=risk, revenue=revenue,
            account_id=t.account_id, account_name=t.account_name, mrr=t.account_mrr or 0,
            currency=t.account_currency, owner_name=row.owner_name if row else None, reason=reason, task=t,
            due_on=t.due_on, renewal_in=renewal, health_score=score, health_grade=grade,
            signals=tuple(s for s in (t.signal,) if s),
        ))  # fmt: skip
    for row in live:
        if row.id in covered:
            continue
        renewal = _renewal_in(row, today)
        signals = tuple(
            s for s, on in (("at_risk", row.at_risk), ("health_red", row.health_grade == HealthGrade.RED),
                            ("renewal", renewal is not None)) if on
        )  # fmt: skip
        if not signals:
            continue
        urgency, risk = signal_urgency(renewal), risk_of(row.health_score, row.at_risk)
        revenue = revenue_weight(row.mrr, median)
        top = row.worst_risk
        from kizuna.services.health import explanation_lines

        reason = _reason([
            _("renewal in {n} days, no task yet").format(n=renewal) if renewal is not None else None,
            _grade_phrase(row.health_score, row.health_grade),
            _("at risk") if row.at_risk else None,
            explanation_lines([top])[0] if top else None,
        ])  # fmt: skip
        items.append(WorkItem(
            kind="signal", rank=urgency * (0.5 + risk) * revenue, urgency=urgency, risk=risk, revenue=revenue,
            account_id=row.id, account_name=row.name, mrr=row.mrr, currency=row.currency, owner_name=row.owner_name,
            reason=reason, signals=signals, renewal_in=renewal, health_score=row.health_score,
            health_grade=row.health_grade,
        ))  # fmt: skip
    items.sort(key=lambda i: (-i.rank, i.account_name or "", i.task.id if i.task else 0))
    overdue = sum(1 for t in tasks if t.overdue_days(today) > 0)
    due_today = sum(1 for t in tasks if t.due_on == today)
    return Worklist(user_id, today, tuple(items[:limit]), len(items), overdue, due_today,
                    sum(1 for i in items if i.kind == "signal"), sum(1 for r in live if r.at_risk),
                    sum(1 for r in live if _renewal_in(r, today) is not None))  # fmt: skip


def _open_tasks(session: Session, user_id: int | None, today: date) -> list[TaskView]:
    out: list[TaskView] = []
    page = 1
    while True:
        found = list_tasks(session, TaskFilters(assignee_id=user_id, include_snoozed=False, page=page, per_page=200),
                           today=today)  # fmt: skip
        out.extend(found.items)
        if len(found.items) < 200 or len(out) >= 5000:
            return out
        page += 1


def _account_row(session: Session, account_id: int, today: date) -> accounts_service.AccountRow | None:
    """The list row of one account (a task on an account somebody else owns)."""
    return accounts_service.account_row(session, account_id, as_of=today)


def _median(values: Sequence[int]) -> float:
    paying = [v for v in values if v > 0]
    return float(statistics.median(paying)) if paying else 0.0


def _median_mrr(session: Session, today: date) -> float:
    """The whole book's median MRR: a CSM's revenue weights compare with the company, not their own book."""
    return _median(accounts_service.paying_mrrs(session))


def team(session: Session, *, today: date) -> tuple[TeamMember, ...]:
    """The lead's view: each active user's open, overdue and this week's tasks and their book."""
    rows = q.team_load(session, today, today + timedelta(days=7))
    return tuple(
        TeamMember(r["id"], r["name"], r["email"], int(r["open"]), int(r["overdue"]), int(r["due_week"]),
                   int(r["accounts"]), int(r["at_risk"]), int(r["mrr"]))
        for r in rows
    )


__all__ = ["Digest", "TeamMember", "WorkItem", "Worklist", "digest_for", "team", "weekly_digests", "worklist"]


# --- the weekly digest ----------------------------------------------------------------------------

#: Roles that own accounts and get the digest.
DIGEST_ROLES = ("csm", "lead", "admin")
DIGEST_ITEMS = 10
#: The language of a digest to a user who has not chosen one: Japanese, like the pages.
DIGEST_LANGUAGE = "ja"


@dataclass(frozen=True)
class Digest:
    """One CSM's weekly email: the top of their worklist."""

    user_id: int
    to: str
    key: str  # the outbox idempotency key: one digest per user per ISO week
    subject: str
    text: str
    html: str


def digest_for(session: Session, user: Any, *, today: date, base_url: str | None) -> Digest | None:
    """The digest of one user in their language (None: nothing to do)."""
    from markupsafe import escape

    with language(user.locale or DIGEST_LANGUAGE):
        work = worklist(session, user.id, today=today, limit=DIGEST_ITEMS)
        if work.total == 0:
            return None
        year, week, _day = today.isocalendar()
        subject = _("Kizuna: {n} things on your worklist this week").format(n=work.total)
        counts = _("{overdue} overdue · {today} due today · {signals} signals without a task").format(
            overdue=work.overdue, today=work.due_today, signals=work.signals)  # fmt: skip
        link = f"{base_url}/worklist" if base_url else None
        lines = [_("Good morning, {name}.").format(name=user.name), "", counts, ""]
        html_items = []
        for n, item in enumerate(work.items, 1):
            what = item.task.title if item.task else _("Signal")
            where = item.account_name or "—"
            lines.append(f"{n}. {what} — {where}")
            lines.append(f"   {item.reason}")
            html_items.append(f"<li><strong>{escape(what)}</strong> — {escape(where)}<br><small>{escape(item.reason)}"
                              "</small></li>")  # fmt: skip
        if work.total > len(work.items):
            lines += ["", _("…and {n} more.").format(n=work.total - len(work.items))]
        if link:
            lines += ["", _("Open your worklist: {url}").format(url=link)]
        text = "\n".join(lines) + "\n"
        open_label = _("Open your worklist")
        html = (f"<p>{escape(lines[0])}</p><p>{escape(counts)}</p><ol>{''.join(html_items)}</ol>"
                + (f'<p><a href="{escape(link)}">{escape(open_label)}</a></p>' if link else ""))
    return Digest(user.id, user.email, f"digest:{user.id}:{year}-W{week:02d}", subject, text, html)


def weekly_digests(session: Session, as_of: date, context: RunContext) -> int:
    """On the digest day, queue each active CSM's digest in the outbox (idempotent: one per
    user per ISO week, so a second run the same week queues nothing). Returns how many."""
    if context.digest_weekday is None or as_of.weekday() != context.digest_weekday:
        return 0
    from kizuna.services import auth, outbox

    queued = 0
    for user in auth.list_users(session):
        if not user.is_active or str(getattr(user.role, "value", user.role)) not in DIGEST_ROLES:
            continue
        digest = digest_for(session, user, today=as_of, base_url=context.base_url)
        if digest is None:
            continue
        if outbox.enqueue_email(session, key=digest.key, to=[digest.to], subject=digest.subject, text=digest.text,
                                html=digest.html) is not None:  # fmt: skip
            queued += 1
    return queued
