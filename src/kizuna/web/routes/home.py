"""The home page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from kizuna.http.auth import CurrentPrincipal, State
from kizuna.http.clock import today
from kizuna.http.templating import render
from kizuna.services import home as home_service

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(request: Request, state: State, principal: CurrentPrincipal) -> Response:
    with state.unit_of_work() as session:
        headline = home_service.headline(session, today(state.settings))
    return render(request, "home.html", {"headline": headline})
