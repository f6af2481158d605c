"""Accounts: their commercial summaries (status, MRR, plan, renewal)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Generic, TypeVar

from kizuna.db import Session
from kizuna.db.queries import accounts as accounts_q
from kizuna.db.queries import subscriptions as q
from kizuna.domain.health import HealthGrade
from kizuna.domain.segments import FitBand, LifecycleStage, TouchTier
from kizuna.domain.subscriptions import AccountStatus, summarize
from kizuna.errors import InvalidInput
from kizuna.i18n import _

T = TypeVar("T")

#: How the accounts list can be sorted (``-`` first: descending).
ACCOUNT_SORTS = (
    "name", "-name", "mrr", "-mrr", "renewal", "-renewal", "-churned", "newest", "health", "-health", "fit", "-fit",
)  # fmt: skip
MAX_PER_PAGE = 200


@dataclass(frozen=True)
class AccountQuery:
    """What the accounts list asks for; every field optional."""

    search: str | None = None
    owner_id: int | None = None
    unowned: bool = False
    plan_id: int | None = None
    status: AccountStatus | None = None
    renewal_within_days: int | None = None
    # segments (issue 6): indexed columns of accounts, no join
    touch_tier: TouchTier | None = None
    lifecycle_stage: LifecycleStage | None = None
    at_risk: bool | None = None
    fit_band: FitBand | None = None
    health_grade: HealthGrade | None = None
    sort: str = "-mrr"
    page: int = 1
    per_page: int = 50

    def __post_init__(self) -> None:
        if self.sort not in ACCOUNT_SORTS:
            raise InvalidInput(
                _("unknown sort {sort!r}; one of: {sorts}").format(sort=self.sort, sorts=", ".join(ACCOUNT_SORTS)),
                field="sort",
            )
        if self.page < 1:
            raise InvalidInput(_("page must be 1 or more"), field="page")
        if not 1 <= self.per_page <= MAX_PER_PAGE:
            raise InvalidInput(_("per_page must be from 1 to {n}").format(n=MAX_PER_PAGE), field="per_page")
        if self.renewal_within_days is not None and not 0 <= self.renewal_within_days <= 3660:
            raise InvalidInput(_("renewal_within_days must be from 0 to 3660"), field="renewal_within_days")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True)
class AccountRow:
    id: int
    external_id: str
    name: str
    domain: str | None
    industry: str | None
    employee_count: int | None
    status: AccountStatus
    mrr: int
    currency: str | None
    renewal_on: date | None
    customer_since: date | None
    churned_on: date | None
    owner_id: int | None
    owner_name: str | None
    plan_id: int | None
    plan_name: str | None
    touch_tier: TouchTier | None = None
    lifecycle_stage: LifecycleStage | None = None
    at_risk: bool = False
    fit_score: float | None = None
    fit_band: FitBand | None = None
    health_score: float | None = None
    health_grade: HealthGrade | None = None
    health_as_of: date | None = None


@dataclass(frozen=True)
class AccountFilters:
    """The choices the list's filters offer."""

    owners: list[dict[str, Any]] = field(default_factory=list)
    plans: list[dict[str, Any]] = field(default_factory=list)
    statuses: tuple[str, ...] = tuple(s.value for s in AccountStatus)
    touch_tiers: tuple[str, ...] = tuple(t.value for t in TouchTier)
    lifecycle_stages: tuple[str, ...] = tuple(s.value for s in LifecycleStage)
    fit_bands: tuple[str, ...] = tuple(b.value for b in FitBand)
    health_grades: tuple[str, ...] = tuple(g.value for g in HealthGrade)


def list_accounts(session: Session, query: AccountQuery, *, as_of: date) -> Page[AccountRow]:
    """One page of the accounts list (search by name, domain or external id)."""
    total, rows = accounts_q.list_accounts(
        session, search=query.search or None, owner_id=query.owner_id, unowned=query.unowned,
        plan_id=query.plan_id, status=AccountStatus(query.status).value if query.status else None,
        renewal_within_days=query.renewal_within_days, as_of=as_of, sort=query.sort,
        offset=(query.page - 1) * query.per_page, limit=query.per_page, segments=_segment_filters(query),
    )  # fmt: skip
    return Page([_row(r) for r in rows], total, query.page, query.per_page)


def _segment_filters(query: AccountQuery) -> dict[str, Any]:
    """The segment filters set, as column → stored value."""
    values = {
        "touch_tier": query.touch_tier, "lifecycle_stage": query.lifecycle_stage, "at_risk": query.at_risk,
        "fit_band": query.fit_band, "health_grade": query.health_grade,
    }  # fmt: skip
    return {k: (v if isinstance(v, bool) else str(v.value)) for k, v in values.items() if v is not None}


def _row(r: dict[str, Any]) -> AccountRow:
    for column, enum in (("touch_tier", TouchTier), ("lifecycle_stage", LifecycleStage), ("fit_band", FitBand),
                         ("health_grade", HealthGrade)):  # fmt: skip
        if r.get(column) is not None:
            r[column] = enum(getattr(r[column], "value", r[column]))
    r["at_risk"] = bool(r.get("at_risk"))
    return AccountRow(**r)


def at_risk_summary(session: Session, currency: str) -> dict[str, int]:
    """How many accounts are flagged at risk now, and their MRR in ``currency``."""
    accounts, mrr = accounts_q.at_risk_totals(session, currency)
    return {"accounts": accounts, "mrr": mrr}


def account_filters(session: Session) -> AccountFilters:
    return AccountFilters(owners=accounts_q.owners(session), plans=accounts_q.plans(session))


_BATCH = 5000


def refresh_account_summaries(session: Session, as_of: date, *, only: Sequence[int] | None = None) -> int:
    """Recompute each account's status, MRR, plan, renewal date, customer-since and
    churn date from its subscription lines as of ``as_of``. Returns accounts updated.

    Runs after every import and in the daily pipeline; ``only`` limits it to the
    accounts an API call changed.
    """
    with_lines = dict(q.lines_by_account(session, only))
    rows: list[dict[str, Any]] = []
    count = 0
    for account_id in q.account_ids(session, only):
        s = summarize(with_lines.get(account_id, ()), as_of)
        rows.append({
            "account_id": account_id, "status": s.status.value, "mrr": s.mrr, "currency": s.currency,
            "plan_id": s.plan_product_id, "renewal_on": s.renewal_on, "customer_since": s.customer_since,
            "churned_on": s.churned_on,
        })  # fmt: skip
        if len(rows) >= _BATCH:
            q.write_summaries(session, rows, as_of)
            count += len(rows)
            rows = []
    q.write_summaries(session, rows, as_of)
    return count + len(rows)


__all__ = [
    "AccountQuery",
    "AccountRow",
    "AccountStatus",
    "Page",
    "account_filters",
    "at_risk_summary",
    "list_accounts",
    "refresh_account_summaries",
]
