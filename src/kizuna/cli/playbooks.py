"""``kizuna playbooks …``: load playbooks from TOML (or the default library), list them,
and preview what one would do today (a dry run). The daily job runs them (step
``playbooks``); ``kizuna jobs run daily --step playbooks`` runs that step now."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from kizuna.cli.context import bounded_day, check_format, console, load_settings, open_store, today
from kizuna.db import session_scope
from kizuna.errors import InvalidInput
from kizuna.i18n import _
from kizuna.services import playbooks

app = typer.Typer(no_args_is_help=True)  # its help: COMMANDS in kizuna.cli

LIBRARY = playbooks.DEFAULT_LIBRARY


@app.command("load")
def load(
    path: Path | None = typer.Argument(None, metavar="FILE", help="A TOML file of [playbooks.<key>] tables."),
    defaults: bool = typer.Option(False, "--defaults", help="The default library: one playbook per lifecycle stage × touch tier."),
) -> None:  # fmt: skip
    """Check every playbook of the file and save each one that changed as its next version."""
    if (path is None) == (not defaults):
        raise InvalidInput(_("give a FILE or --defaults (one of the two)"), field="file")
    source = LIBRARY if defaults else path
    assert source is not None
    try:
        text = source.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(_("cannot read {file}: {why}").format(file=source.name, why=type(exc).__name__),
                           field="file") from None  # fmt: skip
    settings = load_settings()
    with session_scope(open_store(settings)) as session:
        saved = playbooks.save(session, text, source.name)
    for s in saved:
        line = (_("{key}: saved as version {n}") if s.changed else _("{key}: unchanged (version {n})")).format(
            key=s.key, n=s.version)  # fmt: skip
        console.print(line, markup=False)


@app.command("list")
def list_playbooks(output: str = typer.Option("table", "--format", help="table or json.")) -> None:
    """The playbooks in the store (their newest versions)."""
    check_format(output)
    settings = load_settings()
    with session_scope(open_store(settings)) as session:
        books = playbooks.current(session)
    if output == "json":
        print(json.dumps([{"key": b.key, "version": n, "name": b.name, "enabled": b.enabled,
                           "trigger": {"kind": b.trigger.kind, **b.trigger.params},
                           "filters": {k: list(v) for k, v in b.filters.items()}, "steps": len(b.steps),
                           "holdout": b.holdout, "cooldown_days": b.cooldown_days} for n, b in books],
                         ensure_ascii=False, indent=2))  # fmt: skip
        return
    table = Table()
    for column in (_("key"), _("version"), _("name"), _("trigger"), _("steps"), _("holdout")):
        table.add_column(column)
    for n, b in books:
        table.add_row(b.key, str(n), Text(b.name), b.trigger.kind, str(len(b.steps)), f"{b.holdout:.0%}")
    console.print(table)


@app.command("preview")
def preview(
    key: str = typer.Argument(..., help="The playbook's key."),
    as_of: str | None = typer.Option(None, "--as-of", metavar="YYYY-MM-DD", help="The day (default: today)."),
    output: str = typer.Option("table", "--format", help="table or json."),
) -> None:  # fmt: skip
    """Which accounts would enter today and what each step would do (nothing is written)."""
    check_format(output)
    settings = load_settings()
    from datetime import date

    try:
        day = bounded_day(date.fromisoformat(as_of)) if as_of else today(settings)
    except ValueError:
        raise InvalidInput(_("--as-of must be a date like 2025-03-31, not {value!r}").format(value=as_of),
                           field="as_of") from None  # fmt: skip
    with session_scope(open_store(settings)) as session:
        result = playbooks.preview(session, key, day)
    if output == "json":
        print(json.dumps(asdict(result), ensure_ascii=False, indent=2, default=str))
        return
    console.print(_("{name} (version {n}): {match} accounts meet the trigger, {active} already in, {enter} would "
                    "enter, {held} held out").format(name=result.name, n=result.version, match=result.matching,
                                                     active=result.already_in, enter=len(result.entering),
                                                     held=len(result.held_out)), markup=False)  # fmt: skip
    table = Table()
    table.add_column(_("account"))
    table.add_column(_("what would happen"))
    for _id, name, steps in result.entering:
        table.add_row(Text(name), Text("\n".join(steps)))
    console.print(table)


@app.command("effect")
def effect(
    key: str = typer.Argument(..., help="The playbook's key."),
    horizon: int = typer.Option(90, "--horizon-days", min=7, max=730, help="Churn counted within this many days."),
    as_of: str | None = typer.Option(None, "--as-of", metavar="YYYY-MM-DD", help="The day (default: today)."),
    output: str = typer.Option("table", "--format", help="table or json."),
) -> None:  # fmt: skip
    """Does it work? Treated vs holdout: churn within the horizon and the health change after
    30 days, with sample sizes, the difference and its 95 % interval."""
    check_format(output)
    settings = load_settings()
    from datetime import date

    try:
        day = bounded_day(date.fromisoformat(as_of)) if as_of else today(settings)
    except ValueError:
        raise InvalidInput(_("--as-of must be a date like 2025-03-31, not {value!r}").format(value=as_of),
                           field="as_of") from None  # fmt: skip
    with session_scope(open_store(settings)) as session:
        result = playbooks.effect(session, key, day, horizon_days=horizon)
    if output == "json":
        print(json.dumps(asdict(result), ensure_ascii=False, indent=2, default=str))
        return
    table = Table()
    for column in (_("outcome"), _("treated"), _("holdout"), _("difference"), _("95 % interval")):
        table.add_column(column)
    for c, label, fmt in ((result.churn, _("churned within {n} days").format(n=horizon), "{:.1%}"),
                          (result.health_change, _("health change after 30 days"), "{:+.1f}"),
                          (result.renewal, _("renewed (terms ending within the horizon)"), "{:.1%}"),
                          (result.expansion, _("paying more at the horizon's end"), "{:.1%}")):  # fmt: skip
        def show(value: float | None, fmt: str = fmt) -> str:
            return "—" if value is None else fmt.format(value)

        interval = f"{show(c.low)} … {show(c.high)}" if c.low is not None else "—"
        if not c.enough:
            interval += " " + _("(not enough data yet)")
        table.add_row(label, f"{show(c.treated)} (n={c.treated_n})", f"{show(c.holdout)} (n={c.holdout_n})",
                      show(c.difference), interval)  # fmt: skip
    console.print(table)
