"""The reads behind the customer 360 page: one account, everything about it.

Every query is scoped to one account and served by an index whose first column is
``account_id``, so the page costs the same at 100 accounts and at 100,000.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, true
from sqlalchemy.orm import Session, aliased

from kizuna.db.models import (
    Account,
    Activity,
    Contact,
    OnboardingMilestone,
    Product,
    Subscription,
    SuccessGoal,
    SurveyResponse,
    Task,
    Ticket,
    UsageDaily,
    User,
)
from kizuna.domain.enums import SurveyKind, TaskStatus, TicketStatus

#: ``(at, kind, seq)`` of the last item already shown: the timeline continues strictly
#: after it in the order ``at`` desc, ``kind`` desc, ``seq`` desc. None: from the top.
CursorKey = tuple[datetime, str, int] | None


def account_header(session: Session, account_id: int) -> dict[str, Any] | None:
    """The account's own fields, its owner's and plan's names, its parent account."""
    parent = aliased(Account)
    row = session.execute(
        select(
            Account.id, Account.external_id, Account.name, Account.domain, Account.industry, Account.employee_count,
            Account.status, Account.mrr, Account.currency, Account.renewal_on, Account.contract_term_months,
            Account.customer_since,
            Account.churned_on, Account.summary_as_of, Account.owner_id, User.name.label("owner_name"),
            User.email.label("owner_email"), Account.plan_id, Product.name.label("plan_name"), Account.parent_id,
            parent.name.label("parent_name"), Account.custom_fields,
        )
        .outerjoin(User, User.id == Account.owner_id)
        .outerjoin(Product, Product.id == Account.plan_id)
        .outerjoin(parent, parent.id == Account.parent_id)
        .where(Account.id == account_id)
    ).mappings().first()  # fmt: skip
    return dict(row) if row is not None else None


