"""``/api/opportunities``: upsell and cross-sell opportunities (issue 16), the JSON twin of
the opportunities page and of ``kizuna opportunities list``; ``PATCH`` marks one won,
lost or dismissed (with a reason), or reopens a dismissed one. See docs/opportunities.md."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import Field

from kizuna.api.routers._common import READ, PageNo, PerPage, RecordId, RefFilter, Writer, responses
from kizuna.api.schemas.common import InputModel, OutputModel
from kizuna.http.auth import CurrentPrincipal, State
from kizuna.http.clock import today
from kizuna.services import opportunities

router = APIRouter(prefix="/api", tags=["opportunities"])


class OpportunityOut(OutputModel):
    """One proposal to one account, as the daily job's `opportunities` step keeps it."""

    id: int
    account_id: int
    account_name: str
    account_external_id: str
    type: str = Field(description="`upsell` (a higher plan) or `cross_sell` (an add-on).")
    product_id: int
    product_code: str
    product_name: str
    signal: str = Field(description="The moment: trial_ending, renewal, seats, growth, purchase, csat, promoter.")
    reason: str = Field(description="Why now, as a sentence in the caller's language.")
    value: int | None = Field(description="MRR uplift, minor units of `currency`; null: priced in another currency.")
    currency: str | None
    score: float | None = Field(description="The recommender's score of the product (summed cosine similarity).")
    status: str = Field(description="open, suppressed, won, lost or dismissed.")
    suppressed_reason: str | None = Field(description="Why it is held back: health_red, detractor or escalation.")
    suppressed_because: str | None = Field(description="The same, in the caller's language.")
    owner_id: int | None
    owner_name: str | None
    detected_on: date
    last_seen_on: date = Field(description="The last day its signal held.")
    closed_on: date | None
    close_reason: str | None = Field(description="A dismissal's reason as the CSM wrote it, or why the job closed it.")
    closed_by_name: str | None
    won_mrr: int | None = Field(description="The MRR of the line that won it.")


class StatusIn(InputModel):
    status: str = Field(max_length=20, description="won, lost, dismissed (needs `reason`), or open (undo a dismissal).")
    reason: str | None = Field(None, max_length=500, description="Why (required to dismiss).")


class PipelineCellOut(OutputModel):
    type: str
    status: str
    count: int
    value: dict[str, int] = Field(description="Currency → summed MRR uplift (minor units).")


TypeFilter = Annotated[str | None, Query(max_length=20, description="upsell or cross_sell.")]
StatusFilter = Annotated[str | None, Query(max_length=20, description="open, suppressed, won, lost or dismissed.")]


@router.get("/opportunities", response_model=list[OpportunityOut], responses=READ, summary="List opportunities")
def list_opportunities(
    state: State, principal: CurrentPrincipal, type: TypeFilter = None, status: StatusFilter = None,
    owner_id: RefFilter = None, account_id: RefFilter = None, page: PageNo = 1, per_page: PerPage = 50,
) -> list[OpportunityOut]:  # fmt: skip
    """Opportunities, the largest MRR uplift first. 422 `invalid_opportunity_type` or
    `invalid_opportunity_status` names the filter at fault."""
    with state.unit_of_work() as session:
        views = opportunities.list_opportunities(session, type=type, status=status, owner_id=owner_id,
                                                 account_id=account_id, limit=per_page, offset=(page - 1) * per_page)  # fmt: skip
    return [OpportunityOut.model_validate(v) for v in views]


@router.get("/opportunities/pipeline", response_model=list[PipelineCellOut], responses=READ,
            summary="Opportunities by type and status")  # fmt: skip
def get_pipeline(state: State, principal: CurrentPrincipal, owner_id: RefFilter = None) -> list[PipelineCellOut]:
    """Count and summed MRR uplift (by currency) of every type × status."""
    with state.unit_of_work() as session:
        cells = opportunities.pipeline(session, owner_id)
    return [PipelineCellOut.model_validate(c) for c in cells]


@router.get("/opportunities/{opportunity_id}", response_model=OpportunityOut,
            responses=responses(401, 403, 404, 422), summary="Get an opportunity")  # fmt: skip
def get_opportunity(opportunity_id: RecordId, state: State, principal: CurrentPrincipal) -> OpportunityOut:
    """404 `opportunity_not_found` when there is none."""
    with state.unit_of_work() as session:
        return OpportunityOut.model_validate(opportunities.get(session, opportunity_id))


@router.patch("/opportunities/{opportunity_id}", response_model=OpportunityOut,
              responses=responses(400, 401, 403, 404, 409, 413, 422), summary="Mark an opportunity won, lost or dismissed")  # fmt: skip
def patch_opportunity(opportunity_id: RecordId, body: StatusIn, state: State, principal: Writer) -> OpportunityOut:
    """422 `invalid_opportunity_status` (field `status`) for a status that is not won,
    lost, dismissed or open; 422 `dismiss_reason_required` (field `reason`) to dismiss
    without a reason; 404 `opportunity_not_found` (field `id`); 409
    `opportunity_status_conflict` when the opportunity cannot move there (a won one
    cannot be dismissed; only a dismissed one reopens)."""
    with state.unit_of_work() as session:
        view = opportunities.set_status(session, opportunity_id, body.status, reason=body.reason,
                                        user_id=principal.user_id, today=today(state.settings))  # fmt: skip
    return OpportunityOut.model_validate(view)
