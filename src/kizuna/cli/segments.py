"""``kizuna segments …``, ``kizuna tier …``, ``kizuna stage …``, ``kizuna fit …``:
touch tiers, lifecycle stages and customer fit from the command line."""

from __future__ import annotations

import getpass
import json
from datetime import date
from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from kizuna.cli.context import console, load_settings, open_store, today
from kizuna.cli.pipeline import parse_as_of
from kizuna.db import session_scope
from kizuna.domain.segments import (
    FIT_LABELS,
    STAGE_LABELS,
    TIER_LABELS,
    Dimension,
    FitBand,
    LifecycleStage,
    TouchTier,
    rule_reason,
)
from kizuna.domain.segments_config import DEFAULT_TOML
from kizuna.i18n import N_, _
from kizuna.services import segments as service
from kizuna.settings import Settings

app = typer.Typer(no_args_is_help=True)  # the helps of the four: COMMANDS in kizuna.cli
tier_app = typer.Typer(no_args_is_help=True)
stage_app = typer.Typer(no_args_is_help=True)
fit_app = typer.Typer(no_args_is_help=True)


def _open(settings: Settings):  # type: ignore[no-untyped-def]
    return open_store(settings)


def _who() -> str:
    try:
        user = getpass.getuser()
    except (OSError, KeyError):
        user = "?"
    return _("{user} (command line)").format(user=user)


def _label(labels: dict[str, str], value: object) -> str:
    if value is None:
        return "—"
    key = str(getattr(value, "value", value))
    return _(labels[key]) if key in labels else key


def _reason(text: str | None) -> Text:
    """A reason the rules wrote, translated; one a person wrote, as plain text (no Rich markup)."""
    if not text:
        return Text("")
    msgid = rule_reason(text)
    return Text(_(msgid) if msgid is not None else text)


# --- kizuna segments ---------------------------------------------------------------------------


@app.command("recompute")
def recompute(
    as_of: str | None = typer.Option(
        None, "--as-of", metavar="YYYY-MM-DD", help="The day to compute for (default: today)."
    ),
) -> None:
    """Recompute every account's touch tier, lifecycle stage, fit and at-risk flag.

    The daily pipeline (`kizuna pipeline run`) does this too; overrides set by hand stay.
    """
    settings = load_settings()
    day = parse_as_of(as_of) or today(settings)
    engine = _open(settings)
    with session_scope(engine) as session:
        changed = service.recompute_all(session, day, settings.run_context().segments())
        counts = service.segment_counts(session)
    console.print(
        _("Segments for {date}: {tiers} tier changes, {stages} stage changes, {fit} fit changes, {risk} at risk").format(
            date=day.isoformat(), tiers=changed.tiers, stages=changed.stages, fit=changed.fit,
            risk=changed.at_risk),
        markup=False, highlight=False,
    )  # fmt: skip
    _show_counts(counts)


def _show_counts(counts: service.SegmentCounts) -> None:
    for column, title, labels, order in (
        ("touch_tier", _("Touch tier"), TIER_LABELS, [t.value for t in TouchTier]),
        ("lifecycle_stage", _("Lifecycle stage"), STAGE_LABELS, [s.value for s in LifecycleStage]),
        ("fit_band", _("Fit"), FIT_LABELS, [b.value for b in FitBand]),
    ):
        table = Table(title=title)
        table.add_column(title)
        table.add_column(_("accounts"), justify="right")
        values: dict[str | None, int] = getattr(counts, column)
        for key in [*order, None]:
            if values.get(key):
                table.add_row(_label(labels, key) if key else _("none"), f"{values[key]:,}")
        console.print(table)
    console.print(_("At risk: {n}").format(n=f"{counts.at_risk:,}"), markup=False, highlight=False)


