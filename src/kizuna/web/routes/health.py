"""Health pages: the distribution and movers (``/health``), the backtest
(``/health/backtest``), the scorecards (``/health/scorecards``, editable by leads) and
the panel on the account 360 page (``/accounts/{id}/health``, loaded by htmx).

JSON twins: ``/api/health/summary``, ``/api/health/backtest``, ``/api/health/scorecards``,
``/api/health/accounts/{id}``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kizuna.domain.health import (
    GRADE_COLOURS,
    GRADE_LABELS,
    MEASURES,
    SENTIMENT_LABELS,
    HealthGrade,
    ScorecardInvalid,
    ScorecardProblem,
    ScorecardSet,
)
from kizuna.domain.segments import TIER_LABELS
from kizuna.errors import InvalidInput
from kizuna.http.auth import CSRF_FIELD, CSRF_HEADER, CurrentPrincipal, Manager, State, Writer, check_csrf
from kizuna.http.clock import today
from kizuna.http.templating import render, render_fragment
from kizuna.i18n import _
from kizuna.jobs import run_job
from kizuna.services import freshness
from kizuna.services import health as health_service
from kizuna.services.health import editor
from kizuna.services.health import tune as tuning

router = APIRouter(include_in_schema=False)

GRADES = (HealthGrade.GREEN, HealthGrade.YELLOW, HealthGrade.RED)


def _bar_chart(labels: list[str], datasets: list[dict[str, Any]], *, stacked: bool = False,
               percent: bool = False) -> dict[str, Any]:  # fmt: skip
    return {
        "type": "bar",
        "data": {"labels": labels, "datasets": datasets},
        "options": {
            "plugins": {"legend": {"display": len(datasets) > 1, "position": "bottom"}},
            "scales": {"x": {"stacked": stacked, "grid": {"display": False}},
                       "y": {"stacked": stacked, "beginAtZero": True, "grid": {"color": "#eef0f3"}}},
        },
    }  # fmt: skip


def origin_label(version: int | None, configured: bool) -> str:
    """Where the scorecards in force come from, for users: a saved version, the configured
    file or the shipped default — never a server path."""
    if version is not None:
        return _("saved version {n}").format(n=version)
    return _("the file set in KIZUNA_HEALTH_SCORECARDS") if configured else _("the default scorecards")


@router.get("/health")
def health_page(request: Request, state: State, principal: CurrentPrincipal) -> Response:
    with state.unit_of_work() as session:
        data = health_service.summary(session, limit=10)
    grade_labels = [_(GRADE_LABELS[g]) for g in GRADES]
    distribution = _bar_chart(grade_labels, [{
        "label": _("Accounts"), "data": [getattr(data.grades, g.value) for g in GRADES],
        "backgroundColor": [GRADE_COLOURS[g] for g in GRADES]}])  # fmt: skip
    tiers = sorted(data.tiers)
    by_tier = _bar_chart([_(TIER_LABELS[t]) if t in TIER_LABELS else _("no tier") if t == "none" else t
                         for t in tiers], [
        {"label": _(GRADE_LABELS[g]), "data": [getattr(data.tiers[t], g.value) for t in tiers],
         "backgroundColor": GRADE_COLOURS[g]} for g in GRADES], stacked=True)  # fmt: skip
    context = {"data": data, "distribution": distribution, "by_tier": by_tier, "grades": GRADES,
               "grade_labels": GRADE_LABELS}  # fmt: skip
    return render(request, "health/summary.html", context)


@router.get("/health/backtest")
def backtest_page(request: Request, state: State, principal: CurrentPrincipal, horizon_days: int = 90) -> Response:
    if not 7 <= horizon_days <= 730:
        raise InvalidInput(_("--horizon-days must be from 7 to 730"), field="horizon_days")
    cache = request.app.state.__dict__.setdefault("health_backtest_cache", {})
    with state.unit_of_work() as session:
        try:
            data: health_service.BacktestSummary | None = health_service.cached_backtest(
                session, cache, as_of=today(state.settings), horizon_days=horizon_days,
                path=state.settings.health_scorecards, now=time.monotonic())  # fmt: skip
            problem = None
        except InvalidInput as exc:
            data, problem = None, exc.message
    roc = by_grade = None
    if data is not None:
        roc = {
            "type": "scatter",
            "data": {"datasets": [
                {"label": _("Health score"), "data": [{"x": p.fpr, "y": p.tpr} for p in data.roc],
                 "showLine": True, "borderColor": "#2f5fd0", "pointRadius": 0, "borderWidth": 2},
                {"label": _("Chance"), "data": [{"x": 0, "y": 0}, {"x": 1, "y": 1}], "showLine": True,
                 "borderColor": "#9aa3af", "borderDash": [4, 4], "pointRadius": 0, "borderWidth": 1},
            ]},
            "options": {"aspectRatio": 1.2, "plugins": {"legend": {"position": "bottom"}}, "scales": {
                "x": {"min": 0, "max": 1, "title": {"display": True, "text": _("False positive rate")}},
                "y": {"min": 0, "max": 1, "title": {"display": True, "text": _("True positive rate")}}}},
        }  # fmt: skip
        by_grade = _bar_chart([_(GRADE_LABELS[g]) for g in GRADES], [{
            "label": _("Churn rate (%)"),
            "data": [round(data.by_grade[g.value].rate * 100, 1) for g in GRADES],
            "backgroundColor": [GRADE_COLOURS[g] for g in GRADES]}])  # fmt: skip
    origin = None if data is None else origin_label(data.scorecards_version, bool(state.settings.health_scorecards))
    context = {"data": data, "problem": problem, "roc": roc, "by_grade_chart": by_grade, "grades": GRADES,
               "grade_labels": GRADE_LABELS, "horizon_days": horizon_days, "origin": origin,
               "measure_labels": {k: m.label for k, m in MEASURES.items()},
               "directions": health_service.DIRECTION_LABELS}  # fmt: skip
    return render(request, "health/backtest.html", context)


def _scorecards_page(request: Request, state: State, principal: Any, *, errors: list[ScorecardProblem] | None = None,
                     source: str | None = None, saved: str | None = None, status: int = 200,
                     edited: ScorecardSet | None = None, typed: dict[str, str] | None = None,
                     preview: editor.GradePreview | None = None, tuned: tuning.TuneResult | None = None,
                     tune_error: str | None = None) -> Response:  # fmt: skip
    with state.unit_of_work() as session:
        active = health_service.active_scorecards(session, state.settings.health_scorecards)
        versions = health_service.scorecard_versions(session)
    cards = edited or active.cards
    problems = errors or []
    by_row: dict[str, list[str]] = {}
    for p in problems:
        by_row.setdefault(editor.field_of(p.key), []).append(f"{p.key}: {p.reason}")
    context = {
        "active": active, "cards": cards, "versions": versions, "errors": [str(p) for p in problems],
        "row_errors": by_row, "typed": typed or {}, "preview": preview, "edited": edited is not None,
        "source": source if source is not None else active.source, "measures": MEASURES, "saved": saved,
        "can_edit": principal.is_user and "manage" in principal.permissions,
        "origin": origin_label(active.version, bool(state.settings.health_scorecards)),
        "form_value": editor.form_value, "plain": editor.plain_number, "describe": health_service.describe_value, "percent": editor.PERCENT_UNITS, "max_points": editor.MAX_POINTS,
        "grade_labels": GRADE_LABELS, "tuned": tuned, "tune_error": tune_error,
        "tuned_note": tuning.default_note(tuned) if tuned else "", "tuned_inner": tuning.inner_text(tuned) if tuned else "",
    }  # fmt: skip
    return render(request, "health/scorecards.html", context, status=status)


@router.get("/health/scorecards")
def scorecards_page(request: Request, state: State, principal: CurrentPrincipal, saved: str | None = None) -> Response:
    return _scorecards_page(request, state, principal, saved=saved)


@router.post("/health/scorecards/edit")
async def edit_scorecards(request: Request, state: State, principal: Manager) -> Response:
    """The editor's forms: ``action=preview`` scores the newest day with the edit and
    shows how the grades would move (nothing saved); ``action=save`` saves a version."""
    form = await request.form()
    check_csrf(principal, str(form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""))
    fields = {str(k): str(v) for k, v in form.items() if ":" in str(k) and isinstance(v, str)}
    note = str(form.get("note") or "")[:500]
    action = str(form.get("action") or "save")
    try:
        with state.unit_of_work() as session:
            current = health_service.active_scorecards(session, state.settings.health_scorecards).cards
            candidate = editor.apply_form(current, fields)
            if action == "preview":
                day = editor.newest_day(session) or today(state.settings)
                missing, _since = freshness.late_measures(session, day, state.context)
                result = editor.preview(session, current, candidate, day, missing)
            else:
                health_service.save_scorecards(session, health_service.to_toml(candidate), author_id=principal.user_id,
                                               note=note or _("edited in the web app"))  # fmt: skip
    except ScorecardInvalid as exc:
        return _scorecards_page(request, state, principal, errors=exc.problems, typed=fields, status=422)
    if action == "preview":
        return _scorecards_page(request, state, principal, edited=candidate, preview=result)
    return RedirectResponse("/health/scorecards?saved=1", status_code=303)


@router.post("/health/scorecards/tune")
def tune_scorecards(
    request: Request, state: State, principal: Manager, horizon_days: Annotated[str, Form()] = "90",
    csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:  # fmt: skip
    """Learn the default scorecard's weights from the churn history and show the proposal
    (nothing saved: the lead applies it with the TOML form it fills)."""
    check_csrf(principal, csrf_token or request.headers.get(CSRF_HEADER))
    try:
        horizon = int(horizon_days.strip())
    except ValueError:
        return _scorecards_page(request, state, principal, tune_error=_("--horizon-days must be from 7 to 730"),
                                status=422)  # fmt: skip
    try:
        with state.unit_of_work() as session:
            result = tuning.tune(session, as_of=today(state.settings), horizon_days=horizon,
                                 path=state.settings.health_scorecards)  # fmt: skip
    except InvalidInput as exc:
        return _scorecards_page(request, state, principal, tune_error=str(exc), status=422)
    return _scorecards_page(request, state, principal, tuned=result)


@router.post("/health/scorecards/source")
def save_source(
    request: Request, state: State, principal: Manager, source: Annotated[str, Form()] = "",
    note: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:  # fmt: skip
    check_csrf(principal, csrf_token or request.headers.get(CSRF_HEADER))
    try:
        with state.unit_of_work() as session:
            health_service.save_scorecards(session, source, author_id=principal.user_id,
                                           note=note or _("edited as TOML in the web app"))  # fmt: skip
    except ScorecardInvalid as exc:
        return _scorecards_page(request, state, principal, errors=exc.problems, source=source,
                                status=422)  # fmt: skip
    return RedirectResponse("/health/scorecards?saved=1", status_code=303)


@router.post("/health/recompute")
def recompute_now(
    request: Request, state: State, principal: Manager, csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = ""
) -> Response:
    """Recompute today's health scores and then the at-risk flags that read them, with the
    scorecards in force (leads and admins): the daily job's two steps, recorded as a job run."""
    check_csrf(principal, csrf_token or request.headers.get(CSRF_HEADER))
    report = run_job(state.engine, state.context, "daily", as_of=today(state.settings), trigger="web",
                     only=["health", "at_risk"])  # fmt: skip
    outcome = "recomputed" if report.ok else ("busy" if not report.ran else "failed")
    return RedirectResponse(f"/health/scorecards?saved={outcome}", status_code=303)


