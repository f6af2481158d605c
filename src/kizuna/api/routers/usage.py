"""The tracking API, compatible with Segment's HTTP Tracking API: ``POST /v1/identify``,
``/v1/group``, ``/v1/track``, ``/v1/page`` (and ``/v1/screen``) and ``/v1/batch``.

The routes are deliberately thin and fast: the body is read as bytes (decoded when
sent with ``Content-Encoding: gzip`` or ``deflate``), parsed with orjson and checked by
hand (:mod:`kizuna.services.usage.payload`); the pydantic-free JSON schemas below only
document the payloads in OpenAPI. The answer comes after the ingestion writer has
committed the messages (group commit), so a 2xx means stored.

Errors keep Kizuna's shape ``{"success": false, "errors": [...]}`` and add the
top-level ``code`` and ``message`` that Segment's and RudderStack's libraries read.
Browsers may send from the origins in ``KIZUNA_TRACKING_ORIGINS`` (CORS, never with
credentials); analytics.js (``@segment/analytics-next``) posts to Segment's short paths
``/v1/t``, ``/v1/p``, … and may read its settings from ``/v1/projects/{writeKey}/settings``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kizuna.api.schemas.common import BrowserSettingsOut, TrackingErrorOut, UsageSummaryOut
from kizuna.errors import ErrorCode, KizunaError, NotAuthenticated, PermissionDenied
from kizuna.http.auth import CurrentPrincipal, State
from kizuna.http.errors import HTTP_CODES, ErrorBody, ErrorDetail, error, status_for
from kizuna.http.i18n import negotiate_language
from kizuna.http.limits import read_limited_body
from kizuna.http.middleware import secure
from kizuna.http.state import AppState, app_state
from kizuna.i18n import _, _current
from kizuna.jobs.usage_writer import ActiveKeys, IngestWriter, KeyRevoked, WriterClosed, start_writer
from kizuna.services.usage import (
    MAX_BATCH_BYTES,
    MAX_EVENT_BYTES,
    Outcome,
    report,
)
from kizuna.services.usage.keys import KeyCache, RevocationCheck, Sender, credentials
from kizuna.services.usage.payload import Problem, Unreadable, parse_body, read_request

log = logging.getLogger("kizuna.http")

router = APIRouter(prefix="/v1", tags=["tracking"])
summary_router = APIRouter(prefix="/api", tags=["usage"])


@dataclass
class IngestRuntime:
    """What the tracking routes share in one app: the writer, the key cache, and the
    digests of recent requests that were stored whole — a retried request with the very
    same body (what Segment's libraries send on a retry) is answered from there, as the
    duplicate it is, without being parsed and written again."""

    writer: IngestWriter
    keys: KeyCache
    zone: ZoneInfo
    revocations: RevocationCheck
    active_keys: ActiveKeys
    recent: OrderedDict[bytes, int] = field(default_factory=OrderedDict)

    def remember(self, digest: bytes, messages: int) -> None:
        self.recent[digest] = messages
        if len(self.recent) > RECENT_REQUESTS:
            self.recent.popitem(last=False)


#: How many stored requests ``IngestRuntime.recent`` remembers.
RECENT_REQUESTS = 50_000


def install(app: FastAPI, state: AppState) -> IngestRuntime:
    """Give the app its ingestion writer (started on the first event)."""
    config = state.context.rollup
    writer = start_writer(state.engine, config, defer_above=state.settings.rollup_defer_rate)
    active = ActiveKeys(state.engine)
    runtime = IngestRuntime(writer, KeyCache(), state.settings.zone, RevocationCheck(active, inline=active.inline),
                            active)  # fmt: skip
    app.state.ingest = runtime
    return runtime


def shutdown(app: FastAPI) -> None:
    """Store whatever is queued, then stop the writer (the app's lifespan end)."""
    runtime: IngestRuntime | None = getattr(app.state, "ingest", None)
    if runtime is not None:
        runtime.writer.close()
        runtime.active_keys.close()


def _runtime(request: Request) -> IngestRuntime:
    runtime: IngestRuntime | None = getattr(request.app.state, "ingest", None)
    if runtime is None:
        runtime = install(request.app, app_state(request))
    return runtime


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json", headers=headers)


def _failure(status: int, errors: list[ErrorDetail], *, headers: dict[str, str] | None = None,
             counts: dict[str, int] | None = None) -> Response:  # fmt: skip
    """An error answer: Kizuna's ``{"success": false, "errors": [...]}`` with the top-level
    ``code`` and ``message`` that Segment's and RudderStack's libraries read (those of the
    first error; the message names its field and says how many more there are)."""
    first = errors[0]
    message = f"{first.field}: {first.message}" if first.field else first.message
    if len(errors) > 1:
        message = _("{first} (and {n} more errors)").format(first=message, n=len(errors) - 1)
    body = TrackingErrorOut(errors=errors, success=False, code=first.code, message=message, **(counts or {}))
    return _json(status, body.model_dump(mode="json", exclude_none=True, exclude={"errors"})
                 | {"errors": [e.model_dump(mode="json") for e in errors]}, headers)  # fmt: skip


def _refused(exc: Exception) -> Response | None:
    """The tracking answer to an exception the app's handlers know, or None."""
    if isinstance(exc, KizunaError):
        status = status_for(exc)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return _failure(status, [ErrorDetail.of(exc)], headers=headers)
    if isinstance(exc, StarletteHTTPException):
        code = HTTP_CODES.get(exc.status_code, "http_error")
        message = exc.detail if isinstance(exc.detail, str) else code
        return _failure(exc.status_code, [error(code, message)], headers=dict(exc.headers or {}))
    return None


def _problem(p: Problem) -> ErrorDetail:
    return ErrorDetail(code=p.code, message=p.message, field=p.field)


def _counts(outcome: Outcome) -> dict[str, int]:
    return {"stored": outcome.stored, "duplicates": outcome.duplicates, "parked": outcome.parked}


async def _sender(request: Request, runtime: IngestRuntime, secret: str | None) -> Sender:
    if secret is None:
        raise NotAuthenticated(
            _("send your API key as the HTTP Basic user name (Segment's write key) or as a bearer token")
        )
    known, sender = runtime.keys.cached(secret)
    if not known:
        state = app_state(request)

        def lookup() -> Sender | None:
            with state.unit_of_work() as session:
                return runtime.keys.lookup(session, secret)

        sender = await run_in_threadpool(lookup)
    if sender is None:
        raise _revoked()
    if not sender.may_ingest:
        raise PermissionDenied(_("this API key cannot send events: use an ingest or write key"))
    return sender


def _revoked() -> NotAuthenticated:
    return NotAuthenticated(_("unknown or revoked API key"))


async def _still_active(runtime: IngestRuntime, sender: Sender, secret: str) -> None:
    """Refuse a key revoked since it was cached, for the answers the writer does not give
    (the writer checks the keys of what it stores in its own transaction)."""
    if not await runtime.revocations.active(sender.key_id):
        runtime.keys.forget(secret)
        raise _revoked()


async def _ingest(request: Request, kind: str) -> Response:
    try:
        return await _receive(request, kind)
    except (KizunaError, StarletteHTTPException) as exc:
        refused = _refused(exc)
        assert refused is not None
        return refused


async def _receive(request: Request, kind: str) -> Response:
    runtime = _runtime(request)
    received_at = datetime.now(UTC)
    await read_limited_body(request, MAX_BATCH_BYTES if kind == "batch" else MAX_EVENT_BYTES, decode=True)
    body: bytes = request._body  # decoded
    secret = credentials(request.headers.get("authorization"))
    data: Any = None
    unreadable: Unreadable | None = None
    if secret is None:  # Segment also takes the write key in the body
        try:
            data = parse_body(body)
        except Unreadable as exc:
            unreadable = exc
        if isinstance(data, dict) and isinstance(data.get("writeKey"), str):
            secret = data["writeKey"]
    try:
        sender = await _sender(request, runtime, secret)
    except (NotAuthenticated, PermissionDenied) as exc:
        runtime.writer.submit([], rejected=Counter({("", exc.code): 1}))  # counted for the ingestion page
        raise
    assert secret is not None  # _sender refuses a request without a key
    digest = hashlib.blake2b(body, digest_size=20, person=sender.source.encode()[:16]).digest()
    seen = runtime.recent.get(digest)
    if seen is not None:
        await _still_active(runtime, sender, secret)
        runtime.recent.move_to_end(digest)
        return _json(200, {"success": True, "stored": 0, "duplicates": seen, "parked": 0})
    try:
        if unreadable is not None:
            raise unreadable
        if data is None:
            data = parse_body(body)
        messages, problems = read_request(kind, data, source=sender.source, received_at=received_at,
                                          zone=runtime.zone, body=body)  # fmt: skip
    except Unreadable as exc:
        await _still_active(runtime, sender, secret)
        runtime.writer.submit([], rejected=Counter({(sender.source, exc.code): 1}))
        return _failure(400, [error(exc.code, exc.message, exc.field)])
    rejected = Counter((sender.source, p.code) for p in problems)
    try:
        future = runtime.writer.submit(messages, rejected=rejected, key_id=sender.key_id)
    except WriterClosed:
        message = _("Kizuna is restarting; send the events again in a moment")
        return _failure(503, [error(ErrorCode.UNAVAILABLE, message)], headers={"Retry-After": "1"})
    try:
        outcome = await asyncio.wrap_future(future)
    except KeyRevoked:  # revoked before the commit: nothing was stored
        runtime.keys.forget(secret)
        raise _revoked() from None
    if problems:
        return _failure(400, [_problem(p) for p in problems], counts={"rejected": len(problems), **_counts(outcome)})
    if kind == "batch" or kind in ("track", "page", "screen"):
        runtime.remember(digest, len(messages))  # committed: a retry of this very body is a duplicate
    return _json(200, {"success": True, **_counts(outcome)})


# --- the fast path and CORS ------------------------------------------------------------------

#: The tracking routes by path (what ``FastPath`` answers itself), with the short paths that
#: analytics.js (``@segment/analytics-next``) posts to, as Segment's own API takes them.
_KINDS = {f"/v1/{kind}": kind for kind in ("track", "page", "screen", "identify", "group", "batch")}
_KINDS.update({f"/v1/{kind[0]}": kind for kind in ("track", "page", "screen", "identify", "group", "batch")})
_TRACKING = "/v1/"
#: What a browser may send cross-origin (preflight): the write key, JSON or text, compression,
#: and the retry counter analytics.js adds.
CORS_HEADERS = "Authorization, Content-Type, Content-Encoding, X-Retry-Count"
CORS_METHODS = "POST, GET, OPTIONS"


def _origin_allowed(origin: str, allowed: frozenset[str]) -> str | None:
    """The ``Access-Control-Allow-Origin`` value for this origin, or None if not allowed."""
    if "*" in allowed:
        return "*"
    return origin if origin.rstrip("/").lower() in allowed else None


class FastPath:
    """Pure ASGI middleware that answers ``POST /v1/…`` without the app's router and
    per-request middleware: a tracking client sends thousands of requests a second, and
    matching each against every web and API route, then passing it through the
    principal/session middleware it does not use, cost a fifth of the server's CPU.

    The answer is the same as through the router: the same handler, the same error
    shape, the same language negotiation and security headers. The routes stay
    registered for OpenAPI (and answer anything that reaches them, e.g. in tests that
    mount the routers alone).

    It also applies CORS to ``/v1/`` (and nothing else): a request from a browser page
    (it carries ``Origin``) is answered with ``Access-Control-Allow-Origin`` when the
    origin is in ``KIZUNA_TRACKING_ORIGINS``, and refused with 403 ``origin_not_allowed``
    otherwise — before anything is read or stored; preflight ``OPTIONS`` is answered with
    204. Credentials (cookies) are never allowed: the write key travels in the request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(_TRACKING):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        origin = request.headers.get("origin")
        allow: str | None = None
        if origin is not None:
            allow = _origin_allowed(origin, app_state(request).settings.tracking_origin_set)
        token = _current.set(negotiate_language(request, None))
        try:
            if scope["method"] == "OPTIONS":
                response = self._preflight(origin, allow)
            elif origin is not None and allow is None:
                response = _failure(403, [error("origin_not_allowed", _(
                    "this web page's origin may not send to the tracking API: add it to KIZUNA_TRACKING_ORIGINS"))])
            else:
                kind = _KINDS.get(scope["path"]) if scope["method"] == "POST" else None
                if kind is None:
                    await self.app(scope, receive, _with_cors(send, allow))
                    return
                response = await self._answer(request, kind)
        finally:
            _current.reset(token)
        if allow is not None:
            _cors(response.headers, allow)
        secure(response)
        await response(scope, receive, send)

    @staticmethod
    def _preflight(origin: str | None, allow: str | None) -> Response:
        if origin is not None and allow is None:
            return _failure(403, [error("origin_not_allowed", _(
                "this web page's origin may not send to the tracking API: add it to KIZUNA_TRACKING_ORIGINS"))])
        response = Response(status_code=204, headers={"Allow": CORS_METHODS})
        if allow is not None:
            response.headers["Access-Control-Allow-Methods"] = CORS_METHODS
            response.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
            response.headers["Access-Control-Max-Age"] = "600"
        return response

    @staticmethod
    async def _answer(request: Request, kind: str) -> Response:
        try:
            return await _ingest(request, kind)
        except Exception:
            log.exception("unexpected error on %s %s", request.method, request.url.path)
            message = _("Kizuna hit an unexpected error. It has been logged; please try again.")
            return _failure(500, [error(ErrorCode.INTERNAL_ERROR, message)])


def _cors(headers: MutableHeaders, allow: str) -> None:
    headers["Access-Control-Allow-Origin"] = allow
    headers["Access-Control-Expose-Headers"] = "Retry-After"
    if allow != "*":
        headers.append("Vary", "Origin")


def _with_cors(send: Send, allow: str | None) -> Send:
    """``send`` that adds the CORS headers to the answer (routes the fast path leaves to the app)."""
    if allow is None:
        return send

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            _cors(MutableHeaders(scope=message), allow)
        await send(message)

    return sending


# --- OpenAPI documentation ---------------------------------------------------------------------

_ID = {"type": "string", "minLength": 1, "maxLength": 128}
_TIME = {"type": "string", "format": "date-time", "description": "ISO 8601; naive times are in KIZUNA_TIMEZONE."}
_COMMON: dict[str, Any] = {
    "userId": {**_ID, "description": "Your id of the user: a contact's external_id."},
    "anonymousId": {**_ID, "description": "A device or session id, when there is no userId."},
    "messageId": {**_ID, "description": "Unique per message: a retried message with the same id is stored once."},
    "timestamp": {**_TIME, "description": "When it happened (client clock; corrected with sentAt)."},
    "sentAt": {**_TIME, "description": "When the client sent it: Kizuna corrects the client's clock skew."},
    "context": {
        "type": "object",
        "properties": {"groupId": {**_ID, "description": "The account (its external_id) this happened in."}},
    },
}
_WHO = [{"required": ["userId"]}, {"required": ["anonymousId"]}]
SCHEMAS: dict[str, dict[str, Any]] = {
    "track": {
        "type": "object",
        "required": ["event"],
        "anyOf": _WHO,
        "properties": {
            **_COMMON,
            "event": {"type": "string", "minLength": 1, "maxLength": 200, "description": "e.g. Signed In"},
            "properties": {"type": "object"},
        },
    },
    "page": {
        "type": "object",
        "anyOf": _WHO,
        "properties": {
            **_COMMON,
            "name": {"type": "string", "maxLength": 200},
            "category": {"type": "string", "maxLength": 200},
            "properties": {"type": "object"},
        },
    },
    "identify": {
        "type": "object",
        "anyOf": _WHO,
        "properties": {
            **_COMMON,
            "traits": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "maxLength": 200},
                    "email": {"type": "string", "format": "email", "maxLength": 254},
                    "title": {"type": "string", "maxLength": 100},
                },
            },
        },
    },
    "group": {
        "type": "object",
        "required": ["groupId"],
        "anyOf": _WHO,
        "properties": {
            **_COMMON,
            "groupId": {**_ID, "description": "The account's external_id: created if new."},
            "traits": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "maxLength": 255},
                    "industry": {"type": "string", "maxLength": 100},
                    "employees": {"type": "integer", "minimum": 0, "maximum": 10_000_000},
                },
            },
        },
    },
}
SCHEMAS["batch"] = {
    "type": "object",
    "required": ["batch"],
    "properties": {
        "batch": {
            "type": "array",
            "items": {
                "oneOf": [
                    {
                        **SCHEMAS[k],
                        "required": [*SCHEMAS[k].get("required", []), "type"],
                        "properties": {**SCHEMAS[k]["properties"], "type": {"const": k}},
                    }
                    for k in ("identify", "group", "track", "page")
                ]
            },
        },
        "sentAt": _TIME,
        "context": {"type": "object"},
    },
}
EXAMPLES: dict[str, dict[str, Any]] = {
    "track": {
        "userId": "CON-0001",
        "event": "Report Created",
        "properties": {"report_type": "churn"},
        "context": {"groupId": "ACC-000001"},
        "messageId": "0d6e1c1e-8f3a-4b7e-9a51-3f1c2b9e7a10",
        "timestamp": "2026-11-23T10:15:00+09:00",
    },
    "page": {
        "userId": "CON-0001",
        "name": "Dashboard",
        "context": {"groupId": "ACC-000001"},
        "messageId": "page-1",
        "timestamp": "2026-11-23T10:16:00+09:00",
    },
    "identify": {
        "userId": "CON-0001",
        "traits": {"name": "山田 太郎", "email": "yamada@example.co.jp", "title": "情報システム部 部長"},
        "context": {"groupId": "ACC-000001"},
    },
    "group": {
        "userId": "CON-0001",
        "groupId": "ACC-000001",
        "traits": {"name": "株式会社サンプル", "industry": "製造", "employees": 320, "plan": "enterprise"},
    },
    "batch": {
        "batch": [
            {"type": "group", "userId": "CON-0001", "groupId": "ACC-000001", "traits": {"name": "株式会社サンプル"}},
            {
                "type": "track",
                "userId": "CON-0001",
                "event": "Signed In",
                "properties": {"session_minutes": 25},
                "context": {"groupId": "ACC-000001"},
                "messageId": "m-1",
                "timestamp": "2026-11-23T09:05:00+09:00",
            },
        ],
        "sentAt": "2026-11-23T09:05:02+09:00",
    },
}
_RESULT = {
    "type": "object",
    "properties": {
        "success": {"type": "boolean"},
        "stored": {"type": "integer", "description": "Events stored now, and identify/group calls applied."},
        "duplicates": {"type": "integer", "description": "Already stored: a retry, counted once."},
        "parked": {"type": "integer", "description": "Kept until their account or user exists."},
    },
}


def _doc(kind: str, summary: str) -> dict[str, Any]:
    error = {"model": TrackingErrorOut}
    return {
        "summary": summary,
        "openapi_extra": {
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": SCHEMAS[kind], "example": EXAMPLES[kind]}},
            },
        },
        "responses": {
            200: {"description": "Stored (committed) — or already stored.",
                  "content": {"application/json": {"schema": _RESULT}}},
            400: {"description": "Malformed JSON, or some events rejected (the good ones were stored); each error "
                                 "names the event and field, e.g. batch[3].timestamp.", **error},
            401: {"description": "No API key, or an unknown or revoked one.", **error},
            403: {"description": "The key's scope cannot send events (a read key).", **error},
            413: {"description": f"Body over {MAX_EVENT_BYTES:,} bytes (one event) or {MAX_BATCH_BYTES:,} (batch).",
                  **error},
        },
    }  # fmt: skip


@router.post("/track", **_doc("track", "Record an event (Segment track)"))
async def track(request: Request) -> Response:
    """What a user did: `event` with its `properties`, in the account `context.groupId`."""
    return await _ingest(request, "track")


@router.post("/page", **_doc("page", "Record a page view (Segment page)"))
async def page(request: Request) -> Response:
    """A page view, stored as the event `Page Viewed` with `name` and `category` among its properties."""
    return await _ingest(request, "page")


@router.post("/screen", **_doc("page", "Record a screen view (Segment screen)"))
async def screen(request: Request) -> Response:
    """A mobile screen view, stored as the event `Screen Viewed`."""
    return await _ingest(request, "screen")


@router.post("/identify", **_doc("identify", "Create or update a contact (Segment identify)"))
async def identify(request: Request) -> Response:
    """The user `userId` (a contact's external_id) with `traits` name, email and title; a new
    contact needs its account in `context.groupId` (kept until the account exists)."""
    return await _ingest(request, "identify")


@router.post("/group", **_doc("group", "Create or update an account (Segment group)"))
async def group(request: Request) -> Response:
    """The account `groupId` (its external_id) with `traits` name, industry and employees; other
    traits go into its custom fields. Events kept for this account are attached."""
    return await _ingest(request, "group")


@router.post("/batch", **_doc("batch", "Send many calls at once (Segment batch)"))
async def batch(request: Request) -> Response:
    """Up to 500 KB of `identify`, `group`, `track`, `page` and `screen` calls (each ≤ 32 KB). Good
    events are stored even when others are rejected: the answer is then 400, listing each rejected
    event as `batch[i].field`, with the counts of what was stored."""
    return await _ingest(request, "batch")


for _short, _kind in (("t", "track"), ("p", "page"), ("s", "screen"), ("i", "identify"), ("g", "group"),
                      ("b", "batch")):  # fmt: skip
    # analytics.js posts to Segment's short paths; the fast path answers them, these only document it
    router.add_api_route(f"/{_short}", {"track": track, "page": page, "screen": screen, "identify": identify,
                                        "group": group, "batch": batch}[_kind], methods=["POST"],
                         include_in_schema=False)  # fmt: skip


@router.get("/projects/{write_key}/settings", summary="Settings for analytics.js (@segment/analytics-next)",
            responses={200: {"model": BrowserSettingsOut, "description": "The settings."},
                       401: {"model": TrackingErrorOut}, 403: {"model": TrackingErrorOut}})  # fmt: skip
async def browser_settings(request: Request, write_key: str) -> Response:
    """What analytics.js reads from Segment's CDN before it sends anything — here, so that a
    page loading it with `cdnURL` set to Kizuna talks to Kizuna only: send events to this
    server's `/v1/` with this key, no other destination, no middleware, no metrics. The key must
    be one that may send events (401/403 otherwise)."""
    try:
        await _sender(request, _runtime(request), write_key)
    except (KizunaError, StarletteHTTPException) as exc:
        refused = _refused(exc)
        assert refused is not None
        return refused
    host = request.headers.get("host") or f"{request.url.hostname}:{request.url.port}"
    settings = {
        "integrations": {
            "Segment.io": {"apiKey": write_key, "apiHost": f"{host}/v1", "protocol": request.url.scheme,
                           "unbundledIntegrations": [], "addBundledMetadata": False},
        },
        "plan": {},
        "edgeFunction": {},
        "analyticsNextEnabled": True,
        "middlewareSettings": {},
        "enabledMiddleware": {},
        "metrics": {"sampleRate": 0},
        "legacyVideoPluginsEnabled": False,
        "remotePlugins": [],
    }  # fmt: skip
    return _json(200, settings, headers={"Cache-Control": "max-age=60"})


# --- the usage page's JSON twin --------------------------------------------------------------


@summary_router.get("/ingestion", include_in_schema=False)  # the old address, kept for scripts
@summary_router.get("/usage", summary="What the tracking API received (the usage page)",
                    response_model=UsageSummaryOut, responses={401: {"model": ErrorBody}, 403: {"model": ErrorBody}})  # fmt: skip
def usage_summary(state: State, principal: CurrentPrincipal) -> UsageSummaryOut:
    """Messages per hour over the last 48 hours by outcome (stored, duplicate, parked, attached,
    rejected), rejected counts by error code, the quarantine by reason, and the keys that send."""
    with state.unit_of_work() as session:
        return UsageSummaryOut.model_validate(report.summary(session).as_json())
