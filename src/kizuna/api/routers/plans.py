"""``/api/onboarding/…`` and ``/api/accounts/{id}/success-plan``: the JSON twins of the
onboarding templates page, the 360 page's plans and the success plan's forms."""

from __future__ import annotations

from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from kizuna.api.routers._common import READ, READ_ONE, UPDATE, RecordId, Writer, responses
from kizuna.domain.onboarding import BY_TIER
from kizuna.http.auth import CurrentPrincipal, State
from kizuna.http.clock import today
from kizuna.http.limits import LimitedRoute
from kizuna.services import onboarding, success_plans

router = APIRouter(prefix="/api", tags=["plans"], route_class=LimitedRoute)


class TemplateMilestoneIn(BaseModel):
    name: str = Field(max_length=200)
    offset_days: int = Field(description="Days after the plan's start (0 to 730).")
    owner: str = Field("csm", description="csm or customer")
    first_value: bool = Field(False, description="Reaching it is the account's first value.")


class TemplateIn(BaseModel):
    name: str = Field(max_length=200)
    tier: str | None = Field(None, description="high, low or tech; null: any tier")
    milestones: list[TemplateMilestoneIn] = Field(max_length=50)


class TemplateOut(TemplateIn):
    key: str


class TomlIn(BaseModel):
    toml: str = Field(max_length=200_000, description="[templates.KEY] tables with [[templates.KEY.milestones]].")


class ApplyIn(BaseModel):
    template: str = Field(BY_TIER, max_length=64, description="A template key, or by_tier.")
    start: date | None = Field(None, description="Default: today.")


class MilestoneOut(BaseModel):
    id: int
    name: str
    position: int
    due_on: date | None
    completed_at: datetime | None
    completed_by_id: int | None
    completed_by: str | None
    owner: str | None
    template_key: str | None
    started_on: date | None
    first_value: bool
    overdue: bool


class TickIn(BaseModel):
    done: bool = True


class ObjectiveIn(BaseModel):
    title: str = Field(max_length=300)
    metric: str = Field(max_length=200)
    baseline_value: float
    target_value: float
    current_value: float | None = None
    started_on: date | None = None
    due_on: date


class ObjectiveUpdate(BaseModel):
    title: str | None = Field(None, max_length=300)
    metric: str | None = Field(None, max_length=200)
    baseline_value: float | None = None
    target_value: float | None = None
    current_value: float | None = None
    started_on: date | None = None
    due_on: date | None = None


class ItemIn(BaseModel):
    name: str = Field(max_length=300)
    due_on: date | None = None


class TrackOut(BaseModel):
    status: str = Field(description="on_track, at_risk or off_track (docs/success.md has the rule).")
    progress: float = Field(description="(current − baseline) ÷ (target − baseline); 1 = reached.")
    elapsed: float = Field(description="Share of the time from the start to the due date gone (0…1).")


class GoalMilestoneOut(BaseModel):
    id: int
    name: str
    due_on: date | None
    completed_at: datetime | None


class GoalTaskOut(BaseModel):
    id: int
    title: str
    status: str
    due_on: date | None


class ObjectiveOut(BaseModel):
    id: int
    title: str
    metric: str | None
    baseline_value: float | None
    target_value: float | None
    current_value: float | None
    started_on: date | None
    due_on: date | None
    track: TrackOut | None = Field(description="null: an imported goal without baseline, target or due date.")
    milestones: list[GoalMilestoneOut]
    tasks: list[GoalTaskOut]


class PlanOut(BaseModel):
    account_id: int
    account_name: str
    as_of: date
    objectives: list[ObjectiveOut]


def _template(t: Any) -> TemplateOut:
    return TemplateOut(key=t.key, **t.as_table() | {"tier": t.tier})


@router.get("/onboarding/templates", response_model=list[TemplateOut], responses=READ, summary="Onboarding templates")
def list_templates(state: State, principal: CurrentPrincipal) -> list[TemplateOut]:
    with state.unit_of_work() as session:
        return [_template(t) for t in onboarding.list_templates(session)]


@router.put("/onboarding/templates/{key}", response_model=TemplateOut, responses=UPDATE,
            summary="Add or replace an onboarding template")  # fmt: skip
def put_template(key: str, body: TemplateIn, state: State, principal: Writer) -> TemplateOut:
    with state.unit_of_work() as session:
        t, _created = onboarding.save_template(session, key, body.model_dump())
        return _template(t)


@router.post("/onboarding/templates/import", response_model=list[TemplateOut], responses=UPDATE,
             summary="Add or replace onboarding templates from TOML")  # fmt: skip
def import_templates(body: TomlIn, state: State, principal: Writer) -> list[TemplateOut]:
    """All or nothing: a bad template refuses the whole file, naming the field."""
    with state.unit_of_work() as session:
        return [_template(t) for t in onboarding.import_toml(session, body.toml, "toml")]


