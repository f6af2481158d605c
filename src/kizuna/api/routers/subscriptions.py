"""``/api/subscriptions``: contract lines. Every write refreshes the account's status,
MRR, plan and renewal date."""

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
from kizuna.api.schemas.subscriptions import (
    SubscriptionCreate,
    SubscriptionOut,
    SubscriptionPage,
    SubscriptionSort,
    SubscriptionUpdate,
)
from kizuna.domain.enums import SubscriptionStatus
from kizuna.http.auth import CurrentPrincipal, State
from kizuna.http.clock import today
from kizuna.http.limits import LimitedRoute
from kizuna.services import records

router = APIRouter(prefix="/api/subscriptions", tags=["subscriptions"], route_class=LimitedRoute)
KIND = "subscription"


@router.get("", response_model=SubscriptionPage, responses=READ, summary="List subscriptions")
def list_subscriptions(
    state: State,
    principal: CurrentPrincipal,
    account_id: RefFilter = None,
    product_id: RefFilter = None,
    status: SubscriptionStatus | None = None,
    external_id: KeyFilter = None,
    sort: SubscriptionSort = "id",
    page: PageNo = 1,
    per_page: PerPage = 50,
) -> SubscriptionPage:
    """Subscriptions matching every filter given, sorted by `sort` (`-`: descending; empty
    renewal dates last; ties by id)."""
    filters = {"account_id": account_id, "product_id": product_id, "status": status, "external_id": external_id}
    with state.unit_of_work() as session:
        found = records.list_records(session, KIND, filters=filters, sort=sort, page=page, per_page=per_page)
        return SubscriptionPage.of(found, SubscriptionOut.model_validate)


@router.get("/{subscription_id}", response_model=SubscriptionOut, responses=READ_ONE, summary="Get a subscription")
def get_subscription(subscription_id: RecordId, state: State, principal: CurrentPrincipal) -> SubscriptionOut:
    with state.unit_of_work() as session:
        return SubscriptionOut.model_validate(records.get_record(session, KIND, subscription_id))


@router.post("", response_model=SubscriptionOut, status_code=201, responses=CREATE, summary="Create a subscription")
def create_subscription(body: SubscriptionCreate, state: State, principal: Writer) -> SubscriptionOut:
    """The importer's rules apply: `ended_on` not before `started_on`, required for
    canceled and expired lines, empty for active and trial ones."""
    with state.unit_of_work() as session:
        record = records.create_record(
            session, KIND, body.model_dump(), parse_context(state), as_of=today(state.settings)
        )
        return SubscriptionOut.model_validate(record)


@router.patch("/{subscription_id}", response_model=SubscriptionOut, responses=UPDATE, summary="Update a subscription")
def update_subscription(
    subscription_id: RecordId, body: SubscriptionUpdate, state: State, principal: Writer
) -> SubscriptionOut:
    """Only the fields sent change; the rules are checked on the result."""
    with state.unit_of_work() as session:
        record = records.update_record(
            session, KIND, subscription_id, body.model_dump(exclude_unset=True), parse_context(state),
            as_of=today(state.settings),
        )  # fmt: skip
        return SubscriptionOut.model_validate(record)


@router.delete("/{subscription_id}", status_code=204, responses=DELETE, summary="Delete a subscription")
def delete_subscription(subscription_id: RecordId, state: State, principal: Writer) -> Response:
    """To record a cancellation, update the line (`status`, `ended_on`) instead: deleting forgets its history."""
    with state.unit_of_work() as session:
        records.delete_record(session, KIND, subscription_id, as_of=today(state.settings))
    return Response(status_code=204)
