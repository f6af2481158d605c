"""``/api/renewals``: the renewal pipeline, its forecast and renewal rate, and the CSM's
stage and call — the JSON twins of the renewals page and ``kizuna renewals``."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import Field

from kizuna.api.routers._common import READ, RecordId, Writer, responses
from kizuna.api.schemas.common import ClosedOutput, InputModel, OutputModel
from kizuna.http.auth import CurrentPrincipal, Principal, State
from kizuna.http.clock import today
from kizuna.http.limits import LimitedRoute
from kizuna.services import renewals

router = APIRouter(prefix="/api", tags=["renewals"], route_class=LimitedRoute)

Stage = Literal["upcoming", "in_discussion", "committed", "renewed", "downsold", "churned"]
Month = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$", description="The first month, YYYY-MM (default: this month).")]
Months = Annotated[int, Query(ge=1, le=36, description="How many months from `start`.")]
Owner = Annotated[str | None, Query(max_length=254, description="Only this owner's renewals (email or user id).")]
Tier = Annotated[str | None, Query(max_length=20, description="Only this touch tier (high, low, tech).")]


class RenewalOut(OutputModel):
    id: int
    account_id: int
    external_id: str
    name: str
    term_end: date = Field(description="The end of the main committed term: the renewal date.")
    month: str = Field(description="YYYY-MM of `term_end`.")
    currency: str
    arr_due: int = Field(description="ARR due at renewal, minor units of `currency` per year (MRR × 12 on the eve).")
    arr_after: int | None = Field(description="ARR kept on the term end day (closed renewals).")
    owner_id: int | None
    owner_name: str | None
    tier: str | None
    health_grade: str | None
    stage: Stage
    stage_source: Literal["default", "csm", "detected"]
    detected_on: date | None
    probability: float | None = Field(description="The renewal probability (closed: the share of ARR kept).")
    probability_source: Literal["outcome", "csm", "churn_model", "ltv", "segment", "none"]
    expected_arr: int | None = Field(description="`arr_due` × `probability`, rounded half up (closed: ARR kept, at most due).")
    at_risk: bool = Field(description="Open, and red health or a probability below 0.5.")
    call_probability: float | None
    call_reason: str | None
    call_by: str | None
    call_at: datetime | None


class ForecastLineOut(ClosedOutput):
    month: str = Field(description="YYYY-MM; empty in `totals`.")
    currency: str
    renewals: int
    arr_due: int
    expected_arr: int
    unpriced_arr: int = Field(description="ARR due of renewals with no probability source.")
    at_risk: int
    at_risk_arr: int
    stages: dict[str, int]


class RateOut(OutputModel):
    key: str = Field(description="The month (YYYY-MM), touch tier or owner name.")
    currency: str
    due: int
    kept: int
    churned: int
    arr_due: int
    arr_renewed: int = Field(description="Σ min(ARR kept, ARR due).")
    arr_expansion: int
    arr_rate: float | None
    logo_rate: float | None


class ForecastOut(OutputModel):
    as_of: date
    start: date
    end: date
    months: list[ForecastLineOut]
    totals: list[ForecastLineOut] = Field(description="One line per currency (never summed into another).")
    rates: list[RateOut] = Field(description="The renewal rate of the renewals closed in the last 365 days.")


class StageIn(InputModel):
    stage: Literal["upcoming", "in_discussion", "committed"]


class CallIn(InputModel):
    probability: float | None = Field(ge=0, le=1, description="0–1; null clears the call.")
    reason: str = Field(min_length=1, max_length=1000, description="Why (kept in the audit).")


class ChangeOut(OutputModel):
    kind: Literal["stage", "call"]
    stage: str | None
    probability: float | None
    reason: str | None
    actor: str
    at: datetime


def _actor(principal: Principal) -> str:
    return principal.email or (f"api key {principal.api_key_name}" if principal.api_key_name else "api")


def _filters(session: object, owner: str | None, tier: str | None) -> renewals.PipelineFilter:
    return renewals.PipelineFilter(owner_id=renewals.owner_id_of(session, owner), tier=renewals.tier_of(tier))  # type: ignore[arg-type]


@router.get("/renewals", response_model=list[RenewalOut], responses=READ, summary="The renewal pipeline")
def list_renewals(state: State, principal: CurrentPrincipal, start: Month = None, months: Months = 3,
                  owner: Owner = None, tier: Tier = None) -> list[RenewalOut]:  # fmt: skip
    """The renewals whose term ends in the months asked for, with probability, its source and expected ARR."""
    day = today(state.settings)
    first, last = renewals.month_window(day, start, months)
    with state.unit_of_work() as session:
        rows = renewals.pipeline(session, day, first, last, _filters(session, owner, tier))
    return [RenewalOut.model_validate(r) for r in rows]


@router.get("/renewals/forecast", response_model=ForecastOut, responses=READ, summary="The renewal forecast")
def get_forecast(
    state: State, principal: CurrentPrincipal, start: Month = None, months: Months = 3, owner: Owner = None,
    tier: Tier = None, by: Annotated[Literal["month", "tier", "owner"], Query(description="The renewal rate by.")] = "month",
) -> ForecastOut:  # fmt: skip
    """Expected renewing ARR = Σ ARR due × probability by month and currency, ARR at risk, and the renewal rate."""
    day = today(state.settings)
    first, last = renewals.month_window(day, start, months)
    with state.unit_of_work() as session:
        f = renewals.forecast(session, day, first, last, _filters(session, owner, tier))
        rate_lines = renewals.rates(session, day, by, day - timedelta(days=365), day)
    return ForecastOut(as_of=f.as_of, start=f.start, end=f.end,
                       months=[ForecastLineOut.model_validate(m) for m in f.months],
                       totals=[ForecastLineOut.model_validate(t) for t in f.totals],
                       rates=[RateOut.model_validate(x) for x in rate_lines])  # fmt: skip


def _one(session: object, day: date, renewal_id: int) -> RenewalOut:
    return RenewalOut.model_validate(renewals.renewal_row(session, day, renewal_id))  # type: ignore[arg-type]


_WRITE = responses(400, 401, 403, 404, 409, 413, 422)


@router.patch("/renewals/{renewal_id}", response_model=RenewalOut, responses=_WRITE, summary="Set a renewal's stage")
def set_stage(renewal_id: RecordId, body: StageIn, state: State, principal: Writer) -> RenewalOut:
    """The CSM's stage of an open renewal (upcoming, in_discussion, committed); a closed one is 409 `renewal_closed`."""
    day = today(state.settings)
    with state.unit_of_work() as session:
        renewals.set_stage(session, renewal_id, body.stage, _actor(principal), day)
        return _one(session, day, renewal_id)


@router.post("/renewals/{renewal_id}/call", response_model=RenewalOut, responses=_WRITE,
             summary="Set the CSM's call on a renewal")  # fmt: skip
def set_call(renewal_id: RecordId, body: CallIn, state: State, principal: Writer) -> RenewalOut:
    """The CSM's renewal probability with a reason; it overrides every model. Audited (who, when, why)."""
    day = today(state.settings)
    with state.unit_of_work() as session:
        renewals.set_call(session, renewal_id, body.probability, body.reason, _actor(principal), day)
        return _one(session, day, renewal_id)


@router.get("/renewals/{renewal_id}/history", response_model=list[ChangeOut], responses=responses(401, 403, 404, 422),
            summary="Who set what on a renewal")  # fmt: skip
def get_history(renewal_id: RecordId, state: State, principal: CurrentPrincipal) -> list[ChangeOut]:
    with state.unit_of_work() as session:
        return [ChangeOut.model_validate(c) for c in renewals.history(session, renewal_id)]
