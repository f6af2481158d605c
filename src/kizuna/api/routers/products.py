"""``/api/products``: plans and add-ons, keyed by `code`."""

from __future__ import annotations

from fastapi import APIRouter, Response

from kizuna.api.routers._common import (
    CREATE,
    DELETE,
    READ,
    READ_ONE,
    UPDATE,
    PageNo,
    PerPage,
    RecordId,
    Writer,
    parse_context,
)
from kizuna.api.schemas.common import Code
from kizuna.api.schemas.products import ProductCreate, ProductOut, ProductPage, ProductSort, ProductUpdate
from kizuna.domain.enums import ProductKind
from kizuna.http.auth import CurrentPrincipal, State
from kizuna.http.clock import today
from kizuna.http.limits import LimitedRoute
from kizuna.services import records

router = APIRouter(prefix="/api/products", tags=["products"], route_class=LimitedRoute)
KIND = "product"


@router.get("", response_model=ProductPage, responses=READ, summary="List products")
def list_products(
    state: State,
    principal: CurrentPrincipal,
    code: Code | None = None,
    kind: ProductKind | None = None,
    is_active: bool | None = None,
    sort: ProductSort = "rank",
    page: PageNo = 1,
    per_page: PerPage = 50,
) -> ProductPage:
    """Products matching every filter given (`code`: exact), sorted by `sort` (`-`: descending; ties by id)."""
    filters = {"code": code, "kind": kind, "is_active": is_active}
    with state.unit_of_work() as session:
        found = records.list_records(session, KIND, filters=filters, sort=sort, page=page, per_page=per_page)
        return ProductPage.of(found, ProductOut.model_validate)


@router.get("/{product_id}", response_model=ProductOut, responses=READ_ONE, summary="Get a product")
def get_product(product_id: RecordId, state: State, principal: CurrentPrincipal) -> ProductOut:
    with state.unit_of_work() as session:
        return ProductOut.model_validate(records.get_record(session, KIND, product_id))


@router.post("", response_model=ProductOut, status_code=201, responses=CREATE, summary="Create a product")
def create_product(body: ProductCreate, state: State, principal: Writer) -> ProductOut:
    """`code` must be new (409 `conflict`); `list_price` is in minor units of `currency`."""
    with state.unit_of_work() as session:
        record = records.create_record(
            session, KIND, body.model_dump(), parse_context(state), as_of=today(state.settings)
        )
        return ProductOut.model_validate(record)


@router.patch("/{product_id}", response_model=ProductOut, responses=UPDATE, summary="Update a product")
def update_product(product_id: RecordId, body: ProductUpdate, state: State, principal: Writer) -> ProductOut:
    """Only the fields sent change. Changing `kind` refreshes the plan shown on its accounts."""
    with state.unit_of_work() as session:
        record = records.update_record(
            session, KIND, product_id, body.model_dump(exclude_unset=True), parse_context(state),
            as_of=today(state.settings),
        )  # fmt: skip
        return ProductOut.model_validate(record)


@router.delete("/{product_id}", status_code=204, responses=DELETE, summary="Delete a product")
def delete_product(product_id: RecordId, state: State, principal: Writer) -> Response:
    """Refused with 409 `product_in_use` while a subscription uses the product."""
    with state.unit_of_work() as session:
        records.delete_record(session, KIND, product_id, as_of=today(state.settings))
    return Response(status_code=204)
