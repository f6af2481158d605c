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
from typer.core import TyperGroup

from kizuna.cli.context import console, err_console, plain_validation_message, state
from kizuna.cli.help_i18n import language_from_argv, translate_tree, translate_typer_strings
from kizuna.errors import ImportRejected, KizunaError
from kizuna.i18n import N_, _, get_language, language_from_environment, set_language

#: The commands, in the order ``kizuna --help`` lists them: name → (module of ``kizuna.cli``,
#: attribute, a Typer group or a command function, options of ``add_typer``/``command``). A command's module is imported only when the command runs (or when the root's
#: help lists them all): ``kizuna users create`` does not load pandas, the analytics and the
#: web app that other commands need — the start-up was ~3 s of imports for every command.
_GROUP, _COMMAND = "group", "command"
COMMANDS: dict[str, tuple[str, str, str, dict[str, Any]]] = {
    "db": ("db", "app", _GROUP, {}),
    "backup": ("db", "backup_store", _COMMAND, {}),
    "restore": ("db", "restore_store", _COMMAND, {}),
    "import": ("imports", "app", _GROUP, {}),
    "export": ("exports", "export_all", _COMMAND,
               {"help": N_("Write every table as CSV files that `kizuna import all FOLDER` reads back unchanged.")}),
    "serve": ("serve", "serve", _COMMAND, {}),
    "status": ("status", "status", _COMMAND, {"help_from": "STATUS_HELP"}),
    "pipeline": ("pipeline", "app", _GROUP, {}),
    "kpis": ("kpis", "kpis", _COMMAND, {"help_from": "KPIS_HELP"}),
    "report": ("kpis", "report_app", _GROUP, {"hidden": True}),  # the old spelling: kizuna kpis
    "ltv": ("ltv", "app", _GROUP, {}),
    "churn": ("churn", "app", _GROUP, {}),
    "opportunities": ("opportunities", "app", _GROUP, {}),
    "users": ("users", "users", _GROUP, {}),
    "apikey": ("users", "apikeys", _GROUP, {}),
    "demo": ("demo", "demo", _COMMAND, {}),
    "usage": ("usage", "app", _GROUP, {}),
    "ingest": ("usage", "ingest_app", _GROUP, {}),
    "health": ("health", "app", _GROUP, {}),
    "jobs": ("jobs", "app", _GROUP, {}),
    "outbox": ("jobs", "outbox_app", _GROUP, {}),
    "email": ("email", "app", _GROUP, {}),
    "segments": ("segments", "app", _GROUP, {}),
    "tier": ("segments", "tier_app", _GROUP, {}),
    "stage": ("segments", "stage_app", _GROUP, {}),
    "fit": ("segments", "fit_app", _GROUP, {}),
    "tasks": ("tasks", "app", _GROUP, {}),
    "onboarding": ("onboarding", "app", _GROUP, {}),
    "playbooks": ("playbooks", "app", _GROUP, {}),
    "surveys": ("surveys", "app", _GROUP, {}),
    "kb": ("kb", "app", _GROUP, {}),
    "renewals": ("renewals", "app", _GROUP, {}),
    "worklist": ("tasks", "worklist_command", _COMMAND, {}),
}
_ROOT_SETTINGS: dict[str, Any] = {"pretty_exceptions_enable": False, "rich_markup_mode": "rich"}


def _build(name: str) -> Any:
    """The click command ``name``, built by Typer exactly as if it had been added to the root
    at import: on a one-command parent (with a callback, so that Typer keeps the level)."""
    module_name, attribute, kind, options = COMMANDS[name]
    module = importlib.import_module(f"kizuna.cli.{module_name}")
    target = getattr(module, attribute)
    options = dict(options)
    if "help_from" in options:  # the help is a constant of the module
        options["help"] = getattr(module, options.pop("help_from"))
    parent = typer.Typer(**_ROOT_SETTINGS)
    parent.callback()(lambda: None)
    if kind == _GROUP:
        parent.add_typer(target, name=name, **options)
    else:
        parent.command(name, **options)(target)
    return typer.main.get_command(parent).commands[name]  # type: ignore[attr-defined]


class _LazyRoot(TyperGroup):
    """The root command: lists every command of :data:`COMMANDS` and builds one when it is
    asked for (translating its help when the language is not English)."""

    def list_commands(self, ctx: Any) -> list[str]:
        # as Typer lists a root's own: its commands first, then its groups
        ordered = sorted(COMMANDS, key=lambda n: COMMANDS[n][2] == _GROUP)
        return [*super().list_commands(ctx), *(n for n in ordered if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            command = _build(cmd_name)
            if get_language() != "en":
                translate_tree(command)
            self.commands[cmd_name] = command
        return super().get_command(ctx, cmd_name)

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


__all__ = ["COMMANDS", "app", "command_tree", "console", "main"]
