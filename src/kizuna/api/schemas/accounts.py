"""Accounts: customer companies. Status, MRR, plan and renewal are derived from the
account's subscriptions (read-only here)."""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar, Literal

from pydantic import Field

from kizuna.api.schemas.common import (
    ClosedOutput,
    Count,
    CustomFields,
    Domain,
    ExternalId,
    Id,
    InputModel,
    Name255,
    OutputModel,
    PageOut,
    PatchModel,
    Text100,
)
from kizuna.domain.health import HealthGrade
from kizuna.domain.segments import FitBand, LifecycleStage, TouchTier
from kizuna.domain.subscriptions import AccountStatus

#: The accounts list's sorts (``-``: descending), as in ``services.accounts.ACCOUNT_SORTS``.
AccountSort = Literal[
    "name", "-name", "mrr", "-mrr", "renewal", "-renewal", "-churned", "newest", "health", "-health", "fit", "-fit",
    "touch", "-touch", "trend", "-trend", "ltv", "-ltv", "churn", "-churn",
]


class AccountCreate(InputModel):
    external_id: ExternalId
    name: Name255
    domain: Domain | None = None
    industry: Text100 | None = None
    employee_count: Count | None = None
    owner_id: Id | None = Field(None, description="The CSM (a user's id) who owns the account.")
    parent_id: Id | None = Field(None, description="The parent company (an account's id).")
    custom_fields: CustomFields = Field(default_factory=dict)


class AccountUpdate(PatchModel):
    """Only the fields sent change; `null` clears an optional field. `custom_fields`
    replaces the whole object."""

    not_null: ClassVar[frozenset[str]] = frozenset({"external_id", "name", "custom_fields"})

    external_id: ExternalId | None = None
    name: Name255 | None = None
    domain: Domain | None = None
    industry: Text100 | None = None
    employee_count: Count | None = None
    owner_id: Id | None = None
    parent_id: Id | None = None
    custom_fields: CustomFields | None = None


#: A custom field's value in an answer: text, a number, true/false or null (the names are the user's).
CustomValue = str | int | float | bool | None


class AccountHeaderOut(OutputModel):
    """The account header (``services.accounts.AccountHeader``, field for field): every
    answer about an account starts with it."""

    id: int
    external_id: str = Field(description="The account's key in the source system.")
    name: str
    domain: str | None
    industry: str | None
    employee_count: int | None
    status: AccountStatus = Field(description="Derived from the subscriptions: prospect, trial, active, churned.")
    mrr: int = Field(description="Monthly recurring revenue today, in minor units of `currency` (derived).")
    currency: str | None
    renewal_on: date | None = Field(
        description="The end of the main committed term (12 months or more; derived); null for monthly evergreen."
    )
    contract_term_months: int | None = Field(
        None, description="The main contract line's term in months (1: renews every month by itself; derived)."
    )
    customer_since: date | None
    churned_on: date | None
    owner_id: int | None
    owner_name: str | None
    plan_id: int | None = Field(description="The main plan product (derived).")
    plan_name: str | None


class RiskItemOut(ClosedOutput):
    """One item of a health explanation (``services.accounts.RiskItem``)."""

    kind: str = Field(description="change: moved the score against 30 days earlier; level: costs points now.")
    measure: str = Field(description="The measure's key (see docs/health.md).")
    value: float | None = Field(description="The measure's raw value; null when missing.")
    points: float = Field(description="Points it moved the score (negative: lost).")
    before: float | None = Field(None, description="change: the value 30 days earlier.")
    measure_points: float | None = Field(None, description="level: the measure's own points, 0–100.")


class AccountOut(AccountHeaderOut):
    """The header, the parent, custom fields and timestamps, the segment and health columns."""

    parent_id: int | None
    custom_fields: dict[str, CustomValue] = Field(description="The account's custom fields: your names, your values.")
    created_at: datetime
    updated_at: datetime
    touch_tier: TouchTier | None = Field(
        None, description="high, low or tech touch (derived by the rules, or set by a lead: see tier-override)."
    )
    lifecycle_stage: LifecycleStage | None = Field(
        None, description="onboarding, adoption, expansion, renewal or churned (derived, or set by a lead)."
    )
    at_risk: bool = Field(False, description="Flagged at risk: red health, a sharp fall of health, or logins down.")
    fit_score: float | None = Field(None, description="Fit with the ideal customer profile, 0–100 (derived).")
    fit_band: FitBand | None = Field(None, description="strong, moderate or weak fit (derived).")
    health_score: float | None = Field(None, description="The latest health score, 0–100 (derived).")
    health_grade: HealthGrade | None = Field(None, description="green, yellow or red (derived).")
    health_as_of: date | None = Field(None, description="The day of the latest health score.")
    last_touch_at: datetime | None = Field(None, description="The newest activity (call, meeting, note…); in lists.")
    health_change_30d: float | None = Field(
        None, description="The latest health score minus the one 30 days earlier (points); in lists."
    )
    days_to_renewal: int | None = Field(None, description="Days from today to `renewal_on` (negative: past); in lists.")
    top_risk: RiskItemOut | None = Field(
        None, description="The item of the latest health explanation that cost the most points; in lists."
    )
    top_risk_reason: str | None = Field(None, description="`top_risk` as a sentence in the caller's language.")
    ltv: int | None = Field(
        None, description="Lifetime value from the daily job's ltv step, minor units of `currency`; in lists "
        "(details: `GET /api/accounts/{id}/ltv`)."
    )
    residual_value: int | None = Field(None, description="Its expected discounted value still to come; in lists.")
    churn_risk: float | None = Field(
        None, description="Probability (0–1) of churn within the churn model's horizon, newest scored day; in lists "
        "(details: `GET /api/accounts/{id}/churn`)."
    )


class AccountPage(PageOut[AccountOut]):
    pass
