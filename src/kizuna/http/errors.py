"""One place turns every error into what the caller understands: the documented JSON
shape for the API (``{"errors": [{"code", "message", "field"}]}``), a helpful page
for a browser, a sign-in redirect for a browser that is not signed in."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from kizuna.db import DatabaseError, is_write_conflict
from kizuna.errors import (
    Conflict,
    ImportRejected,
    InvalidInput,
    KizunaError,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
)
from kizuna.i18n import _

log = logging.getLogger("kizuna.http")

STATUS: list[tuple[type[KizunaError], int]] = [
    (ImportRejected, 422),
    (InvalidInput, 422),
    (NotFound, 404),
    (Conflict, 409),
    (NotAuthenticated, 401),
    (PermissionDenied, 403),
]

HTTP_CODES = {
    400: "bad_request", 401: "not_authenticated", 403: "permission_denied", 404: "not_found",
    405: "method_not_allowed", 409: "conflict", 413: "payload_too_large", 415: "unsupported_media_type",
    422: "invalid_input", 429: "too_many_requests", 500: "internal_error",
}  # fmt: skip

#: Validation errors that keep their own documented code instead of ``invalid_input``.
OWN_CODES = frozenset({"date_out_of_range", "occurred_at_out_of_range", "duplicate_key"})


def wants_json(request: Request) -> bool:
    path = request.url.path
    if path.startswith(("/api/", "/v1/")) or path in ("/api", "/openapi.json"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def error_body(errors: list[dict[str, Any]]) -> dict[str, Any]:
    return {"errors": errors}


def error(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"code": code, "message": message, "field": field}


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
        errors = [error(exc.code, exc.message, exc.field)]
        if isinstance(exc, ImportRejected):
            errors = [error("invalid_row", str(e), e.column or None) for e in exc.errors]
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(error_body(errors), status_code=status, headers=headers)
    return _render_page(request, status, _("Something is not right"), exc.message)


async def validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = []
    for e in exc.errors():
        loc = [str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path", "header")]
        code = e.get("type") if e.get("type") in OWN_CODES else "invalid_input"
        errors.append(error(str(code), str(e.get("msg", "invalid")), ".".join(loc) or None))
    if not wants_json(request):
        return _render_page(request, 422, _("Something is not right"), "; ".join(
            f"{x['field']}: {x['message']}" if x["field"] else x["message"] for x in errors))  # fmt: skip
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


#: Seconds a client should wait before sending a write that lost to another one again.
RETRY_AFTER_SECONDS = 1


def write_conflict(request: Request) -> Response:
    """409 ``conflict`` for a write that lost to a concurrent one (SQLite's busy timeout ran
    out, a PostgreSQL serialization failure or deadlock): nothing was written; retry."""
    message = _("another change was being saved at the same moment; nothing was written, please try again")
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    if wants_json(request):
        return JSONResponse(error_body([error("conflict", message)]), status_code=409, headers=headers)
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
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    message = _("Kizuna hit an unexpected error. It has been logged; please try again.")
    if wants_json(request):
        return JSONResponse(error_body([error("internal_error", message)]), status_code=500)
    return _render_page(request, 500, _("Something went wrong"), message)


def install(app: FastAPI) -> None:
    app.add_exception_handler(KizunaError, kizuna_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(DatabaseError, database_error)
    app.add_exception_handler(Exception, unexpected_error)
