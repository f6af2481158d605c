"""The ``kizuna`` command line: ``kizuna <feature> <verb>``.

Each command parses its options, opens the store (bringing its schema up to date),
calls one service, and renders the result. Errors print ``Error: …`` and exit 1;
``--debug`` shows the traceback.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from kizuna.cli.context import console, err_console, plain_validation_message, state
from kizuna.cli.help_i18n import language_from_argv, translate_tree, translate_typer_strings
from kizuna.errors import ImportRejected, KizunaError
from kizuna.i18n import N_, _, get_language, language_from_environment, set_language

#: The commands, in the order ``kizuna --help`` lists them: name → (module of ``kizuna.cli``,
#: attribute, a Typer group or a command function, options of ``add_typer``/``command``). A
#: command's module is imported only when the command runs: ``kizuna users create`` does not
#: load pandas, the analytics and the web app that other commands need (the start-up was ~3 s
#: of imports for every command). Each ``help`` here is the command's only summary (its first
#: paragraph): the root's ``--help`` lists them without building any command, and the built
#: command gets the same text (``more_help``: a constant of its module with the paragraphs that
#: follow). ``tests/test_cli_help.py`` checks that the root's listing is what the built
#: commands say, in English and Japanese.
_GROUP, _COMMAND = "group", "command"
COMMANDS: dict[str, tuple[str, str, str, dict[str, Any]]] = {
    "db": ("db", "app", _GROUP, {"help": N_(
        "The database: apply migrations, show the schema version, check stored dates, back up and restore.")}),
    "backup": ("db", "backup_store", _COMMAND, {"help": N_(
        "Back the store up to FILE: consistent while the server runs (SQLite's online backup; pg_dump for "
        "PostgreSQL).")}),
    "restore": ("db", "restore_store", _COMMAND, {"help": N_(
        "Restore the store from FILE (made by `kizuna backup`), then bring its schema up to date."),
        "more_help": "RESTORE_MORE_HELP"}),
    "import": ("imports", "app", _GROUP, {"help": N_(
        "Import files (kizuna import ENTITY FILE), or manage saved mappings.")}),
    "export": ("exports", "export_all", _COMMAND, {"help": N_(
        "Write every table as CSV files that `kizuna import all FOLDER` reads back unchanged.")}),
    "serve": ("serve", "serve", _COMMAND, {"help": N_("Serve the web app and the REST API (OpenAPI at /docs).")}),
    "status": ("status", "status", _COMMAND, {"help": N_(
        "The store, its schema version, the last daily job and how fresh each data feed is.")}),
    "pipeline": ("pipeline", "app", _GROUP, {"help": N_("The daily pipeline that keeps derived figures current.")}),
    "kpis": ("kpis", "kpis", _COMMAND, {"help": N_(
        "MRR and its movements, churn, GRR/NRR, cohorts, NPS, onboarding, upsell and cross-sell, support KPIs, "
        "Pareto and LTV, month by month up to --as-of."), "more_help": "KPIS_MORE_HELP"}),
    "report": ("kpis", "report_app", _GROUP, {"hidden": True,  # the old spelling: kizuna kpis
                                               "help": N_("Reports: the KPIs of customer success, revenue and support.")}),
    "ltv": ("ltv", "app", _GROUP, {"help": N_(
        "Customer lifetime value (LTV): the seed formulas and fitted CLV models.")}),
    "churn": ("churn", "app", _GROUP, {"help": N_(
        "The churn model: probability of churn within a horizon, with its reasons.")}),
    "opportunities": ("opportunities", "app", _GROUP, {"help": N_(
        "Upsell and cross-sell opportunities, and the recommender's evaluation.")}),
    "users": ("users", "users", _GROUP, {"help": N_("The CS team's users: create them, set passwords, list them.")}),
    "apikey": ("users", "apikeys", _GROUP, {"help": N_("API keys for the REST API (sent as a bearer token).")}),
    "demo": ("demo", "demo", _COMMAND, {"help": N_(
        "Create a demo company: a Japanese B2B SaaS vendor, its CS team and its customers."),
        "more_help": "DEMO_MORE_HELP"}),
    "usage": ("usage", "app", _GROUP, {"help": N_(
        "Product usage: daily rollups (account × day × metric), the events the tracking API received and the "
        "events waiting for their account.")}),
    "ingest": ("usage", "ingest_app", _GROUP, {"hidden": True,
                                               "help": N_("The old name of `kizuna usage` (kept for scripts).")}),
    "health": ("health", "app", _GROUP, {"help": N_(
        "Health scores: daily snapshots with explanations, and the backtest that proves they predict churn.")}),
    "jobs": ("jobs", "app", _GROUP, {"help": N_("Scheduled jobs: list them, run one now, see the last runs.")}),
    "outbox": ("jobs", "outbox_app", _GROUP, {"help": N_(
        "Emails and webhooks waiting to be delivered: list, retry, purge.")}),
    "email": ("email", "app", _GROUP, {"help": N_("Email: check the SMTP settings.")}),
    "segments": ("segments", "app", _GROUP, {"help": N_(
        "Touch tiers, lifecycle stages, at-risk flags and customer fit: recompute, inspect, configure.")}),
    "tier": ("segments", "tier_app", _GROUP, {"help": N_(
        "Touch tiers (high / low / tech touch): show, set by hand, clear.")}),
    "stage": ("segments", "stage_app", _GROUP, {"help": N_(
        "Lifecycle stages (onboarding → adoption → expansion → renewal → churned): show, set, clear.")}),
    "fit": ("segments", "fit_app", _GROUP, {"help": N_("Customer fit against the ideal customer profile.")}),
    "tasks": ("tasks", "app", _GROUP, {"help": N_(
        "Tasks (calls to action): list, add, complete, reopen, snooze, assign.")}),
    "onboarding": ("onboarding", "app", _GROUP, {"help": N_(
        "Onboarding plans: templates per touch tier, applied to accounts.")}),
    "playbooks": ("playbooks", "app", _GROUP, {"help": N_(
        "Playbooks: load them, list them, preview what one would do today.")}),
    "surveys": ("surveys", "app", _GROUP, {"help": N_(
        "Surveys (NPS, CSAT, CES): create a programme, list them, send one to a segment.")}),
    "kb": ("kb", "app", _GROUP, {"help": N_(
        "Knowledge base: import Markdown articles, search them, see what was sent and read, and the ticket "
        "deflection.")}),
    "renewals": ("renewals", "app", _GROUP, {"help": N_(
        "Renewals: the pipeline of committed terms by renewal month, and its forecast.")}),
    "worklist": ("tasks", "worklist_command", _COMMAND, {"help": N_(
        "What to do today, best first, each line with its reason (urgency × risk × revenue).")}),
}  # fmt: skip
_ROOT_SETTINGS: dict[str, Any] = {"pretty_exceptions_enable": False, "rich_markup_mode": "rich"}


def _build(name: str) -> Any:
    """The click command ``name``, built by Typer exactly as if it had been added to the root
    at import: on a one-command parent (with a callback, so that Typer keeps the level)."""
    module_name, attribute, kind, options = COMMANDS[name]
    module = importlib.import_module(f"kizuna.cli.{module_name}")
    target = getattr(module, attribute)
    options = dict(options)
    if "more_help" in options:  # the paragraphs after the summary: a constant of the module
        options["help"] = f"{options['help']}\n\n{getattr(module, options.pop('more_help'))}"
    parent = typer.Typer(**_ROOT_SETTINGS)
    parent.callback()(lambda: None)
    if kind == _GROUP:
        parent.add_typer(target, name=name, **options)
    else:
        parent.command(name, **options)(target)
    return typer.main.get_command(parent).commands[name]  # type: ignore[attr-defined]


def summary(name: str) -> str:
    """The one-line help of the command ``name`` (English; the modules that repeat it read it here)."""
    return str(COMMANDS[name][3]["help"])


class _Listed(TyperCommand):
    """A command as the root's ``--help`` lists it (its name, summary and visibility) without
    building it: importing every command's module for its one line took ~2.5 s."""

    def __init__(self, name: str) -> None:
        options = COMMANDS[name][3]
        help_text = summary(name)
        super().__init__(name, help=help_text if get_language() == "en" else _(help_text),
                         hidden=bool(options.get("hidden", False)))  # fmt: skip


