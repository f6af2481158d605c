"""``kizuna export FOLDER``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from kizuna.cli.context import console, load_settings, open_store
from kizuna.db import session_scope
from kizuna.i18n import N_, _
from kizuna.services.exports import export_csv


def export_all(
    folder: Path = typer.Argument(..., help=N_("Where to write <entity>.csv files (created if missing).")),
    bom: bool = typer.Option(False, "--bom", help=N_("Write a UTF-8 byte-order mark (for Excel).")),
    raw: bool = typer.Option(
        False, "--raw", help=N_("Write text starting with = + - @ as it is (by default it gets a leading ' for Excel).")
    ),
) -> None:
    """Write every table as CSV files that `kizuna import all FOLDER` reads back unchanged.

    Text a spreadsheet would run as a formula (=, +, -, @, a leading tab) is written with
    a leading ' so that Excel shows it as text; `kizuna import` drops the ' again.
    """
    engine = open_store(load_settings())
    with session_scope(engine) as session:
        counts = export_csv(session, folder, bom=bom, raw=raw)
    show_export(folder, counts)


def show_export(folder: Path, counts: dict[str, int]) -> None:
    table = Table(title=_("Exported to {folder}").format(folder=folder))
    table.add_column(_("file"))
    table.add_column(_("rows"), justify="right")
    for name, n in counts.items():
        table.add_row(f"{name}.csv", f"{n:,}")
    console.print(table)
