"""``GET /api/accounts/{id}/360`` and ``GET /api/accounts/{id}/timeline``: the customer
360 page's JSON twins."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from kizuna.api.schemas.accounts import AccountHeaderOut
from kizuna.api.schemas.common import MAX_INT
from kizuna.http.auth import CurrentPrincipal, State
from kizuna.http.clock import today
from kizuna.services import customer360 as c360

router = APIRouter(prefix="/api", tags=["accounts"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {
        "description": 'No such account: `{"errors": [{"code": "account_not_found", "message": "…", "field": "id"}]}`'
    }
}
AccountId = Annotated[
    int, Path(ge=1, le=MAX_INT, description="The account's id (as in `/accounts/{id}` and `GET /api/accounts`).")
]


class Account360HeaderOut(AccountHeaderOut):
    """The account header, its owner's email, its parent, and the day of its summary."""

    summary_as_of: date | None = Field(description="The day status, MRR, plan and renewal were computed for.")
    owner_email: str | None
    parent_id: int | None
    parent_name: str | None


class AccountRefOut(BaseModel):
    id: int
    name: str
    status: str
    mrr: int
    currency: str | None


class SignalsOut(BaseModel):
    open_tickets: int = Field(description="Tickets open or pending.")
    last_nps: int | None = Field(description="The latest NPS answer's score (0–10).")
    last_nps_at: datetime | None
    last_touch_at: datetime | None = Field(description="The latest logged meeting, call, email or note.")


class ContactOut(BaseModel):
    id: int
    external_id: str
    name: str
    email: str | None
    role: str | None
    is_champion: bool


class SubscriptionOut(BaseModel):
    id: int
    external_id: str
    product_id: int
    product_name: str
    product_code: str
    product_kind: str = Field(description="plan or addon.")
    quantity: int
    monthly_amount: int = Field(description="Minor units of `currency` per month.")
    currency: str
    billing_interval: str
    status: str = Field(description="trial, active, canceled or expired.")
    started_on: date
    trial_ends_on: date | None
    current_term_end: date | None
    canceled_at: datetime | None
    ended_on: date | None
    cancel_reason: str | None
    is_current: bool = Field(description="In trial or active, and not ended, as of `as_of`.")


class UsageOut(BaseModel):
    first_day: date
    last_day: date
    days: list[date]
    series: dict[str, list[float]] = Field(
        description="Metric (`active_users`, `logins`) → one value per day in `days`."
    )
    has_data: bool = Field(description="False when the account has no usage rows in the period (all zeros).")


class TimelineItemOut(BaseModel):
    kind: str = Field(description="The source: activity, ticket, survey or subscription (more kinds may be added).")
    type: str = Field(
        description=(
            "What happened. activity: meeting, call, email, note; ticket: opened; survey: nps, csat; subscription: "
            "started, trial_started, converted, plan_change, quantity_change, canceled, ended."
        )
    )
    at: datetime
    key: str = Field(description="`<kind>-<seq>`: unique within the account's timeline.")
    subject: str | None
    body: str | None = Field(description="An activity's summary or a survey answer's comment.")
    actor: str | None = Field(description="Who logged it (activities).")
    contact: str | None = Field(description="The customer's person involved.")
    all_day: bool = Field(description="True for events known by their day only (subscription dates).")
    details: dict[str, str | int | float | bool | datetime | None] = Field(
        description="The kind's own fields: status, priority, score, product, amounts, …"
    )
    cursor: str = Field(description="Pass as `before` to continue after this item.")

    @classmethod
    def of(cls, item: c360.TimelineItem) -> TimelineItemOut:
        return cls(
            kind=item.kind, type=item.type, at=item.at, key=item.key, subject=item.subject, body=item.body,
            actor=item.actor, contact=item.contact, all_day=item.all_day, details=dict(item.details),
            cursor=str(item.cursor),
        )  # fmt: skip


class TimelineOut(BaseModel):
    items: list[TimelineItemOut] = Field(description="Newest first.")
    next_before: str | None = Field(description="The `before` of the next (older) page; null when there is none.")

    @classmethod
    def of(cls, page: c360.TimelinePage) -> TimelineOut:
        return cls(items=[TimelineItemOut.of(i) for i in page.items], next_before=page.next_before)


