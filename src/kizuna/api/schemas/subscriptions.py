"""Subscriptions: contract lines carrying MRR. Writing one refreshes its account's
status, MRR, plan and renewal date."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from kizuna.api.schemas.common import (
    Count,
    Currency,
    Day,
    ExternalId,
    Id,
    InputModel,
    Moment,
    Money,
    OutputModel,
    PageOut,
    PatchModel,
    Text255,
)
from kizuna.domain.enums import BillingInterval, SubscriptionStatus
from kizuna.domain.subscriptions import MAX_TERM_MONTHS

TermMonths = Annotated[int, Field(ge=1, le=MAX_TERM_MONTHS)]

SubscriptionSort = Literal[
    "id", "-id", "started_on", "-started_on", "current_term_end", "-current_term_end", "monthly_amount",
    "-monthly_amount",
]  # fmt: skip


class SubscriptionCreate(InputModel):
    external_id: ExternalId
    account_id: Id
    product_id: Id
    quantity: Count = Field(1, description="Seats or units.")
    monthly_amount: Money = Field(description="MRR of the line (an annual amount ÷ 12), in minor units of `currency`.")
    currency: Currency | None = Field(None, description="ISO 4217; default KIZUNA_DEFAULT_CURRENCY (JPY).")
    billing_interval: BillingInterval = BillingInterval.MONTH
    status: SubscriptionStatus
    started_on: Day
    trial_ends_on: Day | None = None
    current_term_end: Day | None = Field(None, description="The end of the current term.")
    term_months: TermMonths | None = Field(
        None, description="Contract term in months (1 monthly evergreen, 12 annual, 36 …); default: from billing_interval."
    )
    canceled_at: Moment | None = Field(None, description="When the customer asked to cancel.")
    ended_on: Day | None = Field(
        None, description="The first day the line no longer earns; required for canceled and expired lines."
    )
    cancel_reason: Text255 | None = None


class SubscriptionUpdate(PatchModel):
    not_null: ClassVar[frozenset[str]] = frozenset(
        {
            "external_id",
            "account_id",
            "product_id",
            "quantity",
            "monthly_amount",
            "currency",
            "billing_interval",
            "status",
            "started_on",
        }
    )

    external_id: ExternalId | None = None
    account_id: Id | None = None
    product_id: Id | None = None
    quantity: Count | None = None
    monthly_amount: Money | None = None
    currency: Currency | None = None
    billing_interval: BillingInterval | None = None
    status: SubscriptionStatus | None = None
    started_on: Day | None = None
    trial_ends_on: Day | None = None
    current_term_end: Day | None = None
    term_months: TermMonths | None = None
    canceled_at: Moment | None = None
    ended_on: Day | None = None
    cancel_reason: Text255 | None = None


class SubscriptionOut(OutputModel):
    id: int
    external_id: str
    account_id: int
    product_id: int
    quantity: int
    monthly_amount: int = Field(description="Minor units of `currency`.")
    currency: str
    billing_interval: BillingInterval
    status: SubscriptionStatus
    started_on: date
    trial_ends_on: date | None
    current_term_end: date | None
    term_months: int | None = Field(description="As given; null: inferred from billing_interval.")
    canceled_at: datetime | None
    ended_on: date | None
    cancel_reason: str | None
    created_at: datetime
    updated_at: datetime


class SubscriptionPage(PageOut[SubscriptionOut]):
    pass
