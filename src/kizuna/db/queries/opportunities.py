"""Upsell and cross-sell opportunities (issue 16 item 4): what the daily ``opportunities``
step reads (lines, products, answers, escalations) and writes, and the read models' rows."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased

from kizuna.db.bulk import table
from kizuna.db.models import Account, Opportunity, Product, Subscription, SurveyResponse, Ticket, User
from kizuna.domain.enums import TicketPriority
from kizuna.domain.opportunities import CLOSED, LIVE


def products(session: Session) -> list[dict[str, Any]]:
    query = select(Product.id, Product.code, Product.name, Product.kind, Product.rank, Product.list_price,
                   Product.currency, Product.seats_included, Product.is_active).order_by(Product.id)  # fmt: skip
    return [dict(r) for r in session.execute(query).mappings()]


def accounts(session: Session) -> list[dict[str, Any]]:
    """Every account's status, currency, owner, plan, main renewal and health grade."""
    query = select(Account.id, Account.status, Account.currency, Account.owner_id, Account.plan_id,
                   Account.renewal_on, Account.contract_term_months, Account.health_grade).order_by(Account.id)  # fmt: skip
    return [dict(r) for r in session.execute(query.execution_options(yield_per=10_000)).mappings()]


def lines(session: Session) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """Every account's subscription lines (product, status, quantity, amount, dates), account by account."""
    query = select(Subscription.account_id, Subscription.product_id, Subscription.status, Subscription.quantity,
                   Subscription.monthly_amount, Subscription.currency, Subscription.started_on,
                   Subscription.trial_ends_on, Subscription.ended_on).order_by(Subscription.account_id,
                                                                                 Subscription.id)  # fmt: skip
    current: int | None = None
    out: list[dict[str, Any]] = []
    for row in session.execute(query.execution_options(yield_per=10_000)).mappings():
        if row["account_id"] != current:
            if current is not None:
                yield current, out
            current, out = row["account_id"], []
        out.append(dict(row))
    if current is not None:
        yield current, out


def latest_answers(session: Session, as_of: date) -> dict[tuple[int, str], tuple[int, date]]:
    """(account id, kind) → (score, day) of the account's latest NPS and CSAT answers by
    ``as_of`` (two at the same instant: the later id)."""
    end = datetime.combine(as_of + timedelta(days=1), time(), tzinfo=UTC)
    query = (
        select(SurveyResponse.account_id, SurveyResponse.kind, SurveyResponse.score, SurveyResponse.answered_at)
        .where(SurveyResponse.answered_at < end)
        .order_by(SurveyResponse.answered_at, SurveyResponse.id)
    )
    out: dict[tuple[int, str], tuple[int, date]] = {}
    for account_id, kind, score, at in session.execute(query.execution_options(yield_per=10_000)):
        day = at.astimezone(UTC).date() if at.tzinfo else at.date()
        out[(int(account_id), str(getattr(kind, "value", kind)))] = (int(score), day)
    return out


def open_escalations(session: Session, as_of: date) -> dict[int, int]:
    """Account id → tickets of high or urgent priority open at the end of ``as_of``."""
    end = datetime.combine(as_of + timedelta(days=1), time(), tzinfo=UTC)
    query = (
        select(Ticket.account_id, func.count())
        .where(Ticket.priority.in_([TicketPriority.HIGH, TicketPriority.URGENT]), Ticket.opened_at < end,
               or_(Ticket.resolved_at.is_(None), Ticket.resolved_at >= end))
        .group_by(Ticket.account_id)
    )  # fmt: skip
    return {int(a): int(n) for a, n in session.execute(query)}


_STORED = (Opportunity.id, Opportunity.account_id, Opportunity.type, Opportunity.product_id, Opportunity.signal,
           Opportunity.reason_params, Opportunity.score, Opportunity.value, Opportunity.currency, Opportunity.status,
           Opportunity.suppressed_reason, Opportunity.owner_id, Opportunity.detected_on, Opportunity.last_seen_on,
           Opportunity.closed_on)  # fmt: skip


def live(session: Session) -> list[dict[str, Any]]:
    """Every open or suppressed opportunity."""
    query = select(*_STORED).where(Opportunity.status.in_(LIVE)).order_by(Opportunity.id)
    return [dict(r) for r in session.execute(query.execution_options(yield_per=10_000)).mappings()]


