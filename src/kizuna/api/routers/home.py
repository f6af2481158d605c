"""``GET /api/home``: the home page's headline numbers."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter
from pydantic import BaseModel

from kizuna.http.auth import CurrentPrincipal, State
from kizuna.http.clock import today
from kizuna.services import home as home_service

router = APIRouter(prefix="/api", tags=["home"])


class RenewalOut(BaseModel):
    id: int
    name: str
    mrr: int
    currency: str | None
    renewal_on: date | None
    owner_name: str | None


class HeadlineOut(BaseModel):
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
    monthly_evergreen: int
    churned_30d: int
    open_tickets: int
    upcoming: list[RenewalOut]


@router.get("/home", response_model=HeadlineOut, summary="Headline numbers (the home page)")
def get_home(state: State, principal: CurrentPrincipal) -> HeadlineOut:
    """Accounts by status, MRR (minor units of `currency`), renewals in the next 90 days
    (committed terms only; `monthly_evergreen` counts the paying accounts on monthly terms),
    churn in the last 30 days, open tickets, and the largest accounts renewing soon."""
    with state.unit_of_work() as session:
        h = home_service.headline(session, today(state.settings))
    return HeadlineOut.model_validate(h, from_attributes=True)
