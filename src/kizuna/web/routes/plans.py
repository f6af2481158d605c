"""Onboarding plans and success plans on the web: the onboarding templates page and form,
applying a plan and ticking milestones from the 360 page (htmx), the success plan's forms,
and the customer-facing summary (HTML with a print stylesheet, and PDF) in either language.
JSON twins: ``/api/onboarding/…`` and ``/api/accounts/{id}/success-plan``.

Every form checks the CSRF token and posts back; a refused value comes back as a message
on the page it came from (422), never a 500.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kizuna.domain.onboarding import BY_TIER, OWNER_LABELS, OWNERS, TIERS
from kizuna.domain.segments import TIER_LABELS
from kizuna.domain.success_plans import TRACK_LABELS, day
from kizuna.errors import InvalidInput, NotFound
from kizuna.http.auth import CSRF_FIELD, CSRF_HEADER, CurrentPrincipal, State, Writer, check_csrf
from kizuna.http.clock import today
from kizuna.http.templating import render, render_fragment
from kizuna.i18n import _, language
from kizuna.services import onboarding, success_plans, success_summary

router = APIRouter(include_in_schema=False)
CsrfToken = Annotated[str, Form(alias=CSRF_FIELD)]
_MAX_ID = 2**31 - 1
SUMMARY_LANGUAGES = ("ja", "en")


def _csrf(request: Request, principal: Any, token: str) -> None:
    check_csrf(principal, token or request.headers.get(CSRF_HEADER))


def parse_milestone_lines(text: str) -> list[dict[str, Any]]:
    """The form's milestones, one a line: ``offset | owner | name`` with an optional
    ``| first`` (the first-value milestone); a bad line is refused with its number."""
    out: list[dict[str, Any]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        parts = [p.strip() for p in raw.split("|")]
        if len(parts) not in (3, 4) or (len(parts) == 4 and parts[3] not in ("first", "")):
            raise InvalidInput(_("milestones, line {n}: write offset | owner | name (and | first for the first "
                                 "value)").format(n=number), code="invalid_milestone", field="milestones")  # fmt: skip
        out.append({"offset_days": parts[0], "owner": parts[1], "name": parts[2],
                    "first_value": len(parts) == 4 and parts[3] == "first"})  # fmt: skip
    return out


def milestone_lines(milestones: Any) -> str:
    return "\n".join(f"{m.offset_days} | {m.owner} | {m.name}" + (" | first" if m.first_value else "")
                     for m in milestones)  # fmt: skip


# --- onboarding templates -----------------------------------------------------------------


def _templates_page(request: Request, state: State, *, form: dict[str, str] | None = None, error: str = "",
                    status: int = 200, saved: str = "") -> Response:  # fmt: skip
    with state.unit_of_work() as session:
        found = onboarding.list_templates(session)
    return render(request, "onboarding/templates.html", {
        "templates": found, "tiers": TIERS, "tier_labels": TIER_LABELS, "owners": OWNERS, "owner_labels": OWNER_LABELS, "error": error,
        "form": form or {"key": "", "name": "", "tier": "", "milestones": ""}, "lines": milestone_lines,
        "saved": saved,
    }, status=status)  # fmt: skip


@router.get("/onboarding/templates")
def templates_page(request: Request, state: State, principal: CurrentPrincipal, edit: str = "", saved: str = "") -> Response:
    """The onboarding templates (per touch tier), and the form to add or change one."""
    form = None
    if edit:
        try:
            with state.unit_of_work() as session:
                t = onboarding.get_template(session, edit[:64])
            form = {"key": t.key, "name": t.name, "tier": t.tier or "", "milestones": milestone_lines(t.milestones)}
        except NotFound as exc:
            return _templates_page(request, state, error=exc.message, status=404)
    return _templates_page(request, state, form=form, saved=saved[:64])


@router.post("/onboarding/templates")
def save_template(
    request: Request, state: State, principal: Writer, csrf_token: CsrfToken = "", key: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "", tier: Annotated[str, Form()] = "", milestones: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    _csrf(request, principal, csrf_token)
    form = {"key": key, "name": name, "tier": tier, "milestones": milestones}
    try:
        table = {"name": name, "tier": tier or None, "milestones": parse_milestone_lines(milestones)}
        with state.unit_of_work() as session:
            t, _created = onboarding.save_template(session, key.strip(), table)
    except InvalidInput as exc:
        return _templates_page(request, state, form=form, error=exc.message, status=422)
    return RedirectResponse(f"/onboarding/templates?saved={t.key}", status_code=303)


# --- the 360 page: applying a plan, ticking milestones ------------------------------------------


def _account_error(request: Request, state: State, account_id: int, exc: InvalidInput | NotFound) -> Response:
    from kizuna.web.routes.accounts import account_page_with

    return account_page_with(request, state, account_id, task_error=exc.message, status=422)


@router.post("/accounts/{account_id:int}/onboarding-plan")
def apply_plan(
    request: Request, state: State, principal: Writer, account_id: int, csrf_token: CsrfToken = "",
    template: Annotated[str, Form()] = BY_TIER, start: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    """Apply a template (or the account's tier's) by hand; open template milestones are replaced."""
    _csrf(request, principal, csrf_token)
    try:
        with state.unit_of_work() as session:
            onboarding.check_account(session, account_id)
            begin = day(start, "start", required=False) or today(state.settings)
            applied = onboarding.apply(session, [account_id], template.strip()[:64] or BY_TIER, start=begin,
                                       replace=True)  # fmt: skip
            if not applied:
                raise InvalidInput(_("no onboarding template for this account's touch tier"), code="template_not_found",
                                   field="template")  # fmt: skip
    except (InvalidInput, NotFound) as exc:
        if isinstance(exc, NotFound) and exc.code == "account_not_found":
            raise
        return _account_error(request, state, account_id, exc)
    return RedirectResponse(f"/accounts/{account_id}#plans", status_code=303)


@router.post("/onboarding/milestones/{milestone_id:int}/tick")
def tick(
    request: Request, state: State, principal: Writer, milestone_id: int, csrf_token: CsrfToken = "",
    done: Annotated[str, Form()] = "1",
) -> Response:  # fmt: skip
    """Tick a milestone off (``done=1``) or untick it (``done=0``); htmx gets the item back."""
    _csrf(request, principal, csrf_token)
    day = today(state.settings)
    with state.unit_of_work() as session:
        account_id = onboarding.tick(session, milestone_id, done=done != "0", user_id=principal.user_id,
                                     now=datetime.now(state.settings.zone))  # fmt: skip
        item = next(m for m in onboarding.account_milestones(session, account_id, day) if m.id == milestone_id)
    if request.headers.get("hx-request") == "true":
        return HTMLResponse(render_fragment(request, "accounts/_onboarding_milestone.html",
                                            {"m": item, "owner_labels": OWNER_LABELS}))  # fmt: skip
    return RedirectResponse(f"/accounts/{account_id}#plans", status_code=303)


# --- success plans -------------------------------------------------------------------------


@router.post("/accounts/{account_id:int}/success-plan/objectives")
def add_objective(
    request: Request, state: State, principal: Writer, account_id: int, csrf_token: CsrfToken = "",
    title: Annotated[str, Form()] = "", metric: Annotated[str, Form()] = "", baseline_value: Annotated[str, Form()] = "",
    target_value: Annotated[str, Form()] = "", current_value: Annotated[str, Form()] = "",
    started_on: Annotated[str, Form()] = "", due_on: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    _csrf(request, principal, csrf_token)
    values = {"title": title, "metric": metric, "baseline_value": baseline_value, "target_value": target_value,
              "current_value": current_value, "started_on": started_on, "due_on": due_on}  # fmt: skip
    try:
        with state.unit_of_work() as session:
            success_plans.create_objective(session, account_id, values, today=today(state.settings))
    except InvalidInput as exc:
        return _account_error(request, state, account_id, exc)
    return RedirectResponse(f"/accounts/{account_id}#success-plan", status_code=303)


@router.post("/success-plan/objectives/{goal_id:int}")
def update_objective(
    request: Request, state: State, principal: Writer, goal_id: int, csrf_token: CsrfToken = "",
    current_value: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    """Record the objective's current value (the metric as it stands now)."""
    _csrf(request, principal, csrf_token)
    with state.unit_of_work() as session:
        account_id = success_plans.goal_account_id(session, goal_id)
    try:
        with state.unit_of_work() as session:
            success_plans.update_objective(session, goal_id, {"current_value": current_value},
                                           today=today(state.settings))  # fmt: skip
    except InvalidInput as exc:
        return _account_error(request, state, account_id, exc)
    return RedirectResponse(f"/accounts/{account_id}#success-plan", status_code=303)