@router.get("/accounts/{account_id}/onboarding", response_model=list[MilestoneOut], responses=READ_ONE,
            summary="An account's onboarding milestones")  # fmt: skip
def account_onboarding(account_id: RecordId, state: State, principal: CurrentPrincipal) -> list[MilestoneOut]:
    with state.unit_of_work() as session:
        onboarding.check_account(session, account_id)
        return [MilestoneOut(**asdict(m)) for m in onboarding.account_milestones(session, account_id,
                                                                                today(state.settings))]  # fmt: skip


@router.post("/accounts/{account_id}/onboarding-plan", response_model=list[MilestoneOut], responses=UPDATE,
             summary="Apply an onboarding plan")  # fmt: skip
def apply_plan(account_id: RecordId, body: ApplyIn, state: State, principal: Writer) -> list[MilestoneOut]:
    """Replaces the account's open template milestones (ticked ones stay)."""
    day = today(state.settings)
    with state.unit_of_work() as session:
        onboarding.check_account(session, account_id)
        onboarding.apply(session, [account_id], body.template, start=body.start or day, replace=True)
        return [MilestoneOut(**asdict(m)) for m in onboarding.account_milestones(session, account_id, day)]


@router.post("/onboarding/milestones/{milestone_id}/tick", response_model=MilestoneOut, responses=UPDATE,
             summary="Tick an onboarding milestone off (or untick it)")  # fmt: skip
def tick(milestone_id: RecordId, body: TickIn, state: State, principal: Writer) -> MilestoneOut:
    """Who (the signed-in user; an API key has none) and when are recorded."""
    day = today(state.settings)
    with state.unit_of_work() as session:
        account_id = onboarding.tick(session, milestone_id, done=body.done, user_id=principal.user_id,
                                     now=datetime.now(state.settings.zone))  # fmt: skip
        found = next(m for m in onboarding.account_milestones(session, account_id, day) if m.id == milestone_id)
        return MilestoneOut(**asdict(found))


def _plan(plan: success_plans.SuccessPlan) -> PlanOut:
    return PlanOut(**asdict(plan))


@router.get("/accounts/{account_id}/success-plan", response_model=PlanOut, responses=READ_ONE,
            summary="An account's success plan")  # fmt: skip
def get_plan(account_id: RecordId, state: State, principal: CurrentPrincipal) -> PlanOut:
    """Each objective with its status (on_track, at_risk, off_track; docs/success.md has the rule)."""
    with state.unit_of_work() as session:
        return _plan(success_plans.plan(session, account_id, today(state.settings)))


@router.post("/accounts/{account_id}/success-plan/objectives", response_model=PlanOut, status_code=201,
             responses=responses(400, 401, 403, 404, 409, 413, 422), summary="Add an objective")  # fmt: skip
def add_objective(account_id: RecordId, body: ObjectiveIn, state: State, principal: Writer) -> PlanOut:
    day = today(state.settings)
    with state.unit_of_work() as session:
        success_plans.create_objective(session, account_id, body.model_dump(), today=day)
        return _plan(success_plans.plan(session, account_id, day))


@router.patch("/success-plan/objectives/{goal_id}", response_model=PlanOut, responses=UPDATE,
              summary="Change an objective")  # fmt: skip
def update_objective(goal_id: RecordId, body: ObjectiveUpdate, state: State, principal: Writer) -> PlanOut:
    day = today(state.settings)
    with state.unit_of_work() as session:
        account_id = success_plans.update_objective(session, goal_id, body.model_dump(exclude_unset=True), today=day)
        return _plan(success_plans.plan(session, account_id, day))


@router.post("/success-plan/objectives/{goal_id}/milestones", response_model=PlanOut, status_code=201,
             responses=responses(400, 401, 403, 404, 409, 413, 422), summary="Add a milestone to an objective")  # fmt: skip
def add_milestone(goal_id: RecordId, body: ItemIn, state: State, principal: Writer) -> PlanOut:
    day = today(state.settings)
    with state.unit_of_work() as session:
        success_plans.add_milestone(session, goal_id, body.name, body.due_on)
        account_id = success_plans.goal_account_id(session, goal_id)
        return _plan(success_plans.plan(session, account_id, day))


@router.post("/success-plan/objectives/{goal_id}/tasks", response_model=PlanOut, status_code=201,
             responses=responses(400, 401, 403, 404, 409, 413, 422), summary="Add a task to an objective")  # fmt: skip
def add_task(goal_id: RecordId, body: ItemIn, state: State, principal: Writer) -> PlanOut:
    day = today(state.settings)
    with state.unit_of_work() as session:
        success_plans.add_task(session, goal_id, body.name, body.due_on, today=day, created_by_id=principal.user_id)
        account_id = success_plans.goal_account_id(session, goal_id)
        return _plan(success_plans.plan(session, account_id, day))
