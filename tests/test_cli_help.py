"""``kizuna --lang ja … --help`` is Japanese for every command and option: the whole
command tree (hidden commands too) is walked, and any help text still in English fails,
naming the command and the option."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import click

from kizuna.cli import COMMANDS, command_tree
from kizuna.cli.help_i18n import extract_cli_help, translate_tree
from kizuna.i18n import language

#: Hiragana, katakana or a CJK ideograph: the help text is Japanese.
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def _tree(command: click.Command, path: str = "kizuna") -> Iterator[tuple[str, click.Command]]:
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from _tree(sub, f"{path} {name}")


def _texts(command: click.Command, ctx: click.Context) -> Iterator[tuple[str, str | None]]:
    """(what, help text) of a command and each of its parameters, --help included."""
    yield "(the command)", command.help
    params: list[Any] = [*command.params, command.get_help_option(ctx)]
    for param in params:
        if param is not None:
            yield "/".join(param.opts), getattr(param, "help", None)


def _translated_tree() -> click.Command:
    command: click.Command = command_tree()
    translate_tree(command)
    return command


def test_every_command_and_option_has_japanese_help() -> None:
    english: list[str] = []
    commands = 0
    with language("ja"):
        root = _translated_tree()
        for path, command in _tree(root):
            commands += 1
            ctx = click.Context(command, info_name=path.split()[-1])
            for what, text in _texts(command, ctx):
                if not text or not JAPANESE.search(text):
                    english.append(f"{path} {what}: {text!r}")
    assert commands > 60  # the walk reached the subcommands (hidden ones too)
    assert english == [], "help texts without Japanese (add them to kizuna.po: make i18n):\n" + "\n".join(english)


def test_english_help_stays_english() -> None:
    with language("en"):
        root = _translated_tree()
        users = root.commands["users"].commands["sessions"].commands["revoke"]  # type: ignore[attr-defined]
        assert users.help == "End every sign-in of a user at once (a lost laptop, a departure)."
        assert users.params[0].help == "The user's sign-in email."


def test_a_command_loads_only_its_own_module() -> None:
    """``kizuna users create`` starts without pandas, the analytics or the other commands'
    modules (every command used to import them all: ~3 s before anything happened); the root's
    help still lists every command."""
    probe = (
        "import sys\n"
        "from kizuna.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "print('LOADED', sorted(m for m in sys.modules if m.startswith(('kizuna.cli.', 'pandas', 'kizuna.web'))))"
    )
    env = {**os.environ, "COLUMNS": "120"}
    done = subprocess.run([sys.executable, "-c", probe, "users", "create", "--help"], env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    loaded = done.stdout.rsplit("LOADED", 1)[1].strip()
    assert loaded == str(["kizuna.cli.context", "kizuna.cli.help_i18n", "kizuna.cli.users"])
    assert "--email" in done.stdout
    root = subprocess.run([sys.executable, "-m", "kizuna", "--help"], env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    listed = re.findall(r"^│ ([a-z]+) ", root.stdout, flags=re.M)
    tree = command_tree()
    shown = [n for n in tree.list_commands(None) if not tree.get_command(None, n).hidden]
    assert listed == shown
    assert len(shown) == len(COMMANDS) - 2  # `report` and `ingest`: old names, hidden
    assert listed[:3] == ["backup", "restore", "export"]  # Typer's order: the root's commands, then its groups


def test_help_texts_are_extracted_without_marking() -> None:
    source = b'''
import typer
app = typer.Typer(help="A group.")

@app.command("go")
def go(day: str = typer.Option(None, "--day", help="The day."), n: int = typer.Argument(1, help="How many")) -> None:
    """Go somewhere.

    Second paragraph, wrapped
    over two lines."""

@app.command("quiet", help=N_("Marked."))
def quiet() -> None:
    """Not used by Typer: the decorator gives the help."""

def helper() -> None:
    """Not a command."""
'''
    found = {m[2] for m in extract_cli_help(io.BytesIO(source), ["_", "N_"], [], {})}
    assert found == {"A group.", "The day.", "How many", "Go somewhere.\n\nSecond paragraph, wrapped over two lines.",
                     "Marked."}  # fmt: skip


def test_lang_ja_help_of_a_deep_command_in_a_terminal() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")}
    env.update(COLUMNS="100", LANG="C.UTF-8")
    done = subprocess.run([sys.executable, "-m", "kizuna", "--lang", "ja", "users", "sessions", "revoke", "--help"],
                          env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    flat = "".join(done.stdout.split())
    assert "ユーザーのサインインをすべて一度に終了します（PCの紛失や退職のとき）。" in flat
    assert "ユーザーのサインイン用メールアドレス。" in flat
    assert "sign-in" not in done.stdout
