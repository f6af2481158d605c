"""The worklist (``/worklist``, 今日の仕事) and the task forms: create (from the 360 page, the
worklist, or as the follow-up of an activity), complete, reopen, snooze, reassign, and the
worklist's bulk complete/snooze. JSON twins: ``/api/tasks``, ``/api/worklist``.

Every form posts and redirects back (``next``, a path of this site only); a refused value
comes back as a message on the page it came from, never a 500.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from kizuna.domain.auth import Permission
from kizuna.domain.enums import TaskKind, TaskPriority
from kizuna.errors import InvalidInput, NotFound
from kizuna.http.auth import CSRF_FIELD, CSRF_HEADER, CurrentPrincipal, Principal, State, Writer, check_csrf
from kizuna.http.clock import today
from kizuna.http.templating import render
from kizuna.i18n import _
from kizuna.services import accounts as accounts_service
from kizuna.services import tasks, worklist

router = APIRouter(include_in_schema=False)

CsrfToken = Annotated[str, Form(alias=CSRF_FIELD)]
_MAX_ID = 2**31 - 1
#: What the worklist's notice may say after a change (``done=…`` in the URL).
NOTICES = ("created", "completed", "reopened", "snoozed", "assigned", "failed")


def _is_lead(principal: Principal) -> bool:
    return principal.user_id is not None and Permission.MANAGE in principal.permissions


def _whole(value: str, field: str, lo: int, hi: int) -> int:
    raw = value.strip()
    if not raw.isdecimal() or not lo <= int(raw) <= hi:
        raise InvalidInput(_("{field} must be a whole number from {lo} to {hi}").format(field=field, lo=lo, hi=hi),
                           code="invalid_number", field=field)  # fmt: skip
    return int(raw)


def _optional_id(value: str, field: str) -> int | None:
    return _whole(value, field, 1, _MAX_ID) if value.strip() else None


def _day(value: str, field: str) -> date | None:
    raw = value.strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(_("{field} must be a date like 2026-12-31, not {value!r}").format(field=field,
                           value=raw[:20]), code="invalid_date", field=field) from None  # fmt: skip


def _next(value: str, fallback: str = "/worklist") -> str:
    """Back to a page of this site (an absolute or protocol-relative URL is not followed)."""
    raw = value.strip()
    if not raw.startswith("/") or raw.startswith("//") or "\\" in raw or any(ord(c) < 32 for c in raw):
        return fallback
    return raw


def _with(url: str, **values: str) -> str:
    base, _sep, fragment = url.partition("#")
    joiner = "&" if "?" in base else "?"
    return f"{base}{joiner}{urlencode(values)}" + (f"#{fragment}" if fragment else "")


# --- the worklist page -----------------------------------------------------------------------


@router.get("/worklist")
def worklist_page(request: Request, state: State, principal: CurrentPrincipal, user: str = "", done: str = "") -> Response:
    """A CSM's own worklist; a lead or admin may open anybody's (``user=ID``) or the team's
    (``user=team``), and opens on the team's when they have no accounts or tasks of their own."""
    return _worklist(request, state, principal, user, done)


def _worklist(
    request: Request, state: State, principal: Principal, user: str = "", done: str = "", error: str = "",
    status: int = 200,
) -> Response:  # fmt: skip
    day = today(state.settings)
    me = principal.user_id
    lead = _is_lead(principal)
    who: int | None = me
    if user == "team" and lead:
        who = None
    elif user.strip() and lead:
        who = _optional_id(user, "user")
    with state.unit_of_work() as session:
        if not user.strip():
            who = worklist.default_view(session, me, lead=lead)
        work = worklist.worklist(session, who, today=day)
        team = worklist.team(session, today=day) if lead else ()
        people = accounts_service.owner_choices(session)
    names = {p.id: p.name for p in people}
    return render(request, "tasks/worklist.html", {
        "work": work, "team": team, "lead": lead, "who": who, "me": me, "who_name": names.get(who) if who else None,
        "people": people, "today": day, "tomorrow": day + timedelta(days=1), "next_week": day + timedelta(days=7),
        "kinds": [k.value for k in TaskKind], "priorities": [p.value for p in TaskPriority],
        "done": done if done in NOTICES else "", "error": error,
        "here": str(request.url.path) + (f"?{request.url.query}" if request.url.query else ""),
    }, status=status)  # fmt: skip


def _back(next_url: str, done: str) -> Response:
    return RedirectResponse(_with(next_url, done=done), status_code=303)


