"""``kizuna health``: recompute, show and backtest health scores (ヘルススコア)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from kizuna.cli.context import bounded_day, check_format, console, load_settings, open_store, today
from kizuna.cli.pipeline import parse_as_of
from kizuna.db import Session, session_scope
from kizuna.domain.health import GRADE_LABELS, MEASURES
from kizuna.errors import InvalidInput
from kizuna.i18n import N_, _
from kizuna.services import health as health_service
from kizuna.services.health import BacktestResult

app = typer.Typer(no_args_is_help=True)  # its help: COMMANDS in kizuna.cli


def _grade(value: object) -> str:
    key = str(getattr(value, "value", value))
    return _(GRADE_LABELS[key]) if key in GRADE_LABELS else key


def _warn_mapping(session: Session, day: date, mapping_path: Path | None) -> None:
    """Print the usage mapping's silent zeros (accounts with events, none with activity)."""
    from kizuna.services.usage import load_mapping

    for warning in health_service.mapping_warnings(session, day, load_mapping(mapping_path)):
        console.print(_("Warning ({entry}): {message}").format(entry=warning.entry, message=warning.message),
                      style="yellow", markup=False, highlight=False)  # fmt: skip


def _parse_day(value: str, option: str) -> date:
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            _("{option} must be a date like 2025-03-31, not {value!r}").format(option=option, value=value[:40]),
            field=option.lstrip("-"),
        ) from None
    return bounded_day(day, option)


@app.command("recompute")
def recompute(
    as_of: str | None = typer.Option(None, "--as-of", metavar="YYYY-MM-DD", help="The day to score (default: today)."),
    since: str | None = typer.Option(
        None, "--from", metavar="YYYY-MM-DD", help="Backfill: write a snapshot for every day from this one to --as-of."
    ),
) -> None:
    """Score every live account from its data up to the day and store the snapshot:
    score, grades, each measure's value and points, 7/30-day change and explanation."""
    settings = load_settings()
    day = parse_as_of(as_of) or today(settings)
    start = _parse_day(since, "--from") if since else None
    engine = open_store(settings)
    total = (day - start).days + 1 if start else 1
    with (
        session_scope(engine) as session,
        Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console, transient=True
        ) as progress,
    ):
        task = progress.add_task(_("Scoring"), total=max(total, 1))
        written = health_service.recompute(
            session, day, since=start, path=settings.health_scorecards, on_day=lambda _d: progress.advance(task)
        )
        _warn_mapping(session, day, settings.usage_mapping)
    console.print(_("{n} health snapshots written for {first} to {last}").format(
        n=f"{written:,}", first=(start or day).isoformat(), last=day.isoformat()))  # fmt: skip


MEASURE_FORMATS = ("csv", "json")


@app.command("measures")
def measures(
    as_of: str | None = typer.Option(None, "--as-of", metavar="YYYY-MM-DD", help="The last day (default: today)."),
    since: str | None = typer.Option(
        None, "--from", metavar="YYYY-MM-DD", help="Also every --step days from this day up to --as-of."
    ),
    step: int = typer.Option(7, "--step", min=1, max=366, help="Days between the days of the table."),
    paying_only: bool = typer.Option(False, "--paying-only", help="Only the accounts that pay on each day."),
    output: str = typer.Option("csv", "--format", help="csv or json."),
) -> None:
    """Print the health feature table — one row per day and account, one column per raw
    measure, empty where missing — aggregated on the analytics engine (KIZUNA_ANALYTICS_URL:
    PostgreSQL, DuckDB or Spark; else the store itself)."""
    from kizuna.cli.kpis import open_kpi_backend

    check_format(output, MEASURE_FORMATS)
    settings = load_settings()
    day = parse_as_of(as_of) or today(settings)
    start = _parse_day(since, "--from") if since else day
    if start > day:
        raise InvalidInput(_("--from must not be after --as-of"), field="from")
    days = [day - timedelta(days=n) for n in range(0, (day - start).days + 1, step)]
    if len(days) > 400:
        raise InvalidInput(_("at most {n} days at once: use a larger --step").format(n=400), field="step")
    backend = open_kpi_backend(settings)
    with session_scope(open_store(settings)) as session:
        table = health_service.feature_table(session, backend, days, settings.health_scorecards,
                                             paying_only=paying_only)  # fmt: skip
    table = table.reset_index()
    table["day"] = table["day"].dt.date.map(date.isoformat)
    if output == "json":
        rows = table.astype(object).where(table.notna(), None).to_dict(orient="records")
        print(json.dumps(rows, ensure_ascii=False))
    else:
        print(table.to_csv(index=False, float_format="%.6g"), end="")


