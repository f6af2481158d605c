"""The admin pages: users, API keys and settings (``/admin/…``, beside ``/admin/jobs``).

Leads and admins see them; only admins change anything (leads read). They call the
services ``kizuna users`` and ``kizuna apikey`` call (``kizuna.services.auth``). Every form
carries the session's CSRF token; a mistake is shown on the form (422) and nothing is
written. A new API key and a temporary password are shown once, on the page answering
the POST (``Cache-Control: no-store``), and never again.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from kizuna.domain.auth import ApiKeyScope, Permission
from kizuna.domain.enums import UserRole
from kizuna.errors import InvalidInput, KizunaError
from kizuna.http.auth import CSRF_FIELD, CSRF_HEADER, Manager, Principal, State, check_csrf, manager
from kizuna.http.state import AppState
from kizuna.http.templating import render
from kizuna.i18n import _
from kizuna.services import auth as auth_service
from kizuna.settings import setting_rows

router = APIRouter(include_in_schema=False)

NO_STORE = {"Cache-Control": "no-store"}
USER_DONE = ("created", "role", "deactivated", "reactivated", "sessions")
KEY_DONE = ("revoked",)


def _admin(principal: Annotated[Principal, Depends(manager)]) -> Principal:
    principal.require(Permission.ADMINISTER)
    return principal


Admin = Annotated[Principal, Depends(_admin)]
Csrf = Annotated[str, Form(alias=CSRF_FIELD)]


def _me(principal: Principal) -> int | None:
    """The signed-in user's id (an API key has none)."""
    return principal.user_id


def _can_change(principal: Principal) -> bool:
    return Permission.ADMINISTER in principal.permissions


def _csrf(request: Request, principal: Principal, token: str) -> None:
    check_csrf(principal, token or request.headers.get(CSRF_HEADER))


def _role(value: str) -> UserRole:
    try:
        return UserRole(value.strip())
    except ValueError:
        raise InvalidInput(
            _("role must be one of {choices}").format(choices=", ".join(r.value for r in UserRole)), field="role"
        ) from None


# --- users -------------------------------------------------------------------------------


def _users_page(request: Request, state: AppState, principal: Principal, *, status: int = 200,
                **context: Any) -> Response:  # fmt: skip
    with state.unit_of_work() as session:
        users = auth_service.user_summaries(session)
    form = {"email": "", "name": "", "role": UserRole.CSM.value, **context.pop("form", {})}
    return render(request, "admin/users.html", {
        "users": users, "roles": list(UserRole), "can_change": _can_change(principal), "me": _me(principal),
        "form": form, **context,
    }, status=status)  # fmt: skip


@router.get("/admin/users")
def users_page(request: Request, state: State, principal: Manager, done: str = "") -> Response:
    return _users_page(request, state, principal, done=done if done in USER_DONE else "")


@router.post("/admin/users")
def create_user(
    request: Request, state: State, principal: Admin, csrf_token: Csrf = "",
    email: Annotated[str, Form()] = "", name: Annotated[str, Form()] = "", role: Annotated[str, Form()] = "csm",
) -> Response:  # fmt: skip
    """Add a user with a temporary password, shown once on the answer."""
    _csrf(request, principal, csrf_token)
    form = {"email": email, "name": name, "role": role}
    try:
        with state.unit_of_work() as session:
            password = auth_service.temporary_password()
            user = auth_service.create_user(session, email=email, name=name, role=_role(role), password=password)
            created = user.email
    except KizunaError as exc:
        return _users_page(request, state, principal, status=422, form=form, error=exc.message, error_field=exc.field)
    response = _users_page(request, state, principal, done="created", secret_for=created, secret=password)
    response.headers.update(NO_STORE)
    return response


def _user_page(request: Request, state: AppState, principal: Principal, user_id: int, *, status: int = 200,
               **context: Any) -> Response:  # fmt: skip
    with state.unit_of_work() as session:
        user = auth_service.user_summary(session, user_id)
        sessions = auth_service.session_summaries(session, user_id)
    return render(request, "admin/user.html", {
        "u": user, "sessions": sessions, "roles": list(UserRole), "can_change": _can_change(principal),
        "me": _me(principal), **context,
    }, status=status)  # fmt: skip


@router.get("/admin/users/{user_id}")
def user_page(request: Request, state: State, principal: Manager, user_id: int, done: str = "") -> Response:
    return _user_page(request, state, principal, user_id, done=done if done in USER_DONE else "")


def _change_user(request: Request, state: AppState, principal: Principal, user_id: int, done: str,
                 change: Any) -> Response:  # fmt: skip
    """Run one change in one transaction; a refusal re-renders the user's page with the reason."""
    try:
        with state.unit_of_work() as session:
            result = change(session)
    except KizunaError as exc:
        if exc.code == "user_not_found":
            raise
        return _user_page(request, state, principal, user_id, status=422, error=exc.message)
    if done == "password":
        password, ended = result
        response = _user_page(request, state, principal, user_id, secret=password, ended=ended)
        response.headers.update(NO_STORE)
        return response
    return RedirectResponse(f"/admin/users/{user_id}?done={done}", status_code=303)


