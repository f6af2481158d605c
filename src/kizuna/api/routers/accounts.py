"""``/api/accounts``: customer companies, listed by the same service as the accounts page."""

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
from kizuna.api.schemas.accounts import AccountCreate, AccountOut, AccountPage, AccountSort, AccountUpdate
from kizuna.api.schemas.common import Storable
from kizuna.domain.health import HealthGrade
from kizuna.domain.segments import FitBand, LifecycleStage, TouchTier
from kizuna.domain.subscriptions import AccountStatus
from kizuna.http.auth import CurrentPrincipal, State
from kizuna.http.clock import today
from kizuna.http.limits import LimitedRoute
from kizuna.services import records

router = APIRouter(prefix="/api/accounts", tags=["accounts"], route_class=LimitedRoute)


@router.get("", response_model=AccountPage, responses=READ, summary="List accounts")
def list_accounts(
    state: State,
    principal: CurrentPrincipal,
    q: Annotated[
        str | None,
        Query(max_length=255, description="Search: part of the name or domain, or the exact external_id."),
        Storable,
    ] = None,
    owner_id: RefFilter = None,
    unowned: Annotated[bool, Query(description="Only accounts without an owner.")] = False,
    plan_id: RefFilter = None,
    status: AccountStatus | None = None,
    renewal_within_days: Annotated[
        int | None, Query(ge=0, le=3660, description="Renewing between today and this many days from now.")
    ] = None,
    external_id: Annotated[
        KeyFilter, Query(description="The one account with this external_id; not combinable with other filters.")
    ] = None,
    touch_tier: TouchTier | None = None,
    lifecycle_stage: LifecycleStage | None = None,
    at_risk: Annotated[bool | None, Query(description="true: only accounts at risk; false: only those not.")] = None,
    fit_band: FitBand | None = None,
    health_grade: HealthGrade | None = None,
    min_ltv: Annotated[
        int | None, Query(ge=0, le=10**15, description="Lifetime value at least this (minor units of the currency).")
    ] = None,
    min_churn_risk: Annotated[
        float | None, Query(ge=0, le=1, description="Churn probability at least this (0–1), newest scored day.")
    ] = None,
    sort: Annotated[AccountSort, Query(description="`-`: descending; ties by id.")] = "-mrr",
    page: PageNo = 1,
    per_page: PerPage = 50,
) -> AccountPage:
    """The accounts list of the web app: search, filters by owner, plan, status,
    renewal window, touch tier, lifecycle stage, at-risk, fit band, health grade, lifetime value and churn risk, sorted and paged. Status, MRR, plan and renewal are derived from the
    subscriptions."""
    query = records.AccountQuery(
        search=q, owner_id=owner_id, unowned=unowned, plan_id=plan_id, status=status,
        renewal_within_days=renewal_within_days, sort=sort, page=page, per_page=per_page, touch_tier=touch_tier,
        lifecycle_stage=lifecycle_stage, at_risk=at_risk, fit_band=fit_band, health_grade=health_grade,
        min_ltv=min_ltv, min_churn_risk=min_churn_risk,
    )  # fmt: skip
    with state.unit_of_work() as session:
        found = records.find_accounts(session, query, as_of=today(state.settings), external_id=external_id)
        return AccountPage.of(found, AccountOut.model_validate)


@router.get("/{account_id}", response_model=AccountOut, responses=READ_ONE, summary="Get an account")
def get_account(account_id: RecordId, state: State, principal: CurrentPrincipal) -> AccountOut:
    with state.unit_of_work() as session:
        return AccountOut.model_validate(records.get_account(session, account_id))


@router.post("", response_model=AccountOut, status_code=201, responses=CREATE, summary="Create an account")
def create_account(body: AccountCreate, state: State, principal: Writer) -> AccountOut:
    """`owner_id` must name a user (422 `unknown_user`), `parent_id` an account (422
    `unknown_account`); `external_id` must be new (409 `conflict`)."""
    with state.unit_of_work() as session:
        record = records.create_record(
            session, "account", body.model_dump(), parse_context(state), as_of=today(state.settings)
        )
        return AccountOut.model_validate(records.get_account(session, record.id))


@router.patch("/{account_id}", response_model=AccountOut, responses=UPDATE, summary="Update an account")
def update_account(account_id: RecordId, body: AccountUpdate, state: State, principal: Writer) -> AccountOut:
    """Only the fields sent change; `null` clears an optional field; `custom_fields` is replaced whole."""
    with state.unit_of_work() as session:
        records.update_record(
            session, "account", account_id, body.model_dump(exclude_unset=True), parse_context(state),
            as_of=today(state.settings),
        )  # fmt: skip
        return AccountOut.model_validate(records.get_account(session, account_id))


@router.delete("/{account_id}", status_code=204, responses=DELETE, summary="Delete an account")
def delete_account(account_id: RecordId, state: State, principal: Writer) -> Response:
    """Deletes the account with its contacts, subscriptions, tickets, survey answers,
    activities and usage; its child accounts lose their parent."""
    with state.unit_of_work() as session:
        records.delete_record(session, "account", account_id, as_of=today(state.settings))
    return Response(status_code=204)
