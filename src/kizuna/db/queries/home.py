"""The figures on the home page."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kizuna.db.models import Account, Ticket, User
from kizuna.domain.enums import TicketStatus
from kizuna.domain.subscriptions import COMMITTED_TERM_MONTHS, AccountStatus


def headline(session: Session, as_of: date) -> dict[str, Any]:
    by_status = dict(session.execute(select(Account.status, func.count()).group_by(Account.status)).all())
    mrr_row = session.execute(
        select(Account.currency, func.sum(Account.mrr))
        .where(Account.status == AccountStatus.ACTIVE)
        .group_by(Account.currency)
        .order_by(func.sum(Account.mrr).desc())
    ).first()
    horizon = as_of + timedelta(days=90)
    renewing = (Account.status == AccountStatus.ACTIVE) & Account.renewal_on.between(as_of, horizon)
    renewals, renewals_mrr = session.execute(
        select(func.count(), func.coalesce(func.sum(Account.mrr), 0)).where(renewing)
    ).one()
    # monthly evergreen (月次自動更新): paying, with no committed term — not a renewal event
    monthly = session.scalar(
        select(func.count()).where(Account.status == AccountStatus.ACTIVE, Account.renewal_on.is_(None),
                                   Account.contract_term_months < COMMITTED_TERM_MONTHS)
    )  # fmt: skip
    churned_30d = session.scalar(
        select(func.count()).where(
            Account.status == AccountStatus.CHURNED, Account.churned_on > as_of - timedelta(days=30)
        )
    )
    open_tickets = session.scalar(
        select(func.count()).select_from(Ticket).where(Ticket.status.in_([TicketStatus.OPEN, TicketStatus.PENDING]))
    )
    upcoming = session.execute(
        select(
            Account.id, Account.name, Account.mrr, Account.currency, Account.renewal_on, User.name.label("owner_name")
        )
        .outerjoin(User, User.id == Account.owner_id)
        .where(renewing)
        .order_by(Account.mrr.desc(), Account.id)
        .limit(10)
    ).mappings()
    return {
        "accounts": sum(by_status.values()),
        "active": by_status.get(AccountStatus.ACTIVE, 0),
        "trials": by_status.get(AccountStatus.TRIAL, 0),
        "churned": by_status.get(AccountStatus.CHURNED, 0),
        "prospects": by_status.get(AccountStatus.PROSPECT, 0),
        "mrr": int(mrr_row[1]) if mrr_row else 0,
        "currency": mrr_row[0] if mrr_row else None,
        "renewals_90d": int(renewals),
        "renewals_90d_mrr": int(renewals_mrr),
        "monthly_evergreen": int(monthly or 0),
        "churned_30d": int(churned_30d or 0),
        "open_tickets": int(open_tickets or 0),
        "upcoming": [dict(r) for r in upcoming],
    }
