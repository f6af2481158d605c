"""Who is calling: a signed-in user (session cookie) or an API key (bearer token)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from kizuna.db.models import ApiKey, User
from kizuna.domain.auth import ROLE_PERMISSIONS, SCOPE_PERMISSIONS, Permission
from kizuna.errors import NotAuthenticated, PermissionDenied
from kizuna.http.state import AppState, app_state
from kizuna.i18n import _
from kizuna.services import auth as auth_service

SESSION_COOKIE = "kizuna_session"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class Principal:
    """The caller of one request."""

    user: User | None
    api_key: ApiKey | None
    csrf_token: str | None
    permissions: frozenset[Permission]

    @property
    def label(self) -> str:
        if self.user is not None:
            return self.user.name
        return f"API key {self.api_key.name}" if self.api_key else "?"

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
            key = auth_service.resolve_api_key(session, token)
            if key is not None:
                session.expunge(key)
                principal = Principal(None, key, None, SCOPE_PERMISSIONS[key.scope])
        else:
            cookie = request.cookies.get(SESSION_COOKIE)
            signed_in = auth_service.resolve_session(session, cookie) if cookie else None
            if signed_in is not None:
                session.expunge(signed_in.user)
                principal = Principal(signed_in.user, None, signed_in.csrf_token,
                                      ROLE_PERMISSIONS[signed_in.user.role])  # fmt: skip
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
    if principal.api_key is not None:
        return  # bearer tokens are not sent by browsers on their own
    expected = principal.csrf_token or ""
    if not submitted or not hmac.compare_digest(submitted, expected):
        raise PermissionDenied(_("the form has expired; reload the page and try again"), code="csrf_failed")
