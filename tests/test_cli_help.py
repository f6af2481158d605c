"""``kizuna --lang ja … --help`` is Japanese for every command and option: the whole
command tree (hidden commands too) is walked, and any help text still in English fails,
naming the command and the option."""

from __future__ import annotations

import ast
import io
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import click
import pytest
import typer

from kizuna.cli import COMMANDS, app, command_tree
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


def _loaded(*args: str) -> tuple[str, list[str]]:
    """The output of ``kizuna ARGS`` in a fresh interpreter, and the modules of the command
    line, pandas and the web app it imported."""
    probe = (
        "import sys\n"
        "from kizuna.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "print('LOADED', sorted(m for m in sys.modules if m.startswith(('kizuna.cli.', 'pandas', 'kizuna.web'))))"
    )
    done = subprocess.run([sys.executable, "-c", probe, *args], env={**os.environ, "COLUMNS": "120"},
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    out, loaded = done.stdout.rsplit("LOADED", 1)
    return out, ast.literal_eval(loaded.strip())


def test_a_command_loads_only_its_own_module() -> None:
    """``kizuna users create`` starts without pandas, the analytics or the other commands'
    modules (every command used to import them all: ~3 s before anything happened); the root's
    help lists every command without loading any of their modules (it built all 118: ~2.5 s)."""
    out, loaded = _loaded("users", "create", "--help")
    assert loaded == ["kizuna.cli.context", "kizuna.cli.help_i18n", "kizuna.cli.users"]
    assert "--email" in out
    out, loaded = _loaded("--help")
    assert loaded == ["kizuna.cli.context", "kizuna.cli.help_i18n"]
    listed = re.findall(r"^│ ([a-z]+) ", out, flags=re.M)
    tree = command_tree()
    shown = [n for n in tree.list_commands(None) if not tree.get_command(None, n).hidden]
    assert listed == shown
    assert len(shown) == len(COMMANDS) - 2  # `report` and `ingest`: old names, hidden
    assert listed[:3] == ["backup", "restore", "export"]  # Typer's order: the root's commands, then its groups


def _root_help(capsys: pytest.CaptureFixture[str], *, built: bool) -> str:
    root = typer.main.get_command(app)
    if built:
        root.load_all()  # type: ignore[attr-defined]
    capsys.readouterr()
    root.main(args=["--help"], prog_name="kizuna", standalone_mode=False)
    return capsys.readouterr().out


#: restore's help in each language: the summary (the root's listing) and the paragraph after it
RESTORE = {
    "en": ["Restore the store from FILE (made by `kizuna backup`), then bring its schema up to date.",
           "Refuses a store that already holds data unless --force is given."],
    "ja": ["FILE（`kizuna backup` で作成）からストアを復元し、スキーマを最新にします。",
           "--force を指定しない限り、データが入っているストアには復元しません。"],
}  # fmt: skip


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_the_root_help_lists_what_the_built_commands_say(capsys: pytest.CaptureFixture[str],
                                                         monkeypatch: pytest.MonkeyPatch, lang: str) -> None:  # fmt: skip
    """The root's ``--help`` lists the summaries of :data:`COMMANDS` without building the
    commands: the listing is the same, line for line, as when every command is built (each
    command's own help, its visibility, its translation)."""
    monkeypatch.setenv("COLUMNS", "200")
    with language(lang):
        listed = _root_help(capsys, built=False)
        built = _root_help(capsys, built=True)
        restore = typer.main.get_command(app).get_command(None, "restore")  # type: ignore[attr-defined]
    assert listed == built
    summaries = dict(re.findall(r"^│ ([a-z]+) +(\S.*?) *│$", listed, flags=re.M))
    assert len(summaries) == len(COMMANDS) - 2  # all but the two hidden old names
    assert summaries["restore"] == RESTORE[lang][0]
    assert restore.help.split("\n\n") == RESTORE[lang]


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
