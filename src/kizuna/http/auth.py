"""Who is calling: a signed-in user (session cookie) or an API key (bearer token)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from kizuna.domain.auth import ROLE_PERMISSIONS, SCOPE_PERMISSIONS, ApiKeyScope, Permission
from kizuna.domain.enums import UserRole
from kizuna.errors import NotAuthenticated, PermissionDenied
from kizuna.http.state import AppState, app_state
from kizuna.i18n import _
from kizuna.services import auth as auth_service

SESSION_COOKIE = "kizuna_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class Principal:
    """The caller of one request, as plain values: a signed-in user (``user_id``, ``email``,
    ``name``, ``role``, ``language`` and the session's ``csrf_token``) or an API key
    (``api_key_id``, ``api_key_name``, ``scope``). Whatever needs the stored user or key
    loads it through a service (``kizuna.services.auth``)."""

    permissions: frozenset[Permission]
    user_id: int | None = None
    email: str | None = None
    name: str | None = None
    role: UserRole | None = None
    language: str | None = None
    csrf_token: str | None = None
    api_key_id: int | None = None
    api_key_name: str | None = None
    scope: ApiKeyScope | None = None

    @classmethod
    def of(cls, caller: auth_service.Caller) -> Principal:
        """The principal of a resolved caller: a user's role or a key's scope gives the permissions."""
        if caller.role is not None:
            permissions = ROLE_PERMISSIONS[caller.role]
        else:
            permissions = SCOPE_PERMISSIONS[caller.scope] if caller.scope is not None else frozenset()
        return cls(permissions=permissions, user_id=caller.user_id, email=caller.email, name=caller.name,
                   role=caller.role, language=caller.language, csrf_token=caller.csrf_token,
                   api_key_id=caller.api_key_id, api_key_name=caller.api_key_name, scope=caller.scope)  # fmt: skip

    @property
    def is_user(self) -> bool:
        """A signed-in person (not an API key)."""
        return self.user_id is not None

    @property
    def is_api_key(self) -> bool:
        return self.api_key_id is not None

    @property
    def label(self) -> str:
        if self.is_user:
            return self.name or ""
        return f"API key {self.api_key_name}" if self.is_api_key else "?"

    def require(self, permission: Permission) -> None:
        if permission not in self.permissions:
            raise PermissionDenied(_("your role does not allow this"))

    @property
    def can_write(self) -> bool:
        return Permission.WRITE in self.permissions


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _sep, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def resolve_principal(request: Request, state: AppState) -> Principal | None:
    """The session or API key behind this request, or None. Cached on the request."""
    cached = getattr(request.state, "principal", False)
    if cached is not False:
        return cached  # type: ignore[return-value]
    principal: Principal | None = None
    token = _bearer(request)
    with state.unit_of_work() as session:
        if token is not None:
            caller = auth_service.resolve_api_key(session, token)
        else:
            cookie = request.cookies.get(SESSION_COOKIE)
            caller = auth_service.resolve_session(session, cookie) if cookie else None
        if caller is not None:
            principal = Principal.of(caller)
    request.state.principal = principal
    return principal


def current_principal(request: Request, state: Annotated[AppState, Depends(app_state)]) -> Principal:
    principal = resolve_principal(request, state)
    if principal is None:
        raise NotAuthenticated(_("sign in, or send an API key as a bearer token"))
    principal.require(Permission.READ)
    return principal


def writer(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    principal.require(Permission.WRITE)
    return principal


def manager(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    principal.require(Permission.MANAGE)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
Writer = Annotated[Principal, Depends(writer)]
Manager = Annotated[Principal, Depends(manager)]
State = Annotated[AppState, Depends(app_state)]


def check_csrf(principal: Principal, submitted: str | None) -> None:
    """Forms and htmx requests of a signed-in browser must carry its CSRF token."""
    if principal.is_api_key:
        return  # bearer tokens are not sent by browsers on their own
    expected = principal.csrf_token or ""
    # as bytes: compare_digest refuses str with characters past ASCII (a TypeError, a 500, not a refusal)
    if not submitted or not hmac.compare_digest(submitted.encode(), expected.encode()):
        raise PermissionDenied(_("the form has expired; reload the page and try again"), code="csrf_failed")
