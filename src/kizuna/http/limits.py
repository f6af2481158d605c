"""Bounds on what one request may send: the JSON API refuses bodies over 1 MB with 413.

``LimitedRoute`` is a route class (``APIRouter(route_class=LimitedRoute)``): it turns a
request away by its ``Content-Length`` before reading anything, and reads a body sent
without one (chunked) only up to the limit, so that no request can make the server
hold more than ``MAX_BODY_BYTES`` of it. The 413 goes through the app's error handlers,
so it has the documented shape (``{"errors": [{"code": "payload_too_large", …}]}``).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from kizuna.i18n import _

#: The largest request body the JSON API accepts, in bytes (1 MiB).
MAX_BODY_BYTES = 1_048_576


def too_large(limit: int = MAX_BODY_BYTES) -> HTTPException:
    return HTTPException(413, detail=_("the request body is larger than {n} bytes").format(n=f"{limit:,}"))


async def read_limited_body(request: Request, limit: int = MAX_BODY_BYTES) -> None:
    """Read the body into the request (where FastAPI finds it), or raise 413."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise too_large(limit)
        except ValueError:
            pass  # the server rejects a malformed Content-Length before we see it
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    request._body = b"".join(chunks)  # Starlette's cache: request.body() / .json() read it from here


class LimitedRoute(APIRoute):
    """An API route whose request body may not exceed ``MAX_BODY_BYTES``."""

    max_body_bytes = MAX_BODY_BYTES

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        limit = self.max_body_bytes

        async def limited(request: Request) -> Response:
            if request.method not in ("GET", "HEAD", "OPTIONS"):
                await read_limited_body(request, limit)
            return await handler(request)

        return limited
