"""What the resource routers share: who may write, paging parameters, the parse
context from the settings, and the error responses each operation documents."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, Path, Query, Request

from kizuna.api.schemas.common import ERROR_RESPONSES, MAX_INT, MAX_PAGE, MAX_PER_PAGE, Storable
from kizuna.errors import InvalidInput
from kizuna.http.auth import Principal, check_csrf, writer
from kizuna.http.state import AppState
from kizuna.i18n import _
from kizuna.services.records import ParseContext


def csrf_writer(request: Request, principal: Annotated[Principal, Depends(writer)]) -> Principal:
    """May change data: a write-scoped API key, or a signed-in csm/lead/admin whose
    browser sends its CSRF token in ``X-CSRF-Token`` (not an OpenAPI parameter: API
    clients use keys, which need none)."""
    check_csrf(principal, request.headers.get("x-csrf-token"))
    return principal


async def json_body_keys_once(request: Request) -> None:
    """Every ``/api/`` route: a JSON body naming a key twice is refused (``duplicate_key``)."""
    if (
        request.method in ("POST", "PUT", "PATCH")
        and request.url.path.startswith("/api/")
        and "json" in request.headers.get("content-type", "")
    ):
        refuse_duplicate_keys(await request.body())


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen[key] = value
    return seen


def refuse_duplicate_keys(body: bytes) -> None:
    """``InvalidInput`` (``duplicate_key``, 422) when a JSON object in ``body`` names a key
    twice: JSON parsers disagree on which one wins, so Kizuna takes neither. A body that
    is not JSON at all is left to the validation that follows."""
    if not body:
        return
    try:
        json.loads(body, object_pairs_hook=_no_duplicates)
    except _DuplicateKey as dup:
        raise InvalidInput(
            _("the key {key!r} appears more than once in the same JSON object").format(key=dup.key[:100]),
            code="duplicate_key",
            field=dup.key[:100],
        ) from None
    except (ValueError, RecursionError):
        return


#: The caller of a create, update or delete.
Writer = Annotated[Principal, Depends(csrf_writer)]

RecordId = Annotated[int, Path(ge=1, le=MAX_INT, description="Kizuna's id of the record.")]
PageNo = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page number, from 1.")]
PerPage = Annotated[int, Query(ge=1, le=MAX_PER_PAGE, description=f"Records per page, 1–{MAX_PER_PAGE}.")]
RefFilter = Annotated[int | None, Query(ge=1, le=MAX_INT)]
KeyFilter = Annotated[
    str | None,
    Query(min_length=1, max_length=128, description="Exact match on the source system's key."),
    Storable,
]


def parse_context(state: AppState) -> ParseContext:
    """Naive times are read in the configured zone; amounts without a currency are in the default one."""
    return ParseContext(zone=state.settings.zone, default_currency=state.settings.default_currency)


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: ERROR_RESPONSES[code] for code in codes}


READ = responses(401, 403, 422)
READ_ONE = responses(401, 403, 404, 422)
CREATE = responses(400, 401, 403, 409, 413, 422)
UPDATE = responses(400, 401, 403, 404, 409, 413, 422)
DELETE = responses(401, 403, 404, 409, 422)
