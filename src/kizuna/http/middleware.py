"""Per-request set-up: who is calling, in which language, and security headers."""

from __future__ import annotations

from contextlib import nullcontext

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


class RequestContext:
    """Who is calling and in which language, set around the rest of the app; the security
    headers added to the answer's first message. A plain ASGI middleware: Starlette's
    ``BaseHTTPMiddleware`` runs the app in a task of its own and copies every answer
    through a memory stream (issue 19: a few milliseconds of CPU a page)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_STATIC):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        state = app_state(request)
        # GET and HEAD only read: their transactions start deferred, so a long write (an
        # import) never holds up a page. Resolving an API key writes its last use.
        reading = request.method in _READ_METHODS
        if scope["path"].startswith(_TRACKING):
            principal = None
        else:
            try:
                with reads_only() if reading and "authorization" not in request.headers else nullcontext():
                    principal = await run_in_threadpool(resolve_principal, request, state)
            except DatabaseError as exc:
                if not is_write_conflict(exc):
                    raise
                await _secured(write_conflict(request))(scope, receive, send)
                return
        user_locale = principal.language if principal is not None else None
        token = _current.set(negotiate_language(request, user_locale))

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                _answer_headers(MutableHeaders(scope=message))
            await send(message)

        try:
            with reads_only() if reading else nullcontext():
                await self.app(scope, receive, send_secured)
        finally:
            _current.reset(token)


def _secured(response: Response) -> Response:
    _answer_headers(response.headers)
    return response


def _answer_headers(headers: MutableHeaders) -> None:
    """The security headers, and: pages and JSON hold customer data and CSRF tokens, so no
    browser or proxy keeps a copy."""
    _secure_headers(headers)
    headers.setdefault("Cache-Control", "no-store")


def secure(response: Response) -> None:
    """Set the security headers every answer carries (HTML also gets a content policy)."""
    _secure_headers(response.headers)


def _secure_headers(headers: MutableHeaders) -> None:
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    if headers.get("content-type", "").startswith("text/html"):
        headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
        )
