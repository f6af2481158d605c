"""`kizuna demo --export DIR` writes files that `kizuna import` reads back unchanged."""

from __future__ import annotations

import filecmp
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kizuna.db import ensure_schema, make_engine, session_scope
from kizuna.services.exports import export_csv
from kizuna.services.imports import ENTITIES, ParseContext, import_file
from tests.cli import run_cli

CTX = ParseContext(ZoneInfo("Asia/Tokyo"), "JPY")


@pytest.fixture(scope="module")
def demo_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from kizuna.demo import generate_demo

    work = tmp_path_factory.mktemp("roundtrip")
    engine = make_engine(f"sqlite:///{work / 'demo.db'}")
    ensure_schema(engine)
    with session_scope(engine) as session:
        generate_demo(session, accounts=120, months=6, seed=11, as_of=date(2026, 9, 30))
    with session_scope(engine) as session:
        export_csv(session, work / "first")
    engine.dispose()
    return work / "first"


def test_an_export_imports_back_unchanged_on_each_backend(demo_export: Path, store_url: str, tmp_path: Path) -> None:
    engine = make_engine(store_url)
    with session_scope(engine) as session:  # one transaction for the whole folder
        for name in ENTITIES:
            import_file(session, name, demo_export / f"{name}.csv", ctx=CTX)
    with session_scope(engine) as session:
        counts = export_csv(session, tmp_path / "second")
    engine.dispose()
    assert counts["accounts"] == 120
    assert counts["usage_daily"] > 1000
    different = [f"{n}.csv" for n in ENTITIES
                 if not filecmp.cmp(demo_export / f"{n}.csv", tmp_path / "second" / f"{n}.csv", shallow=False)]  # fmt: skip
    assert different == []


def test_a_second_import_of_the_export_changes_nothing(demo_export: Path, sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with session_scope(engine) as session:
        for name in ENTITIES:
            import_file(session, name, demo_export / f"{name}.csv", ctx=CTX)
    with session_scope(engine) as session:
        again = [import_file(session, name, demo_export / f"{name}.csv", ctx=CTX) for name in ENTITIES]
    engine.dispose()
    assert all(s.inserted == 0 and s.updated == 0 for s in again), [(s.entity, s.inserted, s.updated) for s in again]


def test_the_demo_command_exports_and_the_import_command_reads_it_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIZUNA_DATABASE_URL", f"sqlite:///{tmp_path / 'a.db'}")
    result = run_cli(capsys, "demo", "--accounts", "40", "--months", "3", "--seed", "5", "--as-of", "2026-06-30",
                     "--no-serve", "--export", str(tmp_path / "out"))  # fmt: skip
    assert result.code == 0, result.err
    assert "Sign in as demo@kizuna.example" in result.out  # the demo ends ready to sign in
    monkeypatch.setenv("KIZUNA_DATABASE_URL", f"sqlite:///{tmp_path / 'b.db'}")
    result = run_cli(capsys, "import", "all", str(tmp_path / "out"))
    assert result.code == 0, result.err
    result = run_cli(capsys, "export", str(tmp_path / "again"))
    assert result.code == 0, result.err
    for name in ENTITIES:
        assert filecmp.cmp(tmp_path / "out" / f"{name}.csv", tmp_path / "again" / f"{name}.csv", shallow=False), name
