"""The accounts list, the account 360 page, and logging a touchpoint from it.

Each page has a JSON twin calling the same service: ``GET /api/accounts`` (the REST
API), ``GET /api/accounts/{id}/360`` and ``GET /api/accounts/{id}/timeline``.
htmx requests (``HX-Request``) get only the part of the page they replace.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kizuna.domain.auth import Permission
from kizuna.domain.enums import TaskKind, TaskPriority
from kizuna.domain.health import GRADE_LABELS, HealthGrade
from kizuna.domain.money import CURRENCY_EXPONENTS
from kizuna.domain.segments import FIT_LABELS, STAGE_LABELS, TIER_LABELS, FitBand, LifecycleStage, TouchTier
from kizuna.domain.spreadsheet import neutralise
from kizuna.errors import InvalidInput, NotFound
from kizuna.http.auth import CSRF_FIELD, CSRF_HEADER, CurrentPrincipal, Manager, State, Writer, check_csrf
from kizuna.http.clock import today
from kizuna.http.i18n import Formatter
from kizuna.http.templating import _label, render, render_fragment
from kizuna.i18n import _, get_language
from kizuna.services import accounts as accounts_service
from kizuna.services import activities as activities_service
from kizuna.services import churn as churn_service
from kizuna.services import customer360 as c360
from kizuna.services import health as health_service
from kizuna.services import ltv_accounts, onboarding, opportunities
from kizuna.services.accounts import AccountQuery, AccountStatus
from kizuna.services.health import history as health_history
from kizuna.settings import Settings
from kizuna.web.account_rows import AccountRowsHtml
from kizuna.web.routes.ltv import segment_name
from kizuna.web.routes.plans import account_plans
from kizuna.web.sparkline import sparkline

router = APIRouter(include_in_schema=False)

RESULTS_ID = "accounts-results"
#: English labels of the segment values (translated in the templates).
SEGMENT_LABELS = {"tier": TIER_LABELS, "stage": STAGE_LABELS, "fit": FIT_LABELS, "health": GRADE_LABELS}
RENEWAL_CHOICES = (30, 60, 90, 180, 365)
#: Clicking a column header sorts by it, first in this direction.
SORT_COLUMNS = {
    "name": "name", "mrr": "-mrr", "renewal": "renewal", "health": "health", "fit": "-fit",
    "trend": "trend", "touch": "touch",  # falling health first; the longest untouched first
    "ltv": "-ltv",  # issue 21: the largest lifetime value first
    "churn": "-churn",  # issue 16: the riskiest first
}  # fmt: skip
DEFAULT_SORT = "-mrr"
MAX_SEARCH = 200
MAX_PAGE = 100_000
TIMELINE_PAGE = 20
_MAX_ID = 2**31 - 1


# --- the accounts list -------------------------------------------------------------------


@dataclass(frozen=True)
class ListParams:
    """The list's query string as given (normalised), to rebuild links from."""

    q: str = ""
    owner: str = ""
    plan: str = ""
    status: str = ""
    renewal: str = ""
    tier: str = ""
    stage: str = ""
    risk: str = ""
    fit: str = ""
    health: str = ""
    ltv: str = ""  # issue 21: lifetime value at least this (minor units)
    churn: str = ""  # issue 16: churn risk at least this many per cent
    sort: str = DEFAULT_SORT
    page: int = 1

    def url(self, **changes: Any) -> str:
        """``/accounts?…`` with ``changes`` applied; a changed filter or sort starts at page 1."""
        if any(k != "page" for k in changes):
            changes.setdefault("page", 1)
        changed = replace(self, **changes)
        # the fields as they are (str and int): asdict would deep-copy each, ~50 links a page
        values = {f.name: getattr(changed, f.name) for f in fields(changed)}
        query = {k: v for k, v in values.items() if v not in ("", None)}
        if query.get("sort") == DEFAULT_SORT:
            del query["sort"]
        if query.get("page") == 1:
            del query["page"]
        return "/accounts" + ("?" + urlencode(query) if query else "")

    def export_query(self) -> str:
        """The query string of the whole view (every page) in its order."""
        return self.url(page=1).partition("?")[2]

    @property
    def filtered(self) -> bool:
        return bool(self.q or self.owner or self.plan or self.status or self.renewal or self.segmented or self.ltv or self.churn)

    @property
    def segmented(self) -> bool:
        return bool(self.tier or self.stage or self.risk or self.fit or self.health)