@app.command("show")
def show(account: str = typer.Argument(..., help=N_("The account: its id, external id, or part of its name."))) -> None:
    """An account's tier, stage (with time in stage), fit, at-risk flag and their history."""
    settings = load_settings()
    engine = _open(settings)
    day = today(settings)
    with session_scope(engine) as session:
        seg = service.account_segments(session, service.find_account(session, account), as_of=day)
    _print_segments(seg)


def _print_segments(seg: service.AccountSegments) -> None:
    tier = _label(TIER_LABELS, seg.touch_tier)
    if seg.tier_override:
        tier += " " + _("(set by {who}: {reason})").format(
            who=seg.tier_override.set_by, reason=seg.tier_override.reason
        )
    stage = _label(STAGE_LABELS, seg.lifecycle_stage)
    if seg.days_in_stage is not None:
        stage += " " + _("for {n} days").format(n=seg.days_in_stage)
    if seg.stage_override:
        stage += " " + _("(set by {who}: {reason})").format(
            who=seg.stage_override.set_by, reason=seg.stage_override.reason
        )
    fit = "—" if seg.fit_score is None else f"{seg.fit_score:.0f} ({_label(FIT_LABELS, seg.fit_band)})"
    for name, value in (
        (_("Touch tier"), tier), (_("Lifecycle stage"), stage), (_("At risk"), _("yes") if seg.at_risk else _("no")),
        (_("Fit"), fit),
    ):  # fmt: skip
        console.print(f"{name}: {value}", markup=False, highlight=False)
    table = Table(title=_("History"))
    for column in (_("what"), _("value"), _("from"), _("to"), _("reason"), _("by")):
        table.add_column(column)
    for p in seg.history:
        labels = TIER_LABELS if p.dimension is Dimension.TIER else STAGE_LABELS
        table.add_row(
            _("Touch tier") if p.dimension is Dimension.TIER else _("Lifecycle stage"), _label(labels, p.value),
            p.from_on.isoformat(), p.to_on.isoformat() if p.to_on else _("now"), _reason(p.reason),
            Text(p.set_by) if p.set_by else _("rules"),
        )  # fmt: skip
    console.print(table)


@app.command("config")
def config(
    check: Path | None = typer.Option(None, "--check", metavar="FILE", help="Check this file and report any problem."),
) -> None:
    """Print the default segments.toml (to copy and edit), or check a file with --check."""
    if check is None:
        typer.echo(DEFAULT_TOML, nl=False)
        return
    loaded = service.load_config(check)
    console.print(
        _("{file} is valid: tiers by {basis} ({method}), fit bands from {strong} / {moderate}").format(
            file=check, basis=loaded.tiers.basis.value, method=loaded.tiers.method.value,
            strong=loaded.fit.strong_from, moderate=loaded.fit.moderate_from),
        markup=False, highlight=False,
    )  # fmt: skip


# --- kizuna tier / stage -------------------------------------------------------------------------


def _show_dimension(account: str | None) -> None:
    settings = load_settings()
    engine = _open(settings)
    with session_scope(engine) as session:
        if account is None:
            _show_counts(service.segment_counts(session))
            return
        seg = service.account_segments(session, service.find_account(session, account), as_of=today(settings))
    _print_segments(seg)


def _set(dimension: Dimension, account: str, value: str, reason: str) -> None:
    settings = load_settings()
    engine = _open(settings)
    with session_scope(engine) as session:
        account_id = service.find_account(session, account)
        service.set_override(session, account_id, dimension, value, reason, set_by=_who(), set_by_id=None,
                             as_of=today(settings))  # fmt: skip
    labels = TIER_LABELS if dimension is Dimension.TIER else STAGE_LABELS
    console.print(_("Set {account} to {value} until the override is cleared.").format(
        account=account, value=_label(labels, value.strip().lower())), markup=False, highlight=False)  # fmt: skip


