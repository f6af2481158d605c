"""The renewals page (``/renewals``, issue 16 item 3): the pipeline of committed terms by
renewal month with the forecast, ARR at risk and the renewal rate; the CSM's stage and
call forms; and the 360 page's renewal section (``/accounts/{id}/renewals``, loaded by
htmx). JSON twins: ``/api/renewals``, ``/api/renewals/forecast``."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from kizuna.domain.segments import TIER_LABELS
from kizuna.errors import Conflict, InvalidInput, NotFound
from kizuna.http.auth import CSRF_FIELD, CSRF_HEADER, CurrentPrincipal, Principal, State, Writer, check_csrf
from kizuna.http.clock import today
from kizuna.http.templating import render
from kizuna.i18n import _
from kizuna.services import accounts as accounts_service
from kizuna.services import renewals

router = APIRouter(include_in_schema=False)

CsrfToken = Annotated[str, Form(alias=CSRF_FIELD)]


def _page(request: Request, state: State, *, start: str | None, months: str | None, owner: str | None,
          tier: str | None, error: str = "", status: int = 200) -> Response:  # fmt: skip
    day = today(state.settings)
    form = {"start": (start or "").strip(), "months": (months or "3").strip(), "owner": (owner or "").strip(),
            "tier": (tier or "").strip()}  # fmt: skip
    try:
        n = int(form["months"]) if form["months"].isdecimal() else -1
        first, last = renewals.month_window(day, form["start"] or None, n)
        with state.unit_of_work() as session:
            filters = renewals.PipelineFilter(owner_id=renewals.owner_id_of(session, form["owner"]),
                                              tier=renewals.tier_of(form["tier"]))  # fmt: skip
            rows = renewals.pipeline(session, day, first, last, filters)
            rate_lines = renewals.rates(session, day, "month", day - timedelta(days=365), day)
            people = accounts_service.owner_choices(session)
    except InvalidInput as exc:
        error, status = exc.message, 422
        first = last = day
        rows, rate_lines, people = [], [], []
    f = renewals.summarize_rows(rows, day, first, last)
    by_month: dict[str, list[renewals.RenewalRow]] = {}
    for r in rows:
        by_month.setdefault(r.month, []).append(r)
    context: dict[str, Any] = {
        "as_of": day, "first": first, "last": last, "form": form, "forecast": f, "by_month": by_month,
        "lines": {(m.month, m.currency): m for m in f.months}, "rates": rate_lines, "people": people,
        "tiers": renewals.TIERS, "stages": [str(s) for s in renewals.CSM_STAGES], "stage_labels": renewals.STAGE_LABELS,
        "source_labels": renewals.SOURCE_LABELS, "tier_labels": TIER_LABELS, "error": error,
    }  # fmt: skip
    return render(request, "renewals/index.html", context, status=status)


@router.get("/renewals")
def renewals_page(request: Request, state: State, principal: CurrentPrincipal, start: str | None = None,
                  months: str | None = None, owner: str | None = None, tier: str | None = None) -> Response:  # fmt: skip
    return _page(request, state, start=start, months=months, owner=owner, tier=tier)


def _actor(principal: Principal) -> str:
    return principal.email or principal.name or "?"


def _back(next_url: str) -> str:
    return next_url if next_url.startswith("/renewals") or next_url.startswith("/accounts/") else "/renewals"


@router.post("/renewals/{renewal_id:int}/stage")
def set_stage(request: Request, state: State, principal: Writer, renewal_id: int, csrf_token: CsrfToken = "",
              stage: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "") -> Response:  # fmt: skip
    check_csrf(principal, csrf_token or request.headers.get(CSRF_HEADER))
    try:
        with state.unit_of_work() as session:
            renewals.set_stage(session, renewal_id, stage.strip(), _actor(principal), today(state.settings))
    except (InvalidInput, NotFound, Conflict) as exc:
        return _page(request, state, start=None, months=None, owner=None, tier=None, error=exc.message,
                     status=404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Conflict) else 422)  # fmt: skip
    return RedirectResponse(_back(next), status_code=303)


@router.post("/renewals/{renewal_id:int}/call")
def set_call(request: Request, state: State, principal: Writer, renewal_id: int, csrf_token: CsrfToken = "",
             probability: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = "",
             next: Annotated[str, Form()] = "") -> Response:  # fmt: skip
    check_csrf(principal, csrf_token or request.headers.get(CSRF_HEADER))
    try:
        raw = probability.strip().rstrip("%").strip()
        try:
            value = None if raw == "" else float(raw) / 100
        except ValueError:
            raise InvalidInput(_("probability must be a percentage from 0 to 100, not {value!r}").format(
                value=probability[:20]), field="probability") from None  # fmt: skip
        if value is not None and not 0 <= value <= 1:
            raise InvalidInput(_("probability must be a percentage from 0 to 100, not {value!r}").format(
                value=probability[:20]), field="probability")  # fmt: skip
        with state.unit_of_work() as session:
            renewals.set_call(session, renewal_id, value, reason, _actor(principal), today(state.settings))
    except (InvalidInput, NotFound, Conflict) as exc:
        return _page(request, state, start=None, months=None, owner=None, tier=None, error=exc.message,
                     status=404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Conflict) else 422)  # fmt: skip
    return RedirectResponse(_back(next), status_code=303)


@router.get("/accounts/{account_id:int}/renewals")
def account_renewals(request: Request, state: State, principal: CurrentPrincipal, account_id: int) -> Response:
    """The 360 page's renewal section (htmx fragment): the account's renewals, the next one first."""
    day = today(state.settings)
    with state.unit_of_work() as session:
        rows = sorted(renewals.account_renewals(session, day, account_id), key=lambda r: r.term_end, reverse=True)
    return render(request, "renewals/_account.html", {"rows": rows, "as_of": day, "account_id": account_id,
                  "stage_labels": renewals.STAGE_LABELS, "source_labels": renewals.SOURCE_LABELS,
                  "stages": [str(s) for s in renewals.CSM_STAGES]})  # fmt: skip


