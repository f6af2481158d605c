"""``/api/health/…``: the health pages' JSON twins (summary, an account's snapshots,
the backtest, the scorecards) and CSM sentiment entries."""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from kizuna.api.routers._common import Writer, responses
from kizuna.api.schemas.health import (
    AccountHealthOut,
    BacktestOut,
    HealthSummaryOut,
    ScorecardSavedOut,
    ScorecardsOut,
    ScorecardVersionOut,
    SentimentEnteredOut,
)
from kizuna.domain.health import ScorecardInvalid
from kizuna.errors import ErrorCode
from kizuna.http.auth import CurrentPrincipal as Reader
from kizuna.http.auth import Principal, State, check_csrf, manager
from kizuna.http.clock import today
from kizuna.http.errors import ErrorBody, ErrorDetail
from kizuna.services import health as health_service

router = APIRouter(prefix="/api/health", tags=["health"])

AccountId = Annotated[int, Path(ge=1, le=2**31 - 1, description="The account's id.")]


def csrf_manager(request: Request, principal: Annotated[Principal, Depends(manager)]) -> Principal:
    """A lead or admin (a browser also sends ``X-CSRF-Token``)."""
    check_csrf(principal, request.headers.get("x-csrf-token"))
    return principal


Manager = Annotated[Principal, Depends(csrf_manager)]


def _scorecard_errors(exc: ScorecardInvalid) -> JSONResponse:
    errors = [ErrorDetail(code=ErrorCode.INVALID_SCORECARD, message=f"{p.source}: {p.reason}", field=p.key or None)
              for p in exc.problems]  # fmt: skip
    return JSONResponse(ErrorBody(errors=errors).model_dump(mode="json"), status_code=422)


@router.get("/summary", response_model=HealthSummaryOut, summary="Health distribution and movers",
            responses=responses(401, 403, 422))  # fmt: skip
def health_summary(state: State, principal: Reader,
                   limit: Annotated[int, Query(ge=1, le=100)] = 10) -> HealthSummaryOut:  # fmt: skip
    """Accounts per grade and per touch tier on the newest snapshot day, and the accounts
    whose score dropped or improved most over 7 and 30 days, with their explanations."""
    with state.unit_of_work() as session:
        data = health_service.summary(session, limit=limit)
    return HealthSummaryOut.model_validate(data)


@router.get("/accounts/{account_id}", response_model=AccountHealthOut, summary="An account's health snapshots",
            responses=responses(401, 403, 404, 422))  # fmt: skip
def account_health(account_id: AccountId, state: State, principal: Reader,
                   days: Annotated[int, Query(ge=1, le=3660)] = 180) -> AccountHealthOut:  # fmt: skip
    """Daily snapshots (oldest first): score, grade, letter, scorecard, measures
    (value/points/weight; value null when missing), 7/30-day change and the explanation
    (structured, and as ``reasons`` in the caller's language); and CSM sentiment entries."""
    with state.unit_of_work() as session:
        data = health_service.account_health(session, account_id, days=days)
    return AccountHealthOut.model_validate(data)


class SentimentIn(BaseModel):
    value: int = Field(description="1 very negative … 5 very positive.")
    reason: str = Field(description="Why (required, up to 2,000 characters).")


@router.post("/accounts/{account_id}/sentiments", status_code=201, summary="Enter a CSM sentiment",
             response_model=SentimentEnteredOut, responses=responses(400, 401, 403, 404, 413, 422))
def enter_sentiment(account_id: AccountId, body: SentimentIn, state: State, principal: Writer) -> SentimentEnteredOut:
    from datetime import UTC, datetime

    author = principal.user_id
    with state.unit_of_work() as session:
        entry = health_service.enter_sentiment(session, account_id, value=body.value, reason=body.reason,
                                               author_id=author, now=datetime.now(UTC))  # fmt: skip
    return SentimentEnteredOut.model_validate(entry)


@router.get("/backtest", response_model=BacktestOut, summary="The health score backtest",
            responses=responses(401, 403, 422))  # fmt: skip
def backtest(request: Request, state: State, principal: Reader,
             horizon_days: Annotated[int, Query(ge=7, le=730)] = 90) -> BacktestOut:  # fmt: skip
    """ROC-AUC, ROC curve, churn rate by grade, lift of red over green, median lead time; the naive
    signal's ROC-AUC (fewer events in the last 30 days = riskier) and each measure's own ROC-AUC."""
    cache = request.app.state.__dict__.setdefault("health_backtest_cache", {})
    with state.unit_of_work() as session:
        data = health_service.cached_backtest(session, cache, as_of=today(state.settings), horizon_days=horizon_days,
                                              path=state.settings.health_scorecards, now=time.monotonic())  # fmt: skip
    return BacktestOut.model_validate(data)


class ScorecardsIn(BaseModel):
    source: str = Field(description="The scorecards as TOML (see docs/health.md).")
    note: str | None = Field(default=None, description="Why it changed (kept in the version history).")


@router.get("/scorecards", response_model=ScorecardsOut, summary="The scorecards in force",
            responses=responses(401, 403))  # fmt: skip
def get_scorecards(state: State, principal: Reader) -> ScorecardsOut:
    with state.unit_of_work() as session:
        active = health_service.active_scorecards(session, state.settings.health_scorecards)
        versions = health_service.scorecard_versions(session)
    return ScorecardsOut(origin=active.origin, version=active.version, source=active.source,
                         versions=[ScorecardVersionOut.model_validate(v) for v in versions])


@router.put("/scorecards", summary="Save a new version of the scorecards", response_model=ScorecardSavedOut,
            responses=responses(400, 401, 403, 413, 422))
def put_scorecards(body: ScorecardsIn, state: State, principal: Manager) -> Any:
    """Leads and admins. Invalid scorecards get 422 with one error per problem:
    ``{"errors": [{"code": "invalid_scorecard", "message", "field": "scorecards.default.groups.…"}]}``;
    nothing is saved. The new version counts from the next recompute."""
    author = principal.user_id
    try:
        with state.unit_of_work() as session:
            version = health_service.save_scorecards(session, body.source, author_id=author, note=body.note)
    except ScorecardInvalid as exc:
        return _scorecard_errors(exc)
    return ScorecardSavedOut(version=version)
