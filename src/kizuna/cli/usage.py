"""``kizuna usage …``: product usage — rebuild the daily rollups from the raw events, and what
the tracking API received (counts, the quarantine of events waiting for their account).
``kizuna ingest …`` is the old name of the last three commands."""

from __future__ import annotations

import typer
from rich.table import Table

from kizuna.cli.context import console, load_settings, open_store
from kizuna.cli.pipeline import parse_as_of
from kizuna.db import session_scope
from kizuna.errors import InvalidInput, NotFound
from kizuna.i18n import _
from kizuna.services import usage
from kizuna.services.usage import REASONS, attach_parked, report

app = typer.Typer(no_args_is_help=True)  # the helps of both: COMMANDS in kizuna.cli
#: ``kizuna ingest …``: the old name of quarantine, attach and stats (hidden).
ingest_app = typer.Typer(no_args_is_help=True)


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
            found = usage.account_ids(session, [account])
            if account not in found:
                raise NotFound(_("no account with external_id {key!r}").format(key=account), field="account")
            account_ids = [found[account]]
        result = usage.rebuild(session, settings.run_context().rollup, account_ids=account_ids, since=first)
    console.print(
        _("Rebuilt {days} account-days from {events} events ({rows} rollup rows).").format(
            days=f"{result.account_days:,}", events=f"{result.events:,}", rows=f"{result.rows:,}"
        )
    )


@app.command("quarantine")
def quarantine(
    reason: str | None = typer.Option(
        None, "--reason", help="Only events parked for this reason: unknown_account, unknown_user or no_account."
    ),
    limit: int = typer.Option(50, "--limit", min=1, max=100_000, help="How many to list (oldest first)."),
) -> None:
    """List events kept until their account or user exists (never dropped).

    They are attached by themselves when the account appears (a group call,
    kizuna import accounts, the daily pipeline); `kizuna ingest attach` does it now.
    """
    if reason is not None and reason not in REASONS:
        raise InvalidInput(
            _("--reason must be one of {reasons}, not {value!r}").format(reasons=", ".join(REASONS), value=reason),
            field="reason",
        )
    engine = open_store(load_settings())
    with session_scope(engine) as session:
        counts = report.summary(session, hours=1).parked_by_reason
        rows = report.quarantine(session, reason=reason, limit=limit)
    if not counts:
        console.print(_("No events are waiting: the quarantine is empty."))
        return
    totals = Table(title=_("Parked events by reason"))
    totals.add_column(_("reason"))
    totals.add_column(_("events"), justify="right")
    totals.add_column(_("oldest"))
    for r, n, oldest in counts:
        totals.add_row(r, f"{n:,}", oldest.isoformat(timespec="seconds") if oldest else "")
    console.print(totals)
    table = Table(title=_("Oldest parked events"))
    for column in (_("reason"), _("type"), _("event"), _("account (groupId)"), _("user (userId)"),
                   _("messageId"), _("time")):  # fmt: skip
        table.add_column(column)
    for p in rows:
        table.add_row(p.reason, p.kind, p.event or "", p.group_id or "", p.user_id or "", p.message_id,
                      p.timestamp.isoformat(timespec="seconds"))  # fmt: skip
    console.print(table)


@app.command("attach")
def attach() -> None:
    """Attach every parked event whose account and user now exist (and roll them up)."""
    settings = load_settings()
    engine = open_store(settings)
    with session_scope(engine) as session:
        n = attach_parked(session, settings.run_context().rollup)
        left = sum(count for _r, count, _o in report.summary(session, hours=1).parked_by_reason)
    console.print(_("Attached {n} events; {left} still waiting.").format(n=f"{n:,}", left=f"{left:,}"))


@app.command("stats")
def stats(hours: int = typer.Option(24, "--hours", min=1, max=24 * 90, help="How many hours back.")) -> None:
    """Events stored, duplicates (retries), parked, attached and rejected (by reason)."""
    engine = open_store(load_settings())
    with session_scope(engine) as session:
        s = report.summary(session, hours=hours)
    table = Table(title=_("Tracking API, last {n} hours").format(n=hours))
    table.add_column(_("outcome"))
    table.add_column(_("events"), justify="right")
    labels = {"stored": _("stored"), "duplicate": _("duplicates (retries)"), "parked": _("parked"),
              "attached": _("attached"), "rejected": _("rejected")}  # fmt: skip
    for outcome, label in labels.items():
        table.add_row(label, f"{s.totals.get(outcome, 0):,}")
    for reason, n in s.rejected_by_reason:
        table.add_row(f"  {reason}", f"{n:,}")
    console.print(table)


for _name, _command in (("quarantine", quarantine), ("attach", attach), ("stats", stats)):
    ingest_app.command(_name)(_command)
