"""Sign in, sign out, and the language switcher."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from kizuna.http.auth import CSRF_FIELD, SESSION_COOKIE, State, check_csrf, resolve_principal
from kizuna.http.i18n import LANG_COOKIE
from kizuna.http.templating import render
from kizuna.i18n import _, language, normalize_language
from kizuna.services import auth as auth_service

router = APIRouter(include_in_schema=False)


def _safe_next(target: str | None) -> str:
    """Only same-site paths: never redirect a signed-in user to another host."""
    if not target:
        return "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _secure(request: Request, state: State) -> bool:
    configured = state.settings.secure_cookies
    return configured if configured is not None else request.url.scheme == "https"


@router.get("/login")
def login_page(request: Request, state: State, next: str = "/") -> Response:
    if resolve_principal(request, state) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    with state.unit_of_work() as session:
        no_users = auth_service.count_users(session) == 0
    return render(request, "login.html", {"next": _safe_next(next), "email": "", "error": None, "no_users": no_users})


@router.post("/login")
def login(
    request: Request, state: State, email: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:  # fmt: skip
    with state.unit_of_work() as session:
        user = auth_service.authenticate(session, email, password)
        if user is None:
            context = {
                "next": _safe_next(next),
                "email": email,
                "error": _("Wrong email or password."),
                "no_users": False,
            }
            return render(request, "login.html", context, status=401)
        token, _csrf = auth_service.start_session(session, user, days=state.settings.session_days)
        user_language = user.locale
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, token, max_age=state.settings.session_days * 86400, httponly=True,
                        samesite="lax", secure=_secure(request, state), path="/")  # fmt: skip
    if user_language:
        response.set_cookie(LANG_COOKIE, user_language, max_age=365 * 86400, samesite="lax", path="/")
    return response


@router.post("/logout")
def logout(request: Request, state: State, csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "") -> Response:
    principal = resolve_principal(request, state)
    if principal is not None:
        check_csrf(principal, csrf_token)
        with state.unit_of_work() as session:
            auth_service.end_session(session, request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/language")
def switch_language(
    request: Request, state: State, language_code: Annotated[str, Form(alias="language")],
    next: Annotated[str, Form()] = "/", csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:  # fmt: skip
    code = normalize_language(language_code) or "ja"
    principal = resolve_principal(request, state)
    if principal is not None and principal.user is not None:
        check_csrf(principal, csrf_token)
        with state.unit_of_work() as session:
            auth_service.set_language(session, principal.user.id, code)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, samesite="lax", path="/")
    with language(code):
        return response
