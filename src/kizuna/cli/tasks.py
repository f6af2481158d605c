"""``kizuna tasks …`` and ``kizuna worklist``: calls to action from the command line — list,
add, complete, reopen, snooze, assign — and the ranked list of what to do today."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date
from typing import Any

import typer
from rich.table import Table
from rich.text import Text

from kizuna.cli.context import bounded_day, check_format, console, load_settings, open_store, today
from kizuna.db import session_scope
from kizuna.domain.enums import LABELS, TaskStatus
from kizuna.errors import InvalidInput
from kizuna.i18n import _, gettext
from kizuna.services import auth, tasks, worklist
from kizuna.services.accounts import find_account

app = typer.Typer(no_args_is_help=True)  # its help, and worklist's: COMMANDS in kizuna.cli

FORMATS = ("table", "json")


def _format(value: str) -> str:
    return check_format(value, FORMATS)


def _day(value: str | None, option: str) -> date | None:
    if value is None or not value.strip():
        return None
    try:
        return bounded_day(date.fromisoformat(value.strip()))
    except ValueError:
        raise InvalidInput(
            _("{option} must be a date like 2026-12-31, not {value!r}").format(option=option, value=value[:40]),
            field=option.lstrip("-"),
        ) from None


def _label(value: Any) -> str:
    key = str(getattr(value, "value", value))
    return gettext(LABELS[key]) if key in LABELS else key


def _user_id(session: Any, email: str | None) -> int | None:
    return auth.get_user_by_email(session, email).id if email else None


def _json(value: Any) -> None:
    print(json.dumps(value, default=str, ensure_ascii=False, indent=2))


def _task_json(task: tasks.TaskView) -> dict[str, Any]:
    return {k: (v.value if hasattr(v, "value") else v) for k, v in asdict(task).items()}


@app.command("list")
def list_tasks(
    user: str | None = typer.Option(None, "--user", metavar="EMAIL", help="Only tasks assigned to this user."),
    account: str | None = typer.Option(None, "--account", help="Only tasks on this account (external id, id or name)."),
    status: str = typer.Option("open", "--status", help="open, done, canceled or all."),
    overdue: bool = typer.Option(False, "--overdue", help="Only open tasks past their due date."),
    limit: int = typer.Option(50, "--limit", min=1, max=200, help="How many to show."),
    output: str = typer.Option("table", "--format", help="table or json."),
) -> None:  # fmt: skip
    """Tasks by due date (undated last)."""
    _format(output)
    settings = load_settings()
    day = today(settings)
    try:
        state = None if status == "all" else TaskStatus(status)
    except ValueError:
        raise InvalidInput(_("--status must be one of open, done, canceled, all"), field="status") from None
    with session_scope(open_store(settings)) as session:
        filters = tasks.TaskFilters(assignee_id=_user_id(session, user),
                                    account_id=find_account(session, account) if account else None,
                                    status=state, overdue=overdue, per_page=limit)  # fmt: skip
        found = tasks.list_tasks(session, filters, today=day)
    if output == "json":
        _json({"total": found.total, "items": [_task_json(t) for t in found.items]})
        return
    table = Table()
    for column in (_("id"), _("due"), _("task"), _("kind"), _("account"), _("assignee"), _("status")):
        table.add_column(column)
    for t in found.items:
        late = t.overdue_days(day)
        due = (t.due_on.isoformat() if t.due_on else "—") + (f" (+{late})" if late else "")
        table.add_row(str(t.id), due, Text(t.title), _label(t.kind), Text(t.account_name or "—"),
                      Text(t.assignee_name or "—"), _label(t.status))  # fmt: skip
    console.print(table)
    console.print(_("{n} of {total} tasks").format(n=len(found.items), total=found.total), markup=False)


@app.command("add")
def add(
    title: str = typer.Argument(..., help="What to do."),
    account: str | None = typer.Option(None, "--account", help="The account (external id, id or name)."),
    due: str | None = typer.Option(None, "--due", metavar="YYYY-MM-DD", help="The due date."),
    kind: str = typer.Option("other", "--kind", help="call, meeting, email, review, renewal_prep or other."),
    priority: str = typer.Option("normal", "--priority", help="low, normal or high."),
    assignee: str | None = typer.Option(None, "--assignee", metavar="EMAIL", help="Default: the account's owner."),
    notes: str | None = typer.Option(None, "--notes", help="Notes for whoever does it."),
) -> None:  # fmt: skip
    """Add a task."""
    settings = load_settings()
    with session_scope(open_store(settings)) as session:
        task = tasks.create_task(session, today=today(settings), title=title,
                                 account_id=find_account(session, account) if account else None,
                                 due_on=_day(due, "--due"), kind=kind, priority=priority,
                                 assignee_id=_user_id(session, assignee), description=notes)  # fmt: skip
    console.print(_("Task {id} added: {title}").format(id=task.id, title=task.title), markup=False)


@app.command("done")
def done(task_ids: list[int] = typer.Argument(..., min=1, max=2**31 - 1, help="Task ids.")) -> None:
    """Mark tasks done."""
    settings = load_settings()
    with session_scope(open_store(settings)) as session:
        changed = tasks.complete(session, task_ids)
    console.print(_("{n} tasks marked done").format(n=changed), markup=False)


@app.command("reopen")
def reopen(task_ids: list[int] = typer.Argument(..., min=1, max=2**31 - 1, help="Task ids.")) -> None:
    """Open done or canceled tasks again."""
    settings = load_settings()
    with session_scope(open_store(settings)) as session:
        changed = tasks.reopen(session, task_ids)
    console.print(_("{n} tasks opened again").format(n=changed), markup=False)


@app.command("snooze")
def snooze(
    task_ids: list[int] = typer.Argument(..., min=1, max=2**31 - 1, help="Task ids."),
    until: str = typer.Option(..., "--until", metavar="YYYY-MM-DD", help="Back on the worklist on this day."),
) -> None:  # fmt: skip
    """Hide tasks from the worklist until a day (they stay open)."""
    settings = load_settings()
    day = _day(until, "--until")
    assert day is not None
    with session_scope(open_store(settings)) as session:
        changed = tasks.snooze(session, task_ids, day, today=today(settings))
    console.print(_("{n} tasks snoozed until {date}").format(n=changed, date=day.isoformat()), markup=False)


@app.command("assign")
def assign(
    task_id: int = typer.Argument(..., min=1, max=2**31 - 1, help="Task id."),
    user: str = typer.Argument(..., metavar="EMAIL", help="The user who will do it."),
) -> None:  # fmt: skip
    """Give a task to somebody else."""
    settings = load_settings()
    with session_scope(open_store(settings)) as session:
        task = tasks.update_task(session, task_id, {"assignee_id": _user_id(session, user)}, today=today(settings))
    console.print(_("Task {id} is now assigned to {name}").format(id=task.id, name=task.assignee_name),
                  markup=False)  # fmt: skip


def worklist_command(
    user: str | None = typer.Option(None, "--user", metavar="EMAIL", help="Whose list (default: the whole team)."),
    limit: int = typer.Option(30, "--limit", min=1, max=worklist.MAX_ITEMS, help="How many items."),
    output: str = typer.Option("table", "--format", help="table or json."),
) -> None:  # fmt: skip
    _format(output)
    settings = load_settings()
    day = today(settings)
    with session_scope(open_store(settings)) as session:
        work = worklist.worklist(session, _user_id(session, user), today=day, limit=limit)
    if output == "json":
        _json({"as_of": work.as_of, "total": work.total, "overdue": work.overdue, "due_today": work.due_today,
               "signals": work.signals, "items": [
                   {**{k: v for k, v in asdict(i).items() if k != "task"}, "signals": list(i.signals),
                    "task": _task_json(i.task) if i.task else None} for i in work.items]})  # fmt: skip
        return
    table = Table()
    for column in ("#", _("what"), _("account"), _("why"), _("rank")):
        table.add_column(column)
    for n, item in enumerate(work.items, 1):
        what = f"[{item.task.id}] {item.task.title}" if item.task else ", ".join(_label(s) for s in item.signals)
        table.add_row(str(n), Text(what), Text(item.account_name or "—"), Text(item.reason), f"{item.rank:.2f}")
    console.print(table)
    console.print(_("{n} of {total} items · {overdue} overdue · {today} due today").format(
        n=len(work.items), total=work.total, overdue=work.overdue, today=work.due_today), markup=False)  # fmt: skip
