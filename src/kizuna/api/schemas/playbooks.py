"""Playbooks: the list, one playbook with its versions and runs, and its effect."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import Field

from kizuna.api.schemas.common import OutputModel


class PlaybookOut(OutputModel):
    key: str
    version: int = Field(description="The newest version (the one that runs).")
    name: str
    enabled: bool = Field(description="False: paused (no account enters).")
    trigger: dict[str, str | int | float | bool] = Field(description="`kind` and its parameters.")
    filters: dict[str, list[str]]
    steps: list[dict[str, str | int | float | bool]] = Field(description="In order: `kind` and its fields.")
    cooldown_days: int
    holdout: float = Field(description="The share of entering accounts held out (0–0.5).")
    exit_when_cleared: bool
    enrolled: int = Field(description="Runs open now (treated).")
    held_out: int = Field(description="Runs open now in the holdout.")


class VersionOut(OutputModel):
    version: int
    name: str
    created_at: datetime
    author: str | None
    note: str | None


class RunOut(OutputModel):
    id: int
    account_id: int
    account: str
    version: int
    state: str = Field(description="active, completed, exited or holdout.")
    holdout: bool
    entered_on: date
    step: int = Field(description="The next step to do (0-based).")
    next_on: date | None
    finished_on: date | None


class PlaybookDetailOut(PlaybookOut):
    versions: list[VersionOut]
    runs_total: int
    runs: list[RunOut] = Field(description="The newest runs (up to 200).")


class ComparisonOut(OutputModel):
    measure: str
    treated_n: int
    holdout_n: int
    treated: float | None
    holdout: float | None
    difference: float | None = Field(description="treated − holdout.")
    low: float | None = Field(description="The 95 % interval of the difference.")
    high: float | None
    enough: bool = Field(description="False: fewer than 20 runs in a group (not enough data yet).")


class EffectOut(OutputModel):
    key: str
    as_of: date
    horizon_days: int
    runs: int = Field(description="Runs old enough to be judged (entered at least the horizon ago).")
    churn: ComparisonOut
    health_change: ComparisonOut
    renewal: ComparisonOut
    expansion: ComparisonOut
