"""``/api/contacts``: people at customer companies."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

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
from kizuna.api.schemas.common import Email
from kizuna.api.schemas.contacts import ContactCreate, ContactOut, ContactPage, ContactSort, ContactUpdate
from kizuna.http.auth import CurrentPrincipal, State
from kizuna.http.clock import today
from kizuna.http.limits import LimitedRoute
from kizuna.services import records

router = APIRouter(prefix="/api/contacts", tags=["contacts"], route_class=LimitedRoute)
KIND = "contact"


@router.get("", response_model=ContactPage, responses=READ, summary="List contacts")
def list_contacts(
    state: State,
    principal: CurrentPrincipal,
    account_id: RefFilter = None,
    external_id: KeyFilter = None,
    email: Annotated[Email | None, Query(description="Exact match, case-insensitive.")] = None,
    is_champion: bool | None = None,
    sort: ContactSort = "id",
    page: PageNo = 1,
    per_page: PerPage = 50,
) -> ContactPage:
    """Contacts matching every filter given, sorted by `sort` (`-`: descending; ties by id)."""
    filters = {"account_id": account_id, "external_id": external_id, "email": email, "is_champion": is_champion}
    with state.unit_of_work() as session:
        found = records.list_records(session, KIND, filters=filters, sort=sort, page=page, per_page=per_page)
        return ContactPage.of(found, ContactOut.model_validate)


@router.get("/{contact_id}", response_model=ContactOut, responses=READ_ONE, summary="Get a contact")
def get_contact(contact_id: RecordId, state: State, principal: CurrentPrincipal) -> ContactOut:
    with state.unit_of_work() as session:
        return ContactOut.model_validate(records.get_record(session, KIND, contact_id))


@router.post("", response_model=ContactOut, status_code=201, responses=CREATE, summary="Create a contact")
def create_contact(body: ContactCreate, state: State, principal: Writer) -> ContactOut:
    """`account_id` must name an account (else 422 `unknown_account`); `external_id` must be new (else 409)."""
    with state.unit_of_work() as session:
        record = records.create_record(
            session, KIND, body.model_dump(), parse_context(state), as_of=today(state.settings)
        )
        return ContactOut.model_validate(record)


@router.patch("/{contact_id}", response_model=ContactOut, responses=UPDATE, summary="Update a contact")
def update_contact(contact_id: RecordId, body: ContactUpdate, state: State, principal: Writer) -> ContactOut:
    """Only the fields sent change; `null` clears an optional field."""
    with state.unit_of_work() as session:
        record = records.update_record(
            session, KIND, contact_id, body.model_dump(exclude_unset=True), parse_context(state),
            as_of=today(state.settings),
        )  # fmt: skip
        return ContactOut.model_validate(record)


@router.delete("/{contact_id}", status_code=204, responses=DELETE, summary="Delete a contact")
def delete_contact(contact_id: RecordId, state: State, principal: Writer) -> Response:
    """Their tickets, survey answers and activities stay, without a contact."""
    with state.unit_of_work() as session:
        records.delete_record(session, KIND, contact_id, as_of=today(state.settings))
    return Response(status_code=204)
