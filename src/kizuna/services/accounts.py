"""Accounts: their commercial summaries (status, MRR, plan, renewal)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from kizuna.db import Session
from kizuna.db.queries import accounts as accounts_q
from kizuna.db.queries import subscriptions as q
from kizuna.domain.enums import UserRole
from kizuna.domain.health import HealthGrade
from kizuna.domain.segments import FitBand, LifecycleStage, TouchTier
from kizuna.domain.subscriptions import AccountStatus, summarize
from kizuna.errors import InvalidInput, NotFound
from kizuna.i18n import _
from kizuna.services import segments

T = TypeVar("T")

#: How the accounts list can be sorted (``-`` first: descending).
ACCOUNT_SORTS = (
    "name", "-name", "mrr", "-mrr", "renewal", "-renewal", "-churned", "newest", "health", "-health", "fit", "-fit",
    "touch", "-touch", "trend", "-trend", "ltv", "-ltv", "churn", "-churn",
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
    min_ltv: int | None = None  # issue 21: lifetime value at least this (minor units)
    min_churn_risk: float | None = None  # issue 16: churn probability at least this (0–1)
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
        if self.min_ltv is not None and not 0 <= self.min_ltv <= 10**15:
            raise InvalidInput(_("min_ltv must be from 0 to 10^15"), field="min_ltv")
        if self.min_churn_risk is not None and not 0 <= self.min_churn_risk <= 1:
            raise InvalidInput(_("min_churn_risk must be from 0 to 1"), field="min_churn_risk")


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
class AccountHeader:
    """One account's header — who it is, its commercial summary (status, MRR, plan, renewal:
    derived from the subscription lines), its owner. Declared once: the accounts list
    (:class:`AccountRow`), the record API (``records.AccountDetail``), the customer 360
    (``customer360.Account360Header``) and the API's ``AccountHeaderOut`` extend it."""

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
    contract_term_months: int | None
    customer_since: date | None
    churned_on: date | None
    owner_id: int | None
    owner_name: str | None
    plan_id: int | None
    plan_name: str | None

    def days_until_renewal(self, as_of: date) -> int | None:
        return (self.renewal_on - as_of).days if self.renewal_on else None


@dataclass(frozen=True)
class RiskItem:
    """One item of a health explanation (``analytics.health.explain``): a measure that moved
    the score (``kind`` "change", with the value ``before``) or costs points now ("level")."""

    kind: str
    measure: str
    value: float | None
    points: float
    before: float | None = None
    measure_points: float | None = None

    @classmethod
    def of(cls, item: Mapping[str, Any]) -> RiskItem:
        return cls(kind=str(item.get("kind", "")), measure=str(item.get("measure", "")), value=item.get("value"),
                   points=float(item.get("points") or 0), before=item.get("before"),
                   measure_points=item.get("measure_points"))  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        """As stored in the explanation (what ``health.explanation_lines`` reads)."""
        return {k: v for k, v in asdict(self).items() if v is not None or k == "value"}


@dataclass(frozen=True)
class AccountRow(AccountHeader):
    """A row of the accounts list: the header and the segment and health columns."""

    touch_tier: TouchTier | None = None
    lifecycle_stage: LifecycleStage | None = None
    at_risk: bool = False
    fit_score: float | None = None
    fit_band: FitBand | None = None
    health_score: float | None = None
    health_grade: HealthGrade | None = None
    health_as_of: date | None = None
    # issue 18: the last touch, and the latest snapshot's 30-day change and explanation
    last_touch_at: datetime | None = None
    health_change_30d: float | None = None
    health_explanation: list[dict[str, Any]] | None = None
    # issue 21: lifetime value and residual value from the daily ltv step (minor units of ``currency``)
    ltv: int | None = None
    residual_value: int | None = None
    # issue 16: probability of churn within the model's horizon (newest scored day)
    churn_risk: float | None = None

    @property
    def worst_risk(self) -> RiskItem | None:
        """The explanation item that cost the most points (None when nothing did)."""
        losses = [i for i in self.health_explanation or () if (i.get("points") or 0) < 0]
        return RiskItem.of(min(losses, key=lambda i: i["points"])) if losses else None