def closed_since(session: Session, day: date) -> set[tuple[int, str, int]]:
    """(account, type, product) of the opportunities lost or dismissed on or after ``day``."""
    query = select(Opportunity.account_id, Opportunity.type, Opportunity.product_id).where(
        Opportunity.status.in_([s for s in CLOSED if s.value != "won"]), Opportunity.closed_on >= day
    )
    return {(int(a), str(getattr(t, "value", t)), int(p)) for a, t, p in session.execute(query)}


def insert_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), 10_000):
        session.execute(insert(table("opportunities")), rows[start : start + 10_000])


def update_rows(session: Session, rows: list[dict[str, Any]]) -> None:
    """``UPDATE opportunities SET … WHERE id = :id`` for each row (by primary key)."""
    if rows:
        session.execute(update(Opportunity), rows)


def delete_rows(session: Session, ids: Sequence[int]) -> None:
    for start in range(0, len(ids), 500):
        session.execute(delete(Opportunity).where(Opportunity.id.in_(list(ids[start : start + 500]))))


def open_types(session: Session) -> dict[int, set[str]]:
    """Account id → the types of its open opportunities."""
    query = select(Opportunity.account_id, Opportunity.type).where(Opportunity.status == "open").distinct()
    out: dict[int, set[str]] = {}
    for account_id, kind in session.execute(query):
        out.setdefault(int(account_id), set()).add(str(getattr(kind, "value", kind)))
    return out


# --- read models -------------------------------------------------------------------------------

_Owner = aliased(User)
_Closer = aliased(User)


def _listing() -> Any:
    return (
        select(*_STORED, Opportunity.close_reason, Opportunity.close_params, Opportunity.won_mrr,
               Account.name.label("account_name"), Account.external_id.label("account_external_id"),
               Product.code.label("product_code"), Product.name.label("product_name"),
               Product.kind.label("product_kind"), _Owner.name.label("owner_name"),
               _Closer.name.label("closed_by_name"))
        .join(Account, Account.id == Opportunity.account_id)
        .join(Product, Product.id == Opportunity.product_id)
        .outerjoin(_Owner, _Owner.id == Opportunity.owner_id)
        .outerjoin(_Closer, _Closer.id == Opportunity.closed_by_id)
    )  # fmt: skip


def listing(session: Session, *, type: str | None = None, status: str | None = None, owner_id: int | None = None,
            account_id: int | None = None, limit: int | None = None, offset: int = 0) -> list[dict[str, Any]]:  # fmt: skip
    """Opportunities, the largest value first (then the newest)."""
    query = _listing()
    if type:
        query = query.where(Opportunity.type == type)
    if status:
        query = query.where(Opportunity.status == status)
    if owner_id is not None:
        query = query.where(Opportunity.owner_id == owner_id)
    if account_id is not None:
        query = query.where(Opportunity.account_id == account_id)
    query = query.order_by(Opportunity.value.is_(None), Opportunity.value.desc(), Opportunity.id.desc())
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return [dict(r) for r in session.execute(query).mappings()]


def one(session: Session, opportunity_id: int) -> dict[str, Any] | None:
    row = session.execute(_listing().where(Opportunity.id == opportunity_id)).mappings().first()
    return dict(row) if row is not None else None


def pipeline(session: Session, owner_id: int | None = None) -> list[tuple[str, str, str | None, int, int]]:
    """(type, status, currency, opportunities, summed value) of every group."""
    query = select(Opportunity.type, Opportunity.status, Opportunity.currency, func.count(),
                   func.coalesce(func.sum(Opportunity.value), 0))  # fmt: skip
    if owner_id is not None:
        query = query.where(Opportunity.owner_id == owner_id)
    query = query.group_by(Opportunity.type, Opportunity.status, Opportunity.currency)
    return [(str(getattr(t, "value", t)), str(getattr(s, "value", s)), c, int(n), int(v or 0))
            for t, s, c, n, v in session.execute(query)]  # fmt: skip


def set_status(session: Session, opportunity_id: int, values: dict[str, Any]) -> None:
    session.execute(update(Opportunity).where(Opportunity.id == opportunity_id).values(**values))


def live_exists(session: Session, account_id: int, type: str, product_id: int) -> bool:
    query = select(Opportunity.id).where(Opportunity.account_id == account_id, Opportunity.type == type,
                                         Opportunity.product_id == product_id, Opportunity.status.in_(LIVE))  # fmt: skip
    return session.execute(query.limit(1)).first() is not None


def owners(session: Session) -> list[tuple[int, str]]:
    """The users who own an opportunity, by name."""
    query = (select(User.id, User.name).join(Opportunity, Opportunity.owner_id == User.id).distinct()
             .order_by(User.name))  # fmt: skip
    return [(int(i), str(n)) for i, n in session.execute(query)]
