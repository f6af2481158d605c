"""Touch tiers, lifecycle stages and customer fit: overrides, history, churn by fit."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import Field

from kizuna.api.schemas.common import InputModel, OutputModel, Storable
from kizuna.domain.health import HealthGrade
from kizuna.domain.segments import Dimension, FitBand, LifecycleStage, TouchTier

Reason = Annotated[
    str, Field(min_length=1, max_length=1000, description="Why (kept in the history; required)."), Storable
]


class TierOverrideIn(InputModel):
    tier: TouchTier = Field(description="high, low or tech.")
    reason: Reason


class StageOverrideIn(InputModel):
    stage: LifecycleStage = Field(description="onboarding, adoption, expansion, renewal or churned.")
    reason: Reason


class OverrideOut(OutputModel):
    value: str
    reason: str
    set_by: str
    set_at: datetime


class PeriodOut(OutputModel):
    dimension: Dimension = Field(description="tier or stage.")
    value: str
    from_on: date
    to_on: date | None = Field(description="Exclusive; null while current.")
    reason: str = Field(description="The rule (in English) or the reason a lead gave.")
    set_by: str | None = Field(description="Who set it by hand; null: the rules.")


class AccountSegmentsOut(OutputModel):
    account_id: int
    as_of: date
    touch_tier: TouchTier | None
    touch_tier_rule: TouchTier | None = Field(description="What the rules say (differs while overridden).")
    tier_override: OverrideOut | None
    lifecycle_stage: LifecycleStage | None
    lifecycle_stage_rule: LifecycleStage | None
    stage_override: OverrideOut | None
    stage_since: date | None
    days_in_stage: int | None
    at_risk: bool
    fit_score: float | None
    fit_band: FitBand | None
    health_score: float | None
    health_grade: HealthGrade | None
    health_as_of: date | None
    history: list[PeriodOut] = Field(description="Tier and stage periods, newest first.")


class BandChurnOut(OutputModel):
    band: FitBand | None = Field(description="null: accounts without fit data.")
    customers: int = Field(description="Accounts that were customers by `as_of`.")
    churned: int = Field(description="Of them, churned by `as_of`.")
    churn_rate: float | None


class FitChurnOut(OutputModel):
    as_of: date
    bands: list[BandChurnOut]