@dataclass(frozen=True)
class OwnerChoice:
    """An owner the list's filter offers, with how many accounts they own."""

    id: int
    name: str
    accounts: int


@dataclass(frozen=True)
class PlanChoice:
    id: int
    name: str
    code: str


@dataclass(frozen=True)
class Assignee:
    """A user who can own accounts (bulk owner assignment)."""

    id: int
    name: str
    role: UserRole


@dataclass(frozen=True)
class SavedView:
    """A user's saved filters of a page: ``query`` is the page's checked query string."""

    id: int
    name: str
    query: str


@dataclass(frozen=True)
class AtRiskTotals:
    """Accounts flagged at risk now, and their MRR (minor units of the asked currency)."""

    accounts: int
    mrr: int


@dataclass(frozen=True)
class AccountFilters:
    """The choices the list's filters offer."""

    owners: list[OwnerChoice] = field(default_factory=list)
    plans: list[PlanChoice] = field(default_factory=list)
    statuses: tuple[str, ...] = tuple(s.value for s in AccountStatus)
    touch_tiers: tuple[str, ...] = tuple(t.value for t in TouchTier)
    lifecycle_stages: tuple[str, ...] = tuple(s.value for s in LifecycleStage)
    fit_bands: tuple[str, ...] = tuple(b.value for b in FitBand)
    health_grades: tuple[str, ...] = tuple(g.value for g in HealthGrade)


def list_accounts(
    session: Session, query: AccountQuery, *, as_of: date, keep_count: Callable[[Callable[[], int]], int] | None = None
) -> Page[AccountRow]:
    """One page of the accounts list (search by name, domain or external id).
    ``keep_count``: given how to count the query's matches (every page), the count — the
    caller may keep it while the store is unchanged; None: counted here."""
    found, rows = accounts_q.list_accounts(
        session, **_query_args(query), as_of=as_of, sort=query.sort,
        offset=(query.page - 1) * query.per_page, limit=query.per_page,
        keep_count=keep_count,  # pragma: no mutate  (kept or counted here: the same number)
    )  # fmt: skip
    return Page([_row(r) for r in rows], found, query.page, query.per_page)


def _query_args(query: AccountQuery) -> dict[str, Any]:
    """The query's filters as ``accounts_q.list_accounts`` takes them."""
    return {
        "search": query.search or None, "owner_id": query.owner_id, "unowned": query.unowned,
        "plan_id": query.plan_id, "status": AccountStatus(query.status).value if query.status else None,
        "renewal_within_days": query.renewal_within_days, "segments": _segment_filters(query),
        "min_ltv": query.min_ltv, "min_churn_risk": query.min_churn_risk,
    }  # fmt: skip


#: The most rows an export of the list holds.
MAX_EXPORT = 200_000


def all_accounts(session: Session, query: AccountQuery, *, as_of: date, batch: int = 2000) -> list[AccountRow]:
    """Every account the query matches (all pages, in its order) — the export of the
    current view; at most :data:`MAX_EXPORT`."""
    total, rows = 0, list[AccountRow]()
    while True:
        found, page = accounts_q.list_accounts(
            session, search=query.search or None, owner_id=query.owner_id, unowned=query.unowned,
            plan_id=query.plan_id, status=AccountStatus(query.status).value if query.status else None,
            renewal_within_days=query.renewal_within_days, as_of=as_of, sort=query.sort, offset=total,
            limit=batch, segments=_segment_filters(query), min_ltv=query.min_ltv, min_churn_risk=query.min_churn_risk,
        )  # fmt: skip
        if found > MAX_EXPORT:
            raise InvalidInput(
                _("the view holds {n} accounts; an export holds at most {max}: filter it first").format(
                    n=f"{found:,}", max=f"{MAX_EXPORT:,}"
                ),
                code="export_too_large",
            )
        rows.extend(_row(r) for r in page)
        total += len(page)
        if len(page) < batch:
            return rows