def _whole(value: str, field: str, lo: int, hi: int) -> int:
    try:
        number = int(value.strip())
    except ValueError:
        number = lo - 1
    if not lo <= number <= hi:
        raise InvalidInput(
            _("{field} must be a whole number from {lo} to {hi}, not {value!r}").format(
                field=field, lo=lo, hi=f"{hi:,}", value=value[:40]
            ),
            field=field,
        )
    return number


def _choice(value: str | None, field: str, enum: Any) -> Any:
    text = (value or "").strip().lower()
    if not text:
        return None
    try:
        return enum(text)
    except ValueError:
        raise InvalidInput(
            _("{field} must be one of: {choices}").format(field=field, choices=", ".join(e.value for e in enum)),
            field=field,
        ) from None


def _risk(value: str | None) -> bool | None:
    text = (value or "").strip().lower()
    if text in ("", "any"):
        return None
    if text in ("yes", "no"):
        return text == "yes"
    raise InvalidInput(_("risk must be yes or no"), field="risk")


def parse_list_params(
    q: str | None, owner: str | None, plan: str | None, status: str | None, renewal: str | None, sort: str | None,
    page: str | None, tier: str | None = None, stage: str | None = None, risk: str | None = None,
    fit: str | None = None, health: str | None = None, ltv: str | None = None, churn: str | None = None,
) -> tuple[ListParams, AccountQuery]:  # fmt: skip
    """Check the query string; bad values raise ``InvalidInput`` (the error page, 422)."""
    search = (q or "").strip()
    if len(search) > MAX_SEARCH:
        raise InvalidInput(_("the search is longer than {n} characters").format(n=MAX_SEARCH), field="q")
    owner_text = (owner or "").strip().lower()
    owner_id = _whole(owner_text, "owner", 1, _MAX_ID) if owner_text not in ("", "none") else None
    plan_text = (plan or "").strip()
    plan_id = _whole(plan_text, "plan", 1, _MAX_ID) if plan_text else None
    status_text = (status or "").strip().lower()
    try:
        account_status = AccountStatus(status_text) if status_text else None
    except ValueError:
        raise InvalidInput(
            _("status must be one of: {statuses}").format(statuses=", ".join(s.value for s in AccountStatus)),
            field="status",
        ) from None
    renewal_text = (renewal or "").strip()
    renewal_days = _whole(renewal_text, "renewal", 0, 3660) if renewal_text else None
    page_number = _whole(page, "page", 1, MAX_PAGE) if page and page.strip() else 1
    touch_tier, stage_value = _choice(tier, "tier", TouchTier), _choice(stage, "stage", LifecycleStage)
    fit_value, grade, at_risk = _choice(fit, "fit", FitBand), _choice(health, "health", HealthGrade), _risk(risk)
    ltv_text = (ltv or "").strip().replace(",", "")
    min_ltv = _whole(ltv_text, "ltv", 0, 10**15) if ltv_text else None
    churn_text = (churn or "").strip().rstrip("%").strip()
    min_churn = _whole(churn_text, "churn", 0, 100) if churn_text else None
    params = ListParams(
        q=search, owner=owner_text if owner_text == "none" else str(owner_id or ""), plan=str(plan_id or ""),
        status=status_text, renewal=str(renewal_days) if renewal_days is not None else "",
        sort=(sort or DEFAULT_SORT).strip(), page=page_number, tier=touch_tier.value if touch_tier else "",
        stage=stage_value.value if stage_value else "", risk="" if at_risk is None else ("yes" if at_risk else "no"),
        fit=fit_value.value if fit_value else "", health=grade.value if grade else "",
        ltv=str(min_ltv) if min_ltv is not None else "", churn=str(min_churn) if min_churn is not None else "",
    )  # fmt: skip
    query = AccountQuery(
        search=search or None, owner_id=owner_id, unowned=owner_text == "none", plan_id=plan_id,
        status=account_status, renewal_within_days=renewal_days, sort=params.sort, page=page_number,
        touch_tier=touch_tier, lifecycle_stage=stage_value, at_risk=at_risk, fit_band=fit_value, health_grade=grade,
        min_ltv=min_ltv, min_churn_risk=min_churn / 100 if min_churn is not None else None,
    )  # fmt: skip
    return params, query


