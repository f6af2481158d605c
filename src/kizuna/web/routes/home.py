"""The home page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from kizuna.http.auth import CurrentPrincipal, State
from kizuna.http.clock import today
from kizuna.http.templating import render
from kizuna.services import home as home_service
from kizuna.services import worklist

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(request: Request, state: State, principal: CurrentPrincipal) -> Response:
    day = today(state.settings)
    with state.unit_of_work() as session:
        headline = home_service.headline(session, day)
        # the personal part: my tasks due, my at-risk accounts, my renewals (the worklist's top lines)
        mine = worklist.worklist(session, principal.user_id, today=day, limit=5) if principal.user_id else None
    return render(request, "home.html", {"headline": headline, "mine": mine})
