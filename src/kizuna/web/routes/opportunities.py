"""The opportunities page (``/opportunities``, issue 16): the pipeline of upsell and
cross-sell opportunities by type and status with the expected MRR, the list with its
filters (type, status, owner), and the CSM's won / lost / dismiss (with a reason) form.
JSON twin: ``/api/opportunities``. See docs/opportunities.md."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from kizuna.errors import Conflict, InvalidInput, NotFound
from kizuna.http.auth import CSRF_FIELD, CSRF_HEADER, CurrentPrincipal, Principal, State, Writer, check_csrf
from kizuna.http.clock import today
from kizuna.http.templating import render
from kizuna.i18n import _
from kizuna.services import opportunities

router = APIRouter(include_in_schema=False)

CsrfToken = Annotated[str, Form(alias=CSRF_FIELD)]
LIMIT = 200
_MAX_ID = 2**31 - 1


def _owner(value: str | None) -> int | None:
    text = (value or "").strip()
    if not text:
        return None
    if not text.isdecimal() or not 1 <= int(text) <= _MAX_ID:
        raise InvalidInput(_("owner must be a user's id, not {value!r}").format(value=text[:50]), field="owner")
    return int(text)


def _page(request: Request, state: State, *, type: str | None, status: str | None, owner: str | None,
          error: str = "", code: int = 200) -> Response:  # fmt: skip
    try:
        owner_id = _owner(owner)
        opportunities.check_filters(type, status)
    except InvalidInput as exc:
        type = status = owner = None
        owner_id = None
        error, code = exc.message, 422
    with state.unit_of_work() as session:
        views = opportunities.list_opportunities(session, type=type or None, status=status or None,
                                                 owner_id=owner_id, limit=LIMIT)  # fmt: skip
        cells = opportunities.pipeline(session, owner_id)
        owners = opportunities.owners(session)
    context: dict[str, Any] = {
        "views": views, "cells": cells, "owners": owners, "types": opportunities.TYPES,
        "statuses": opportunities.STATUSES, "label": opportunities.label, "limit": LIMIT, "error": error,
        "filters": {"type": type or "", "status": status or "", "owner": str(owner_id or "")},
        "here": str(request.url.path) + (f"?{request.url.query}" if request.url.query and not error else ""),
    }  # fmt: skip
    return render(request, "opportunities/index.html", context, status=code)


@router.get("/opportunities")
def opportunities_page(request: Request, state: State, principal: CurrentPrincipal, type: str | None = None,
                       status: str | None = None, owner: str | None = None) -> Response:  # fmt: skip
    return _page(request, state, type=type, status=status, owner=owner)


def _next(value: str) -> str:
    """Back to a page of this site only."""
    return value if value.startswith("/") and not value.startswith("//") and len(value) <= 2000 else "/opportunities"


@router.post("/opportunities/{opportunity_id:int}/status")
def set_status(
    request: Request, state: State, principal: Writer, opportunity_id: int, csrf_token: CsrfToken = "",
    status: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    """Won, lost, dismissed (with a reason) or reopened; a refusal comes back on the page."""
    check_csrf(principal, csrf_token or request.headers.get(CSRF_HEADER))
    back = _next(next)
    try:
        if opportunity_id > _MAX_ID:
            raise NotFound(_("no opportunity with id {id}").format(id=opportunity_id), code="opportunity_not_found",
                           field="id")  # fmt: skip
        with state.unit_of_work() as session:
            opportunities.set_status(session, opportunity_id, status[:50], reason=reason[:1000],
                                     user_id=_user(principal), today=today(state.settings))  # fmt: skip
    except (InvalidInput, NotFound, Conflict) as exc:
        return _page(request, state, type=None, status=None, owner=None, error=exc.message,
                     code=404 if isinstance(exc, NotFound) else 409 if isinstance(exc, Conflict) else 422)  # fmt: skip
    sep = "&" if "?" in back else "?"
    return RedirectResponse(f"{back}{sep}{urlencode({'done': status})}", status_code=303)


def _user(principal: Principal) -> int | None:
    return principal.user_id
