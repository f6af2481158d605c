"""Sign in, sign out, and the language switcher."""

from __future__ import annotations

import hmac
import math
import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from kizuna.http.auth import CSRF_FIELD, SESSION_COOKIE, State, check_csrf, resolve_principal
from kizuna.http.errors import error, error_body, wants_json
from kizuna.http.i18n import LANG_COOKIE
from kizuna.http.templating import render
from kizuna.http.throttle import Busy
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


LOGIN_CSRF_COOKIE = "kizuna_login_csrf"


def _login_token(request: Request) -> str:
    """The sign-in form's CSRF token (login CSRF): a random value in a cookie, repeated in
    the form. Another site can make a browser post the form, but cannot read the cookie."""
    token = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    return token if 20 <= len(token) <= 100 else secrets.token_urlsafe(32)


def _login_page(
    request: Request, state: State, *, next: str, email: str = "", error: str | None = None, status: int = 200,
    no_users: bool = False, headers: dict[str, str] | None = None,
) -> Response:  # fmt: skip
    token = _login_token(request)
    context = {"next": _safe_next(next), "email": email, "error": error, "no_users": no_users, "login_csrf": token}
    response = render(request, "login.html", context, status=status)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=86400, httponly=True, samesite="lax",
                        secure=_secure(request, state), path="/login")  # fmt: skip
    response.headers.update(headers or {})
    return response


def _refused(
    request: Request, state: State, *, code: str, message: str, status: int, next: str, email: str,
    retry_after: int | None = None,
) -> Response:  # fmt: skip
    headers = {"Retry-After": str(retry_after)} if retry_after else {}
    if wants_json(request):
        return JSONResponse(error_body([error(code, message)]), status_code=status, headers=headers)
    return _login_page(request, state, next=next, email=email, error=message, status=status, headers=headers)


@router.get("/login")
def login_page(request: Request, state: State, next: str = "/") -> Response:
    if resolve_principal(request, state) is not None:
        return RedirectResponse(_safe_next(next), status_code=303)
    with state.unit_of_work() as session:
        no_users = auth_service.count_users(session) == 0
    return _login_page(request, state, next=next, no_users=no_users)


def _sign_in(state: State, email: str, password: str) -> tuple[str, str | None] | None:
    """Check the password (argon2, in a worker thread) and open a session: ``(token, language)``."""
    with state.unit_of_work() as session:
        user = auth_service.authenticate(session, email, password)
        if user is None:
            return None
        token, _csrf = auth_service.start_session(session, user, days=state.settings.session_days)
        return token, user.locale


def _throttled_message(seconds: int) -> str:
    if seconds >= 120:
        return _("Too many failed sign-ins. Sign-in is locked for {n} minutes.").format(n=math.ceil(seconds / 60))
    return _("Too many failed sign-ins. Try again in {n} seconds.").format(n=seconds)


@router.post("/login")
async def login(
    request: Request, state: State, email: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/", csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:  # fmt: skip
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    # as bytes: compare_digest refuses str with characters past ASCII (a TypeError, a 500, not a refusal)
    if not expected or not csrf_token or not hmac.compare_digest(expected.encode(), csrf_token.encode()):
        return _refused(request, state, code="csrf_failed", status=403, next=next, email=email,
                        message=_("The sign-in form has expired. Please sign in again."))  # fmt: skip
    guard = state.login_guard
    keys = guard.keys(email, request.client.host if request.client else None)
    wait = guard.retry_after(keys)  # a throttled caller is turned away before any hashing
    if wait:
        return _refused(request, state, code="login_throttled", status=429, retry_after=wait, next=next, email=email,
                        message=_throttled_message(wait))  # fmt: skip
    try:
        async with guard.hash_slot():
            wait = guard.retry_after(keys)  # after the wait for a slot too: others may have failed meanwhile
            if wait:
                return _refused(request, state, code="login_throttled", status=429, retry_after=wait, next=next, email=email,
                                message=_throttled_message(wait))  # fmt: skip
            signed_in = await guard.run(_sign_in, state, email, password)
    except Busy:
        return _refused(request, state, code="login_throttled", status=429, retry_after=5, next=next, email=email,
                        message=_("Too many sign-ins at once. Try again in a few seconds."))  # fmt: skip
    if signed_in is None:
        guard.failed(keys)
        return _refused(request, state, code="wrong_credentials", status=401, next=next, email=email,
                        message=_("Wrong email or password."))  # fmt: skip
    guard.succeeded(keys)
    token, user_language = signed_in
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, token, max_age=state.settings.session_days * 86400, httponly=True,
                        samesite="lax", secure=_secure(request, state), path="/")  # fmt: skip
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
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
    if principal is not None and principal.user_id is not None:
        check_csrf(principal, csrf_token)
        with state.unit_of_work() as session:
            auth_service.set_language(session, principal.user_id, code)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(LANG_COOKIE, code, max_age=365 * 86400, samesite="lax", path="/")
    with language(code):
        return response
