"""``/api/survey-responses``: NPS and CSAT answers."""

from __future__ import annotations

from fastapi import APIRouter, Response

from kizuna.api.routers._common import (
    CREATE,
    DELETE,
    READ,
    READ_ONE,
    UPDATE,
    KeyFilter,
    PageNo,
    PerPage,
    RecordId,
    RefFilter,
    Writer,
    parse_context,
)
from kizuna.api.schemas.survey_responses import (
    SurveyResponseCreate,
    SurveyResponseOut,
    SurveyResponsePage,
    SurveyResponseSort,
    SurveyResponseUpdate,
)
from kizuna.domain.enums import SurveyKind
from kizuna.http.auth import CurrentPrincipal, State
from kizuna.http.clock import today
from kizuna.http.limits import LimitedRoute
from kizuna.services import records

router = APIRouter(prefix="/api/survey-responses", tags=["survey responses"], route_class=LimitedRoute)
KIND = "survey_response"


@router.get("", response_model=SurveyResponsePage, responses=READ, summary="List survey responses")
def list_survey_responses(
    state: State,
    principal: CurrentPrincipal,
    account_id: RefFilter = None,
    contact_id: RefFilter = None,
    kind: SurveyKind | None = None,
    external_id: KeyFilter = None,
    sort: SurveyResponseSort = "-answered_at",
    page: PageNo = 1,
    per_page: PerPage = 50,
) -> SurveyResponsePage:
    """Answers matching every filter given, newest first by default (`-`: descending; ties by id)."""
    filters = {"account_id": account_id, "contact_id": contact_id, "kind": kind, "external_id": external_id}
    with state.unit_of_work() as session:
        found = records.list_records(session, KIND, filters=filters, sort=sort, page=page, per_page=per_page)
        return SurveyResponsePage.of(found, SurveyResponseOut.model_validate)


@router.get("/{response_id}", response_model=SurveyResponseOut, responses=READ_ONE, summary="Get a survey response")
def get_survey_response(response_id: RecordId, state: State, principal: CurrentPrincipal) -> SurveyResponseOut:
    with state.unit_of_work() as session:
        return SurveyResponseOut.model_validate(records.get_record(session, KIND, response_id))


@router.post(
    "", response_model=SurveyResponseOut, status_code=201, responses=CREATE, summary="Create a survey response"
)
def create_survey_response(body: SurveyResponseCreate, state: State, principal: Writer) -> SurveyResponseOut:
    """`score` is 0–10 for NPS and 1–5 for CSAT."""
    with state.unit_of_work() as session:
        record = records.create_record(
            session, KIND, body.model_dump(), parse_context(state), as_of=today(state.settings)
        )
        return SurveyResponseOut.model_validate(record)


@router.patch("/{response_id}", response_model=SurveyResponseOut, responses=UPDATE, summary="Update a survey response")
def update_survey_response(
    response_id: RecordId, body: SurveyResponseUpdate, state: State, principal: Writer
) -> SurveyResponseOut:
    """Only the fields sent change; the score's range is checked against the resulting kind."""
    with state.unit_of_work() as session:
        record = records.update_record(
            session, KIND, response_id, body.model_dump(exclude_unset=True), parse_context(state),
            as_of=today(state.settings),
        )  # fmt: skip
        return SurveyResponseOut.model_validate(record)


@router.delete("/{response_id}", status_code=204, responses=DELETE, summary="Delete a survey response")
def delete_survey_response(response_id: RecordId, state: State, principal: Writer) -> Response:
    with state.unit_of_work() as session:
        records.delete_record(session, KIND, response_id, as_of=today(state.settings))
    return Response(status_code=204)
