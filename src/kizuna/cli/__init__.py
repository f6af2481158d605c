"""The ``kizuna`` command line: ``kizuna <feature> <verb>``.

Each command parses its options, opens the store (bringing its schema up to date),
calls one service, and renders the result. Errors print ``Error: …`` and exit 1;
``--debug`` shows the traceback.
"""

from __future__ import annotations

import sys

import typer

from kizuna.cli import churn as churn_commands
from kizuna.cli import db as db_commands
from kizuna.cli import demo as demo_commands
from kizuna.cli import email as email_commands
from kizuna.cli import exports as export_commands
from kizuna.cli import health as health_commands
from kizuna.cli import imports as import_commands
from kizuna.cli import jobs as job_commands
from kizuna.cli import kb as kb_commands
from kizuna.cli import kpis as kpi_commands
from kizuna.cli import ltv as ltv_commands
from kizuna.cli import onboarding as onboarding_commands
from kizuna.cli import opportunities as opportunity_commands
from kizuna.cli import pipeline as pipeline_commands
from kizuna.cli import playbooks as playbook_commands
from kizuna.cli import renewals as renewal_commands
from kizuna.cli import segments as segment_commands
from kizuna.cli import serve as serve_commands
from kizuna.cli import status as status_commands
from kizuna.cli import surveys as survey_commands
from kizuna.cli import tasks as task_commands
from kizuna.cli import usage as usage_commands
from kizuna.cli import users as user_commands
from kizuna.cli.context import console, err_console, plain_validation_message, state
from kizuna.cli.help_i18n import language_from_argv, translate_tree, translate_typer_strings
from kizuna.errors import ImportRejected, KizunaError
from kizuna.i18n import N_, _, get_language, language_from_environment, set_language

app = typer.Typer(
    name="kizuna",
    help=N_("Kizuna (絆): the customer success platform. Load customers, see their health, keep them."),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help=N_("Show tracebacks on errors.")),
    lang: str | None = typer.Option(
        None, "--lang", help=N_("Language of messages: ja or en (default: KIZUNA_LANGUAGE, else LANG).")
    ),
) -> None:
    state.debug = debug
    import os

    set_language(language_from_environment(lang or os.environ.get("KIZUNA_LANGUAGE")))


app.add_typer(db_commands.app, name="db")
app.command("backup")(db_commands.backup_store)
app.command("restore")(db_commands.restore_store)
app.add_typer(import_commands.app, name="import")
app.command("export", help=N_("Write every table as CSV files that `kizuna import all FOLDER` reads back unchanged."))(
    export_commands.export_all
)
app.command("serve")(serve_commands.serve)
app.command("status", help=status_commands.STATUS_HELP)(status_commands.status)
app.add_typer(pipeline_commands.app, name="pipeline")
app.command("kpis", help=kpi_commands.KPIS_HELP)(kpi_commands.kpis)
app.add_typer(kpi_commands.report_app, name="report", hidden=True)  # the old spelling: kizuna kpis
app.add_typer(ltv_commands.app, name="ltv")
app.add_typer(churn_commands.app, name="churn")
app.add_typer(opportunity_commands.app, name="opportunities")
app.add_typer(user_commands.users, name="users")
app.add_typer(user_commands.apikeys, name="apikey")
app.command("demo")(demo_commands.demo)
app.add_typer(usage_commands.app, name="usage")
app.add_typer(usage_commands.ingest_app, name="ingest")
app.add_typer(health_commands.app, name="health")
app.add_typer(job_commands.app, name="jobs")
app.add_typer(job_commands.outbox_app, name="outbox")
app.add_typer(email_commands.app, name="email")
app.add_typer(segment_commands.app, name="segments")
app.add_typer(segment_commands.tier_app, name="tier")
app.add_typer(segment_commands.stage_app, name="stage")
app.add_typer(segment_commands.fit_app, name="fit")
app.add_typer(task_commands.app, name="tasks")
app.add_typer(onboarding_commands.app, name="onboarding")
app.add_typer(playbook_commands.app, name="playbooks")
app.add_typer(survey_commands.app, name="surveys")
app.add_typer(kb_commands.app, name="kb")
app.add_typer(renewal_commands.app, name="renewals")
app.command("worklist")(task_commands.worklist_command)


def main(argv: list[str] | None = None) -> None:
    """Run the command line (``argv`` defaults to ``sys.argv[1:]``)."""
    import os

    args = list(sys.argv[1:] if argv is None else argv)
    columns = os.environ.get("COLUMNS", "")
    for out in (console, err_console):  # the terminal's width as COLUMNS says now (else Rich measures it)
        out.width = int(columns) if columns.isdigit() and 20 <= int(columns) <= 1000 else None  # type: ignore[assignment]
    set_language(language_from_environment(language_from_argv(args) or os.environ.get("KIZUNA_LANGUAGE")))
    command = typer.main.get_command(app)
    if get_language() != "en":  # --help is rendered from the tree: translate it first
        translate_tree(command)
        translate_typer_strings()
    try:
        code = command.main(args=args, prog_name="kizuna", standalone_mode=False)
        if isinstance(code, int) and code != 0:  # typer.Exit(n) comes back as a value without standalone mode
            sys.exit(code)
    except ImportRejected as exc:
        # Plain writes: a bad million-row file lists a million problems, fast and verbatim.
        sys.stderr.writelines(f"{problem}\n" for problem in exc.errors)
        sys.stderr.flush()
        err_console.print(
            _("Error: {message}").format(message=exc.message), style="bold red", markup=False, soft_wrap=True
        )
        sys.exit(1)
    except KizunaError as exc:
        if state.debug:
            raise
        err_console.print(
            _("Error: {message}").format(message=exc.message), style="bold red", markup=False, soft_wrap=True
        )
        sys.exit(1)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print(_("Aborted."))
        sys.exit(1)
    except Exception as exc:  # click's usage errors and the like
        import click

        # Typer ≥ 0.29 carries its own copy of click: its usage errors derive from
        # TyperException, not click.ClickException. Both print "Usage: … Error: …", exit 2.
        if isinstance(exc, click.ClickException | typer.TyperException) and hasattr(exc, "show"):
            exc.show()
            sys.exit(int(getattr(exc, "exit_code", 2)))
        if state.debug:
            raise
        from kizuna.db import is_write_conflict

        if is_write_conflict(exc):  # the busy timeout ran out: say so, without the SQL
            err_console.print(
                _("Error: {message}").format(
                    message=_("another import (or another write) holds the store; nothing was written. "
                              "Try again when it has finished.")
                ),
                style="bold red", markup=False, soft_wrap=True,
            )  # fmt: skip
            sys.exit(1)
        from pydantic import ValidationError

        if isinstance(exc, ValidationError):  # a plain sentence, not pydantic's report
            err_console.print(_("Error: {message}").format(message=plain_validation_message(exc)),
                              style="bold red", markup=False, soft_wrap=True)  # fmt: skip
            sys.exit(1)
        err_console.print(
            _("Error: {message}").format(message=f"{type(exc).__name__}: {exc}"),
            style="bold red",
            markup=False,
            soft_wrap=True,
        )
        err_console.print(_("(run with --debug for the traceback)"))
        sys.exit(1)


__all__ = ["app", "console", "main"]
