"""``kizuna db``: the store's schema."""

from __future__ import annotations

import typer

from kizuna.cli.context import console, load_settings
from kizuna.db import make_engine
from kizuna.db.schema import current_revision, head_revision, upgrade
from kizuna.i18n import _

app = typer.Typer(help="The database: apply migrations, show the schema version.", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade() -> None:
    """Apply every pending migration to the configured store."""
    settings = load_settings()
    engine = make_engine(settings.database_url)
    before = current_revision(engine)
    upgrade(engine)
    after = current_revision(engine)
    url = engine.url.render_as_string(hide_password=True)
    if before == after:
        console.print(_("{url}: already up to date (revision {rev}).").format(url=url, rev=after))
    else:
        console.print(_("{url}: upgraded from {before} to {after}.").format(url=url, before=before or "-", after=after))


@app.command("current")
def db_current() -> None:
    """Show the store's schema revision and the newest one this Kizuna knows."""
    settings = load_settings()
    engine = make_engine(settings.database_url)
    console.print(_("current: {cur}  head: {head}").format(cur=current_revision(engine) or "-", head=head_revision()))