def _page_numbers(page: int, pages: int) -> list[int | None]:
    """1 … 4 5 [6] 7 8 … 20 (None: a gap)."""
    wanted = {1, pages, *range(max(1, page - 2), min(pages, page + 2) + 1)}
    out: list[int | None] = []
    previous: int | None = None
    for n in sorted(wanted):
        if previous is not None and n - previous > 1:
            out.append(None)
        out.append(n)
        previous = n
    return out


def _is_htmx(request: Request, target: str | None = None) -> bool:
    if request.headers.get("hx-request") != "true" or request.headers.get("hx-history-restore-request") == "true":
        return False
    return target is None or request.headers.get("hx-target") == target


@router.get("/accounts")
def accounts_list(
    request: Request, state: State, principal: CurrentPrincipal, q: str | None = None, owner: str | None = None,
    plan: str | None = None, status: str | None = None, renewal: str | None = None, sort: str | None = None,
    page: str | None = None, tier: str | None = None, stage: str | None = None, risk: str | None = None,
    fit: str | None = None, health: str | None = None, ltv: str | None = None, churn: str | None = None,
) -> Response:  # fmt: skip
    params, query = parse_list_params(q, owner, plan, status, renewal, sort, page, tier, stage, risk, fit, health, ltv,
                                      churn)  # fmt: skip
    as_of = today(state.settings)
    partial = _is_htmx(request, RESULTS_ID)
    menus = state.store_cache
    version = menus.version()  # before the transaction below reads (see StoreCache)
    with state.unit_of_work() as session:
        # the count of matches (a search for a common word counts most accounts) kept
        # while the store is unchanged: paging, sorting and htmx swaps count once
        count_key = f"{as_of}:{replace(query, page=1, sort=DEFAULT_SORT)!r}"
        result = accounts_service.list_accounts(
            session, query, as_of=as_of, keep_count=lambda count: state.counts.get(count_key, version, count)
        )
        store_empty = result.total == 0 and (
            not params.filtered
            or accounts_service.list_accounts(session, AccountQuery(per_page=1), as_of=as_of).total == 0
        )
        # the filter menus (a GROUP BY over every account) only when the form is rendered
        # (kept while the store is unchanged)
        filters = None if partial else menus.get("account_filters", version, lambda: accounts_service.account_filters(session))
        can_assign = _can_assign(principal)
        owner_choices = (
            menus.get("owner_choices", version, lambda: accounts_service.owner_choices(session))
            if can_assign and not partial
            else []
        )
        user_id = principal.user_id
        views = (
            menus.get(f"saved_views:{user_id}", version, lambda: accounts_service.saved_views(session, user_id))
            if user_id is not None and not partial
            else []
        )
        onboarding_progress = onboarding.progress_of(session, [a.id for a in result.items], as_of)
    top_risks = {a.id: _top_risk(a) for a in result.items}
    rows_html = AccountRowsHtml(Formatter(get_language(), state.settings.zone), as_of, can_assign=can_assign).rows(
        result.items, top_risks, onboarding_progress
    )
    context = {
        "top_risks": top_risks, "rows_html": rows_html, "can_assign": can_assign,
        "owner_choices": owner_choices, "views": views, "query": params.url(page=params.page).partition("?")[2],
        "export_url": "/accounts/export.csv" + ("?" + params.export_query() if params.export_query() else ""),
        "notice": _notice(request), "onboarding": onboarding_progress,
        "params": params, "result": result, "filters": filters, "store_empty": store_empty, "as_of": as_of,
        "page_numbers": _page_numbers(params.page, result.pages), "renewal_choices": RENEWAL_CHOICES,
        "sort_columns": SORT_COLUMNS, "results_id": RESULTS_ID, "seg_labels": SEGMENT_LABELS,
        "first_row": (result.page - 1) * result.per_page + 1, "last_row": (result.page - 1) * result.per_page + len(result.items),
    }  # fmt: skip
    if partial:
        response: Response = HTMLResponse(render_fragment(request, "accounts/_results.html", context))
        response.headers["HX-Push-Url"] = params.url(page=params.page)  # canonical: no empty fields
    else:
        response = render(request, "accounts/list.html", context)
    response.headers["Vary"] = "HX-Request"
    return response


