"""The unsubscribe link of a customer email (配信停止): open to anyone holding the signed link,
no sign-in. GET confirms, POST records (the page's button, or a mail client's one-click
``List-Unsubscribe-Post``). A link that was altered gets a 400 page, never a 500."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from kizuna.errors import InvalidInput
from kizuna.http.auth import State
from kizuna.http.errors import error, error_body, wants_json
from kizuna.http.templating import render
from kizuna.services import unsubscribe

router = APIRouter(include_in_schema=False)


def _answer(request: Request, *, link: str, email: str | None = None, done: bool = False, just_now: bool = False,
            problem: str | None = None) -> Response:  # fmt: skip
    headers = {"Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}
    if wants_json(request):
        if problem is not None:
            return JSONResponse(error_body([error("invalid_unsubscribe_link", problem, "link")]), status_code=400,
                                headers=headers)  # fmt: skip
        return JSONResponse({"email": email, "unsubscribed": done}, headers=headers)
    context = {"link": link, "email": email, "done": done, "just_now": just_now, "problem": problem}
    response = render(request, "unsubscribe.html", context, status=400 if problem else 200)
    response.headers.update(headers)
    return response


@router.get("/unsubscribe/{link}")
def confirm(request: Request, state: State, link: str) -> Response:
    try:
        with state.unit_of_work() as session:
            found = unsubscribe.state(session, state.context, link)
    except InvalidInput as exc:
        return _answer(request, link=link, problem=exc.message)
    return _answer(request, link=link, email=found.email, done=found.unsubscribed)


@router.post("/unsubscribe/{link}")
def record(request: Request, state: State, link: str) -> Response:
    try:
        with state.unit_of_work() as session:
            found = unsubscribe.unsubscribe(session, state.context, link)
    except InvalidInput as exc:
        return _answer(request, link=link, problem=exc.message)
    return _answer(request, link=link, email=found.email, done=True, just_now=True)
