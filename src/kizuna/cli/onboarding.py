"""``kizuna onboarding …``: onboarding templates from TOML, the list of them, and applying
a plan to accounts by hand (the daily job's playbook step ``onboarding_plan`` does it for
new accounts)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import typer
from rich.table import Table

from kizuna.cli.context import bounded_day, check_format, console, load_settings, open_store, today
from kizuna.db import session_scope
from kizuna.domain.onboarding import BY_TIER
from kizuna.errors import InvalidInput
from kizuna.i18n import _
from kizuna.services import onboarding
from kizuna.services.accounts import find_account

app = typer.Typer(no_args_is_help=True)  # its help: COMMANDS in kizuna.cli


@app.command("import")
def import_templates(path: Path = typer.Argument(..., metavar="FILE", help="A TOML file of [templates.<key>] tables.")) -> None:
    """Check every template of the file and save them all (or none, naming the bad field)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(_("cannot read {file}: {why}").format(file=path.name, why=type(exc).__name__),
                           field="file") from None  # fmt: skip
    with session_scope(open_store(load_settings())) as session:
        saved = onboarding.import_toml(session, text, path.name)
    for t in saved:
        console.print(f"{t.key}: {t.name} ({len(t.milestones)})")


@app.command("list")
def list_templates(output: str = typer.Option("table", "--format", help="table or json.")) -> None:
    """The onboarding templates in the store."""
    check_format(output)
    with session_scope(open_store(load_settings())) as session:
        found = onboarding.list_templates(session)
    if output == "json":
        print(json.dumps([{"key": t.key, **t.as_table()} for t in found], ensure_ascii=False, indent=2))
        return
    table = Table()
    for column in (_("key"), _("name"), _("tier"), _("milestones")):
        table.add_column(column)
    for t in found:
        table.add_row(t.key, t.name, t.tier or "", ", ".join(f"+{m.offset_days} {m.name}" for m in t.milestones))
    console.print(table)


@app.command("apply")
def apply(
    accounts: list[str] = typer.Argument(..., metavar="ACCOUNT…", help="Accounts: external id, id or name."),
    template: str = typer.Option(BY_TIER, "--template", help="A template key, or by_tier (the account's tier's)."),
    start: str | None = typer.Option(None, "--start", metavar="YYYY-MM-DD", help="The plan's first day (default: today)."),
) -> None:  # fmt: skip
    """Apply an onboarding plan; open template milestones of the account are replaced."""
    settings = load_settings()
    try:
        day = bounded_day(date.fromisoformat(start), "--start") if start else today(settings)
    except ValueError:
        raise InvalidInput(_("{field} must be a date like 2026-12-31").format(field="--start"), field="start") from None
    with session_scope(open_store(settings)) as session:
        ids = [find_account(session, key) for key in accounts]
        applied = onboarding.apply(session, ids, template, start=day, replace=True)
    console.print(_("{n} accounts got an onboarding plan").format(n=len(applied)))
