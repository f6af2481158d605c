"""``/api/tickets``: support tickets."""

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
from kizuna.api.schemas.tickets import TicketCreate, TicketOut, TicketPage, TicketSort, TicketUpdate
from kizuna.domain.enums import TicketChannel, TicketPriority, TicketStatus
from kizuna.http.auth import CurrentPrincipal, State
from kizuna.http.clock import today
from kizuna.http.limits import LimitedRoute
from kizuna.services import records

router = APIRouter(prefix="/api/tickets", tags=["tickets"], route_class=LimitedRoute)
KIND = "ticket"


@router.get("", response_model=TicketPage, responses=READ, summary="List tickets")
def list_tickets(
    state: State,
    principal: CurrentPrincipal,
    account_id: RefFilter = None,
    contact_id: RefFilter = None,
    status: TicketStatus | None = None,
    priority: TicketPriority | None = None,
    channel: TicketChannel | None = None,
    external_id: KeyFilter = None,
    sort: TicketSort = "-opened_at",
    page: PageNo = 1,
    per_page: PerPage = 50,
) -> TicketPage:
    """Tickets matching every filter given, newest first by default (`-`: descending; ties by id)."""
    filters = {"account_id": account_id, "contact_id": contact_id, "status": status, "priority": priority,
               "channel": channel, "external_id": external_id}  # fmt: skip
    with state.unit_of_work() as session:
        found = records.list_records(session, KIND, filters=filters, sort=sort, page=page, per_page=per_page)
        return TicketPage.of(found, TicketOut.model_validate)


@router.get("/{ticket_id}", response_model=TicketOut, responses=READ_ONE, summary="Get a ticket")
def get_ticket(ticket_id: RecordId, state: State, principal: CurrentPrincipal) -> TicketOut:
    with state.unit_of_work() as session:
        return TicketOut.model_validate(records.get_record(session, KIND, ticket_id))


@router.post("", response_model=TicketOut, status_code=201, responses=CREATE, summary="Create a ticket")
def create_ticket(body: TicketCreate, state: State, principal: Writer) -> TicketOut:
    """`first_response_at` and `resolved_at` may not be before `opened_at`; `contact_id`
    must be a contact of the account (422 `contact_not_on_account`)."""
    with state.unit_of_work() as session:
        record = records.create_record(
            session, KIND, body.model_dump(), parse_context(state), as_of=today(state.settings)
        )
        return TicketOut.model_validate(record)


@router.patch("/{ticket_id}", response_model=TicketOut, responses=UPDATE, summary="Update a ticket")
def update_ticket(ticket_id: RecordId, body: TicketUpdate, state: State, principal: Writer) -> TicketOut:
    """Only the fields sent change; the rules are checked on the result."""
    with state.unit_of_work() as session:
        record = records.update_record(
            session, KIND, ticket_id, body.model_dump(exclude_unset=True), parse_context(state),
            as_of=today(state.settings),
        )  # fmt: skip
        return TicketOut.model_validate(record)


@router.delete("/{ticket_id}", status_code=204, responses=DELETE, summary="Delete a ticket")
def delete_ticket(ticket_id: RecordId, state: State, principal: Writer) -> Response:
    with state.unit_of_work() as session:
        records.delete_record(session, KIND, ticket_id, as_of=today(state.settings))
    return Response(status_code=204)
