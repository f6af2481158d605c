"""``kizuna db``: the store's schema."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from kizuna.cli.context import console, err_console, load_settings, open_store
from kizuna.db import make_engine, session_scope
from kizuna.db.backup import backup, restore
from kizuna.db.maintenance import dates_out_of_range
from kizuna.db.schema import current_revision, head_revision, upgrade
from kizuna.domain.dates import MAX_DATE, MIN_DATE
from kizuna.i18n import N_, _

app = typer.Typer(no_args_is_help=True)  # its help, and backup's and restore's: COMMANDS in kizuna.cli


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


@app.command("check")
def db_check() -> None:
    """List stored dates and timestamps outside 1900-01-01 … 2200-12-31 (exit 1 if any).

    Such rows predate the range check (or were written by hand); pages and the daily
    pipeline read them as the range's first or last day. Correct them, then run again.
    """
    settings = load_settings()
    engine = open_store(settings)
    with session_scope(engine) as session:
        found = dates_out_of_range(session)
    if not found:
        console.print(
            _("No stored date is outside {first} … {last}.").format(
                first=MIN_DATE.isoformat(), last=MAX_DATE.isoformat()
            )
        )
        return
    table = Table(title=_("Stored dates outside {first} … {last}").format(first=MIN_DATE.isoformat(),
                                                                           last=MAX_DATE.isoformat()))  # fmt: skip
    for heading in (_("table"), _("id"), _("column"), _("value")):
        table.add_column(heading)
    for row in found:
        table.add_row(row.table, row.id, row.column, row.value)
    console.print(table)
    err_console.print(_("{n} stored values are outside the accepted range.").format(n=f"{len(found):,}"))
    raise typer.Exit(1)


def backup_store(
    file: Path = typer.Argument(..., help="The backup file to write (replaced if it exists)."),
) -> None:
    settings = load_settings()
    engine = open_store(settings)
    info = backup(engine, file)
    rows = sum(n for name, n in info.tables.items() if name != "alembic_version")
    console.print(_("Backed up to {path} (schema revision {rev}, {rows} rows).").format(
        path=info.path, rev=info.revision or "-", rows=f"{rows:,}"))  # fmt: skip


#: The help after restore's summary (the summary: COMMANDS in kizuna.cli).
RESTORE_MORE_HELP = N_("Refuses a store that already holds data unless --force is given.")


def restore_store(
    file: Path = typer.Argument(..., help="A file written by `kizuna backup`."),
    force: bool = typer.Option(False, "--force", help="Replace a store that already holds data."),
) -> None:
    settings = load_settings()
    engine = open_store(settings)
    info = restore(engine, file, force=force)
    console.print(_("Restored {path} (taken {taken}, schema revision {rev}); the schema is now at {head}.").format(
        path=file, taken=info.taken_at.isoformat(timespec="seconds"), rev=info.revision or "-",
        head=current_revision(engine) or "-"))  # fmt: skip
