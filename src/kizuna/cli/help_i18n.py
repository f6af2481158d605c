"""Japanese ``--help``: Typer builds the command tree from literal English strings when
the modules are imported, before ``--lang`` is read. So the language is read from the
command line first (:func:`language_from_argv`), and the help texts of the built tree
are translated just before it runs (:func:`translate_tree`). A help text is looked up
as written, then with each paragraph on one line (how the catalogue holds it).

The help texts need no marking: ``make i18n`` extracts the command modules with
:func:`extract_cli_help` (``babel.cfg``), which finds, besides the ``_()``/``N_()`` calls,
every literal ``help="…"`` and the docstring of every command. ``tests/test_cli_help.py``
walks the whole command tree and fails on a help text without its Japanese."""

from __future__ import annotations

import ast
import io
import re
from collections.abc import Iterator
from typing import IO, Any

from kizuna.i18n import N_, _, gettext

_PARAGRAPHS = re.compile(r"\n\s*\n")

#: Typer's own panel titles and markers.
TYPER_STRINGS = {
    "ARGUMENTS_PANEL_TITLE": N_("Arguments"),
    "OPTIONS_PANEL_TITLE": N_("Options"),
    "COMMANDS_PANEL_TITLE": N_("Commands"),
    "REQUIRED_LONG_STRING": N_("[required]"),
    "DEFAULT_STRING": N_("[default: {}]"),
}


#: Help texts of options every command has (click's and Typer's own).
BUILT_IN_HELP = (
    N_("Show this message and exit."),
    N_("Install completion for the current shell."),
    N_("Show completion for the current shell, to copy it or customize the installation."),
)


def language_from_argv(argv: list[str]) -> str | None:
    """The value of the root's ``--lang`` (before the first command), if given."""
    for i, arg in enumerate(argv):
        if arg == "--lang" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--lang="):
            return arg.split("=", 1)[1]
        if not arg.startswith("-"):
            return None  # a command: its own options are not the root's
    return None


def flatten_help(text: str) -> str:
    """A help text as the catalogue holds it: paragraphs kept, each on one line."""
    return "\n\n".join(" ".join(p.split()) for p in _PARAGRAPHS.split(text.strip()))


def _is_typer_call(node: ast.expr) -> bool:
    """``typer.Option(…)``, ``typer.Argument(…)`` (or the bare names)."""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return name in ("Option", "Argument")


def _is_command(node: ast.FunctionDef) -> bool:
    """A command or callback: decorated with ``….command(…)``/``….callback(…)`` without its
    own ``help=``, or (registered as ``app.command(…)(function)``) taking Typer parameters."""
    for decorator in node.decorator_list:
        if not isinstance(decorator, ast.Call):
            continue
        if isinstance(decorator.func, ast.Attribute) and decorator.func.attr in ("command", "callback"):
            return not any(k.arg == "help" for k in decorator.keywords)
    defaults = [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]
    return any(_is_typer_call(d) for d in defaults)


def extract_cli_help(fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any) -> Iterator[Any]:
    """Babel extraction method for the command modules (``babel.cfg``): what the Python
    extractor finds, plus each literal ``help="…"`` and each command's docstring,
    flattened as :func:`translate_help` looks them up."""
    from babel.messages.extract import extract_python

    source = fileobj.read()
    yield from extract_python(io.BytesIO(source), keywords, comment_tags, options)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                value = keyword.value
                if keyword.arg == "help" and isinstance(value, ast.Constant) and isinstance(value.value, str):
                    yield value.lineno, "", flatten_help(value.value), []
        elif isinstance(node, ast.FunctionDef) and _is_command(node):
            doc = ast.get_docstring(node)
            if doc:
                yield node.lineno, "", flatten_help(doc), []


def translate_help(text: str | None) -> str | None:
    if not text:
        return text
    found = gettext(text)
    if found != text:
        return found
    flat = flatten_help(text)
    paragraphs = flat.split("\n\n")
    found = gettext(flat)
    if found != flat:
        return found
    translated = [gettext(p) for p in paragraphs]  # paragraph by paragraph (a list of names stays as it is)
    return "\n\n".join(translated) if translated != paragraphs else text


def translate_tree(command: Any) -> None:
    """Translate the help of ``command``, its parameters and its subcommands in place."""
    command.help = translate_help(command.help)
    if getattr(command, "short_help", None):
        command.short_help = translate_help(command.short_help)
    for param in command.params:
        if getattr(param, "help", None):
            param.help = translate_help(param.help)
    for sub in getattr(command, "commands", {}).values():
        translate_tree(sub)
    original = command.get_help_option  # click makes --help when it renders: translate it then

    def get_help_option(ctx: Any) -> Any:
        option = original(ctx)
        if option is not None:
            option.help = translate_help(option.help)
        return option

    command.get_help_option = get_help_option


def translate_typer_strings() -> None:
    """Typer's panel titles in the language; and Japanese help folded at the terminal's
    edge (Rich wraps at spaces only, and cuts a long run of Japanese text with "…")."""
    import typer.rich_utils as rich_utils
    from rich.text import Text

    for name, text in TYPER_STRINGS.items():
        setattr(rich_utils, name, _(text))
    make = rich_utils._make_rich_text
    if getattr(make, "_kizuna_folds", False):
        return

    def folding(*args: Any, **kwargs: Any) -> Any:
        rendered = make(*args, **kwargs)
        if isinstance(rendered, Text):
            rendered.overflow = "fold"
        return rendered

    folding._kizuna_folds = True  # type: ignore[attr-defined]
    rich_utils._make_rich_text = folding
