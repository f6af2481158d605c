"""``GET /api/accounts/{id}/ltv`` and ``GET /api/ltv/segments``: an account's lifetime
value with what it is made of, and the retention fit of each segment (the LTV page's
JSON twin). Issue 21; see ``docs/ltv.md``."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from kizuna.api.routers._common import responses
from kizuna.api.schemas.common import MAX_INT
from kizuna.http.auth import CurrentPrincipal, State
from kizuna.services import ltv_accounts

router = APIRouter(prefix="/api", tags=["ltv"])

AccountId = Annotated[
    int, Path(ge=1, le=MAX_INT, description="The account's id (as in `/accounts/{id}` and `GET /api/accounts`).")
]


class AccountLtvOut(BaseModel):
    """An account's lifetime value as of the daily job's last `ltv` step, and its parts."""

    account_id: int
    external_id: str
    name: str
    as_of: date = Field(description="The day the retention was fitted and the account scored.")
    segment: str = Field(description="The segment its retention is fitted on (a plan code by default; `*`: pooled).")
    term_months: int = Field(description="Its contract term: 1 renews monthly, 12 yearly.")
    renewals: int = Field(description="Renewals made so far (its tenure in terms).")
    pooled: bool = Field(description="Its segment has too little history and uses the pooled fit of its term.")
    reason: str = Field(description="Why that fit (English).")
    constant: bool = Field(description="Its term has too few ended contracts for sBG: a constant churn rate per "
                                       "renewal is used (α = c·10⁸, β = (1 − c)·10⁸).")
    alpha: float | None = Field(description="sBG α: churn probability θ ~ Beta(α, β) across the segment's accounts.")
    beta: float | None
    retention: float | None = Field(description="The probability it renews at its next renewal: (β+n)/(α+β+n).")
    derl: float | None = Field(description="Discounted expected residual lifetime, in payments (Fader & Hardie 2010).")
    mrr: int = Field(description="Minor units of `currency` per month.")
    payment: int = Field(description="Per term: MRR × term months (ARR for annual terms).")
    currency: str
    discount_rate: float = Field(description="Per term.")
    annual_discount_rate: float
    margin: float = Field(description="Gross margin applied (KIZUNA_GROSS_MARGIN).")
    revenue_to_date: int = Field(description="Revenue earned so far, minor units.")
    residual_value: int | None = Field(description="DERL × payment × margin, minor units; null without a fit.")
    ltv: int | None = Field(description="Revenue to date × margin + residual value, minor units.")


class SegmentFitOut(BaseModel):
    segment: str = Field(description="Its label (a plan code by default); `*`: every segment of the term, pooled.")
    term_months: int
    as_of: date
    contracts: int = Field(description="Accounts that have paid, running or ended.")
    cohorts: int = Field(description="Distinct start months among them.")
    churned: int
    alpha: float | None
    beta: float | None
    log_likelihood: float | None
    mean_churn: float | None = Field(description="α/(α+β): a new contract's churn probability at its first renewal.")
    pooled: bool = Field(description="Too little history of its own: the pooled fit of its term is used.")
    constant: bool = Field(description="Too few ended contracts with its term, even pooled: a constant churn rate "
                                       "per renewal is used (α = c·10⁸, β = (1 − c)·10⁸, sBG's limit).")
    reason: str
    observed: list[float] = Field(description="Kaplan–Meier survival at renewal 0, 1, …")
    fitted: list[float] = Field(description="sBG survival at the same renewals.")


@router.get("/accounts/{account_id}/ltv", response_model=AccountLtvOut, responses=responses(401, 403, 404, 422),
            summary="An account's lifetime value and what it is made of")  # fmt: skip
def get_account_ltv(state: State, principal: CurrentPrincipal, account_id: AccountId) -> AccountLtvOut:
    """The residual value (DERL × payment per term × margin) and LTV of a paying
    account, with its segment, fitted retention, tenure, MRR and discount rate. 404
    `account_not_found` when there is no such account, `ltv_not_available` when it has no
    value (not paying when the daily job last ran)."""
    with state.unit_of_work() as session:
        view = ltv_accounts.require_account_ltv(session, account_id)
    return AccountLtvOut.model_validate(view, from_attributes=True)


@router.get("/ltv/segments", response_model=list[SegmentFitOut], responses=responses(401, 403),
            summary="The retention fit of each segment")  # fmt: skip
def get_ltv_segments(state: State, principal: CurrentPrincipal) -> list[SegmentFitOut]:
    """Each segment's sBG fit from the store's contract history, as of the daily job's
    last `ltv` step: α, β, contracts, cohorts, churned, and observed vs fitted survival."""
    with state.unit_of_work() as session:
        fits = ltv_accounts.segment_fits(session)
    return [SegmentFitOut(segment=f.segment, term_months=f.term_months, as_of=f.as_of, contracts=f.contracts,
                          cohorts=f.cohorts, churned=f.churned, alpha=f.alpha, beta=f.beta,
                          log_likelihood=f.log_likelihood, mean_churn=f.mean_churn, pooled=f.pooled,
                          constant=f.constant, reason=f.reason, observed=list(f.observed), fitted=list(f.fitted)) for f in fits]  # fmt: skip
