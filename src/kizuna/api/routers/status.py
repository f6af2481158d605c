"""``GET /api/status``: the schema version, the last daily job and the freshness of each
data feed (``kizuna status``'s twin)."""

from __future__ import annotations

from datetime import date, datetime

from fastapi import APIRouter
from pydantic import BaseModel, Field

from kizuna.api.routers._common import responses
from kizuna.http.auth import CurrentPrincipal, State
from kizuna.services import status as status_service

router = APIRouter(prefix="/api", tags=["status"])


class SchemaOut(BaseModel):
    current: str | None = Field(description="The store's migration revision.")
    head: str | None = Field(description="The newest revision this Kizuna knows.")
    up_to_date: bool


class DailyJobOut(BaseModel):
    as_of: date | None
    status: str = Field(description="running, succeeded or failed (a step failed or was skipped).")
    trigger: str
    started_at: datetime
    finished_at: datetime | None


class FeedOut(BaseModel):
    source: str = Field(description="usage, tickets, surveys, subscriptions or activities.")
    as_of: date = Field(description="The day the daily job checked the feed for.")
    last_day: date | None = Field(description="The last day with data (local days); null: never had data.")
    late_since: date | None = Field(description="The first day without data after it.")
    silent_days: int | None = Field(description="Days from last_day to as_of.")
    expected_gap_days: int | None = Field(
        description="How long (days) the feed may be silent before it is late; null: too little history to know "
                    "(fewer than 5 days with data), so it is not judged.")
    gap_is_set: bool = Field(description="true: set by KIZUNA_FRESHNESS_GAPS; false: derived from its history.")
    stale: bool = Field(description="Late: silent for longer than expected. Its health measures count as missing.")
    checked_at: datetime


class StatusOut(BaseModel):
    backend: str = Field(description="The store's database: sqlite or postgresql.")
    schema_: SchemaOut = Field(alias="schema")
    daily_job: DailyJobOut | None = Field(description="The last run of the daily job (null: never run).")
    freshness: list[FeedOut] = Field(description="One row per data feed, as the daily job last found it.")
    late_feeds: list[str] = Field(description="The sources that are late.")

    model_config = {"populate_by_name": True}


@router.get("/status", response_model=StatusOut, response_model_by_alias=True, responses=responses(401),
            summary="Schema version, last daily job, freshness of each data feed")  # fmt: skip
def get_status(state: State, principal: CurrentPrincipal) -> StatusOut:
    """What `kizuna status` shows: the schema revision against the newest, the last daily
    job, and per data feed its last day with data, how long it may be silent (set, or
    derived from its history) and whether it is late. Any signed-in user or API key."""
    with state.unit_of_work() as session:
        data = status_service.status(session)
    return StatusOut(
        backend=data["backend"], schema_=SchemaOut(**data["schema"]),
        daily_job=None if data["daily_job"] is None else DailyJobOut(**data["daily_job"]),
        freshness=[FeedOut(**r) for r in data["freshness"]], late_feeds=data["late_feeds"],
    )  # fmt: skip
