"""Overriding an account's touch tier or lifecycle stage from its 360 page.

A lead or admin submits the small form in the page header (with the page's CSRF
token); the JSON twin is ``PUT/DELETE /api/accounts/{id}/tier-override`` (and
``stage-override``). Errors re-render the page with the form open (422).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from kizuna.errors import InvalidInput
from kizuna.http.auth import CSRF_FIELD, CSRF_HEADER, Manager, State, check_csrf
from kizuna.http.clock import today
from kizuna.services import segments as service
from kizuna.web.routes.accounts import _account_page

router = APIRouter(include_in_schema=False)


@router.post("/accounts/{account_id:int}/segments")
def override_segment(
    request: Request, state: State, principal: Manager, account_id: int,
    dimension: Annotated[str, Form()] = "", value: Annotated[str, Form()] = "", reason: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "set", csrf_token: Annotated[str, Form(alias=CSRF_FIELD)] = "",
) -> Response:  # fmt: skip
    check_csrf(principal, csrf_token or request.headers.get(CSRF_HEADER))
    form = {"dimension": dimension, "value": value, "reason": reason}
    as_of = today(state.settings)
    try:
        with state.unit_of_work() as session:
            which = service.parse_dimension(dimension)
            if action == "clear":
                service.clear_override(session, account_id, which, set_by=principal.label, as_of=as_of)
            else:
                service.set_override(session, account_id, which, value, reason, set_by=principal.label,
                                     set_by_id=principal.user_id, as_of=as_of)  # fmt: skip
    except InvalidInput as exc:
        errors = {(exc.field or "form"): exc.message}
        return _account_page(request, state, account_id, status=422,
                             extra={"seg_form": form, "seg_errors": errors})  # fmt: skip
    return RedirectResponse(f"/accounts/{account_id}#segments", status_code=303)