def account_row(session: Session, account_id: int, *, as_of: date) -> AccountRow | None:
    """One account as the list shows it (None: no such account)."""
    row = accounts_q.account_row(session, account_id)
    return _row(row) if row is not None else None


def paying_mrrs(session: Session) -> list[int]:
    """The MRR of every paying account (minor units, each in its own currency)."""
    return accounts_q.paying_mrrs(session)


def assign_owner(session: Session, account_ids: Sequence[int], owner_id: int | None, *, as_of: date) -> int:
    """Make ``owner_id`` (None: nobody) the owner of these accounts from ``as_of`` on (the
    owner history the KPIs by owner read); returns how many. The owner must be an active
    user; every id must name an account (else nothing changes)."""
    ids = sorted(set(account_ids))
    if not ids:
        raise InvalidInput(_("choose at least one account"), field="accounts")
    if len(ids) > MAX_PER_PAGE:
        raise InvalidInput(_("at most {n} accounts at a time").format(n=MAX_PER_PAGE), field="accounts")
    if owner_id is not None and not accounts_q.active_user_exists(session, owner_id):
        raise InvalidInput(_("no active user with id {id}").format(id=owner_id), code="unknown_user", field="owner")
    missing = set(ids) - set(accounts_q.existing_ids(session, ids))
    if missing:
        raise InvalidInput(
            _("no account with id {ids}").format(ids=", ".join(str(i) for i in sorted(missing)[:5])),
            code="unknown_account", field="accounts",
        )  # fmt: skip
    count = accounts_q.set_owner(session, ids, owner_id)
    segments.record_owners(session, as_of, ids)
    return count


def owner_choices(session: Session) -> list[Assignee]:
    """Active users who can own accounts (CSMs, leads, admins), by name."""
    return [Assignee(r["id"], r["name"], UserRole(r["role"])) for r in accounts_q.assignable_users(session)]


# --- saved views -------------------------------------------------------------------------

#: The most views a user keeps per page, and the longest name.
MAX_VIEWS = 50
MAX_VIEW_NAME = 100


def saved_views(session: Session, user_id: int, page: str = "accounts") -> list[SavedView]:
    """The user's saved views of ``page``, by name."""
    return [SavedView(r["id"], r["name"], r["query"]) for r in accounts_q.saved_views(session, user_id, page)]


def save_view(session: Session, user_id: int, name: str, query: str, page: str = "accounts") -> int:
    """Save ``query`` (the page's checked query string) under ``name``; the same name again
    replaces it. Returns the view's id."""
    text = " ".join(name.split())
    if not text:
        raise InvalidInput(_("give the view a name"), field="name")
    if len(text) > MAX_VIEW_NAME:
        raise InvalidInput(_("a view's name is at most {n} characters").format(n=MAX_VIEW_NAME), field="name")
    if len(query) > 2000:
        raise InvalidInput(_("the filters are too long to save"), field="query")
    names = {v["name"] for v in accounts_q.saved_views(session, user_id, page)}
    if text not in names and len(names) >= MAX_VIEWS:
        raise InvalidInput(_("at most {n} saved views; delete one first").format(n=MAX_VIEWS), field="name")
    return accounts_q.save_view(session, user_id, page, text, query)


def delete_view(session: Session, user_id: int, view_id: int) -> None:
    """Delete one of the user's own views (another user's is not found)."""
    if not accounts_q.delete_view(session, user_id, view_id):
        raise NotFound(_("no saved view with id {id}").format(id=view_id), code="view_not_found")


def _segment_filters(query: AccountQuery) -> dict[str, Any]:
    """The segment filters set, as column → stored value."""
    values = {
        "touch_tier": query.touch_tier, "lifecycle_stage": query.lifecycle_stage, "at_risk": query.at_risk,
        "fit_band": query.fit_band, "health_grade": query.health_grade,
    }  # fmt: skip
    return {k: (v if isinstance(v, bool) else str(v.value)) for k, v in values.items() if v is not None}