@router.post("/success-plan/objectives/{goal_id:int}/{what}")
def add_under_objective(
    request: Request, state: State, principal: Writer, goal_id: int, what: str, csrf_token: CsrfToken = "",
    name: Annotated[str, Form()] = "", due_on: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    """Add a milestone (``milestones``) or a task (``tasks``) under an objective."""
    _csrf(request, principal, csrf_token)
    if what not in ("milestones", "tasks"):
        raise NotFound(_("nothing to add here"), code="not_found")
    with state.unit_of_work() as session:
        account_id = success_plans.goal_account_id(session, goal_id)
    try:
        with state.unit_of_work() as session:
            if what == "milestones":
                success_plans.add_milestone(session, goal_id, name, due_on)
            else:
                success_plans.add_task(session, goal_id, name, due_on, today=today(state.settings),
                                       created_by_id=principal.user_id)  # fmt: skip
    except InvalidInput as exc:
        return _account_error(request, state, account_id, exc)
    return RedirectResponse(f"/accounts/{account_id}#success-plan", status_code=303)


@router.post("/success-plan/milestones/{milestone_id:int}/tick")
def tick_goal_milestone(
    request: Request, state: State, principal: Writer, milestone_id: int, csrf_token: CsrfToken = "",
    done: Annotated[str, Form()] = "1",
) -> Response:  # fmt: skip
    _csrf(request, principal, csrf_token)
    with state.unit_of_work() as session:
        account_id = success_plans.tick_milestone(session, milestone_id, done=done != "0",
                                                  now=datetime.now(state.settings.zone))  # fmt: skip
    return RedirectResponse(f"/accounts/{account_id}#success-plan", status_code=303)


# --- the customer-facing summary ----------------------------------------------------------------


def _lang(value: str) -> str:
    return value if value in SUMMARY_LANGUAGES else "ja"


@router.get("/accounts/{account_id:int}/success-plan/summary")
def summary(request: Request, state: State, principal: CurrentPrincipal, account_id: int, lang: str = "") -> Response:
    """One page for a business review, in Japanese or English (``lang``), ready to print."""
    chosen = _lang(lang)
    with state.unit_of_work() as session:
        plan = success_plans.plan(session, account_id, today(state.settings))
    with language(chosen):
        return render(request, "success/summary.html", {"plan": plan, "track_labels": TRACK_LABELS,
                                                        "summary_lang": chosen, "lang": chosen})  # fmt: skip


@router.get("/accounts/{account_id:int}/success-plan/summary.pdf")
def summary_pdf(request: Request, state: State, principal: CurrentPrincipal, account_id: int, lang: str = "") -> Response:
    """The same summary as a PDF (fpdf2 with a Japanese font; a clear 503 page without one)."""
    chosen = _lang(lang)
    with state.unit_of_work() as session:
        plan = success_plans.plan(session, account_id, today(state.settings))
    try:
        pdf = success_summary.render_pdf(plan, chosen)
    except success_summary.PdfFontMissing as exc:
        return render(request, "error.html", {"title": _("The PDF cannot be made here"), "message": exc.message,
                                              "status": 503}, status=503)  # fmt: skip
    name = f"success-plan-{account_id}-{chosen}.pdf"
    return Response(pdf, media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="{name}"'})


def account_plans(session: Any, account_id: int, day: Any) -> dict[str, Any]:
    """What the 360 page's plans partial (``accounts/_plans.html``) shows."""
    milestones = onboarding.account_milestones(session, account_id, day)
    return {"milestones": milestones, "done": sum(m.done for m in milestones),
            "templates": onboarding.list_templates(session), "success": success_plans.plan(session, account_id, day),
            "owner_labels": OWNER_LABELS, "track_labels": TRACK_LABELS, "by_tier": BY_TIER}  # fmt: skip