_ACCOUNT_PAGE = re.compile(r"^/accounts/(\d{1,10})(?:[?#].*)?$")


def _refused(request: Request, state: State, principal: Principal, next_url: str, exc: InvalidInput | NotFound) -> Response:
    """The page the form was on, again, with the reason (422; shown as text, escaped)."""
    page = _ACCOUNT_PAGE.match(next_url)
    if page and int(page.group(1)) <= _MAX_ID:
        from kizuna.web.routes.accounts import account_page_with

        return account_page_with(request, state, int(page.group(1)), task_error=exc.message, status=422)
    return _worklist(request, state, principal, error=exc.message, status=422)


# --- the task forms --------------------------------------------------------------------------


@router.post("/tasks")
def create_task(
    request: Request, state: State, principal: Writer, csrf_token: CsrfToken = "",
    account_id: Annotated[str, Form()] = "", title: Annotated[str, Form()] = "", kind: Annotated[str, Form()] = "other",
    priority: Annotated[str, Form()] = "normal", due_on: Annotated[str, Form()] = "",
    assignee_id: Annotated[str, Form()] = "", description: Annotated[str, Form()] = "",
    activity_id: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    check_csrf(principal, csrf_token or request.headers.get(CSRF_HEADER))
    back = _next(next)
    me = principal.user_id
    try:
        with state.unit_of_work() as session:
            day = today(state.settings)
            common: dict[str, Any] = {"title": title, "kind": kind or "other", "priority": priority or "normal",
                      "due_on": _day(due_on, "due_on"), "description": description or None,
                      "assignee_id": _optional_id(assignee_id, "assignee_id")}  # fmt: skip
            follows = _optional_id(activity_id, "activity_id")
            if follows is not None:
                tasks.follow_up(session, follows, today=day, created_by_id=me, **common)
            else:
                tasks.create_task(session, today=day, account_id=_optional_id(account_id, "account_id"),
                                  created_by_id=me, **common)  # fmt: skip
    except (InvalidInput, NotFound) as exc:
        return _refused(request, state, principal, back, exc)
    return _back(back, "created")


def _ids(values: list[str]) -> list[int]:
    return [_whole(v, "task_ids", 1, _MAX_ID) for v in values[: tasks.BULK_MAX + 1]]


@router.post("/tasks/bulk")
def bulk(
    request: Request, state: State, principal: Writer, csrf_token: CsrfToken = "",
    action: Annotated[str, Form()] = "", task_ids: Annotated[list[str] | None, Form()] = None,
    until: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    """Complete or snooze the chosen tasks (the worklist's check boxes)."""
    check_csrf(principal, csrf_token or request.headers.get(CSRF_HEADER))
    return _act(request, state, principal, action, task_ids or [], until, _next(next))


@router.post("/tasks/{task_id:int}/{action}")
def one(
    request: Request, state: State, principal: Writer, task_id: int, action: str, csrf_token: CsrfToken = "",
    until: Annotated[str, Form()] = "", assignee_id: Annotated[str, Form()] = "", next: Annotated[str, Form()] = "",
) -> Response:  # fmt: skip
    """``complete``, ``reopen``, ``snooze`` (until a day) or ``assign`` (to a user) one task."""
    check_csrf(principal, csrf_token or request.headers.get(CSRF_HEADER))
    back = _next(next)
    if action == "assign":
        try:
            with state.unit_of_work() as session:
                tasks.update_task(session, task_id, {"assignee_id": _optional_id(assignee_id, "assignee_id")},
                                  today=today(state.settings))  # fmt: skip
        except (InvalidInput, NotFound) as exc:
            return _refused(request, state, principal, back, exc)
        return _back(back, "assigned")
    return _act(request, state, principal, action, [str(task_id)], until, back)


def _act(
    request: Request, state: State, principal: Principal, action: str, raw_ids: list[str], until: str, back: str
) -> Response:
    day = today(state.settings)
    try:
        ids = _ids(raw_ids)
        with state.unit_of_work() as session:
            if action == "complete":
                tasks.complete(session, ids)
                done = "completed"
            elif action == "reopen":
                tasks.reopen(session, ids)
                done = "reopened"
            elif action == "snooze":
                tasks.snooze(session, ids, _day(until, "until") or day + timedelta(days=1), today=day)
                done = "snoozed"
            else:
                raise InvalidInput(_("unknown action {action!r}").format(action=action[:40]), code="unknown_action",
                                   field="action")  # fmt: skip
    except (InvalidInput, NotFound) as exc:
        return _refused(request, state, principal, back, exc)
    return _back(back, done)
