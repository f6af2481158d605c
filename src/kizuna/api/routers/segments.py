"""Touch tiers, lifecycle stages and customer fit over JSON.

Overrides (``PUT``/``DELETE /api/accounts/{id}/tier-override`` and ``…/stage-override``)
may be set by a signed-in **lead or admin** (with the browser's CSRF token) or by a
**write-scoped API key**; CSMs, viewers and read keys get 403 ``permission_denied``.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from kizuna.api.routers._common import READ, READ_ONE, UPDATE, RecordId
from kizuna.api.schemas.common import InDateRange
from kizuna.api.schemas.segments import (
    AccountSegmentsOut,
    BandChurnOut,
    FitChurnOut,
    OverrideOut,
    PeriodOut,
    StageOverrideIn,
    TierOverrideIn,
)
from kizuna.domain.auth import Permission
from kizuna.domain.segments import Dimension
from kizuna.http.auth import CurrentPrincipal, Principal, State, check_csrf, current_principal
from kizuna.http.clock import today
from kizuna.http.limits import LimitedRoute
from kizuna.services import segments as service
from kizuna.services.segments import AccountSegments

router = APIRouter(tags=["segments"], route_class=LimitedRoute)


def segment_editor(request: Request, principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    """Who may override tiers and stages: leads and admins (MANAGE) signed in, with
    their CSRF token; or an API key with the write scope."""
    if principal.is_api_key:
        principal.require(Permission.WRITE)
    else:
        principal.require(Permission.MANAGE)
        check_csrf(principal, request.headers.get("x-csrf-token"))
    return principal


Editor = Annotated[Principal, Depends(segment_editor)]


def _out(seg: AccountSegments) -> AccountSegmentsOut:
    def override(o: service.Override | None) -> OverrideOut | None:
        return None if o is None else OverrideOut(value=o.value, reason=o.reason, set_by=o.set_by, set_at=o.set_at)

    return AccountSegmentsOut(
        account_id=seg.account_id, as_of=seg.as_of, touch_tier=seg.touch_tier, touch_tier_rule=seg.touch_tier_rule,
        tier_override=override(seg.tier_override), lifecycle_stage=seg.lifecycle_stage,
        lifecycle_stage_rule=seg.lifecycle_stage_rule, stage_override=override(seg.stage_override),
        stage_since=seg.stage_since, days_in_stage=seg.days_in_stage, at_risk=seg.at_risk, fit_score=seg.fit_score,
        fit_band=seg.fit_band, health_score=seg.health_score, health_grade=seg.health_grade,
        health_as_of=seg.health_as_of,
        history=[PeriodOut(dimension=p.dimension, value=p.value, from_on=p.from_on, to_on=p.to_on, reason=p.reason,
                           set_by=p.set_by) for p in seg.history],
    )  # fmt: skip


@router.get("/api/accounts/{account_id}/segments/history", response_model=AccountSegmentsOut, responses=READ_ONE,
            summary="An account's tier, stage, fit and their history")  # fmt: skip
def segments_history(account_id: RecordId, state: State, principal: CurrentPrincipal) -> AccountSegmentsOut:
    """The current tier and stage (with any override and what the rules say), time in
    stage, fit, at-risk, health, and every tier and stage period, newest first."""
    with state.unit_of_work() as session:
        return _out(service.account_segments(session, account_id, as_of=today(state.settings)))


def _set(
    state: State, principal: Principal, account_id: int, dimension: Dimension, value: str, reason: str
) -> AccountSegmentsOut:
    as_of = today(state.settings)
    with state.unit_of_work() as session:
        service.set_override(session, account_id, dimension, value, reason, set_by=principal.label,
                             set_by_id=principal.user_id, as_of=as_of)  # fmt: skip
        return _out(service.account_segments(session, account_id, as_of=as_of))


def _clear(state: State, principal: Principal, account_id: int, dimension: Dimension) -> Response:
    with state.unit_of_work() as session:
        service.clear_override(session, account_id, dimension, set_by=principal.label, as_of=today(state.settings))
    return Response(status_code=204)


@router.put("/api/accounts/{account_id}/tier-override", response_model=AccountSegmentsOut, responses=UPDATE,
            summary="Set an account's touch tier by hand")  # fmt: skip
def put_tier_override(
    account_id: RecordId, body: TierOverrideIn, state: State, principal: Editor
) -> AccountSegmentsOut:
    """Wins over the rules until removed; recorded in the tier history with the reason
    and who set it. Leads and admins, or write keys."""
    return _set(state, principal, account_id, Dimension.TIER, body.tier.value, body.reason)


@router.delete("/api/accounts/{account_id}/tier-override", status_code=204, responses=UPDATE,
               summary="Remove a hand-set touch tier")  # fmt: skip
def delete_tier_override(account_id: RecordId, state: State, principal: Editor) -> Response:
    """The rules' tier (as of the last recompute) returns at once. 204 also when there was none."""
    return _clear(state, principal, account_id, Dimension.TIER)


@router.put("/api/accounts/{account_id}/stage-override", response_model=AccountSegmentsOut, responses=UPDATE,
            summary="Set an account's lifecycle stage by hand")  # fmt: skip
def put_stage_override(
    account_id: RecordId, body: StageOverrideIn, state: State, principal: Editor
) -> AccountSegmentsOut:
    """Wins over the rules until removed; recorded in the stage history."""
    return _set(state, principal, account_id, Dimension.STAGE, body.stage.value, body.reason)


@router.delete("/api/accounts/{account_id}/stage-override", status_code=204, responses=UPDATE,
               summary="Remove a hand-set lifecycle stage")  # fmt: skip
def delete_stage_override(account_id: RecordId, state: State, principal: Editor) -> Response:
    return _clear(state, principal, account_id, Dimension.STAGE)


@router.get("/api/segments/fit", response_model=FitChurnOut, responses=READ, summary="Churn rate by fit band")
def fit_churn(
    state: State, principal: CurrentPrincipal,
    as_of: Annotated[date | None, Query(description="Count up to this day (default: today)."), InDateRange] = None,
) -> FitChurnOut:  # fmt: skip
    """Of the accounts that were customers by `as_of`, how many churned by then, per fit
    band against the ideal customer profile: which profiles do not succeed."""
    day = as_of or today(state.settings)
    with state.unit_of_work() as session:
        rows = service.churn_by_fit(session, day)
    return FitChurnOut(as_of=day, bands=[BandChurnOut(band=r.band, customers=r.customers, churned=r.churned,
                                                      churn_rate=r.churn_rate) for r in rows])  # fmt: skip