# --- the panel on the account 360 page -------------------------------------------------------------


def _panel(request: Request, state: State, account_id: int, *, errors: dict[str, str] | None = None,
           form: dict[str, str] | None = None) -> str:  # fmt: skip
    return render_fragment(request, "health/_panel.html", _panel_context(state, account_id, errors=errors, form=form))


def _panel_context(state: State, account_id: int, *, errors: dict[str, str] | None = None,
                   form: dict[str, str] | None = None) -> dict[str, Any]:  # fmt: skip
    with state.unit_of_work() as session:
        data = health_service.account_health(session, account_id, days=180)
    history = data.history
    snap = history[-1] if history else None
    trend = {
        "type": "line",
        "data": {"labels": [f"{h.day.month}/{h.day.day}" for h in history], "datasets": [{
            "label": _("Health score"), "data": [round(h.score, 1) for h in history], "borderColor": "#2f5fd0",
            "backgroundColor": "#2f5fd0", "borderWidth": 2, "pointRadius": 0 if len(history) > 20 else 3,
            "tension": 0.2}]},
        "options": {"plugins": {"legend": {"display": False}},
                    "scales": {"y": {"min": 0, "max": 100}, "x": {"grid": {"display": False},
                                                            "ticks": {"maxTicksLimit": 7, "maxRotation": 0}}}},
    }  # fmt: skip
    rows = []
    if snap is not None:
        for key, m in snap.measures.items():
            rows.append({"key": key, "label": _(MEASURES[key].label) if key in MEASURES else key,
                         "value": health_service.describe_value(key, m.value) if m.value is not None else None,
                         "points": m.points, "weight": m.weight})  # fmt: skip
    return {
        "account_id": account_id, "account_name": data.name, "snap": snap, "trend": trend, "rows": rows,
        "reasons": snap.reasons if snap else [],
        "sentiments": data.sentiments, "sentiment_labels": SENTIMENT_LABELS, "grade_labels": GRADE_LABELS,
        "errors": errors or {}, "form": form or {"value": "", "reason": ""}, "points_count": len(history),
    }  # fmt: skip