@app.command("show")
def show(
    account: str = typer.Argument(..., help=N_("The account: its id, external id, or part of its name.")),
    days: int = typer.Option(30, "--days", min=1, max=3660, help="How many days of history to list."),
) -> None:
    """Print an account's latest health snapshot, its measures, explanation and history."""
    settings = load_settings()
    engine = open_store(settings)
    with session_scope(engine) as session:
        account_id = health_service.find_account(session, account)
        data = health_service.account_health(session, account_id, days=days)
    history = data.history
    if not history:
        console.print(_("{name}: no health snapshot yet (run kizuna health recompute)").format(name=data.name))
        return
    snap = history[-1]
    grade = _grade(snap.grade)
    console.print(_("{name} — health score {score:.0f} ({grade}, {letter}) on {day}, scorecard {card}").format(
        name=data.name, score=snap.score, grade=grade, letter=snap.letter, day=snap.day.isoformat(),
        card=snap.scorecard), markup=False)  # fmt: skip
    changes = []
    for label, change in ((_("7-day change"), snap.change_7d), (_("30-day change"), snap.change_30d)):
        if change is not None:
            changes.append(f"{label}: {change:+.1f}")
    if changes:
        console.print(", ".join(changes), markup=False)
    for line in snap.reasons:
        console.print(f"• {line}", markup=False)
    table = Table(title=_("Measures"))
    for col in (_("measure"), _("value"), _("points"), _("weight")):
        table.add_column(col, justify="left" if col == _("measure") else "right")
    for key, m in snap.measures.items():
        label = _(MEASURES[key].label) if key in MEASURES else key
        missing = m.value is None
        table.add_row(label, _("missing") if missing else health_service.describe_value(key, m.value),
                      "—" if m.points is None else f"{m.points:.0f}", f"{m.weight * 100:.0f}%")  # fmt: skip
    console.print(table)
    trend = Table(title=_("History"))
    for col in (_("day"), _("score"), _("grade")):
        trend.add_column(col)
    for h in history[-days:]:
        trend.add_row(h.day.isoformat(), f"{h.score:.0f}", _grade(h.grade))
    console.print(trend)


@app.command("backtest")
def backtest(
    horizon_days: int = typer.Option(90, "--horizon-days", help="Churn counts when it happens within this many days."),
    output: str = typer.Option("table", "--format", help="table or json."),
    as_of: str | None = typer.Option(
        None, "--as-of", metavar="YYYY-MM-DD", help="The end of history (default: today)."
    ),
    scorecards: Path | None = typer.Option(
        None, "--scorecards", metavar="FILE", help="Backtest this scorecard file instead of the scorecards in force."
    ),
    stability_days: int = typer.Option(
        30, "--stability-days", help="Count day-to-day grade changes over this many last days of history (0: skip)."
    ),
) -> None:
    """Replay history: at each month-end, score every paying account from the data up to
    that day and check who churned within the horizon. Reports ROC-AUC, churn rate by
    grade, the lift of red over green, and how early the score turned red before churn."""
    if output not in ("table", "json"):
        raise InvalidInput(_("--format must be table or json"), field="format")
    settings = load_settings()
    day = parse_as_of(as_of) or today(settings)
    engine = open_store(settings)
    with session_scope(engine) as session:
        cards = None
        if scorecards is not None:
            text, name = health_service.file_source(scorecards)
            cards = health_service.parse_toml(text, name)
        result = health_service.backtest(session, as_of=day, horizon_days=horizon_days,
                                         path=settings.health_scorecards, cards=cards,
                                         stability_days=stability_days)  # fmt: skip
        data = health_service.backtest_json(result)
        if output == "json":
            print(json.dumps(data, ensure_ascii=False, indent=2))
            return
        _warn_mapping(session, day, settings.usage_mapping)
    table = Table(title=_("Health score backtest ({horizon}-day horizon)").format(horizon=horizon_days))
    table.add_column(_("figure"))
    table.add_column(_("value"), justify="right")
    auc = "—" if result.auc is None else f"{result.auc:.3f}"
    lift = "—" if result.lift_red_over_green is None else f"{result.lift_red_over_green:.1f}×"
    lead = "—" if result.median_lead_days is None else _("{n} days").format(n=f"{result.median_lead_days:.0f}")
    rows = [
        (_("month-ends replayed"), f"{result.evaluations} ({data['first_day']} – {data['last_day']})"),
        (_("accounts scored (account × month-end)"), f"{result.samples:,}"),
        (_("of which churned within the horizon"), f"{result.churned:,}"),
        (_("ROC-AUC"), auc),
        (
            _("ROC-AUC of the naive signal (fewer events in the last 30 days = riskier)"),
            "—" if result.naive_auc is None else f"{result.naive_auc:.3f}",
        ),
        (_("lift of red over green"), lift),
        (_("median days red before churn"), lead),
        (_("churns red at the last month-end before"), f"{result.red_before_churn} / {result.churn_events}"),
    ]
    for g, v in result.by_grade.items():
        rows.append((_("churn rate, {grade}").format(grade=_(GRADE_LABELS[g])),
                     f"{v['rate'] * 100:.1f}% ({int(v['churned'])}/{int(v['accounts'])})"))  # fmt: skip
    if result.grade_changes_per_1000 is not None:
        raw = result.raw_grade_changes_per_1000 or 0.0
        rows.append((_("grade changes a day per 1,000 accounts (last {n} days)").format(n=result.stability_days),
                     _("{held} (without hysteresis: {raw})").format(held=f"{result.grade_changes_per_1000:.1f}",
                                                                  raw=f"{raw:.1f}")))  # fmt: skip
    for a, b in rows:
        table.add_row(a, b)
    console.print(table)
    console.print(_measures_table(result))


