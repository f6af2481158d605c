"""One place turns every error into what the caller understands: the documented JSON
shape for the API (:class:`ErrorBody`: ``{"errors": [{"code", "message",
"field"}]}``), a helpful page
for a browser, a sign-in redirect for a browser that is not signed in."""

from __future__ import annotations

import logging
import traceback
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kizuna.db import DatabaseError, is_write_conflict
from kizuna.errors import (
    Conflict,
    ErrorCode,
    ImportRejected,
    InvalidInput,
    KizunaError,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
)
from kizuna.i18n import _

log = logging.getLogger("kizuna.http")


class ErrorDetail(BaseModel):
    """One error, as every JSON answer (``/api/…``, ``/v1/…``) lists it."""

    code: str = Field(description="Stable error code (see docs/errors.md).", examples=["unknown_account"])
    message: str = Field(description="What went wrong, in the caller's language.")
    field: str | None = Field(description="The field or parameter at fault, if one is.", examples=["account_id"])

    @classmethod
    def of(cls, exc: KizunaError) -> ErrorDetail:
        return cls(code=exc.code, message=exc.message, field=exc.field)


class ErrorBody(BaseModel):
    """Every error the API returns has this shape."""

    errors: list[ErrorDetail]


STATUS: list[tuple[type[KizunaError], int]] = [
    (ImportRejected, 422),
    (InvalidInput, 422),
    (NotFound, 404),
    (Conflict, 409),
    (NotAuthenticated, 401),
    (PermissionDenied, 403),
]

HTTP_CODES: dict[int, str] = {
    400: ErrorCode.BAD_REQUEST, 401: ErrorCode.NOT_AUTHENTICATED, 403: ErrorCode.PERMISSION_DENIED,
    404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED, 409: ErrorCode.CONFLICT,
    413: ErrorCode.PAYLOAD_TOO_LARGE, 415: ErrorCode.UNSUPPORTED_MEDIA_TYPE, 422: ErrorCode.INVALID_INPUT,
    429: ErrorCode.TOO_MANY_REQUESTS, 500: ErrorCode.INTERNAL_ERROR, 503: ErrorCode.UNAVAILABLE,
}  # fmt: skip

#: Validation errors that keep their own documented code instead of ``invalid_input``.
OWN_CODES = frozenset({ErrorCode.DATE_OUT_OF_RANGE, "occurred_at_out_of_range", ErrorCode.DUPLICATE_KEY})


def wants_json(request: Request) -> bool:
    path = request.url.path
    if path.startswith(("/api/", "/v1/")) or path in ("/api", "/openapi.json"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def error_body(errors: list[ErrorDetail]) -> dict[str, Any]:
    """The JSON of an error answer (:class:`ErrorBody`)."""
    return ErrorBody(errors=errors).model_dump(mode="json")


def error(code: str, message: str, field: str | None = None) -> ErrorDetail:
    return ErrorDetail(code=code, message=message, field=field)


def status_for(exc: KizunaError) -> int:
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 400


def _render_page(request: Request, status: int, title: str, message: str) -> Response:
    from kizuna.http.templating import render

    return render(request, "error.html", {"status": status, "title": title, "message": message}, status=status)


async def kizuna_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, KizunaError)
    status = status_for(exc)
    if isinstance(exc, NotAuthenticated) and not wants_json(request):
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
    if wants_json(request):
        errors = [ErrorDetail.of(exc)]
        if isinstance(exc, ImportRejected):
            errors = [error(ErrorCode.INVALID_ROW, str(e), e.column or None) for e in exc.errors]
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(error_body(errors), status_code=status, headers=headers)
    return _render_page(request, status, _("Something is not right"), exc.message)


async def validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path", "header")]
        code = e.get("type") if e.get("type") in OWN_CODES else ErrorCode.INVALID_INPUT
        errors.append(error(str(code), str(e.get("msg", "invalid")), ".".join(loc) or None))
    if not wants_json(request):
        return _render_page(request, 422, _("Something is not right"), "; ".join(
            f"{x.field}: {x.message}" if x.field else x.message for x in errors))  # fmt: skip
    return JSONResponse(error_body(errors), status_code=422)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code
    if exc.status_code == 404:
        message = _("There is no page at this address.") if not wants_json(request) else _("not found")
    if wants_json(request):
        return JSONResponse(error_body([error(code, message)]), status_code=exc.status_code, headers=exc.headers)
    return _render_page(request, exc.status_code, _("Something is not right"), message)


def log_unexpected(request: Request, exc: BaseException) -> str:
    """Log an unexpected error without any user data; return the request id that ties the
    answer (``X-Request-ID``) to the log line.

    The line has the exception's type and where it was raised (file, line, function of each
    frame), never the exception's text, the query string or the body: a database error's
    text can carry the row's values (``Key (email)=(…)``), and SQL parameters are hidden
    by the engine (``hide_parameters``)."""
    request_id = uuid.uuid4().hex[:16]
    frames = "".join(
        f"\n  {f.filename}:{f.lineno} in {f.name}" for f in traceback.extract_tb(exc.__traceback__)
    )  # fmt: skip
    log.error("unexpected error, request %s, %s %s: %s.%s%s", request_id, request.method, request.url.path,
              type(exc).__module__, type(exc).__qualname__, frames)  # fmt: skip
    return request_id


#: Seconds a client should wait before sending a write that lost to another one again.
RETRY_AFTER_SECONDS = 1


def write_conflict(request: Request) -> Response:
    """409 ``conflict`` for a write that lost to a concurrent one (SQLite's busy timeout ran
    out, a PostgreSQL serialization failure or deadlock): nothing was written; retry."""
    message = _("another change was being saved at the same moment; nothing was written, please try again")
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if wants_json(request):
        return JSONResponse(error_body([error(ErrorCode.CONFLICT, message)]), status_code=409, headers=headers)
    response = _render_page(request, 409, _("Something is not right"), message)
    response.headers.update(headers)
    return response


async def database_error(request: Request, exc: Exception) -> Response:
    """A failed statement: a lost write race is a 409 to retry; anything else is unexpected."""
    if is_write_conflict(exc):
        log.warning("write conflict on %s %s: answered 409", request.method, request.url.path)
        return write_conflict(request)
    return await unexpected_error(request, exc)


async def unexpected_error(request: Request, exc: Exception) -> Response:
    request_id = log_unexpected(request, exc)
    message = _("Kizuna hit an unexpected error. It has been logged; please try again.")
    headers = {"X-Request-ID": request_id, "Cache-Control": "no-store"}
    if wants_json(request):
        return JSONResponse(error_body([error(ErrorCode.INTERNAL_ERROR, message)]), status_code=500, headers=headers)
    response = _render_page(request, 500, _("Something went wrong"), message)
    response.headers.update(headers)
    return response


class ErrorBoundary:
    """Answers an unexpected error with the 500 above and goes on serving the connection.

    Starlette's outermost error middleware re-raises after answering, and the server then
    closes the keep-alive connection; this one, just inside it, does not re-raise."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            if started:  # too late to answer: let the server end the response
                raise
            response = await unexpected_error(Request(scope, receive), exc)
            await response(scope, receive, send)


def install(app: FastAPI) -> None:
    app.add_exception_handler(KizunaError, kizuna_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(DatabaseError, database_error)
    app.add_exception_handler(Exception, unexpected_error)
