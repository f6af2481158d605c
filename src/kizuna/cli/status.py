"""``kizuna status``: the store, its schema version, the last daily job and the freshness
of each data feed."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.table import Table

from kizuna.cli.context import console, load_settings
from kizuna.db import make_engine, session_scope
from kizuna.domain.freshness import SOURCES
from kizuna.errors import InvalidInput
from kizuna.i18n import N_, _, gettext


def _plain(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def status(
    output: str = typer.Option("table", "--format", help=N_("Output: table or json.")),
) -> None:
    # its help: COMMANDS in kizuna.cli (a feed silent for longer than its expected gap is late: docs/health.md)
    from kizuna.services.status import status as read_status

    if output not in ("table", "json"):
        raise InvalidInput(_("--format must be one of {formats}, not {value!r}").format(formats="table, json",
                                                                                        value=output), field="format")  # fmt: skip
    settings = load_settings()
    engine = make_engine(settings.database_url)
    with session_scope(engine) as session:
        data = read_status(session)
    if output == "json":
        rows = [{k: _plain(v) for k, v in r.items()} for r in data["freshness"]]
        job = data["daily_job"]
        print(json.dumps(data | {"freshness": rows, "daily_job": None if job is None else
                                 {k: _plain(v) for k, v in job.items()}}, ensure_ascii=False, indent=2))  # fmt: skip
        return
    schema = data["schema"]
    console.print(_("Store: {url}").format(url=data["store"]))
    console.print(_("Schema: {current} (newest: {head})").format(current=schema["current"] or "-", head=schema["head"]))
    if not schema["up_to_date"]:
        console.print(_("The schema is behind: run `kizuna db upgrade`."))
    job = data["daily_job"]
    if job is None:
        console.print(_("Daily job: never run"))
    else:
        console.print(_("Daily job: {day} {status} (finished {at})").format(
            day=job["as_of"], status=job["status"], at=_plain(job["finished_at"]) or "-"))  # fmt: skip
    table = Table(title=_("Data feeds"))
    for col in (_("feed"), _("last data"), _("silent days"), _("expected gap"), _("state")):
        table.add_column(col)
    for r in data["freshness"]:
        state = _("late since {day}").format(day=r["late_since"]) if r["stale"] else (
            _("no data") if r["last_day"] is None else _("fresh"))  # fmt: skip
        if r["expected_gap_days"] is None:
            gap = _("unknown (too little history)")
        else:
            gap = str(r["expected_gap_days"]) + ("" if r["gap_is_set"] else " " + _("(from its history)"))
        table.add_row(gettext(SOURCES[r["source"]]), str(r["last_day"] or "-"), str(r["silent_days"] if r["silent_days"]
                      is not None else "-"), gap, state)  # fmt: skip
    if not data["freshness"]:
        console.print(_("Data feeds: not checked yet (the daily job checks them)."))
    else:
        console.print(table)
