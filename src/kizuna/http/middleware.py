"""Per-request set-up: who is calling, in which language, and security headers."""

from __future__ import annotations

from contextlib import nullcontext

from starlette.concurrency import run_in_threadpool
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import Response

from kizuna.db import DatabaseError, is_write_conflict, reads_only
from kizuna.http.auth import resolve_principal
from kizuna.http.errors import write_conflict
from kizuna.http.i18n import negotiate_language
from kizuna.http.state import app_state
from kizuna.i18n import _current

_STATIC = ("/static/",)
#: The tracking API (issue 4) authenticates its own callers (write keys, cached).
_TRACKING = "/v1/"
_READ_METHODS = frozenset({"GET", "HEAD"})


class RequestContext(BaseHTTPMiddleware):
    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        if request.url.path.startswith(_STATIC):
            return await call_next(request)
        state = app_state(request)
        # GET and HEAD only read: their transactions start deferred, so a long write (an
        # import) never holds up a page. Resolving an API key writes its last use.
        reading = request.method in _READ_METHODS
        if request.url.path.startswith(_TRACKING):
            principal = None
        else:
            try:
                with reads_only() if reading and "authorization" not in request.headers else nullcontext():
                    principal = await run_in_threadpool(resolve_principal, request, state)
            except DatabaseError as exc:
                if not is_write_conflict(exc):
                    raise
                return write_conflict(request)
        user_locale = principal.language if principal is not None else None
        token = _current.set(negotiate_language(request, user_locale))
        try:
            with reads_only() if reading else nullcontext():
                response = await call_next(request)
        finally:
            _current.reset(token)
        secure(response)
        # Pages and JSON hold customer data and CSRF tokens: no browser or proxy keeps a copy.
        response.headers.setdefault("Cache-Control", "no-store")
        return response


def secure(response: Response) -> None:
    """Set the security headers every answer carries (HTML also gets a content policy)."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Frame-Options", "DENY")
    if response.headers.get("content-type", "").startswith("text/html"):
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
        )
