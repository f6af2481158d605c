"""``kizuna kb …``: the knowledge base — import a folder of Markdown articles, search them."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from kizuna.cli.context import check_format, console, load_settings, open_store
from kizuna.cli.kpis import parse_day
from kizuna.db import session_scope
from kizuna.i18n import _
from kizuna.services import kb

app = typer.Typer(no_args_is_help=True)  # its help: COMMANDS in kizuna.cli


@app.command("import")
def import_articles(folder: Path = typer.Argument(..., help="A folder of .md files with front matter (title, category, language, slug).")) -> None:  # fmt: skip
    """Import every article of a folder: all or nothing; an article with a known slug is replaced."""
    settings = load_settings()
    with session_scope(open_store(settings)) as session:
        done = kb.import_folder(session, folder)
    console.print(_("{created} articles added, {updated} replaced").format(created=done.created, updated=done.updated),
                  markup=False)  # fmt: skip


@app.command("search")
def search(text: str = typer.Argument(..., help="Words to find (two-character Japanese words work).")) -> None:
    """Articles whose title or text holds the words."""
    settings = load_settings()
    with session_scope(open_store(settings)) as session:
        found = kb.search(session, text)
    table = Table()
    for column in (_("slug"), _("title"), _("category"), _("language")):
        table.add_column(column)
    for a in found:
        table.add_row(a.slug, Text(a.title), Text(a.category), a.language)
    console.print(table)


@app.command("stats")
def stats(output: str = typer.Option("table", "--format", help="table or json.")) -> None:
    """Per article: the links sent by playbooks, their views and readers."""
    check_format(output, ("table", "json"))
    settings = load_settings()
    with session_scope(open_store(settings)) as session:
        rows = kb.stats(session)
    if output == "json":
        print(json.dumps([asdict(r) for r in rows], ensure_ascii=False, indent=2))
        return
    table = Table()
    for column in (_("slug"), _("title"), _("Sent"), _("Views"), _("Readers")):
        table.add_column(column)
    for r in rows:
        table.add_row(r.slug, Text(r.title), str(r.sends), str(r.views), str(r.readers))
    console.print(table)


@app.command("deflection")
def deflection(
    days: str = typer.Option("30", "--days", help="Days after the send in which tickets are counted (1-365)."),
    as_of: str | None = typer.Option(None, "--as-of", metavar="YYYY-MM-DD", help="The day to report on (default: today)."),
    output: str = typer.Option("table", "--format", help="table or json."),
) -> None:  # fmt: skip
    """Tickets per active account after a playbook sent articles, against its holdout, with the 95 % interval."""
    check_format(output, ("table", "json"))
    window = kb.check_days(days)
    settings = load_settings()
    day = parse_day(as_of, settings)
    with session_scope(open_store(settings)) as session:
        found = kb.deflection(session, day, days=window)
    if output == "json":
        print(json.dumps({**asdict(found), "as_of": found.as_of.isoformat()}, ensure_ascii=False, indent=2))
        return
    console.print(_("{sent} accounts sent articles: {t} tickets; {held} held out: {h} tickets (within {days} days)")
                  .format(sent=found.sent_accounts, t=found.sent_tickets, held=found.holdout_accounts,
                          h=found.holdout_tickets, days=found.days), markup=False)  # fmt: skip
    if not found.enough:
        console.print(_("Not enough data: each group needs at least {n} accounts ({sent} sent, {held} held out).")
                      .format(n=found.minimum, sent=found.sent_accounts, held=found.holdout_accounts), markup=False)  # fmt: skip
        return
    console.print(_("Difference: {d} tickets per account (95 % CI {low} to {high}).").format(
        d=f"{found.difference:.2f}", low=f"{found.low:.2f}", high=f"{found.high:.2f}"), markup=False)  # fmt: skip
