"""The health pages' JSON twins: the summary and movers, an account's snapshots, the
backtest, the scorecards and CSM sentiment — every field named (OpenAPI documents them)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from kizuna.api.schemas.accounts import RiskItemOut
from kizuna.api.schemas.common import ClosedOutput


class GradeCountsOut(ClosedOutput):
    green: int = 0
    yellow: int = 0
    red: int = 0


class MoverOut(ClosedOutput):
    account_id: int
    name: str
    score: float
    grade: str = Field(description="green, yellow or red.")
    change: float = Field(description="Points gained (positive) or lost over the period.")
    explanation: list[RiskItemOut] = Field(description="What moved the score, largest first.")
    reasons: list[str] = Field(description="The explanation as sentences in the caller's language.")
    mrr: int | None = Field(None, description="The account's MRR in minor units of `currency`.")
    currency: str | None = None
    owner_id: int | None = Field(None, description="The account's owner (user id); null when unowned.")
    owner_name: str | None = None


class MoversOut(ClosedOutput):
    dropped_7d: list[MoverOut] = Field(default_factory=list)
    improved_7d: list[MoverOut] = Field(default_factory=list)
    dropped_30d: list[MoverOut] = Field(default_factory=list)
    improved_30d: list[MoverOut] = Field(default_factory=list)


class HealthSummaryOut(ClosedOutput):
    day: date | None = Field(description="The newest snapshot day; null before the first recompute.")
    grades: GradeCountsOut = Field(description="Accounts per grade on that day.")
    tiers: dict[str, GradeCountsOut] = Field(description="Touch tier (`none`: no tier) → accounts per grade.")
    movers: MoversOut = Field(description="The accounts whose score dropped or improved most over 7 and 30 days.")


class MeasureOut(ClosedOutput):
    value: float | None = Field(description="The raw value; null when missing.")
    points: float | None = Field(description="0–100; null when missing.")
    weight: float = Field(description="Its share of the score (0–1).")


class SnapshotOut(ClosedOutput):
    day: date
    scorecard: str
    score: float
    grade: str = Field(description="green, yellow or red.")
    letter: str = Field(description="A, B, C, D or F.")
    change_7d: float | None
    change_30d: float | None
    measures: dict[str, MeasureOut] = Field(description="Measure key (see docs/health.md) → value, points, weight.")
    explanation: list[RiskItemOut]
    reasons: list[str] = Field(description="The explanation as sentences in the caller's language.")


class SentimentOut(ClosedOutput):
    id: int
    value: int = Field(description="1 very negative … 5 very positive.")
    reason: str
    entered_at: datetime
    author: str | None


class AccountHealthOut(ClosedOutput):
    account_id: int
    name: str
    history: list[SnapshotOut] = Field(description="Daily snapshots, oldest first.")
    sentiments: list[SentimentOut] = Field(description="CSM sentiment entries, newest first.")


class SentimentEnteredOut(ClosedOutput):
    id: int
    account_id: int
    value: int
    reason: str
    entered_at: datetime


class RocPointOut(ClosedOutput):
    fpr: float = Field(description="False positive rate.")
    tpr: float = Field(description="True positive rate.")


class GradeChurnOut(ClosedOutput):
    accounts: int = Field(description="(month-end, account) samples with this grade.")
    churned: int = Field(description="Of them, churned within the horizon.")
    rate: float


class MeasureAucOut(ClosedOutput):
    measure: str
    auc: float | None
    direction: str = Field(description="right (fewer points, more churn), wrong, or none (no data).")
    samples: int
    churned: int


class BacktestOut(ClosedOutput):
    horizon_days: int
    evaluations: int = Field(description="Month-ends replayed.")
    samples: int = Field(description="(month-end, paying account) pairs scored.")
    churned: int = Field(description="Samples that churned within the horizon.")
    auc: float | None = Field(description="ROC-AUC of the score against churn.")
    roc: list[RocPointOut]
    by_grade: dict[str, GradeChurnOut] = Field(description="Grade (green, yellow, red) → churn within the horizon.")
    lift_red_over_green: float | None
    median_lead_days: float | None = Field(description="How long before churning the score turned red (median).")
    churn_events: int
    red_before_churn: int
    first_day: date | None
    last_day: date | None
    stability_days: int = Field(0, description="Days of history over which day-to-day grade changes were counted.")
    grade_changes_per_1000: float | None = Field(None, description="Grade changes per day per 1,000 accounts, "
                                                 "with the hysteresis (what the stored grades do).")
    raw_grade_changes_per_1000: float | None = Field(None, description="The same without the hysteresis.")
    naive_auc: float | None = Field(None, description="ROC-AUC of the naive signal (fewer events in the last 30 "
                                    "days = riskier): the floor a scorecard must beat.")
    measures: list[MeasureAucOut] = Field(default_factory=list, description="Each measure's own ROC-AUC.")
    scorecards: str | None = Field(None, description="Which scorecards were replayed.")
    scorecards_version: int | None = Field(None, description="The saved version replayed; null: the file.")


class ScorecardVersionOut(ClosedOutput):
    version: int
    created_at: datetime
    note: str | None
    author: str | None


class ScorecardsOut(ClosedOutput):
    origin: str = Field(description="A saved version, or the file in force.")
    version: int | None
    source: str = Field(description="The scorecards as TOML.")
    versions: list[ScorecardVersionOut] = Field(description="Saved versions, newest first.")


class ScorecardSavedOut(ClosedOutput):
    version: int = Field(description="The new version's number.")