@router.get("/accounts/{account_id:int}/health")
def health_panel(request: Request, state: State, principal: CurrentPrincipal, account_id: int) -> Response:
    """The panel alone for htmx (the 360 page loads it); opened directly, a full page."""
    if request.headers.get("hx-request") == "true" and request.headers.get("hx-history-restore-request") != "true":
        response: Response = HTMLResponse(_panel(request, state, account_id))
    else:
        response = render(request, "health/account.html", _panel_context(state, account_id))
    response.headers["Vary"] = "HX-Request"
    return response


@router.post("/accounts/{account_id:int}/health/sentiment")
def enter_sentiment(
    request: Request, state: State, principal: Writer, account_id: int, value: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "", csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:  # fmt: skip
    check_csrf(principal, csrf_token or request.headers.get(CSRF_HEADER))
    htmx = request.headers.get("hx-request") == "true"
    try:
        with state.unit_of_work() as session:
            health_service.enter_sentiment(session, account_id, value=value, reason=reason,
                                           author_id=principal.user_id,
                                           now=datetime.now(UTC))  # fmt: skip
    except InvalidInput as exc:
        html = _panel(request, state, account_id, errors={exc.field or "form": exc.message},
                      form={"value": value, "reason": reason})  # fmt: skip
        return HTMLResponse(html, status_code=422 if not htmx else 200)
    if not htmx:
        return RedirectResponse(f"/accounts/{account_id}#health", status_code=303)
    return HTMLResponse(_panel(request, state, account_id))
