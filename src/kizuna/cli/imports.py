"""``kizuna import ENTITY FILE`` and ``kizuna import all FOLDER``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table

from kizuna.cli.context import console, err_console, load_settings, open_store, today
from kizuna.db import session_scope
from kizuna.errors import InvalidInput
from kizuna.i18n import _
from kizuna.services.imports import ENTITIES, ImportSummary, ParseContext, import_file
from kizuna.services.imports.finish import after_import

_PROGRESS_FROM_BYTES = 1 << 20
_ENTITY_NAMES = ", ".join(name.replace("_", "-") for name in ENTITIES)


def import_entity(
    entity: str = typer.Argument(
        ...,
        help=f"What the file holds: {_ENTITY_NAMES}; or 'all' with a folder.",
    ),
    path: Path = typer.Argument(
        ..., help="A CSV or JSON Lines (.jsonl) file; with 'all', a folder of <entity>.csv/.jsonl files."
    ),
    encoding: str | None = typer.Option(
        None, "--encoding", help="The file's encoding (utf-8, cp932/shift_jis). Default: detected."
    ),
    fmt: str | None = typer.Option(None, "--format", help="csv or jsonl. Default: from the file name."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check every row and report; write nothing."),
) -> None:
    """Import a file of accounts, contacts, subscriptions, usage, tickets, … — all or nothing.

    Rows are matched by their key (external_id, code, email or message_id), so running
    the same import again changes nothing. If any row is bad, every problem is listed as
    FILE:LINE: column: reason and nothing is written.
    """
    settings = load_settings()
    ctx = ParseContext(settings.zone, settings.default_currency)
    if entity.lower() == "all":
        files = _folder_files(path)
    else:
        if not path.is_file():
            raise InvalidInput(_("no such file: {path}").format(path=path), field="path")
        files = [(entity, path)]
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
                    ))  # fmt: skip
            else:
                summaries.append(import_file(session, name, file, ctx=ctx, encoding=encoding, fmt=fmt, dry_run=dry_run))
        if dry_run:
            session.rollback()
        else:
            after_import(session, [name for name, _file in files], today(settings))
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