class MilestoneOut(BaseModel):
    id: int
    name: str
    position: int
    due_on: date | None
    completed_at: datetime | None
    done: bool


class GoalOut(BaseModel):
    id: int
    title: str
    metric: str | None
    baseline_value: float | None
    target_value: float | None
    current_value: float | None
    due_on: date | None
    status: str
    progress: float | None = Field(description="From baseline (0) to target (1), when all three values are known.")


class TaskOut(BaseModel):
    id: int
    title: str
    priority: str
    due_on: date | None
    assignee_id: int | None
    assignee_name: str | None
    overdue: bool


class Account360Out(BaseModel):
    as_of: date
    account: Account360HeaderOut
    children: list[AccountRefOut] = Field(description="Subsidiaries: accounts whose parent this is.")
    signals: SignalsOut
    contacts: list[ContactOut] = Field(description="The champion first.")
    subscriptions: list[SubscriptionOut] = Field(
        description="Every line, current ones first, then by start (newest first)."
    )
    usage: UsageOut
    timeline: TimelineOut = Field(description="The first page; continue with `GET /api/accounts/{id}/timeline`.")
    milestones: list[MilestoneOut]
    goals: list[GoalOut]
    open_tasks: list[TaskOut]

    @classmethod
    def of(cls, a: c360.Account360) -> Account360Out:
        return cls(
            as_of=a.as_of,
            account=Account360HeaderOut.model_validate(a.account, from_attributes=True),
            children=[AccountRefOut.model_validate(c, from_attributes=True) for c in a.children],
            signals=SignalsOut.model_validate(a.signals, from_attributes=True),
            contacts=[ContactOut.model_validate(c, from_attributes=True) for c in a.contacts],
            subscriptions=[SubscriptionOut.model_validate(s, from_attributes=True) for s in a.subscriptions],
            usage=UsageOut(
                first_day=a.usage.first_day,
                last_day=a.usage.last_day,
                days=list(a.usage.days),
                series={k: list(v) for k, v in a.usage.series.items()},
                has_data=a.usage.has_data,
            ),
            timeline=TimelineOut.of(a.timeline),
            milestones=[MilestoneOut.model_validate(m, from_attributes=True) for m in a.milestones],
            goals=[GoalOut.model_validate(g, from_attributes=True) for g in a.goals],
            open_tasks=[TaskOut.model_validate(t, from_attributes=True) for t in a.open_tasks],
        )


@router.get("/accounts/{account_id}/360", response_model=Account360Out, responses=_NOT_FOUND,
            summary="Everything about one account (the customer 360 page)")  # fmt: skip
def get_account_360(
    state: State,
    principal: CurrentPrincipal,
    account_id: AccountId,
    timeline_limit: Annotated[
        int, Query(ge=1, le=c360.MAX_TIMELINE_LIMIT, description="Timeline items to include.")
    ] = 20,
) -> Account360Out:
    """The account's header figures (status, plan, MRR, renewal, owner, parent), its
    signals, contacts, subscription lines, the daily `active_users` and `logins` of the
    last 180 days, the first page of its timeline, onboarding milestones, success-plan
    goals and open tasks."""
    with state.unit_of_work() as session:
        data = c360.account_360(session, account_id, as_of=today(state.settings), zone=state.settings.zone,
                                timeline_limit=timeline_limit)  # fmt: skip
    return Account360Out.of(data)


@router.get("/accounts/{account_id}/timeline", response_model=TimelineOut, responses=_NOT_FOUND,
            summary="An account's timeline, newest first, a page at a time")  # fmt: skip
def get_account_timeline(
    state: State,
    principal: CurrentPrincipal,
    account_id: AccountId,
    before: Annotated[
        str | None,
        Query(max_length=100, description=(
            "Only items older than this: a `next_before` cursor from the previous page, or a timestamp "
            "(`2026-11-20T09:00:00Z`; without an offset it is read in KIZUNA_TIMEZONE)."
        )),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=c360.MAX_TIMELINE_LIMIT, description="Items per page.")] = 50,
) -> TimelineOut:  # fmt: skip
    """Activities, tickets, survey answers and subscription changes merged, newest
    first. Follow `next_before` until it is null to read the whole history."""
    with state.unit_of_work() as session:
        page = c360.timeline(session, account_id, before=before or None, limit=limit, zone=state.settings.zone)
    return TimelineOut.of(page)
