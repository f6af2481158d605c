"""Tasks (calls to action) and the worklist: the service, the API, the pages and the CLI.

The worklist's order is checked against ranks worked out by hand (docs/tasks.md has the
same example): urgency × (0.5 + risk) × revenue.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from kizuna.domain.enums import TaskKind, TaskPriority, TaskStatus
from kizuna.errors import InvalidInput, NotFound
from kizuna.main import create_app
from kizuna.services import tasks, worklist
from kizuna.settings import Settings
from tests.cli import run_cli
from tests.conftest import Inbox, make_api_key, make_user, sign_in

TODAY = date(2026, 11, 20)


def sql(app: FastAPI, statement: str, **params: Any) -> list[Any]:
    with app.state.kizuna.unit_of_work() as session:
        result = session.execute(text(statement), params)
        return list(result) if result.returns_rows else []


def add_account(
    app: FastAPI, key: str, *, owner: int | None, mrr: int = 0, score: float | None = None, grade: str | None = None,
    at_risk: bool = False, renewal_on: date | None = None, term: int | None = 12, status: str = "active",
) -> int:  # fmt: skip
    """An account whose list columns (MRR, health, renewal) are set as the daily job would set them."""
    sql(app, "INSERT INTO accounts (external_id, name, owner_id, custom_fields, status, mrr, currency, renewal_on,"
             " contract_term_months, at_risk, health_score, health_grade, created_at, updated_at)"
             " VALUES (:k, :name, :owner, '{}', :status, :mrr, 'JPY', :renewal, :term, :risk, :score, :grade,"
             " :now, :now)",
        k=key, name=f"{key} 株式会社", owner=owner, status=status, mrr=mrr, renewal=renewal_on, term=term,
        risk=at_risk, score=score, grade=grade, now=datetime(2026, 1, 1, tzinfo=UTC))  # fmt: skip
    return int(sql(app, "SELECT id FROM accounts WHERE external_id = :k", k=key)[0][0])


@pytest.fixture
def sqlite_app(tmp_path: Any) -> Iterator[FastAPI]:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'k.db'}", today=TODAY))
    yield app
    app.state.kizuna.engine.dispose()


@pytest.fixture
def book(sqlite_app: FastAPI) -> dict[str, int]:
    """The worked example: user U owns A, B, C, E; V owns D. Median paying MRR = 100,000."""
    app = sqlite_app
    u = make_user(app, "u@kizuna.example", "csm", name="宇野")
    v = make_user(app, "v@kizuna.example", "csm", name="三上")
    lead = make_user(app, "lead@kizuna.example", "lead", name="リード")
    ids = {"u": u, "v": v, "lead": lead}
    ids["A"] = add_account(app, "A", owner=u, mrr=100_000, score=40, grade="red", at_risk=True)
    ids["B"] = add_account(app, "B", owner=u, mrr=400_000, score=80, grade="green",
                           renewal_on=TODAY + timedelta(days=30))  # fmt: skip
    ids["C"] = add_account(app, "C", owner=u, mrr=25_000, score=55, grade="yellow", at_risk=True)
    ids["D"] = add_account(app, "D", owner=v, mrr=100_000, score=30, grade="red", at_risk=True)
    ids["E"] = add_account(app, "E", owner=u, mrr=0, at_risk=True)
    # a monthly evergreen account renewing in 10 days is not a renewal signal
    ids["F"] = add_account(app, "F", owner=u, mrr=50_000, score=90, grade="green",
                           renewal_on=TODAY + timedelta(days=10), term=1)  # fmt: skip
    with app.state.kizuna.unit_of_work() as session:
        ids["T1"] = tasks.create_task(session, today=TODAY, account_id=ids["A"], title="Call about the red score",
                                      due_on=TODAY - timedelta(days=3), kind="call").id  # fmt: skip
        ids["T2"] = tasks.create_task(session, today=TODAY, account_id=ids["C"], title="Later",
                                      due_on=TODAY).id  # fmt: skip
        tasks.snooze(session, [ids["T2"]], TODAY + timedelta(days=1), today=TODAY)
        ids["T3"] = tasks.create_task(session, today=TODAY, account_id=ids["D"], title="V's task", due_on=TODAY).id
    return ids


# --- the service -------------------------------------------------------------------------------


def test_a_task_goes_to_the_account_owner_and_is_shown_as_created(sqlite_app: FastAPI, book: dict[str, int]) -> None:
    with sqlite_app.state.kizuna.unit_of_work() as session:
        t1 = tasks.get_task(session, book["T1"])
        loose = tasks.create_task(session, today=TODAY, account_id=None, title="  Team  review  ", priority="high")
    assert (t1.assignee_id, t1.assignee_name, t1.kind, t1.status) == (book["u"], "宇野", TaskKind.CALL, TaskStatus.OPEN)
    assert (t1.account_name, t1.account_mrr, t1.external_id[:5]) == ("A 株式会社", 100_000, "TASK-")
    assert t1.overdue_days(TODAY) == 3
    assert (loose.title, loose.assignee_id, loose.priority) == ("Team review", None, TaskPriority.HIGH)


@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"title": ""}, "task_title_missing", "title"),
        ({"title": "x" * 301}, "title_too_long", "title"),
        ({"kind": "lunch"}, "invalid_task_kind", "kind"),
        ({"priority": "urgent"}, "invalid_priority", "priority"),
        ({"due_on": date(2032, 1, 1)}, "due_on_out_of_range", "due_on"),
        ({"due_on": date(1899, 12, 31)}, "due_on_out_of_range", "due_on"),
        ({"description": "x" * 20_001}, "notes_too_long", "description"),
        ({"account_id": 999}, "account_not_found", "account_id"),
        ({"account_id": 2**40}, "account_not_found", "account_id"),
        ({"assignee_id": 999}, "user_not_found", "assignee_id"),
    ],
)
def test_bad_input_is_refused_with_its_field_and_nothing_is_written(
    sqlite_app: FastAPI, book: dict[str, int], changes: dict[str, Any], code: str, field: str
) -> None:
    values: dict[str, Any] = {"account_id": book["B"], "title": "Prepare the renewal", **changes}
    before = sql(sqlite_app, "SELECT count(*) FROM tasks")[0][0]
    with pytest.raises((InvalidInput, NotFound)) as caught, sqlite_app.state.kizuna.unit_of_work() as session:
        tasks.create_task(session, today=TODAY, **values)
    assert (caught.value.code, caught.value.field) == (code, field)
    assert sql(sqlite_app, "SELECT count(*) FROM tasks")[0][0] == before


def test_an_inactive_user_cannot_be_assigned_and_a_contact_must_be_on_the_account(
    sqlite_app: FastAPI, book: dict[str, int]
) -> None:
    sql(sqlite_app, "UPDATE users SET is_active = :no WHERE id = :id", no=False, id=book["v"])
    sql(sqlite_app, "INSERT INTO contacts (external_id, account_id, name, is_champion, created_at,"
                    " updated_at) VALUES ('c1', :a, '山田', :no, :now, :now)",
        a=book["D"], no=False, now=datetime(2026, 1, 1, tzinfo=UTC))  # fmt: skip
    contact = sql(sqlite_app, "SELECT id FROM contacts")[0][0]
    with sqlite_app.state.kizuna.unit_of_work() as session:
        with pytest.raises(NotFound) as inactive:
            tasks.update_task(session, book["T1"], {"assignee_id": book["v"]}, today=TODAY)
        with pytest.raises(InvalidInput) as elsewhere:
            tasks.create_task(session, today=TODAY, account_id=book["A"], title="x", contact_id=contact)
        same = tasks.create_task(session, today=TODAY, account_id=book["D"], title="x", contact_id=contact)
    assert inactive.value.code == "user_not_found"
    assert elsewhere.value.code == "contact_not_on_account"
    assert same.contact_name == "山田"


def test_reassign_complete_reopen_snooze(sqlite_app: FastAPI, book: dict[str, int]) -> None:
    now = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    with sqlite_app.state.kizuna.unit_of_work() as session:
        moved = tasks.update_task(session, book["T1"], {"assignee_id": book["lead"], "priority": "high",
                                                        "due_on": TODAY}, today=TODAY)  # fmt: skip
        assert (moved.assignee_name, moved.priority, moved.due_on) == ("リード", TaskPriority.HIGH, TODAY)
        assert tasks.complete(session, [book["T1"], book["T3"]], now=now) == 2
        assert tasks.complete(session, [book["T1"]], now=now) == 0  # done already: unchanged
        done = tasks.get_task(session, book["T1"])
        assert (done.status, done.completed_at, done.overdue_days(TODAY + timedelta(days=9))) == (
            TaskStatus.DONE, now, 0)
        assert tasks.reopen(session, [book["T1"]]) == 1
        assert tasks.get_task(session, book["T1"]).completed_at is None
        assert tasks.snooze(session, [book["T1"]], TODAY + timedelta(days=365), today=TODAY) == 1
        with pytest.raises(InvalidInput) as too_far:
            tasks.snooze(session, [book["T1"]], TODAY + timedelta(days=366), today=TODAY)
        with pytest.raises(InvalidInput) as past:
            tasks.snooze(session, [book["T1"]], TODAY, today=TODAY)
        with pytest.raises(NotFound) as missing:
            tasks.complete(session, [book["T1"], 424242])
        with pytest.raises(InvalidInput) as many:
            tasks.complete(session, list(range(1, 502)))
        with pytest.raises(InvalidInput) as frozen:
            tasks.update_task(session, book["T1"], {"status": "done"}, today=TODAY)
    assert (too_far.value.code, past.value.code, missing.value.code, many.value.code, frozen.value.code) == (
        "snooze_out_of_range", "snooze_out_of_range", "task_not_found", "too_many_tasks", "unknown_field")
    assert sql(sqlite_app, "SELECT status FROM tasks WHERE id = :id", id=book["T1"]) == [("open",)]


def test_a_follow_up_of_an_activity_lands_on_its_account_and_on_the_timeline(
    sqlite_app: FastAPI, book: dict[str, int]
) -> None:
    from kizuna.services import activities, customer360

    with sqlite_app.state.kizuna.unit_of_work() as session:
        act = activities.log_activity(session, account_id=book["B"], kind="meeting", subject="QBR",
                                      summary=None, author_id=book["u"],
                                      occurred_at=datetime(2026, 11, 19, 10, tzinfo=UTC))  # fmt: skip
        task = tasks.follow_up(session, act.id, today=TODAY, title="Send the QBR deck", created_by_id=book["u"],
                               due_on=TODAY + timedelta(days=2), kind="email")  # fmt: skip
        with pytest.raises(NotFound) as gone:
            tasks.follow_up(session, 99999, today=TODAY, title="x")
        tasks.complete(session, [task.id], now=datetime(2026, 11, 20, 15, tzinfo=UTC))
        page = customer360.timeline(session, book["B"], limit=10)
    assert (task.account_id, task.activity_id, task.source, task.assignee_id) == (book["B"], act.id, "follow_up",
                                                                                  book["u"])  # fmt: skip
    assert gone.value.code == "activity_not_found"
    kinds = [(i.kind, i.type, i.subject) for i in page.items]
    assert ("task", "done", "Send the QBR deck") in kinds
    assert ("activity", "meeting", "QBR") in kinds


# --- the worklist: the worked example ----------------------------------------------------------


def test_the_worklist_ranks_by_urgency_risk_and_revenue_as_worked_by_hand(
    sqlite_app: FastAPI, book: dict[str, int]
) -> None:
    with sqlite_app.state.kizuna.unit_of_work() as session:
        mine = worklist.worklist(session, book["u"], today=TODAY)
    got = [(i.kind, i.account_name, round(i.rank, 4)) for i in mine.items]
    # T1 on A: overdue 3 days → urgency 2 + 3/7; risk 0.6 + 0.3 (at risk); revenue √(100,000/100,000) = 1
    # B: renewal in 30 days → urgency 1 + 60/45; risk 0.2; revenue √4 = 2
    # E: urgency 1; risk 0.3 (no score) + 0.3; revenue 0.25 (no MRR)
    # C is covered by its snoozed task, D is V's, F renews monthly (no renewal signal) and is green
    assert got == [
        ("task", "A 株式会社", round((2 + 3 / 7) * 1.4 * 1, 4)),
        ("signal", "B 株式会社", round((1 + 60 / 45) * 0.7 * 2, 4)),
        ("signal", "E 株式会社", round(1 * 1.1 * 0.25, 4)),
    ]
    assert [i.reason for i in mine.items] == [
        "3 days overdue · health 40 (red) · at risk",
        "renewal in 30 days, no task yet",
        "at risk",
    ]
    assert (mine.total, mine.overdue, mine.due_today, mine.signals) == (3, 1, 0, 2)
    assert mine.items[1].signals == ("renewal",)


def test_a_snooze_ends_and_the_task_comes_back(sqlite_app: FastAPI, book: dict[str, int]) -> None:
    with sqlite_app.state.kizuna.unit_of_work() as session:
        tomorrow = worklist.worklist(session, book["u"], today=TODAY + timedelta(days=1))
    assert [i.task.title for i in tomorrow.items if i.task] == ["Call about the red score", "Later"]


def test_the_team_view_counts_each_members_load(sqlite_app: FastAPI, book: dict[str, int]) -> None:
    with sqlite_app.state.kizuna.unit_of_work() as session:
        members = {m.name: m for m in worklist.team(session, today=TODAY)}
        everyone = worklist.worklist(session, None, today=TODAY)
    u, v = members["宇野"], members["三上"]
    assert (u.open, u.overdue, u.due_week, u.accounts, u.at_risk, u.mrr) == (2, 1, 2, 5, 3, 575_000)
    assert (v.open, v.overdue, v.due_week, v.accounts, v.at_risk) == (1, 0, 1, 1, 1)
    assert [i.account_name for i in everyone.items if i.kind == "task"] == ["A 株式会社", "D 株式会社"]


# --- the pages -----------------------------------------------------------------------------------


@pytest.fixture
def web(sqlite_app: FastAPI, book: dict[str, int]) -> Iterator[TestClient]:
    with TestClient(sqlite_app, headers={"Accept-Language": "en"}) as client:
        yield client


def _rows(html: str) -> list[tuple[str, str]]:
    """(kind, reason) of each worklist row, in order."""
    return re.findall(r'data-testid="work-item" data-kind="(\w+)".*?data-testid="reason">([^<]*)<', html, re.S)


def test_the_worklist_page_explains_its_order_and_a_task_is_completed_from_it(
    sqlite_app: FastAPI, web: TestClient, book: dict[str, int]
) -> None:
    token = sign_in(web, "u@kizuna.example")
    page = web.get("/worklist")
    assert page.status_code == 200
    assert _rows(page.text) == [("task", "3 days overdue · health 40 (red) · at risk"),
                                ("signal", "renewal in 30 days, no task yet"), ("signal", "at risk")]  # fmt: skip
    done = web.post(f"/tasks/{book['T1']}/complete", data={"csrf_token": token, "next": "/worklist"},
                    follow_redirects=False)  # fmt: skip
    assert (done.status_code, done.headers["location"]) == (303, "/worklist?done=completed")
    assert sql(sqlite_app, "SELECT status FROM tasks WHERE id = :id", id=book["T1"]) == [("done",)]
    after = web.get("/worklist?done=completed").text
    assert "Marked as done." in after
    # A now has no open task: its red, at-risk signal is listed, after B's renewal (1 × 1.4 × 1 < 3.27)
    assert _rows(after) == [("signal", "renewal in 30 days, no task yet"), ("signal", "health 40 (red) · at risk"),
                            ("signal", "at risk")]  # fmt: skip


def test_bulk_snooze_and_a_task_made_from_a_signal(sqlite_app: FastAPI, web: TestClient, book: dict[str, int]) -> None:
    token = sign_in(web, "u@kizuna.example")
    snoozed = web.post("/tasks/bulk", data={"csrf_token": token, "action": "snooze", "task_ids": [str(book["T1"])],
                                            "until": "2026-11-27", "next": "/worklist"}, follow_redirects=False)
    assert snoozed.headers["location"] == "/worklist?done=snoozed"
    assert sql(sqlite_app, "SELECT snoozed_until FROM tasks WHERE id = :id", id=book["T1"]) == [("2026-11-27",)]
    made = web.post("/tasks", data={"csrf_token": token, "account_id": str(book["B"]), "kind": "renewal_prep",
                                    "title": "Prepare the renewal", "due_on": "2026-11-21", "next": "/worklist"},
                    follow_redirects=False)  # fmt: skip
    assert made.headers["location"] == "/worklist?done=created"
    rows = _rows(web.get("/worklist").text)
    assert rows == [("task", "due in 1 days · renewal in 30 days"), ("signal", "at risk")]


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"title": ""}, "a task needs a title"),
        ({"title": "x", "due_on": "2026-13-01"}, "due_on must be a date like 2026-12-31"),
        ({"title": "x", "due_on": "2032-01-01"}, "the due date must be from 2021-11-20 to 2031-11-20"),
        ({"title": "x", "due_on": "3026-01-01"}, "3026-01-01 is outside the accepted range"),
        ({"title": "x", "assignee_id": "abc"}, "assignee_id must be a whole number"),
        ({"title": "x", "kind": "<script>"}, "kind must be one of"),
        ({"title": "x", "account_id": "99999"}, "no account with id 99999"),
    ],
)
def test_a_refused_task_form_says_why_on_the_page_and_writes_nothing(
    sqlite_app: FastAPI, web: TestClient, book: dict[str, int], form: dict[str, str], message: str
) -> None:
    token = sign_in(web, "u@kizuna.example")
    before = sql(sqlite_app, "SELECT count(*) FROM tasks")[0][0]
    page = web.post("/tasks", data={"csrf_token": token, "next": "/worklist", **form})
    assert page.status_code == 422
    error = re.search(r'data-testid="task-error">([^<]*)<', page.text)
    assert error
    assert message in error.group(1).replace("&#39;", "'")
    assert "<script>" not in page.text.split('data-testid="task-error"')[1].split("</p>")[0]
    assert sql(sqlite_app, "SELECT count(*) FROM tasks")[0][0] == before


def test_the_360_page_adds_and_completes_tasks_and_shows_a_refusal_there(
    sqlite_app: FastAPI, web: TestClient, book: dict[str, int]
) -> None:
    token = sign_in(web, "u@kizuna.example")
    back = f"/accounts/{book['B']}#tasks"
    made = web.post("/tasks", data={"csrf_token": token, "account_id": str(book["B"]), "title": "Send the deck",
                                    "next": back}, follow_redirects=False)  # fmt: skip
    assert made.headers["location"] == f"/accounts/{book['B']}?done=created#tasks"
    page = web.get(f"/accounts/{book['B']}").text
    assert re.findall(r'data-testid="open-task">\s*<div>([^<]*)</div>', page) == ["Send the deck"]
    task_id = sql(sqlite_app, "SELECT id FROM tasks WHERE title = 'Send the deck'")[0][0]
    done = web.post(f"/tasks/{task_id}/complete", data={"csrf_token": token, "next": back}, follow_redirects=False)
    assert done.headers["location"] == f"/accounts/{book['B']}?done=completed#tasks"
    page = web.get(f"/accounts/{book['B']}").text
    assert 'data-testid="open-task"' not in page
    timeline = page.split('id="timeline-items"')[1].split("</ol>")[0]
    assert re.search(r'data-kind="task" data-type="done".*?<strong>Send the deck</strong>', timeline, re.S)
    refused = web.post("/tasks", data={"csrf_token": token, "account_id": str(book["B"]), "title": "y" * 301,
                                       "next": back})  # fmt: skip
    assert refused.status_code == 422
    assert "the title is longer than 300 characters" in refused.text
    assert 'data-testid="task-form"' in refused.text
    # an address outside the site is not followed
    away = web.post("/tasks", data={"csrf_token": token, "title": "z", "next": "https://evil.example/"},
                    follow_redirects=False)  # fmt: skip
    assert away.headers["location"] == "/worklist?done=created"


def test_a_lead_sees_the_team_a_csm_only_their_own_and_a_viewer_cannot_change(
    sqlite_app: FastAPI, web: TestClient, book: dict[str, int]
) -> None:
    sign_in(web, "lead@kizuna.example")
    team = web.get("/worklist?user=team").text
    assert 'data-testid="team-load"' in team
    assert [k for k, _r in _rows(team)].count("task") == 2
    other = web.get(f"/worklist?user={book['v']}").text
    assert _rows(other) == [("task", "due today · health 30 (red) · at risk")]
    sign_in(web, "u@kizuna.example")
    mine = web.get("/worklist?user=team").text
    assert 'data-testid="team-load"' not in mine
    assert len(_rows(mine)) == 3
    make_user(sqlite_app, "viewer@kizuna.example", "viewer")
    token = sign_in(web, "viewer@kizuna.example")
    refused = web.post(f"/tasks/{book['T1']}/complete", data={"csrf_token": token}, follow_redirects=False)
    assert refused.status_code == 403
    assert sql(sqlite_app, "SELECT status FROM tasks WHERE id = :id", id=book["T1"]) == [("open",)]


# --- the API ---------------------------------------------------------------------------------------


def test_the_api_creates_changes_and_lists_tasks_and_answers_the_worklist(
    sqlite_app: FastAPI, web: TestClient, book: dict[str, int]
) -> None:
    write = {"Authorization": f"Bearer {make_api_key(sqlite_app, 'write')}"}
    read = {"Authorization": f"Bearer {make_api_key(sqlite_app, 'read')}"}
    made = web.post("/api/tasks", headers=write, json={"account_id": book["B"], "title": "Renewal deck",
                                                      "kind": "renewal_prep", "due_on": "2026-11-25"})
    assert made.status_code == 201, made.text
    task = made.json()
    assert (task["assignee_id"], task["assignee_name"], task["status"], task["created_by_id"]) == (
        book["u"], "宇野", "open", None)
    moved = web.patch(f"/api/tasks/{task['id']}", headers=write, json={"assignee_id": book["lead"], "due_on": None})
    assert (moved.json()["assignee_name"], moved.json()["due_on"]) == ("リード", None)
    snoozed = web.post(f"/api/tasks/{task['id']}/snooze", headers=write, json={"until": "2026-11-22"})
    assert snoozed.json()["snoozed_until"] == "2026-11-22"
    assert web.post(f"/api/tasks/{task['id']}/complete", headers=write).json()["status"] == "done"
    assert web.post(f"/api/tasks/{task['id']}/reopen", headers=write).json()["status"] == "open"
    listed = web.get("/api/tasks", headers=read, params={"assignee_id": book["u"]}).json()
    assert [t["title"] for t in listed["items"]] == ["Call about the red score", "Later"]
    overdue = web.get("/api/tasks", headers=read, params={"overdue": "true"}).json()
    assert [t["id"] for t in overdue["items"]] == [book["T1"]]
    work = web.get("/api/worklist", headers=read, params={"user_id": book["u"]}).json()
    assert [(i["kind"], i["account_name"], i["reason"]) for i in work["items"]] == [
        ("task", "A 株式会社", "3 days overdue · health 40 (red) · at risk"),
        ("signal", "E 株式会社", "at risk"),
    ]  # B is covered now by the reopened renewal task
    assert work["items"][0]["task"]["id"] == book["T1"]
    assert (work["total"], work["overdue"]) == (2, 1)


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("post", "/api/tasks", {"title": ""}, 422, "task_title_missing"),
        ("post", "/api/tasks", {"title": "x", "kind": "lunch"}, 422, "invalid_input"),
        ("post", "/api/tasks", {"title": "x", "due_on": "2300-01-01"}, 422, "date_out_of_range"),
        ("post", "/api/tasks", {"title": "x", "account_id": 99999}, 404, "account_not_found"),
        ("post", "/api/tasks", {"title": "x", "activity_id": 99999}, 404, "activity_not_found"),
        ("post", "/api/tasks", {"title": "x", "owner": 1}, 422, "invalid_input"),
        ("patch", "/api/tasks/{T1}", {"title": None}, 422, "invalid_input"),
        ("patch", "/api/tasks/{T1}", {"assignee_id": 99999}, 404, "user_not_found"),
        ("post", "/api/tasks/{T1}/snooze", {"until": "2026-11-20"}, 422, "snooze_out_of_range"),
        ("post", "/api/tasks/99999/complete", None, 404, "task_not_found"),
        ("get", "/api/tasks/99999", None, 404, "task_not_found"),
    ],
)
def test_the_api_refuses_bad_input_with_a_code_and_field(
    sqlite_app: FastAPI, web: TestClient, book: dict[str, int], method: str, path: str, body: Any, status: int,
    code: str,
) -> None:  # fmt: skip
    write = {"Authorization": f"Bearer {make_api_key(sqlite_app, 'write')}"}
    before = sql(sqlite_app, "SELECT count(*), sum(length(status)) FROM tasks")
    answer = getattr(web, method)(path.format(**book), headers=write, **({"json": body} if body is not None else {}))
    assert answer.status_code == status, answer.text
    assert answer.json()["errors"][0]["code"] == code
    assert sql(sqlite_app, "SELECT count(*), sum(length(status)) FROM tasks") == before


def test_a_read_key_cannot_change_tasks(sqlite_app: FastAPI, web: TestClient, book: dict[str, int]) -> None:
    read = {"Authorization": f"Bearer {make_api_key(sqlite_app, 'read')}"}
    assert web.post(f"/api/tasks/{book['T1']}/complete", headers=read).status_code == 403
    assert web.post("/api/tasks", headers=read, json={"title": "x"}).status_code == 403


# --- the command line -------------------------------------------------------------------------------


def test_the_command_line_lists_adds_completes_and_shows_the_worklist(
    sqlite_app: FastAPI, book: dict[str, int], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIZUNA_DATABASE_URL", str(sqlite_app.state.kizuna.settings.database_url))
    monkeypatch.setenv("KIZUNA_TODAY", TODAY.isoformat())
    monkeypatch.setenv("COLUMNS", "200")  # a wide terminal: no cell wraps
    added = run_cli(capsys, "tasks", "add", "[bold]Send[/bold] the deck", "--account", "B", "--due", "2026-11-24",
                    "--kind", "email")  # fmt: skip
    assert added.code == 0, added.err
    listed = run_cli(capsys, "tasks", "list", "--user", "u@kizuna.example", "--format", "json")
    items = json.loads(listed.out)["items"]
    assert [(t["title"], t["due_on"], t["kind"]) for t in items] == [
        ("Call about the red score", "2026-11-17", "call"), ("Later", "2026-11-20", "other"),
        ("[bold]Send[/bold] the deck", "2026-11-24", "email")]  # fmt: skip
    table = run_cli(capsys, "tasks", "list", "--overdue")
    assert "2026-11-17 (+3)" in table.out  # 3 days overdue
    assert table.out.rstrip().endswith("1 of 1 tasks")
    assert "[bold]Send[/bold] the deck" in run_cli(capsys, "tasks", "list").out  # user text, not markup
    assert run_cli(capsys, "tasks", "done", str(book["T1"])).out.strip() == "1 tasks marked done"
    assert run_cli(capsys, "tasks", "assign", str(book["T3"]), "u@kizuna.example").code == 0
    work = json.loads(run_cli(capsys, "worklist", "--user", "u@kizuna.example", "--format", "json").out)
    # D's task due today (2 × 1.5 × 1), B's new task due in 4 days ((2 − 4/7) × 0.7 × 2), A's signal now its
    # task is done (1 × 1.4 × 1), E (0.275)
    assert [(i["kind"], i["account_name"], round(i["rank"], 3)) for i in work["items"]] == [
        ("task", "D 株式会社", 3.0), ("task", "B 株式会社", round((2 - 4 / 7) * 1.4, 3)),
        ("signal", "A 株式会社", 1.4), ("signal", "E 株式会社", 0.275)]  # fmt: skip
    bad = run_cli(capsys, "tasks", "snooze", str(book["T3"]), "--until", "2026-11-20")
    assert bad.code == 1
    assert "snooze until a day from 2026-11-21 to 2027-11-20" in bad.err
    bad_date = run_cli(capsys, "tasks", "add", "x", "--due", "next week")
    assert (bad_date.code, "--due must be a date like 2026-12-31" in bad_date.err) == (1, True)
    nobody = run_cli(capsys, "tasks", "list", "--user", "nobody@kizuna.example")
    assert nobody.code == 1


def test_the_home_page_is_personal(web: TestClient, book: dict[str, int]) -> None:
    sign_in(web, "u@kizuna.example")
    page = web.get("/").text
    assert re.search(r'data-testid="my-at-risk">3<', page)  # A, C and E
    assert re.search(r'data-testid="my-renewals">1<', page)  # B; F renews monthly
    assert re.findall(r'data-testid="my-item"><strong>([^<]*)</strong>', page) == [
        "Call about the red score", "B 株式会社", "E 株式会社"]  # fmt: skip
    assert f'href="/accounts?risk=yes&amp;owner={book["u"]}"' in page


# --- the weekly digest ---------------------------------------------------------------------------------


def test_the_weekly_digest_mails_each_csm_their_worklist_once_a_week(
    sqlite_app: FastAPI, book: dict[str, int], smtp: tuple[Inbox, int]
) -> None:
    from kizuna.jobs.outbox import deliver

    inbox, port = smtp
    sql(sqlite_app, "UPDATE users SET locale = 'en' WHERE id = :id", id=book["v"])
    settings = Settings(database_url=str(sqlite_app.state.kizuna.settings.database_url), smtp_host="127.0.0.1",
                        smtp_port=port, digest_day="friday", base_url="https://kizuna.example.co.jp/")  # fmt: skip
    context = settings.run_context()
    engine = sqlite_app.state.kizuna.engine
    with sqlite_app.state.kizuna.unit_of_work() as session:
        assert worklist.weekly_digests(session, TODAY - timedelta(days=1), context) == 0  # Thursday: not the day
        assert worklist.weekly_digests(session, TODAY, context) == 2  # U and V; the lead has nothing to do
        assert worklist.weekly_digests(session, TODAY, context) == 0  # the same week: nothing twice
    assert deliver(engine, context).sent == 2
    mails = {to[0]: message for to, message in inbox.messages}
    assert set(mails) == {"u@kizuna.example", "v@kizuna.example"}
    ja = mails["u@kizuna.example"]
    assert ja["Subject"] == "Kizuna: 今週の今日の仕事は 3 件です"
    body = ja.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "1. Call about the red score — A 株式会社\n   期限を 3 日超過 · ヘルス 40（危険） · 要注意" in body
    assert "https://kizuna.example.co.jp/worklist" in body
    en = mails["v@kizuna.example"].get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "1. V's task — D 株式会社\n   due today · health 30 (red) · at risk" in en
    html = mails["v@kizuna.example"].get_body(("html",)).get_content()
    assert "V&#39;s task" in html
    assert '<a href="https://kizuna.example.co.jp/worklist">' in html