def child_accounts(session: Session, account_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """Subsidiaries (accounts whose parent this is), largest first."""
    rows = session.execute(
        select(Account.id, Account.name, Account.status, Account.mrr, Account.currency)
        .where(Account.parent_id == account_id)
        .order_by(Account.mrr.desc(), Account.name, Account.id)
        .limit(limit)
    ).mappings()
    return [dict(r) for r in rows]


def contacts(session: Session, account_id: int) -> list[dict[str, Any]]:
    """The account's people, the champion first."""
    rows = session.execute(
        select(Contact.id, Contact.external_id, Contact.name, Contact.email, Contact.role, Contact.is_champion)
        .where(Contact.account_id == account_id)
        .order_by(Contact.is_champion.desc(), Contact.name, Contact.id)
    ).mappings()
    return [dict(r) for r in rows]


def contact_account_id(session: Session, contact_id: int) -> int | None:
    """The account a contact belongs to (None: no such contact)."""
    return session.scalar(select(Contact.account_id).where(Contact.id == contact_id))


def subscription_lines(session: Session, account_id: int) -> list[dict[str, Any]]:
    """Every subscription line of the account with its product, newest start first."""
    rows = session.execute(
        select(
            Subscription.id, Subscription.external_id, Subscription.product_id, Product.name.label("product_name"),
            Product.code.label("product_code"), Product.kind.label("product_kind"), Subscription.quantity,
            Subscription.monthly_amount, Subscription.currency, Subscription.billing_interval, Subscription.status,
            Subscription.started_on, Subscription.trial_ends_on, Subscription.current_term_end,
            Subscription.canceled_at, Subscription.ended_on, Subscription.cancel_reason,
        )
        .join(Product, Product.id == Subscription.product_id)
        .where(Subscription.account_id == account_id)
        .order_by(Subscription.started_on.desc(), Subscription.id.desc())
    ).mappings()  # fmt: skip
    return [dict(r) for r in rows]


def usage_daily(
    session: Session, account_id: int, metrics: Sequence[str], first_day: date, last_day: date
) -> list[tuple[date, str, float]]:
    """``(day, metric, value)`` rows of the account between two days (inclusive)."""
    rows = session.execute(
        select(UsageDaily.day, UsageDaily.metric, UsageDaily.value)
        .where(
            UsageDaily.account_id == account_id,
            UsageDaily.day.between(first_day, last_day),
            UsageDaily.metric.in_(list(metrics)),
        )
        .order_by(UsageDaily.day)
    )
    return [(r.day, r.metric, float(r.value)) for r in rows]


def milestones(session: Session, account_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(
            OnboardingMilestone.id, OnboardingMilestone.name, OnboardingMilestone.position, OnboardingMilestone.due_on,
            OnboardingMilestone.completed_at,
        )
        .where(OnboardingMilestone.account_id == account_id)
        .order_by(OnboardingMilestone.position, OnboardingMilestone.due_on, OnboardingMilestone.id)
    ).mappings()  # fmt: skip
    return [dict(r) for r in rows]


def goals(session: Session, account_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(
            SuccessGoal.id, SuccessGoal.title, SuccessGoal.metric, SuccessGoal.baseline_value, SuccessGoal.target_value,
            SuccessGoal.current_value, SuccessGoal.due_on, SuccessGoal.status,
        )
        .where(SuccessGoal.account_id == account_id)
        .order_by(SuccessGoal.due_on.is_(None), SuccessGoal.due_on, SuccessGoal.id)
    ).mappings()  # fmt: skip
    return [dict(r) for r in rows]


def open_tasks(session: Session, account_id: int, limit: int = 20) -> list[dict[str, Any]]:
    rows = session.execute(
        select(
            Task.id, Task.title, Task.priority, Task.status, Task.due_on, Task.assignee_id,
            User.name.label("assignee_name"),
        )
        .outerjoin(User, User.id == Task.assignee_id)
        .where(Task.account_id == account_id, Task.status == TaskStatus.OPEN)
        .order_by(Task.due_on.is_(None), Task.due_on, Task.id)
        .limit(limit)
    ).mappings()  # fmt: skip
    return [dict(r) for r in rows]


def signals(session: Session, account_id: int) -> dict[str, Any]:
    """Small figures for the header: open tickets, the latest NPS, the last touch."""
    open_tickets = session.scalar(
        select(func.count())
        .select_from(Ticket)
        .where(Ticket.account_id == account_id, Ticket.status.in_([TicketStatus.OPEN, TicketStatus.PENDING]))
    )
    nps = session.execute(
        select(SurveyResponse.score, SurveyResponse.answered_at)
        .where(SurveyResponse.account_id == account_id, SurveyResponse.kind == SurveyKind.NPS)
        .order_by(SurveyResponse.answered_at.desc(), SurveyResponse.id.desc())
        .limit(1)
    ).first()
    last_touch = session.scalar(select(func.max(Activity.occurred_at)).where(Activity.account_id == account_id))
    return {
        "open_tickets": int(open_tickets or 0),
        "last_nps": int(nps.score) if nps is not None else None,
        "last_nps_at": nps.answered_at if nps is not None else None,
        "last_touch_at": last_touch,
    }


# --- the timeline's stored sources ---------------------------------------------------------


def _after(at: Any, seq: Any, kind: str, cursor: CursorKey) -> ColumnElement[bool]:
    """Rows of source ``kind`` that come after ``cursor`` in (at, kind, seq) descending order."""
    if cursor is None:
        return true()
    c_at, c_kind, c_seq = cursor
    if kind < c_kind:
        return at <= c_at  # type: ignore[no-any-return]
    if kind > c_kind:
        return at < c_at  # type: ignore[no-any-return]
    return or_(at < c_at, and_(at == c_at, seq < c_seq))


def activities_page(
    session: Session, account_id: int, kind: str, cursor: CursorKey, limit: int, *, activity_id: int | None = None
) -> list[dict[str, Any]]:
    """A page of the account's activities (or the one with ``activity_id``)."""
    contact = aliased(Contact)
    only = Activity.id == activity_id if activity_id is not None else true()
    rows = session.execute(
        select(
            Activity.id, Activity.external_id, Activity.kind, Activity.occurred_at, Activity.subject, Activity.summary,
            Activity.author_id, User.name.label("author_name"), Activity.contact_id, contact.name.label("contact_name"),
        )
        .outerjoin(User, User.id == Activity.author_id)
        .outerjoin(contact, contact.id == Activity.contact_id)
        .where(Activity.account_id == account_id, only, _after(Activity.occurred_at, Activity.id, kind, cursor))
        .order_by(Activity.occurred_at.desc(), Activity.id.desc())
        .limit(limit)
    ).mappings()  # fmt: skip
    return [dict(r) for r in rows]


def tickets_page(session: Session, account_id: int, kind: str, cursor: CursorKey, limit: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(
            Ticket.id, Ticket.external_id, Ticket.subject, Ticket.status, Ticket.priority, Ticket.channel,
            Ticket.opened_at, Ticket.resolved_at, Ticket.contact_id, Contact.name.label("contact_name"),
        )
        .outerjoin(Contact, Contact.id == Ticket.contact_id)
        .where(Ticket.account_id == account_id, _after(Ticket.opened_at, Ticket.id, kind, cursor))
        .order_by(Ticket.opened_at.desc(), Ticket.id.desc())
        .limit(limit)
    ).mappings()  # fmt: skip
    return [dict(r) for r in rows]


def surveys_page(session: Session, account_id: int, kind: str, cursor: CursorKey, limit: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(
            SurveyResponse.id, SurveyResponse.external_id, SurveyResponse.kind, SurveyResponse.score,
            SurveyResponse.comment, SurveyResponse.answered_at, SurveyResponse.contact_id,
            Contact.name.label("contact_name"),
        )
        .outerjoin(Contact, Contact.id == SurveyResponse.contact_id)
        .where(SurveyResponse.account_id == account_id,
               _after(SurveyResponse.answered_at, SurveyResponse.id, kind, cursor))
        .order_by(SurveyResponse.answered_at.desc(), SurveyResponse.id.desc())
        .limit(limit)
    ).mappings()  # fmt: skip
    return [dict(r) for r in rows]


def article_views_page(session: Session, account_id: int, kind: str, cursor: CursorKey,
                       limit: int) -> list[dict[str, Any]]:  # fmt: skip
    """The account's contacts' openings of emailed knowledge-base links (issue 17)."""
    from kizuna.db.models import KbArticle, KbSend, KbView

    rows = session.execute(
        select(KbView.id, KbView.viewed_at, KbArticle.slug, KbArticle.title, KbSend.playbook_key,
               Contact.name.label("contact_name"))
        .join(KbSend, KbSend.id == KbView.send_id).join(KbArticle, KbArticle.id == KbSend.article_id)
        .outerjoin(Contact, Contact.id == KbSend.contact_id)
        .where(KbSend.account_id == account_id, _after(KbView.viewed_at, KbView.id, kind, cursor))
        .order_by(KbView.viewed_at.desc(), KbView.id.desc()).limit(limit)
    ).mappings()  # fmt: skip
    return [dict(r) for r in rows]


def account_exists(session: Session, account_id: int) -> bool:
    return session.scalar(select(Account.id).where(Account.id == account_id)) is not None


def user_exists(session: Session, user_id: int) -> bool:
    return session.scalar(select(User.id).where(User.id == user_id)) is not None


def account_owner_id(session: Session, account_id: int) -> int | None:
    return session.scalar(select(Account.owner_id).where(Account.id == account_id))


def tasks_page(
    session: Session, account_id: int, kind: str, cursor: CursorKey, limit: int, *, task_id: int | None = None
) -> list[dict[str, Any]]:
    """A page of the account's done and canceled tasks, at the moment they were closed (open
    ones are in the 360 page's open-tasks card, not yet something that happened)."""
    at = Task.completed_at
    only = Task.id == task_id if task_id is not None else Task.completed_at.is_not(None)
    rows = session.execute(
        select(
            Task.id, Task.external_id, Task.title, Task.description, Task.kind, Task.priority, Task.status,
            Task.due_on, Task.source, Task.signal, at.label("at"), User.name.label("assignee_name"),
            Contact.name.label("contact_name"),
        )
        .outerjoin(User, User.id == Task.assignee_id)
        .outerjoin(Contact, Contact.id == Task.contact_id)
        .where(Task.account_id == account_id, only, _after(at, Task.id, kind, cursor))
        .order_by(at.desc(), Task.id.desc())
        .limit(limit)
    ).mappings()  # fmt: skip
    return [dict(r) for r in rows]


def playbook_runs_page(session: Session, account_id: int, kind: str, cursor: CursorKey, limit: int) -> list[dict[str, Any]]:
    """A page of the account's playbook runs, at the day each began (the log says what was done)."""
    from kizuna.db.models import PlaybookEnrollment, PlaybookVersion

    at = PlaybookEnrollment.entered_on
    rows = session.execute(
        select(PlaybookEnrollment.id, PlaybookEnrollment.playbook_key, PlaybookEnrollment.state,
               PlaybookEnrollment.entered_on, PlaybookEnrollment.log, PlaybookVersion.name)
        .outerjoin(PlaybookVersion, (PlaybookVersion.key == PlaybookEnrollment.playbook_key)
                   & (PlaybookVersion.version == PlaybookEnrollment.version))
        .where(PlaybookEnrollment.account_id == account_id, _after(at, PlaybookEnrollment.id, kind, cursor))
        .order_by(at.desc(), PlaybookEnrollment.id.desc())
        .limit(limit)
    ).mappings()  # fmt: skip
    return [dict(r) for r in rows]
