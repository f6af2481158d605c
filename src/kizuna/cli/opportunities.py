"""``kizuna opportunities …``: upsell and cross-sell opportunities (``list``) and how well
the recommender names what customers buy next (``evaluate``). Issue 16; see
docs/opportunities.md."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date
from typing import Any

import typer
from rich.table import Table

from kizuna.cli import context as cli_context
from kizuna.cli.context import console, load_settings
from kizuna.cli.kpis import parse_day
from kizuna.i18n import _

app = typer.Typer(no_args_is_help=True)  # its help: COMMANDS in kizuna.cli

COLUMNS = ("id", "account_id", "account_external_id", "account_name", "type", "product_code", "product_name",
           "signal", "reason", "value", "currency", "status", "suppressed_reason", "suppressed_because",
           "owner_name", "detected_on", "last_seen_on", "closed_on", "close_reason", "won_mrr")  # fmt: skip


def _cell(value: Any) -> Any:
    return value.isoformat() if isinstance(value, date) else value


@app.command("list")
def list_command(
    output: str = typer.Option("table", "--format", help="Output: table, csv or json."),
    kind: str | None = typer.Option(None, "--type", help="Only this type: upsell or cross_sell."),
    status: str | None = typer.Option(None, "--status", help="Only this status: open, suppressed, won, lost or dismissed."),
    run: bool = typer.Option(False, "--run", help="Run the daily job's opportunities step first, as of --as-of."),
    as_of: str | None = typer.Option(None, "--as-of", metavar="YYYY-MM-DD", help="With --run: the day (default: today)."),
    limit: int = typer.Option(50, "--limit", min=1, help="Table output: how many to show (csv and json: all)."),
) -> None:  # fmt: skip
    """The opportunities, the largest MRR uplift first: account, type, product proposed,
    reason, value, status, and why a suppressed one is held back (health red, NPS
    detractor, open escalation)."""
    import csv
    import sys

    from kizuna.db import session_scope
    from kizuna.services import opportunities

    cli_context.check_format(output, ("table", "csv", "json"))
    opportunities.check_filters(kind, status)
    settings = load_settings()
    engine = cli_context.open_store(settings)
    with session_scope(engine) as session:
        if run:
            opportunities.run_step(session, parse_day(as_of, settings))
        views = opportunities.list_opportunities(session, type=kind, status=status)
    rows = [{c: _cell(getattr(v, c)) for c in COLUMNS} for v in views]
    if output == "json":
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if output == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=list(COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return
    if not views:
        console.print(
            _("No opportunities: run the daily job (kizuna jobs run daily) or kizuna opportunities list --run.")
        )
        return
    table = Table(title=_("Opportunities"))
    for label in (_("account"), _("type"), _("product"), _("MRR uplift"), _("status"), _("reason")):
        table.add_column(label, justify="right" if label == _("MRR uplift") else "left")
    for v in views[:limit]:
        status_text = opportunities.label(v.status)
        if v.suppressed_because:
            status_text += f" ({v.suppressed_because})"
        table.add_row(v.account_name, opportunities.label(v.type), v.product_name,
                      "—" if v.value is None else f"{v.value:,} {v.currency or ''}", status_text, v.reason)  # fmt: skip
    console.print(table)


@app.command("evaluate")
def evaluate_command(
    output: str = typer.Option("table", "--format", help="Output: table or json."),
    as_of: str | None = typer.Option(None, "--as-of", metavar="YYYY-MM-DD", help="The day of the holdings (default: today)."),
    generated: int = typer.Option(0, "--generated", min=0, help="Also evaluate on a generated company of this many accounts whose co-holding has structure (0: no)."),
    k: int = typer.Option(3, "--k", min=1, max=20, help="How many recommendations count."),
) -> None:  # fmt: skip
    """Hide each account's latest purchase, recommend from what is left, and report
    precision@k and recall@k of the item-item co-occurrence (cosine) recommender against
    a most-popular baseline."""
    from kizuna.analytics import recommend
    from kizuna.db import session_scope
    from kizuna.services import opportunities

    cli_context.check_format(output, ("table", "json"))
    settings = load_settings()
    day = parse_day(as_of, settings)
    engine = cli_context.open_store(settings)
    with session_scope(engine) as session:
        results = {"store": opportunities.evaluate(session, day, k)}
    if generated:
        holdings, latest = recommend.structured_holdings(accounts=generated)
        results["generated"] = recommend.evaluate(holdings, latest, k)
    if output == "json":
        print(json.dumps({name: {**asdict(ev), "lift": ev.lift} for name, ev in results.items()}, indent=2))
        return
    names = {"store": _("this store"), "generated": _("generated (structured)")}
    table = Table(title=_("Recommendations: the latest purchase hidden (k = {k})").format(k=k))
    for label in (_("data"), _("accounts"), _("products"), _("method"), _("precision@k"), _("recall@k")):
        table.add_column(label)
    for name, ev in results.items():
        for r in (ev.cooccurrence, ev.popularity):
            method = _("co-occurrence (cosine)") if r.method == "cooccurrence" else _("most popular")
            table.add_row(names[name], str(ev.accounts), str(ev.products), method, f"{r.precision:.3f}",
                          f"{r.recall:.3f}")  # fmt: skip
    console.print(table)
