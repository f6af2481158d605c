"""``kizuna kb …``: the knowledge base — import a folder of Markdown articles, search them."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from kizuna.cli.context import console, load_settings, open_store
from kizuna.db import session_scope
from kizuna.i18n import _
from kizuna.services import kb

app = typer.Typer(help="Knowledge base: import Markdown articles, search them.", no_args_is_help=True)


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
