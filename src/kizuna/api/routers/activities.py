"""``/api/activities``: meetings, calls, emails and notes on account timelines."""

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
from kizuna.api.schemas.activities import ActivityCreate, ActivityOut, ActivityPage, ActivitySort, ActivityUpdate
from kizuna.domain.enums import ActivityKind
from kizuna.http.auth import CurrentPrincipal, State
from kizuna.http.clock import today
from kizuna.http.limits import LimitedRoute
from kizuna.services import records

router = APIRouter(prefix="/api/activities", tags=["activities"], route_class=LimitedRoute)
KIND = "activity"


@router.get("", response_model=ActivityPage, responses=READ, summary="List activities")
def list_activities(
    state: State,
    principal: CurrentPrincipal,
    account_id: RefFilter = None,
    contact_id: RefFilter = None,
    author_id: RefFilter = None,
    kind: ActivityKind | None = None,
    external_id: KeyFilter = None,
    sort: ActivitySort = "-occurred_at",
    page: PageNo = 1,
    per_page: PerPage = 50,
) -> ActivityPage:
    """Activities matching every filter given, newest first by default (`-`: descending; ties by id)."""
    filters = {"account_id": account_id, "contact_id": contact_id, "author_id": author_id, "kind": kind,
               "external_id": external_id}  # fmt: skip
    with state.unit_of_work() as session:
        found = records.list_records(session, KIND, filters=filters, sort=sort, page=page, per_page=per_page)
        return ActivityPage.of(found, ActivityOut.model_validate)


@router.get("/{activity_id}", response_model=ActivityOut, responses=READ_ONE, summary="Get an activity")
def get_activity(activity_id: RecordId, state: State, principal: CurrentPrincipal) -> ActivityOut:
    with state.unit_of_work() as session:
        return ActivityOut.model_validate(records.get_record(session, KIND, activity_id))


@router.post("", response_model=ActivityOut, status_code=201, responses=CREATE, summary="Log an activity")
def create_activity(body: ActivityCreate, state: State, principal: Writer) -> ActivityOut:
    """Logs the activity on the account's timeline. The author defaults to the signed-in
    user (an API key has none); `external_id` is made up when not given."""
    author = principal.user_id
    with state.unit_of_work() as session:
        record = records.log_activity(session, body.model_dump(), parse_context(state), author_id=author)
        return ActivityOut.model_validate(record)


@router.patch("/{activity_id}", response_model=ActivityOut, responses=UPDATE, summary="Update an activity")
def update_activity(activity_id: RecordId, body: ActivityUpdate, state: State, principal: Writer) -> ActivityOut:
    """Only the fields sent change; `null` clears an optional field."""
    with state.unit_of_work() as session:
        record = records.update_record(
            session, KIND, activity_id, body.model_dump(exclude_unset=True), parse_context(state),
            as_of=today(state.settings),
        )  # fmt: skip
        return ActivityOut.model_validate(record)


@router.delete("/{activity_id}", status_code=204, responses=DELETE, summary="Delete an activity")
def delete_activity(activity_id: RecordId, state: State, principal: Writer) -> Response:
    with state.unit_of_work() as session:
        records.delete_record(session, KIND, activity_id, as_of=today(state.settings))
    return Response(status_code=204)