@router.post("/admin/users/{user_id}/role")
def change_role(request: Request, state: State, principal: Admin, user_id: int, csrf_token: Csrf = "",
                role: Annotated[str, Form()] = "") -> Response:  # fmt: skip
    _csrf(request, principal, csrf_token)
    return _change_user(request, state, principal, user_id, "role",
                        lambda session: auth_service.set_role(session, user_id, _role(role)))  # fmt: skip


@router.post("/admin/users/{user_id}/deactivate")
def deactivate(request: Request, state: State, principal: Admin, user_id: int, csrf_token: Csrf = "") -> Response:
    _csrf(request, principal, csrf_token)
    return _change_user(request, state, principal, user_id, "deactivated", lambda session: auth_service.set_active(
        session, user_id, False, acting_user_id=_me(principal)))  # fmt: skip


@router.post("/admin/users/{user_id}/reactivate")
def reactivate(request: Request, state: State, principal: Admin, user_id: int, csrf_token: Csrf = "") -> Response:
    _csrf(request, principal, csrf_token)
    return _change_user(request, state, principal, user_id, "reactivated",
                        lambda session: auth_service.set_active(session, user_id, True))  # fmt: skip


@router.post("/admin/users/{user_id}/password")
def reset_password(request: Request, state: State, principal: Admin, user_id: int, csrf_token: Csrf = "") -> Response:
    """A new temporary password, shown once; every sign-in of the user ends."""
    _csrf(request, principal, csrf_token)
    return _change_user(request, state, principal, user_id, "password",
                        lambda session: auth_service.reset_password(session, user_id))  # fmt: skip


@router.post("/admin/users/{user_id}/sessions/revoke")
def end_sessions(request: Request, state: State, principal: Admin, user_id: int, csrf_token: Csrf = "") -> Response:
    _csrf(request, principal, csrf_token)
    return _change_user(request, state, principal, user_id, "sessions", lambda session: auth_service.revoke_sessions(
        session, auth_service.get_user(session, user_id)))  # fmt: skip


# --- API keys ----------------------------------------------------------------------------


def _keys_page(request: Request, state: AppState, principal: Principal, *, status: int = 200,
               **context: Any) -> Response:  # fmt: skip
    with state.unit_of_work() as session:
        keys = auth_service.api_key_summaries(session)
    form = {"name": "", "scope": ApiKeyScope.READ.value, **context.pop("form", {})}
    return render(request, "admin/api_keys.html", {
        "keys": keys, "scopes": list(ApiKeyScope), "can_change": _can_change(principal), "form": form, **context,
    }, status=status)  # fmt: skip


@router.get("/admin/api-keys")
def keys_page(request: Request, state: State, principal: Manager, done: str = "") -> Response:
    return _keys_page(request, state, principal, done=done if done in KEY_DONE else "")


@router.post("/admin/api-keys")
def create_key(request: Request, state: State, principal: Admin, csrf_token: Csrf = "",
               name: Annotated[str, Form()] = "", scope: Annotated[str, Form()] = "read") -> Response:  # fmt: skip
    """Make a key; the answer shows it once (Kizuna keeps only its hash)."""
    _csrf(request, principal, csrf_token)
    form = {"name": name, "scope": scope}
    try:
        try:
            key_scope = ApiKeyScope(scope.strip())
        except ValueError:
            raise InvalidInput(_("scope must be one of {choices}").format(
                choices=", ".join(s.value for s in ApiKeyScope)), field="scope") from None  # fmt: skip
        with state.unit_of_work() as session:
            me = _me(principal)
            creator = auth_service.get_user(session, me) if me is not None else None
            key, record = auth_service.create_api_key(session, name=name, scope=key_scope, created_by=creator)
            key_id = record.id
    except KizunaError as exc:
        return _keys_page(request, state, principal, status=422, form=form, error=exc.message, error_field=exc.field)
    response = _keys_page(request, state, principal, secret=key, secret_id=key_id)
    response.headers.update(NO_STORE)
    return response


@router.post("/admin/api-keys/{key_id}/revoke")
def revoke_key(request: Request, state: State, principal: Admin, key_id: int, csrf_token: Csrf = "") -> Response:
    _csrf(request, principal, csrf_token)
    with state.unit_of_work() as session:
        auth_service.revoke_api_key(session, key_id)
    return RedirectResponse("/admin/api-keys?done=revoked", status_code=303)


# --- settings ----------------------------------------------------------------------------


@router.get("/admin/settings")
def settings_page(request: Request, state: State, principal: Manager) -> Response:
    """Each KIZUNA_ setting in force, secrets masked, and where its value comes from."""
    return render(request, "admin/settings.html", {"rows": setting_rows(state.settings)})
