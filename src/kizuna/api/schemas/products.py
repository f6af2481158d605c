"""Products: plans and add-ons. A product's key is its `code`."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from kizuna.api.schemas.common import (
    Code,
    Count,
    Currency,
    InputModel,
    Money,
    Name200,
    OutputModel,
    PageOut,
    PatchModel,
    Text2000,
)
from kizuna.domain.enums import ProductKind

ProductSort = Literal["rank", "-rank", "name", "-name", "code", "-code", "id", "-id"]


class ProductCreate(InputModel):
    code: Code = Field(description="The product's key, e.g. plan-pro.")
    name: Name200
    kind: ProductKind
    rank: Count = Field(0, description="Upsell order: a higher rank is an upgrade.")
    list_price: Money = Field(0, description="Monthly list price per unit, in minor units of `currency`.")
    currency: Currency | None = Field(None, description="ISO 4217; default KIZUNA_DEFAULT_CURRENCY (JPY).")
    seats_included: Count | None = None
    description: Text2000 | None = None
    is_active: bool = True


class ProductUpdate(PatchModel):
    not_null: ClassVar[frozenset[str]] = frozenset(
        {"code", "name", "kind", "rank", "list_price", "currency", "is_active"}
    )

    code: Code | None = None
    name: Name200 | None = None
    kind: ProductKind | None = None
    rank: Count | None = None
    list_price: Money | None = None
    currency: Currency | None = None
    seats_included: Count | None = None
    description: Text2000 | None = None
    is_active: bool | None = None


class ProductOut(OutputModel):
    id: int
    code: str
    name: str
    kind: ProductKind
    rank: int
    list_price: int = Field(description="Minor units of `currency`.")
    currency: str
    seats_included: int | None
    description: str | None
    is_active: bool
    created_at: datetime
    updated_at: datetime


class ProductPage(PageOut[ProductOut]):
    pass
