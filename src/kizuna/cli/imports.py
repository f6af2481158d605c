"""``kizuna import ENTITY FILE`` and ``kizuna import all FOLDER``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table
from typer.core import TyperGroup

from kizuna.cli.context import console, err_console, load_settings, open_store, today
from kizuna.db import session_scope
from kizuna.errors import InvalidInput
from kizuna.i18n import N_, _
from kizuna.services.imports import ENTITIES, ImportSummary, ParseContext, import_file, saved, specs
from kizuna.services.imports import mapping as column_mapping
from kizuna.services.imports.finish import after_import

_PROGRESS_FROM_BYTES = 1 << 20
_ENTITY_NAMES = ", ".join(name.replace("_", "-") for name in ENTITIES)


IMPORT_HELP = "\n\n".join((
    N_("Import a file of accounts, contacts, subscriptions, usage, tickets, … — all or nothing."),
    N_("Rows are matched by their key (external_id, code, email or message_id), so running the same import again "
       "changes nothing. If any row is bad, every problem is listed as FILE:LINE: column: reason and nothing is "
       "written."),
    N_("A file whose columns are named differently (取引先名, 月額…) is read with --map MAPPING.toml; "
       "kizuna import mappings lists the mappings saved in the web app."),
    _ENTITY_NAMES,
))  # fmt: skip


def import_entity(
    entity: str = typer.Argument(
        ..., help=N_("What the file holds (one of the entities listed above), or 'all' with a folder.")
    ),
    path: Path = typer.Argument(
        ..., help=N_("A CSV or JSON Lines (.jsonl) file; with 'all', a folder of <entity>.csv/.jsonl files.")
    ),
    encoding: str | None = typer.Option(
        None, "--encoding", help=N_("The file's encoding (utf-8, cp932/shift_jis). Default: detected.")
    ),
    fmt: str | None = typer.Option(None, "--format", help=N_("csv or jsonl. Default: from the file name.")),
    dry_run: bool = typer.Option(
        False, "--dry-run", help=N_("Check every row and report the counts (new, updated, unchanged); write nothing.")
    ),
    map_file: Path | None = typer.Option(
        None, "--map", metavar="MAPPING.toml",
        help=N_("Rename the file's columns first: a mapping file as `kizuna import mappings export` writes it "
                "(e.g. 取引先名 = name)."),
    ),
) -> None:  # fmt: skip
    """Import a file of accounts, contacts, … — all or nothing (help: ``IMPORT_HELP``)."""
    settings = load_settings()
    ctx = ParseContext(settings.zone, settings.default_currency)
    if entity.lower() == "all":
        if map_file is not None:
            raise InvalidInput(_("--map applies to one file of one entity, not to 'all'"), field="map")
        files = _folder_files(path)
    else:
        if not path.is_file():
            raise InvalidInput(_("no such file: {path}").format(path=path), field="path")
        files = [(specs.entity(entity).name, path)]
    mapping = column_mapping.load(map_file, entity_name=entity) if map_file is not None else None
    engine = open_store(settings)
    summaries: list[ImportSummary] = []
    with session_scope(engine) as session:
        for name, file in files:
            size = file.stat().st_size
            if size >= _PROGRESS_FROM_BYTES and err_console.is_terminal:
                with Progress(
                    "[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                    TransferSpeedColumn(), TimeRemainingColumn(), console=err_console, transient=True,
                ) as progress:  # fmt: skip
                    task = progress.add_task(file.name, total=size)

                    def advance(n: int, task: TaskID = task, progress: Progress = progress) -> None:
                        progress.advance(task, n)

                    summaries.append(import_file(
                        session, name, file, ctx=ctx, encoding=encoding, fmt=fmt, dry_run=dry_run, on_bytes=advance,
                        mapping=mapping, keep_dry_run=True,
                    ))  # fmt: skip
            else:
                summaries.append(import_file(session, name, file, ctx=ctx, encoding=encoding, fmt=fmt, dry_run=dry_run,
                                             mapping=mapping, keep_dry_run=True))  # fmt: skip
        if dry_run:
            session.rollback()
        else:
            after_import(session, [name for name, _file in files], today(settings), settings.run_context().rollup)
    _report(summaries, dry_run)


def _folder_files(folder: Path) -> list[tuple[str, Path]]:
    if not folder.is_dir():
        raise InvalidInput(_("no such folder: {path}").format(path=folder), field="path")
    found: list[tuple[str, Path]] = []
    for name in ENTITIES:
        for suffix in (".csv", ".jsonl"):
            candidate = folder / f"{name}{suffix}"
            if candidate.is_file():
                found.append((name, candidate))
    if not found:
        raise InvalidInput(_("{path} holds none of: {names}").format(
            path=folder, names=", ".join(f"{n}.csv" for n in ENTITIES)), field="path")  # fmt: skip
    return found


def _report(summaries: list[ImportSummary], dry_run: bool) -> None:
    table = Table(title=_("Checked (dry run): nothing written") if dry_run else _("Imported"))
    table.add_column(_("file"))
    table.add_column(_("entity"))
    for heading in (_("rows"), _("new"), _("updated"), _("unchanged")):
        table.add_column(heading, justify="right")
    for s in summaries:
        table.add_row(
            Path(s.path).name, s.entity, f"{s.rows:,}", f"{s.inserted:,}", f"{s.updated:,}", f"{s.unchanged:,}"
        )
    console.print(table)


# --- kizuna import mappings list|show|export --------------------------------------------------

mappings_app = typer.Typer(help=N_("Column mappings saved in the web app's import upload."), no_args_is_help=True)


@mappings_app.command("list", help=N_("List the saved mappings: name, entity, columns, when saved."))
def list_mappings(
    entity: str | None = typer.Option(None, "--entity", help=N_("Only the mappings of this entity.")),
) -> None:
    """List the saved mappings: name, entity, columns, when saved."""
    engine = open_store(load_settings())
    with session_scope(engine) as session:
        found = saved.all_mappings(session, entity)
    if not found:
        console.print(_("No saved mappings yet: save one on the web app's import page."))
        return
    table = Table(title=_("Saved column mappings"))
    table.add_column(_("name"))
    table.add_column(_("entity"))
    table.add_column(_("columns"), justify="right")
    table.add_column(_("saved"))
    for m in found:
        table.add_row(m.name, m.entity, f"{len(m.columns):,}", m.updated_at.strftime("%Y-%m-%d %H:%M"))
    console.print(table)


@mappings_app.command("show", help=N_("Show which file column feeds which entity column."))
def show_mapping(
    name: str = typer.Argument(..., help=N_("The mapping's name (see `kizuna import mappings list`).")),
    entity: str | None = typer.Option(None, "--entity", help=N_("The entity, when two entities have a mapping of this name.")),
) -> None:
    """Show which file column feeds which entity column."""
    engine = open_store(load_settings())
    with session_scope(engine) as session:
        found = saved.named(session, name, entity)
    table = Table(title=f"{found.name} ({found.entity})")
    table.add_column(_("file column"))
    table.add_column(_("entity column"))
    for header, target in found.columns.items():
        table.add_row(header, target or _("(ignored)"))
    console.print(table)


@mappings_app.command("export", help=N_("Write a saved mapping as a TOML file for `kizuna import ENTITY FILE --map MAPPING.toml`."))
def export_mapping(
    name: str = typer.Argument(..., help=N_("The mapping's name (see `kizuna import mappings list`).")),
    entity: str | None = typer.Option(None, "--entity", help=N_("The entity, when two entities have a mapping of this name.")),
    output: Path | None = typer.Option(None, "--output", "-o", help=N_("Write to this file (default: print it).")),
) -> None:
    """Write a saved mapping as a TOML file for `kizuna import ENTITY FILE --map MAPPING.toml`."""
    engine = open_store(load_settings())
    with session_scope(engine) as session:
        found = saved.named(session, name, entity)
    text = column_mapping.dump(found.mapping)
    if output is None:
        sys.stdout.write(text)
        return
    output.write_text(text, encoding="utf-8")
    err_console.print(_("Wrote {path}").format(path=output))


class _ImportGroup(TyperGroup):
    """``kizuna import ENTITY FILE`` runs the import; ``kizuna import mappings …`` the
    saved mappings. Anything that is not a subcommand goes to the import itself, so
    ``kizuna import --help`` explains the import."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # typer's own click.Context
        if not args or args[0] not in self.commands:
            args = ["file", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(cls=_ImportGroup)  # its help: COMMANDS in kizuna.cli
app.command("file", hidden=True, help=IMPORT_HELP)(import_entity)
app.add_typer(mappings_app, name="mappings")
