"""The command line for people: Japanese --help, tables that fit 80 columns, accounts
found by part of their name, and plain error messages (real subprocesses where the
terminal width or the start-up language matter)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.cells import cell_len

from tests.cli import run_cli
from tests.conftest import migrated_sqlite
from tests.metrics_fixture import load_fixture

DATA = Path(__file__).parent / "data" / "import"


def kizuna(*args: str, env: dict[str, str] | None = None, columns: int = 80) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")}
    clean.update({"COLUMNS": str(columns), "LANG": "C.UTF-8", **(env or {})})
    return subprocess.run([sys.executable, "-m", "kizuna", *args], env=clean, capture_output=True, text=True,
                          timeout=180)  # fmt: skip


def test_lang_ja_help_is_japanese_for_the_root_and_a_command() -> None:
    root = kizuna("--lang", "ja", "--help", columns=120)
    assert root.returncode == 0, root.stderr
    assert "カスタマーサクセスのためのプラットフォーム" in root.stdout
    assert "エラー時にトレースバックを表示します。" in root.stdout
    assert "オプション" in root.stdout
    assert "Show tracebacks on errors." not in root.stdout
    command = kizuna("--lang", "ja", "import", "--help", columns=100)
    assert command.returncode == 0, command.stderr
    assert "すべての問題をFILE:LINE:column:reasonの形で表示し" in "".join(command.stdout.split())
    assert "ファイルの文字コード（utf-8、cp932/shift_jis）。既定: 自動判定。" in command.stdout
    assert "このメッセージを表示して終了します。" in command.stdout
    assert "[必須]" in command.stdout
    assert not re.search(r"…\s*│", command.stdout)  # long Japanese help folds instead of being cut
    # KIZUNA_LANGUAGE does the same; --lang en wins over it
    env = kizuna("kpis", "--help", env={"KIZUNA_LANGUAGE": "ja"}, columns=120)
    assert "集計の基準日（既定: 今日）。" in env.stdout
    english = kizuna("--lang", "en", "kpis", "--help", env={"KIZUNA_LANGUAGE": "ja"}, columns=120)
    assert "The day to report on (default: today)." in english.stdout


@pytest.fixture(scope="module")
def metrics_store(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The metrics fixture, loaded once for the module (the KPI command only reads it)."""
    return load_fixture(migrated_sqlite(sqlite_template, tmp_path_factory.mktemp("kpi-tables") / "kizuna.db"))


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_kpi_tables_fit_80_columns_without_cutting_a_cell(metrics_store: str, lang: str, monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    # in this process (the command line reads COLUMNS and --lang as a terminal's start-up does):
    # a second interpreter cost ~4 s of imports per language
    for name in [k for k in os.environ if k.startswith("KIZUNA_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("KIZUNA_DATABASE_URL", metrics_store)
    monkeypatch.setenv("COLUMNS", "80")
    done = run_cli(capsys, "--lang", lang, "kpis", "--as-of", "2026-03-15", "--months", "3")
    assert done.code == 0, done.err
    lines = done.out.splitlines()
    assert max(cell_len(line) for line in lines) <= 80
    assert not [line for line in lines if "…" in line]
    text = done.out
    # every monthly figure is there in full: MRR, churned, reactivation, NRR, tickets/account
    for value in ("120,000", "-10,000", "10,000", "111.1%", "0.400"):
        assert value in text
    assert "(1/" in text  # the months come in more than one table


def test_accounts_are_found_by_part_of_their_name(sqlite_url: str, capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("KIZUNA_DATABASE_URL", sqlite_url)
    assert run_cli(capsys, "import", "all", str(DATA)).code == 0
    one = run_cli(capsys, "health", "show", "みなと")
    assert one.code == 0, one.err
    assert "合同会社みなと" in one.out
    several = run_cli(capsys, "segments", "show", "さくら")
    assert several.code == 1
    assert ("'さくら' matches several accounts: ACC-2 さくらロジスティクス株式会社; ACC-1 株式会社さくら商事; "
            "give more of the name, or the external id") in several.err  # fmt: skip
    typo = run_cli(capsys, "health", "show", "さくら商時")
    assert typo.code == 1
    assert "no account 'さくら商時'; did you mean: ACC-1 株式会社さくら商事?" in typo.err
    nothing = run_cli(capsys, "segments", "show", "zzz")
    assert "no account 'zzz' (give its id, external id, or part of its name)" in nothing.err
    assert run_cli(capsys, "segments", "show", "ACC-3").code == 0


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KIZUNA_TIMEZONE": "Mars/Olympus"},
         "Error: KIZUNA_TIMEZONE: unknown time zone 'Mars/Olympus' (use an IANA name such as Asia/Tokyo)"),
        ({"KIZUNA_PORT": "99999"}, "Error: KIZUNA_PORT: must be at most 65535"),
        ({"KIZUNA_PORT": "eighty"}, "Error: KIZUNA_PORT: not a whole number: 'eighty'"),
        ({"KIZUNA_SECURE_COOKIES": "maybe"},
         "Error: KIZUNA_SECURE_COOKIES: not true/false: 'maybe' (use true, false, 1, 0, yes or no)"),
    ],
    ids=["value-error", "range", "integer", "boolean"],
)  # fmt: skip
def test_configuration_errors_are_plain_sentences(
    env: dict[str, str], message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = run_cli(capsys, "kpis")
    assert result.code == 1
    assert message in " ".join(result.err.split())
    assert "Value error" not in result.err
    assert "Input should be" not in result.err


def test_a_one_shot_command_freezes_what_it_imported_and_a_test_process_does_not(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue 19: the `kizuna` program runs one command and ends, so after its heavy imports
    the collector is told to leave them be (gc.freeze: ~0.2 s of a KPI report's CPU, most of
    it at exit); a process that goes on — this test run — is left as it is."""
    import gc

    from kizuna.cli import context, main

    assert run_cli(capsys, "db", "--help").code == 0  # main([...]): a caller's own process
    assert context.state.one_shot is False
    before = gc.get_freeze_count()
    context.settle_imports()
    assert gc.get_freeze_count() == before
    monkeypatch.setattr(sys, "argv", ["kizuna", "db", "--help"])
    main()  # the entry point: no arguments given, sys.argv read (--help returns)
    assert "kizuna db" in capsys.readouterr().out
    assert context.state.one_shot is True
    try:
        context.settle_imports()
        assert gc.get_freeze_count() > before
    finally:
        gc.unfreeze()
        context.state.one_shot = False
