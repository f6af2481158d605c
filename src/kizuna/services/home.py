"""The home page's headline numbers (the KPI dashboard arrives with the analytics engine)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from kizuna.db import Session
from kizuna.db.queries import home as q


@dataclass(frozen=True)
class Renewal:
    """One of the largest accounts renewing soon."""

    id: int
    name: str
    mrr: int
    currency: str | None
    renewal_on: date | None
    owner_name: str | None


@dataclass(frozen=True)
class Headline:
    as_of: date
    accounts: int
    active: int
    trials: int
    churned: int
    prospects: int
    mrr: int
    currency: str | None
    renewals_90d: int
    renewals_90d_mrr: int
    monthly_evergreen: int  # paying accounts on monthly terms: no renewal date, left out of renewals
    churned_30d: int
    open_tickets: int
    upcoming: list[Renewal] = field(default_factory=list)


def headline(session: Session, as_of: date) -> Headline:
    """Accounts by status, MRR, renewals in the next 90 days, churn in the last 30, open tickets."""
    values = q.headline(session, as_of)
    upcoming = [Renewal(**r) for r in values.pop("upcoming")]
    return Headline(as_of=as_of, upcoming=upcoming, **values)