def row_values(r: Mapping[str, Any]) -> dict[str, Any]:
    """A stored account row with its status and segment columns as their enums."""
    out = dict(r)
    for column, enum in (("status", AccountStatus), ("touch_tier", TouchTier), ("lifecycle_stage", LifecycleStage),
                         ("fit_band", FitBand), ("health_grade", HealthGrade)):  # fmt: skip
        if out.get(column) is not None:
            out[column] = enum(getattr(out[column], "value", out[column]))
    if "at_risk" in out:
        out["at_risk"] = bool(out["at_risk"])
    return out


def _row(r: dict[str, Any]) -> AccountRow:
    return AccountRow(**row_values({**r, "at_risk": r.get("at_risk")}))


def at_risk_summary(session: Session, currency: str) -> AtRiskTotals:
    """How many accounts are flagged at risk now, and their MRR in ``currency``."""
    accounts, mrr = accounts_q.at_risk_totals(session, currency)
    return AtRiskTotals(int(accounts), int(mrr))


def account_filters(session: Session) -> AccountFilters:
    return AccountFilters(owners=[OwnerChoice(r["id"], r["name"], int(r["accounts"])) for r in accounts_q.owners(session)],
                          plans=[PlanChoice(r["id"], r["name"], r["code"]) for r in accounts_q.plans(session)])  # fmt: skip


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
            "plan_id": s.plan_product_id, "renewal_on": s.renewal_on, "contract_term_months": s.contract_term_months,
            "customer_since": s.customer_since,
            "churned_on": s.churned_on,
        })  # fmt: skip
        if len(rows) >= _BATCH:
            q.write_summaries(session, rows, as_of)
            count += len(rows)
            rows = []
    q.write_summaries(session, rows, as_of)
    return count + len(rows)


#: Accounts looked at for "did you mean" when nothing matches (a bigger store: no guesses).
_GUESS_FROM = 50_000
_SHOWN = 5


def find_account(session: Session, key: str) -> int:
    """The account a command line means by ``key``: its external id, id or exact name,
    else the one account whose name contains ``key``. Several matches, or none, are a
    ``NotFound`` that names the candidates (or the closest names)."""
    import difflib

    from kizuna.errors import NotFound

    key = key.strip()
    found = accounts_q.account_by_exact_key(session, key) if key else None
    if found is not None:
        return found
    matches = accounts_q.accounts_named_like(session, key, _SHOWN + 1) if key else []
    if len(matches) == 1:
        return matches[0][0]
    if matches:
        shown = "; ".join(f"{ext} {name}" for _id, ext, name in matches[:_SHOWN])
        more = "; …" if len(matches) > _SHOWN else ""
        raise NotFound(_("{key!r} matches several accounts: {accounts}{more}; give more of the name, or the "
                         "external id").format(key=key, accounts=shown, more=more), code="account_not_found")  # fmt: skip
    everyone = accounts_q.account_names(session, _GUESS_FROM + 1) if key else []
    guesses: list[str] = []
    if 0 < len(everyone) <= _GUESS_FROM:
        by_name = {name: ext for _id, ext, name in everyone}
        guesses = [f"{by_name[n]} {n}" for n in difflib.get_close_matches(key, list(by_name), n=3, cutoff=0.5)]
    if guesses:
        raise NotFound(_("no account {key!r}; did you mean: {guesses}?").format(key=key, guesses="; ".join(guesses)),
                       code="account_not_found")  # fmt: skip
    raise NotFound(_("no account {key!r} (give its id, external id, or part of its name)").format(key=key[:80]),
                   code="account_not_found")  # fmt: skip


__all__ = [
    "AccountFilters",
    "AccountHeader",
    "AccountQuery",
    "AccountRow",
    "AccountStatus",
    "Assignee",
    "AtRiskTotals",
    "OwnerChoice",
    "Page",
    "PlanChoice",
    "RiskItem",
    "SavedView",
    "account_filters",
    "all_accounts",
    "assign_owner",
    "at_risk_summary",
    "delete_view",
    "find_account",
    "list_accounts",
    "owner_choices",
    "refresh_account_summaries",
    "save_view",
    "saved_views",
]