def _can_assign(principal: Any) -> bool:
    """Leads and admins signed in: they may change owners in bulk."""
    return principal.is_user and Permission.MANAGE in principal.permissions


def _top_risk(row: accounts_service.AccountRow) -> str | None:
    item = row.worst_risk
    return health_service.explanation_lines([item.as_dict()])[0] if item else None


def _notice(request: Request) -> str | None:
    """The confirmation after a bulk change or a saved view (``done=…`` in the URL)."""
    done = request.query_params.get("done", "")
    count = request.query_params.get("n", "")
    if done == "owner" and count.isdecimal():
        return _("Owner changed for {n} accounts.").format(n=f"{int(count):,}")
    if done == "view":
        return _("View saved.")
    if done == "view-deleted":
        return _("View deleted.")
    return None


def _list_args(query: Any) -> dict[str, str | None]:
    """The list's filter parameters from a query string (a form's or a URL's)."""
    names = ("q", "owner", "plan", "status", "renewal", "sort", "page", "tier", "stage", "risk", "fit", "health", "ltv",
             "churn")  # fmt: skip
    return {n: query.get(n) for n in names}


@router.get("/accounts/export.csv")
def export_accounts(request: Request, state: State, principal: CurrentPrincipal) -> Response:
    """The current view (every page, its filters and order) as CSV for Excel: UTF-8 with a
    BOM, headers in the reader's language, text cells formula-safe."""
    _params, query = parse_list_params(**_list_args(request.query_params))
    as_of = today(state.settings)
    with state.unit_of_work() as session:
        rows = accounts_service.all_accounts(session, replace(query, page=1), as_of=as_of)
    fmt = Formatter(get_language(), state.settings.zone)
    body = "\ufeff" + accounts_csv(rows, as_of, fmt)
    name = f"kizuna-accounts-{as_of.isoformat()}.csv"
    return Response(body.encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


def accounts_csv(rows: list[accounts_service.AccountRow], as_of: date, fmt: Formatter) -> str:
    """The rows as CSV text: the list's columns, text through :func:`kizuna.domain.spreadsheet.neutralise`
    (numbers and dates are written as such: they cannot be formulas)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([_("Account"), _("External ID"), _("Domain"), _("Plan"), _("Status"), _("MRR"), _("Currency"),
                     _("Renewal"), _("Days to renewal"), _("Health"), _("Health trend (30 days)"), _("Top risk"),
                     _("Last touch"), _("Touch tier"), _("Stage"), _("At risk"), _("Fit"), _("Owner"),
                     _("Industry")])  # fmt: skip

    def text(value: str | None) -> str:
        return neutralise(value) if value else ""

    def number(value: float | None, digits: int = 0) -> str:
        return "" if value is None else f"{value:.{digits}f}"

    for a in rows:
        mrr = Decimal(a.mrr).scaleb(-CURRENCY_EXPONENTS.get(a.currency or "", 0)) if a.currency else None
        touch = a.last_touch_at.astimezone(fmt.zone).date().isoformat() if a.last_touch_at else ""
        writer.writerow([
            text(a.name), text(a.external_id), text(a.domain), text(a.plan_name), _label(a.status),
            "" if mrr is None else str(mrr), a.currency or "", a.renewal_on.isoformat() if a.renewal_on else "",
            number(a.days_until_renewal(as_of)), number(a.health_score), number(a.health_change_30d, 1),
            text(_top_risk(a)), touch, _(SEGMENT_LABELS["tier"][a.touch_tier.value]) if a.touch_tier else "",
            _(SEGMENT_LABELS["stage"][a.lifecycle_stage.value]) if a.lifecycle_stage else "",
            _("yes") if a.at_risk else _("no"), number(a.fit_score), text(a.owner_name), text(a.industry),
        ])  # fmt: skip
    return out.getvalue()


def _back(next_url: str) -> str:
    """Where to return after a form: the accounts list (with its query) only."""
    return next_url if next_url.startswith("/accounts") and "//" not in next_url and "\\" not in next_url else "/accounts"


def _with(url: str, **values: str | int) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(values)


@router.post("/accounts/owner")
async def assign_owner(request: Request, state: State, principal: Manager) -> Response:
    """Bulk owner assignment from the list (leads and admins): ``account`` (repeated
    ids), ``owner`` (a user's id, or ``none``)."""
    form = await request.form()
    check_csrf(principal, str(form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""))
    back = _back(str(form.get("next") or "/accounts"))
    owner_text = str(form.get("owner") or "").strip().lower()
    if not owner_text:
        raise InvalidInput(_("choose the new owner"), field="owner")
    owner_id = None if owner_text == "none" else _whole(owner_text, "owner", 1, _MAX_ID)
    ids = [_whole(str(v), "account", 1, _MAX_ID) for v in form.getlist("account")]
    with state.unit_of_work() as session:
        count = accounts_service.assign_owner(session, ids, owner_id, as_of=today(state.settings))
    return RedirectResponse(_with(back, done="owner", n=count), status_code=303)


@router.post("/accounts/views")
def save_view(
    request: Request, state: State, principal: CurrentPrincipal, name: Annotated[str, Form()] = "",
    query: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:  # fmt: skip
    """Save the list's current filters under a name (each user's own)."""
    check_csrf(principal, csrf_token or request.headers.get(CSRF_HEADER))
    if principal.user_id is None:
        raise InvalidInput(_("saved views belong to a signed-in user"), field="name")
    params, _query = parse_list_params(**_list_args(dict(parse_qsl(query[:2000]))))
    canonical = params.url(page=1).partition("?")[2]
    with state.unit_of_work() as session:
        accounts_service.save_view(session, principal.user_id, name, canonical)
    return RedirectResponse(_with(params.url(page=1), done="view"), status_code=303)


@router.post("/accounts/views/{view_id:int}/delete")
def delete_view(
    request: Request, state: State, principal: CurrentPrincipal, view_id: int,
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:  # fmt: skip
    check_csrf(principal, csrf_token or request.headers.get(CSRF_HEADER))
    if principal.user_id is None:
        raise NotFound(_("no saved view with id {id}").format(id=view_id), code="view_not_found")
    with state.unit_of_work() as session:
        accounts_service.delete_view(session, principal.user_id, view_id)
    return RedirectResponse("/accounts?done=view-deleted", status_code=303)


# --- the account 360 page ----------------------------------------------------------------


CHART_COLOURS = {"active_users": "#2f5fd0", "logins": "#d97706"}


def _dataset(label: str, values: tuple[float, ...], colour: str) -> dict[str, Any]:
    return {
        "label": label, "data": list(values), "borderColor": colour, "backgroundColor": colour, "borderWidth": 2,
        "pointRadius": 0, "pointHoverRadius": 3, "tension": 0.25,
    }  # fmt: skip


def usage_chart(usage: c360.UsageSeries) -> dict[str, Any]:
    """A Chart.js line chart of the usage series (drawn by kizuna.js from JSON)."""
    names = {"active_users": _("Active users"), "logins": _("Logins")}
    return {
        "type": "line",
        "data": {
            "labels": [f"{d.month}/{d.day}" for d in usage.days],
            "datasets": [
                _dataset(names.get(metric, metric), values, CHART_COLOURS.get(metric, "#6b7483"))
                for metric, values in usage.series.items()
            ],
        },
        "options": {
            "interaction": {"mode": "index", "intersect": False},
            "plugins": {"legend": {"position": "bottom", "labels": {"boxWidth": 12, "boxHeight": 2}}},
            "scales": {
                "x": {"grid": {"display": False}, "ticks": {"maxTicksLimit": 7, "maxRotation": 0}},
                "y": {"beginAtZero": True, "ticks": {"precision": 0}, "grid": {"color": "#eef0f3"}},
            },
        },
    }


def _now_local(settings: Settings) -> str:
    return datetime.now(settings.zone).strftime("%Y-%m-%dT%H:%M")


def _empty_form(settings: Settings) -> dict[str, str]:
    return {"kind": "meeting", "subject": "", "summary": "", "contact_id": "", "occurred_at": _now_local(settings)}


def health_header_context(head: dict[str, Any] | None) -> dict[str, Any]:
    """The 360 header's health: the snapshot facts, the sparkline and its spoken label."""
    if head is None:
        return {"health_head": None, "spark": None, "spark_label": ""}
    trend = head["trend"]
    label = _("Health score over the last {n} days: from {first} to {last}").format(
        n=len(trend), first=f"{trend[0][1]:.0f}", last=f"{trend[-1][1]:.0f}"
    )
    return {"health_head": head, "spark": sparkline([s for _d, s in trend]), "spark_label": label,
            "grade_labels": GRADE_LABELS}  # fmt: skip


def _account_page(
    request: Request, state: State, account_id: int, *, before: str | None = None, form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None, status: int = 200, extra: dict[str, Any] | None = None,
) -> Response:  # fmt: skip
    as_of = today(state.settings)
    menus = state.store_cache
    version = menus.version()  # before the transaction below reads (see StoreCache)
    with state.unit_of_work() as session:
        data = c360.account_360(session, account_id, as_of=as_of, zone=state.settings.zone, before=before or None,
                                timeline_limit=TIMELINE_PAGE)  # fmt: skip
        health_head = health_header_context(health_history.account_header(session, account_id))
        # the users a task can be given to: the list's bulk-owner menu (kept while the store is unchanged)
        people = menus.get("owner_choices", version, lambda: accounts_service.owner_choices(session))
        ltv = ltv_accounts.account_ltv(session, account_id)
        churn_risk = churn_service.account_churn(session, account_id)
        plans = account_plans(session, account_id, as_of)
        opps = opportunities.for_account(session, account_id)  # issue 16
    renewal_in = (data.account.renewal_on - as_of).days if data.account.renewal_on else None
    context = {
        "data": data, "account": data.account, "as_of": as_of, "chart": usage_chart(data.usage), "renewal_in": renewal_in,
        "form": form or _empty_form(state.settings), "errors": errors or {}, "contacts": data.contacts,
        "before": before or "", "page": data.timeline, "seg_labels": SEGMENT_LABELS, "seg_form": {}, "seg_errors": {},
        "task_kinds": [k.value for k in TaskKind], "task_priorities": [p.value for p in TaskPriority],
        "task_people": people, "task_error": "", "ltv": ltv, "ltv_segment": segment_name,
        "churn": churn_risk, "plans": plans,
        "opportunities": opps, "opportunity_label": opportunities.label,
        **health_head, **(extra or {}),
    }  # fmt: skip
    return render(request, "accounts/account.html", context, status=status)


def account_page_with(request: Request, state: State, account_id: int, *, task_error: str, status: int) -> Response:
    """The 360 page with a refused task form's reason (the task routes' error page)."""
    return _account_page(request, state, account_id, status=status, extra={"task_error": task_error})


@router.get("/accounts/{account_id:int}")
def account_page(
    request: Request, state: State, principal: CurrentPrincipal, account_id: int, before: str | None = None
) -> Response:
    return _account_page(request, state, account_id, before=before)


@router.get("/accounts/{account_id:int}/timeline")
def timeline_page(
    request: Request, state: State, principal: CurrentPrincipal, account_id: int, before: str | None = None
) -> Response:
    """The "load more" button's next page of timeline items (the full page without htmx)."""
    if not _is_htmx(request):
        target = f"/accounts/{account_id}" + (f"?{urlencode({'before': before})}" if before else "") + "#timeline"
        return RedirectResponse(target, status_code=303)
    with state.unit_of_work() as session:
        page = c360.timeline(session, account_id, before=before or None, limit=TIMELINE_PAGE, zone=state.settings.zone)
    html = render_fragment(request, "accounts/_timeline_page.html", {"page": page, "account_id": account_id})
    return HTMLResponse(html)


# --- logging a touchpoint ----------------------------------------------------------------


def _parse_when(text: str, settings: Settings) -> datetime:
    raw = text.strip()
    if not raw:
        return datetime.now(settings.zone)
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(
            _("not a date and time: {value!r}").format(value=raw[:40]), code="invalid_datetime", field="occurred_at"
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=settings.zone)


def _parse_contact(text: str) -> int | None:
    raw = text.strip()
    if not raw:
        return None
    if not raw.isdecimal() or not 0 < int(raw) <= _MAX_ID:
        raise NotFound(_("no contact with id {id}").format(id=raw[:20]), code="contact_not_found", field="contact_id")
    return int(raw)


@router.post("/accounts/{account_id:int}/activities")
def log_activity(
    request: Request, state: State, principal: Writer, account_id: int,
    kind: Annotated[str, Form()] = "", subject: Annotated[str, Form()] = "", summary: Annotated[str, Form()] = "",
    contact_id: Annotated[str, Form()] = "", occurred_at: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:  # fmt: skip
    check_csrf(principal, csrf_token or request.headers.get(CSRF_HEADER))
    form = {"kind": kind, "subject": subject, "summary": summary, "contact_id": contact_id, "occurred_at": occurred_at}
    htmx = _is_htmx(request)
    try:
        with state.unit_of_work() as session:
            activity = activities_service.log_activity(
                session, account_id=account_id, kind=kind, occurred_at=_parse_when(occurred_at, state.settings),
                subject=subject, summary=summary, author_id=principal.user_id,
                contact_id=_parse_contact(contact_id),
            )  # fmt: skip
            item = c360.activity_item(session, account_id, activity.id)
            contacts = c360.account_contacts(session, account_id) if htmx else ()
    except (InvalidInput, NotFound) as exc:
        if isinstance(exc, NotFound) and exc.code == "account_not_found":
            raise
        errors = {(exc.field or "form"): exc.message}
        return _form_error(request, state, account_id, form, errors, htmx)
    if not htmx:
        return RedirectResponse(f"/accounts/{account_id}#timeline", status_code=303)
    html = render_fragment(request, "accounts/_activity_created.html", {
        "item": item, "account_id": account_id, "form": _empty_form(state.settings), "errors": {},
        "contacts": contacts, "oob": True,
    })  # fmt: skip
    return HTMLResponse(html)


def _form_error(
    request: Request, state: State, account_id: int, form: dict[str, str], errors: dict[str, str], htmx: bool
) -> Response:
    if not htmx:
        return _account_page(request, state, account_id, form=form, errors=errors, status=422)
    with state.unit_of_work() as session:
        contacts = c360.account_contacts(session, account_id)
    html = render_fragment(request, "accounts/_activity_form.html", {
        "account_id": account_id, "form": form, "errors": errors, "contacts": contacts, "open": True,
    })  # fmt: skip
    return HTMLResponse(html, status_code=422, headers={"HX-Retarget": "#activity-form", "HX-Reswap": "outerHTML"})