def _clear(dimension: Dimension, account: str) -> None:
    settings = load_settings()
    engine = _open(settings)
    with session_scope(engine) as session:
        account_id = service.find_account(session, account)
        removed = service.clear_override(session, account_id, dimension, set_by=_who(), as_of=today(settings))
    if removed:
        console.print(_("Override removed from {account}; the rules decide again.").format(account=account),
                      markup=False, highlight=False)  # fmt: skip
    else:
        console.print(_("{account} has no override.").format(account=account), markup=False, highlight=False)


_ACCOUNT_ARG = typer.Argument(None, help=N_("The account: its id, external id, or part of its name (none: counts per tier or stage)."))
_REASON = typer.Option(..., "--reason", help="Why (kept in the history; required).")


@tier_app.command("show")
def tier_show(account: str | None = _ACCOUNT_ARG) -> None:
    """Accounts per tier, or one account's tier and its history."""
    _show_dimension(account)


@tier_app.command("set")
def tier_set(
    account: str = typer.Argument(..., help=N_("The account: its id, external id, or part of its name.")),
    tier: str = typer.Argument(..., help="high, low or tech."),
    reason: str = _REASON,
) -> None:
    """Set an account's touch tier by hand; it stays until `kizuna tier clear`."""
    _set(Dimension.TIER, account, tier, reason)


@tier_app.command("clear")
def tier_clear(account: str = typer.Argument(..., help=N_("The account: its id, external id, or part of its name."))) -> None:
    """Remove the hand-set tier: the rules' tier returns at once."""
    _clear(Dimension.TIER, account)


@stage_app.command("show")
def stage_show(account: str | None = _ACCOUNT_ARG) -> None:
    """Accounts per stage, or one account's stage, time in stage and history."""
    _show_dimension(account)


@stage_app.command("set")
def stage_set(
    account: str = typer.Argument(..., help=N_("The account: its id, external id, or part of its name.")),
    stage: str = typer.Argument(..., help="onboarding, adoption, expansion, renewal or churned."),
    reason: str = _REASON,
) -> None:
    """Set an account's lifecycle stage by hand; it stays until `kizuna stage clear`."""
    _set(Dimension.STAGE, account, stage, reason)


@stage_app.command("clear")
def stage_clear(account: str = typer.Argument(..., help=N_("The account: its id, external id, or part of its name."))) -> None:
    """Remove the hand-set stage: the rules' stage returns at once."""
    _clear(Dimension.STAGE, account)


# --- kizuna fit ------------------------------------------------------------------------------------


@fit_app.command("report")
def fit_report(
    as_of: str | None = typer.Option(
        None, "--as-of", metavar="YYYY-MM-DD", help="Count churn up to this day (default: today)."
    ),
    fmt: str = typer.Option("table", "--format", help="table or json."),
) -> None:
    """Churn rate by fit band: of the accounts that were customers by --as-of, the share
    that churned. Shows which customer profiles do not succeed."""
    if fmt not in ("table", "json"):
        raise typer.BadParameter(_("must be table or json"), param_hint="--format")
    settings = load_settings()
    day: date = parse_as_of(as_of) or today(settings)
    engine = _open(settings)
    with session_scope(engine) as session:
        rows = service.churn_by_fit(session, day)
    if fmt == "json":
        typer.echo(json.dumps({"as_of": day.isoformat(), "bands": [
            {"band": r.band.value if r.band else None, "customers": r.customers, "churned": r.churned,
             "churn_rate": r.churn_rate} for r in rows]}, ensure_ascii=False))  # fmt: skip
        return
    table = Table(title=_("Churn by fit band as of {date}").format(date=day.isoformat()))
    table.add_column(_("Fit"))
    table.add_column(_("customers"), justify="right")
    table.add_column(_("churned"), justify="right")
    table.add_column(_("churn rate"), justify="right")
    for r in rows:
        rate = "—" if r.churn_rate is None else f"{r.churn_rate:.1%}"
        table.add_row(
            _label(FIT_LABELS, r.band) if r.band else _("no fit data"), f"{r.customers:,}", f"{r.churned:,}", rate
        )
    console.print(table)