class _LazyRoot(TyperGroup):
    """The root command: lists every command of :data:`COMMANDS` and builds one when it is
    asked for (translating its help when the language is not English)."""

    _listing = False  # rendering the root's own help: list the commands, do not build them

    def list_commands(self, ctx: Any) -> list[str]:
        # as Typer lists a root's own: its commands first, then its groups
        ordered = sorted(COMMANDS, key=lambda n: COMMANDS[n][2] == _GROUP)
        return [*super().list_commands(ctx), *(n for n in ordered if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            if self._listing:
                return _Listed(cmd_name)
            command = _build(cmd_name)
            if get_language() != "en":
                translate_tree(command)
            self.commands[cmd_name] = command
        return super().get_command(ctx, cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def load_all(self) -> _LazyRoot:
        """Build every command now (for a walk over the whole tree: the help tests, the docs)."""
        for name in self.list_commands(None):
            self.get_command(None, name)
        return self


app = typer.Typer(
    name="kizuna",
    cls=_LazyRoot,
    help=N_("Kizuna (絆): the customer success platform. Load customers, see their health, keep them."),
    no_args_is_help=True,
    **_ROOT_SETTINGS,
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


def command_tree() -> Any:
    """The whole command tree, every command built (for walks over it)."""
    root = typer.main.get_command(app)
    assert isinstance(root, _LazyRoot)
    return root.load_all()


def main(argv: list[str] | None = None) -> None:
    """Run the command line (``argv`` defaults to ``sys.argv[1:]``)."""
    import os

    args = list(sys.argv[1:] if argv is None else argv)
    state.one_shot = argv is None  # the `kizuna` program itself: this command, then exit
    columns = os.environ.get("COLUMNS", "")
    for out in (console, err_console):  # the terminal's width as COLUMNS says now (else Rich measures it)
        out.width = int(columns) if columns.isdecimal() and 20 <= int(columns) <= 1000 else None  # type: ignore[assignment]
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


__all__ = ["COMMANDS", "app", "command_tree", "console", "main", "summary"]
