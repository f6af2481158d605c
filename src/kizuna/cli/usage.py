"""``kizuna usage rebuild``: recompute daily usage rollups from the raw events."""

from __future__ import annotations

import typer

from kizuna.cli.context import console, load_settings, open_store
from kizuna.cli.pipeline import parse_as_of
from kizuna.db import session_scope
from kizuna.errors import NotFound
from kizuna.i18n import _
from kizuna.services import usage

app = typer.Typer(help="Product usage: daily rollups (account × day × metric).", no_args_is_help=True)


@app.command("rebuild")
def rebuild(
    account: str | None = typer.Option(None, "--account", help="Only this account (its external_id)."),
    since: str | None = typer.Option(None, "--since", help="Only days from this one on (e.g. 2026-01-01)."),
) -> None:
    """Recompute the rollups of every account-day that has raw events, from those events.

    Gives exactly what ingestion computed incrementally. Days without raw events (history
    loaded as rollups) are left as they are. Uses KIZUNA_TIMEZONE for days and
    KIZUNA_USAGE_MAPPING for which events count as what.
    """
    settings = load_settings()
    first = parse_as_of(since) if since else None
    engine = open_store(settings)
    with session_scope(engine) as session:
        account_ids = None
        if account is not None:
            from kizuna.db import ingest as q

            found = q.account_ids(session, [account])
            if account not in found:
                raise NotFound(_("no account with external_id {key!r}").format(key=account), field="account")
            account_ids = [found[account]]
        result = usage.rebuild(session, settings.run_context().rollup, account_ids=account_ids, since=first)
    console.print(
        _("Rebuilt {days} account-days from {events} events ({rows} rollup rows).").format(
            days=f"{result.account_days:,}", events=f"{result.events:,}", rows=f"{result.rows:,}"
        )
    )
