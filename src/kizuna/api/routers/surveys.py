"""``/api/surveys``: survey programmes (NPS, CSAT, CES) and their results — the JSON twin of
the surveys page, the surveys part of the KPI page and ``kizuna surveys``."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from kizuna.api.routers._common import READ, responses
from kizuna.http.auth import CurrentPrincipal, Principal, State, check_csrf, manager
from kizuna.http.clock import today
from kizuna.http.limits import LimitedRoute
from kizuna.services import surveys

router = APIRouter(prefix="/api", tags=["surveys"], route_class=LimitedRoute)


def csrf_manager(request: Request, principal: Annotated[Principal, Depends(manager)]) -> Principal:
    """A lead or admin (a browser also sends ``X-CSRF-Token``)."""
    check_csrf(principal, request.headers.get("x-csrf-token"))
    return principal


Manager = Annotated[Principal, Depends(csrf_manager)]


class ProgrammeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["nps", "csat", "ces"]
    question_ja: str | None = Field(default=None, max_length=500)
    question_en: str | None = Field(default=None, max_length=500)


class ProgrammeOut(BaseModel):
    key: str
    name: str
    kind: str
    question_ja: str | None
    question_en: str | None


class CellOut(BaseModel):
    sent: int
    answered: int
    rate: float | None
    nps: float | None
    nps_answers: int


class GroupOut(BaseModel):
    key: str
    cell: CellOut


class ReportOut(BaseModel):
    total: CellOut
    by_tier: list[GroupOut]
    by_stage: list[GroupOut]
    by_month: list[GroupOut]


@router.get("/surveys", response_model=list[ProgrammeOut], responses=READ, summary="List survey programmes")
def list_programmes(state: State, principal: CurrentPrincipal) -> list[ProgrammeOut]:
    with state.unit_of_work() as session:
        return [ProgrammeOut(**asdict(p)) for p in surveys.programmes(session)]


@router.post("/surveys", response_model=ProgrammeOut, status_code=201, responses=responses(400, 401, 403, 413, 422),
             summary="Create a survey programme")  # fmt: skip
def create_programme(body: ProgrammeIn, state: State, principal: Manager) -> ProgrammeOut:
    """A taken key is a 422 (`survey_programme_exists`)."""
    with state.unit_of_work() as session:
        made = surveys.create_programme(session, **body.model_dump())
    return ProgrammeOut(**asdict(made))


def _cell(c: surveys.SurveyCell) -> CellOut:
    return CellOut(sent=c.sent, answered=c.answered, rate=c.rate, nps=c.nps, nps_answers=c.nps_answers)


@router.get("/surveys/report", response_model=ReportOut, responses=READ, summary="Response rate and NPS")
def report(state: State, principal: CurrentPrincipal,
           months: Annotated[int, Query(ge=1, le=60, description="Months back from today.")] = 12) -> Any:  # fmt: skip
    """Surveys sent in the last `months` months: sent, answered, response rate and NPS, by touch tier,
    lifecycle stage and month sent."""
    with state.unit_of_work() as session:
        found = surveys.report(session, today(state.settings), months=months)
    return ReportOut(total=_cell(found.total), by_tier=[GroupOut(key=k, cell=_cell(c)) for k, c in found.by_tier],
                     by_stage=[GroupOut(key=k, cell=_cell(c)) for k, c in found.by_stage],
                     by_month=[GroupOut(key=k, cell=_cell(c)) for k, c in found.by_month])  # fmt: skip

