"""Run the real ``kizuna`` command line in-process and capture what a user would see."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from kizuna.cli import main


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> CliResult:
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return CliResult(code, captured.out, captured.err)
