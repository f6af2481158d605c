"""``kizuna surveys …``: survey programmes (NPS, CSAT, CES) — create, list, and send one by
hand to a segment's contacts (the fatigue rule and unsubscribes honoured)."""

from __future__ import annotations

import json
from dataclasses import asdict

import typer
from rich.table import Table
from rich.text import Text

from kizuna.cli.context import check_format, console, load_settings, open_store
from kizuna.db import session_scope
from kizuna.i18n import _
from kizuna.services import surveys

app = typer.Typer(no_args_is_help=True)  # its help: COMMANDS in kizuna.cli


@app.command("create")
def create(
    key: str = typer.Argument(..., help="The programme's key (lower-case letters, digits, - or _)."),
    name: str = typer.Option(..., "--name", help="The programme's name."),
    kind: str = typer.Option("nps", "--kind", help="nps, csat or ces."),
    question_ja: str | None = typer.Option(None, "--question-ja", help="The question in Japanese (default: the standard one)."),
    question_en: str | None = typer.Option(None, "--question-en", help="The question in English (default: the standard one)."),
) -> None:  # fmt: skip
    """Create a survey programme."""
    settings = load_settings()
    with session_scope(open_store(settings)) as session:
        made = surveys.create_programme(session, key=key, name=name, kind=kind, question_ja=question_ja,
                                        question_en=question_en)  # fmt: skip
    console.print(_("Survey {key} created ({kind})").format(key=made.key, kind=made.kind), markup=False)


@app.command("list")
def list_programmes(output: str = typer.Option("table", "--format", help="table or json.")) -> None:
    """The survey programmes."""
    check_format(output, ("table", "json"))
    settings = load_settings()
    with session_scope(open_store(settings)) as session:
        found = surveys.programmes(session)
    if output == "json":
        print(json.dumps([asdict(p) for p in found], ensure_ascii=False, indent=2))
        return
    table = Table()
    for column in (_("key"), _("name"), _("kind")):
        table.add_column(column)
    for p in found:
        table.add_row(p.key, Text(p.name), p.kind)
    console.print(table)


@app.command("send")
def send(
    key: str = typer.Argument(..., help="The programme's key."),
    tier: list[str] = typer.Option([], "--tier", help="Only accounts of this touch tier (high, low, tech); repeat for more."),
    stage: list[str] = typer.Option([], "--stage", help="Only accounts in this lifecycle stage; repeat for more."),
    all_contacts: bool = typer.Option(False, "--all-contacts", help="Every contact with an address, not only champions."),
) -> None:  # fmt: skip
    """Send a survey by hand to the contacts of a segment (through the outbox)."""
    settings = load_settings()
    with session_scope(open_store(settings)) as session:
        done = surveys.send_to_segment(session, settings.run_context(), key, tiers=tier, stages=stage,
                                       champions_only=not all_contacts, sent_by="cli")  # fmt: skip
    console.print(_("Sent to {sent} contacts; {skipped} skipped (unsubscribed, or asked recently).").format(
        sent=done.sent, skipped=done.skipped), markup=False)  # fmt: skip