def _measures_table(result: BacktestResult) -> Table:
    """Each measure's own ROC-AUC beside the score's: below 0.5 it points the wrong way."""
    table = Table(title=_("Each measure on its own"))
    for header, justify in ((_("measure"), "left"), (_("ROC-AUC"), "right"), (_("direction"), "left"),
                            (_("accounts with data"), "right")):  # fmt: skip
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    for m in sorted(result.measures, key=lambda m: -1.0 if m.auc is None else m.auc, reverse=True):
        label = _(MEASURES[m.key].label) if m.key in MEASURES else m.key
        table.add_row(label, "—" if m.auc is None else f"{m.auc:.3f}", _(health_service.DIRECTION_LABELS[m.direction]),
                      f"{m.samples:,} ({m.churned:,})")  # fmt: skip
    return table


@app.command("tune")
def tune(
    horizon_days: int = typer.Option(90, "--horizon-days", help="Churn counts when it happens within this many days."),
    output: str = typer.Option("table", "--format", help="table or json."),
    as_of: str | None = typer.Option(
        None, "--as-of", metavar="YYYY-MM-DD", help="The end of history (default: today)."
    ),
    apply: bool = typer.Option(False, "--apply", help="Save the proposal as a new scorecard version."),
    note: str = typer.Option("", "--note", help="Why the change (kept in the version history)."),
) -> None:
    """Learn the default scorecard's measure weights from past month-ends and who churned
    after them (a regularised logistic model, trained on the earlier months and tested on
    the later third), and propose them as a new scorecard version with the ROC-AUC before
    and after. Nothing is saved without --apply."""
    from kizuna.services.health import tune as tuning

    if output not in ("table", "json"):
        raise InvalidInput(_("--format must be table or json"), field="format")
    settings = load_settings()
    day = parse_as_of(as_of) or today(settings)
    engine = open_store(settings)
    with session_scope(engine) as session:
        result = tuning.tune(session, as_of=day, horizon_days=horizon_days, path=settings.health_scorecards)
        version = None
        if apply and not result.kept_current:
            version = health_service.save_scorecards(session, result.proposal, author_id=None,
                                                     note=note or tuning.default_note(result))  # fmt: skip
    if output == "json":
        print(json.dumps({**result.as_dict(), "saved_version": version}, ensure_ascii=False, indent=2))
        return
    auc = tuning.auc_text
    console.print(_("Trained on {n} month-ends ({first} – {last}): {samples:,} accounts scored, {churned:,} churned "
                    "within {h} days.").format(n=result.train_months, first=result.train_first, last=result.train_last,
                    samples=result.train_samples, churned=result.train_churned, h=result.horizon_days),
                  markup=False, highlight=False)  # fmt: skip
    console.print(_("Tested on {n} later month-ends ({first} – {last}): {samples:,} accounts scored, {churned:,} "
                    "churned. ROC-AUC in force {current}, proposed {tuned}, naive signal {naive}.").format(
                    n=result.test_months, first=result.test_first, last=result.test_last,
                    samples=result.test_samples, churned=result.test_churned, current=auc(result.auc_current),
                    tuned=auc(result.auc_tuned), naive=auc(result.auc_naive)), markup=False, highlight=False)  # fmt: skip
    console.print(tuning.inner_text(result), markup=False, highlight=False)
    table = Table(title=_("Proposed weights of scorecard {key}").format(key=result.scorecard))
    for header, justify in ((_("measure"), "left"), (_("now"), "right"), (_("proposed"), "right"),
                            (_("Likely range (5th–95th percentile)"), "right")):  # fmt: skip
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    for m in result.measures:
        label = _(MEASURES[m.key].label) if m.key in MEASURES else m.key
        proposed = f"{m.proposed * 100:.1f}%" if m.proposed else (_("left out") if m.has_data else _("no data"))
        table.add_row(label, f"{m.current * 100:.1f}%", proposed, f"{m.low * 100:.0f}–{m.high * 100:.0f}%")
    console.print(table)
    if version is not None:
        console.print(_("Saved as scorecard version {n}. Recompute to see the new scores.").format(n=version))
    elif result.kept_current:
        console.print(_("Nothing to apply: the proposal keeps the weights in force."))
    else:
        console.print(_("Nothing saved: review, then run again with --apply (or apply it on the scorecards page)."))
