"""Bounds on what one request may send: the JSON API refuses bodies over 1 MB with 413.

``LimitedRoute`` is a route class (``APIRouter(route_class=LimitedRoute)``): it turns a
request away by its ``Content-Length`` before reading anything, and reads a body sent
without one (chunked) only up to the limit, so that no request can make the server
hold more than ``MAX_BODY_BYTES`` of it. The 413 goes through the app's error handlers,
so it has the documented shape (``{"errors": [{"code": "payload_too_large", …}]}``).
"""

from __future__ import annotations

import zlib
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


#: ``Content-Encoding`` values :func:`read_limited_body` decodes when asked to.
DECODED_ENCODINGS = ("gzip", "x-gzip", "deflate")


async def read_limited_body(request: Request, limit: int = MAX_BODY_BYTES, *, decode: bool = False) -> None:
    """Read the body into the request (where FastAPI finds it), or raise 413.

    ``decode=True``: a body sent with ``Content-Encoding: gzip`` or ``deflate`` is
    decompressed as it arrives, and the limit applies to the decoded bytes too — never
    more than ``limit`` bytes of it are produced, so a compression bomb is refused with
    413 at the limit, whatever it would grow to. Another encoding is refused with 415."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            if int(declared) > limit:
                raise too_large(limit)
        except ValueError:
            pass  # the server rejects a malformed Content-Length before we see it
    encoding = request.headers.get("content-encoding", "").strip().lower() if decode else ""
    if encoding not in ("", "identity"):
        if encoding not in DECODED_ENCODINGS:
            raise HTTPException(415, detail=_(
                "Content-Encoding {encoding!r} is not supported: send gzip, deflate or no encoding"
            ).format(encoding=encoding[:40]))  # fmt: skip
        request._body = await _decoded(request, encoding, limit)
        return
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    request._body = b"".join(chunks)  # Starlette's cache: request.body() / .json() read it from here


def _decompressor(encoding: str, first: bytes) -> Any:
    if encoding == "deflate" and first and (first[0] & 0x0F != 8 or int.from_bytes(first[:2]) % 31):
        return zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, as some clients send it
    return zlib.decompressobj(zlib.MAX_WBITS | 16 if encoding != "deflate" else zlib.MAX_WBITS)


async def _decoded(request: Request, encoding: str, limit: int) -> bytes:
    """The body decompressed as it streams in, never more than ``limit`` bytes (else 413)."""
    chunks: list[bytes] = []
    size = wire = 0
    decompressor: Any = None
    try:
        async for chunk in request.stream():
            wire += len(chunk)
            if wire > limit:
                raise too_large(limit)
            data = chunk
            while data:
                if decompressor is None:
                    decompressor = _decompressor(encoding, data)
                piece = decompressor.decompress(data, limit + 1 - size)  # at most one byte past the limit
                size += len(piece)
                if size > limit:
                    raise too_large(limit)
                chunks.append(piece)
                data = decompressor.unconsumed_tail
                if decompressor.eof:  # gzip may hold several members, one after the other
                    data, decompressor = decompressor.unused_data, None
        if decompressor is not None and not decompressor.eof:
            raise zlib.error("truncated")
    except zlib.error:
        raise HTTPException(400, detail=_(
            "the body is not valid {encoding} data (Content-Encoding)"
        ).format(encoding=encoding)) from None  # fmt: skip
    return b"".join(chunks)


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
