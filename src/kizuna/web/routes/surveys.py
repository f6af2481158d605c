"""Surveys: the public answer page ``/s/{token}`` (no sign-in, in the contact's language) and
the survey programmes page ``/surveys`` (create a programme, send one by hand to a segment).

A forged or altered link gets a 400 page, an expired or already used one a 410 page — a
sentence, never a 500; nothing is recorded twice."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from kizuna.domain.auth import Permission
from kizuna.domain.enums import SurveyKind
from kizuna.domain.playbooks import STAGES, TIERS
from kizuna.errors import InvalidInput
from kizuna.http import clock
from kizuna.http.auth import CSRF_FIELD, CurrentPrincipal, Manager, State, check_csrf
from kizuna.http.errors import error, error_body, wants_json
from kizuna.http.templating import render
from kizuna.i18n import _, get_language, language
from kizuna.services import surveys

router = APIRouter(include_in_schema=False)

PUBLIC_HEADERS = {"Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex", "Cache-Control": "no-store"}


def _gone(reason: str) -> str:
    if reason == "expired":
        return _("This survey link has expired. Thank you all the same — if you want to tell us something, reply to "
                 "the email.")  # fmt: skip
    return _("This survey has already been answered with this link. Thank you — each link records one answer.")


def _public(request: Request, status: int, context: dict[str, object]) -> Response:
    if wants_json(request):
        if status >= 400:
            code = {400: "invalid_survey_link", 410: "survey_link_gone"}.get(status, "invalid_survey_answer")
            return JSONResponse(error_body([error(code, str(context.get("problem") or context.get("invalid")),
                                                  str(context.get("invalid_field") or "token"))]),
                                status_code=status, headers=PUBLIC_HEADERS)  # fmt: skip
        return JSONResponse({"thanks": bool(context.get("thanks"))}, headers=PUBLIC_HEADERS)
    response = render(request, "surveys/answer.html", context, status=status)
    response.headers.update(PUBLIC_HEADERS)
    return response


def _lang(state: State, token: str) -> str:
    """The contact's language (else the company's); a link naming no invitation: the browser's."""
    with state.unit_of_work() as session:
        return surveys.language_of(session, state.context, token) or get_language()


@router.get("/s/{survey_link}")
def survey_page(request: Request, state: State, survey_link: str) -> Response:
    token = survey_link
    with language(_lang(state, token)):
        try:
            with state.unit_of_work() as session:
                page = surveys.page(session, state.context, token, now=clock.now(state.settings))
        except surveys.LinkGone as exc:
            return _public(request, 410, {"problem": _gone(exc.reason)})
        except InvalidInput as exc:
            return _public(request, 400, {"problem": exc.message})
        return _public(request, 200, {"page": page, "token": token})


@router.post("/s/{survey_link}")
def survey_answer(request: Request, state: State, survey_link: str, score: Annotated[str | None, Form()] = None,
                  why: Annotated[str | None, Form()] = None) -> Response:  # fmt: skip
    token = survey_link
    with language(_lang(state, token)):
        now = clock.now(state.settings)
        try:
            with state.unit_of_work() as session:
                surveys.answer(session, state.context, token, score, why, now=now)
        except surveys.LinkGone as exc:
            return _public(request, 410, {"problem": _gone(exc.reason)})
        except InvalidInput as exc:
            if exc.code != "invalid_survey_answer":
                return _public(request, 400, {"problem": exc.message})
            try:
                with state.unit_of_work() as session:  # the form again, with what was typed and the reason
                    page = surveys.page(session, state.context, token, now=now)
            except surveys.LinkGone as gone:  # answered or expired a moment ago
                return _public(request, 410, {"problem": _gone(gone.reason)})
            return _public(request, 422, {"page": page, "token": token, "invalid": exc.message,
                                          "invalid_field": exc.field, "score": score, "why": why})  # fmt: skip
        return _public(request, 200, {"thanks": True})


# --- the programmes page (signed in) ------------------------------------------------------------------


@router.get("/surveys")
def programmes_page(request: Request, state: State, principal: CurrentPrincipal, sent: int | None = None,
                    skipped: int | None = None) -> Response:  # fmt: skip
    return _programmes(request, state, {"sent": sent, "skipped": skipped})


def _programmes(request: Request, state: State, extra: dict[str, object], status: int = 200) -> Response:
    principal = getattr(request.state, "principal", None)
    with state.unit_of_work() as session:
        found = surveys.programmes(session)
        owners = surveys.segment_choices(session)
    context = {"programmes": found, "owners": owners, "form": {}, "problem": None, "problem_field": None,
               "kinds": [k.value for k in SurveyKind], "tiers": TIERS, "stages": STAGES,
               "can_manage": principal is not None and Permission.MANAGE in principal.permissions, **extra}  # fmt: skip
    return render(request, "surveys/programmes.html", context, status=status)


@router.post("/surveys")
async def create_programme(request: Request, state: State, principal: Manager) -> Response:
    raw = await request.form()
    check_csrf(principal, str(raw.get(CSRF_FIELD) or ""))
    form = {name: str(raw.get(name) or "")[:1000] for name in ("key", "name", "kind", "question_ja", "question_en")}
    try:
        with state.unit_of_work() as session:
            surveys.create_programme(session, **form)
    except InvalidInput as exc:
        return _programmes(request, state, {"form": form, "problem": exc.message, "problem_field": exc.field}, 422)
    return RedirectResponse("/surveys", status_code=303)


@router.post("/surveys/{key}/send")
async def send_programme(request: Request, state: State, principal: Manager, key: str) -> Response:
    raw = await request.form()
    check_csrf(principal, str(raw.get(CSRF_FIELD) or ""))
    tiers = [str(t) for t in raw.getlist("tier") if t in TIERS]
    stages = [str(t) for t in raw.getlist("stage") if t in STAGES]
    owners = [int(str(o)) for o in raw.getlist("owner") if str(o).isdecimal() and len(str(o)) < 12]
    with state.unit_of_work() as session:
        done = surveys.send_to_segment(session, state.context, key[:64], tiers=tiers, stages=stages, owner_ids=owners,
                                       champions_only=raw.get("to") != "all_contacts",
                                       sent_by=principal.email or "", now=clock.now(state.settings))  # fmt: skip
    return RedirectResponse(f"/surveys?sent={done.sent}&skipped={done.skipped}", status_code=303)
