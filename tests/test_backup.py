"""``kizuna backup`` and ``kizuna restore`` (issue 12): a consistent copy while a writer
writes, a restore that checks what it restores, and a round trip on each backend."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from kizuna.db import make_engine, session_scope
from kizuna.db.schema import head_revision
from tests.cli import run_cli
from tests.test_imports import counts, load_all


def _accounts(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {r[0] for r in conn.execute(text("SELECT external_id FROM accounts"))}
    finally:
        engine.dispose()


def test_a_backup_taken_while_a_writer_writes_restores_every_row_committed_before_it(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    load_all(sqlite_url)
    committed: list[tuple[float, str]] = []  # (when the commit returned, external_id)
    stop = threading.Event()
    problems: list[BaseException] = []

    def writer() -> None:
        engine = make_engine(sqlite_url)
        n = 0
        try:
            while not stop.is_set():
                with session_scope(engine) as session:
                    for _ in range(20):
                        n += 1
                        session.execute(text("INSERT INTO accounts (external_id, name, custom_fields, status, mrr, "
                                             "currency, at_risk, created_at, updated_at) VALUES (:e, :n, '{}', "
                                             "'prospect', 0, 'JPY', 0, '2026-01-01', '2026-01-01')"),
                                        {"e": f"LIVE-{n}", "n": f"Live {n}"})  # fmt: skip
                committed.extend((time.monotonic(), f"LIVE-{i}") for i in range(n - 19, n + 1))
        except BaseException as exc:  # reported by the test below
            problems.append(exc)
        finally:
            engine.dispose()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(committed) < 200:  # the writer is well under way
            time.sleep(0.01)
        monkeypatch.setenv("KIZUNA_DATABASE_URL", sqlite_url)
        began = time.monotonic()
        result = run_cli(capsys, "backup", str(tmp_path / "kizuna.backup"))
        time.sleep(0.2)  # and it keeps writing after
    finally:
        stop.set()
        thread.join(60)
    assert problems == []
    assert result.code == 0, result.err
    assert f"schema revision {head_revision()}" in result.out
    before = {key for at, key in committed if at < began}
    after_backup = {key for at, key in committed if at >= began}
    assert len(before) >= 200
    assert after_backup  # the writer really wrote while and after the backup was taken

    restored_url = f"sqlite:///{tmp_path / 'restored.db'}"
    monkeypatch.setenv("KIZUNA_DATABASE_URL", restored_url)
    result = run_cli(capsys, "restore", str(tmp_path / "kizuna.backup"))
    assert result.code == 0, result.err
    conn = sqlite3.connect(tmp_path / "restored.db")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'kizuna_backup'").fetchone() == (0,)
    finally:
        conn.close()
    restored = _accounts(restored_url)
    live = {k for k in restored if k.startswith("LIVE-")}
    assert before <= live  # every row committed before the backup began
    assert "ACC-1" in restored
    # A consistent snapshot: whole transactions of 20 rows, never part of one.
    assert len(live) % 20 == 0

    # A store that holds data is not overwritten without --force.
    result = run_cli(capsys, "restore", str(tmp_path / "kizuna.backup"))
    assert result.code == 1
    assert "the store already holds data; restoring would replace it all. Add --force to do so" in result.err
    assert run_cli(capsys, "restore", "--force", str(tmp_path / "kizuna.backup")).code == 0
    assert _accounts(restored_url) == restored


def test_restore_refuses_files_that_are_not_kizuna_backups_or_from_a_newer_kizuna(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KIZUNA_DATABASE_URL", f"sqlite:///{tmp_path / 'target.db'}")
    csv_file = tmp_path / "accounts.csv"
    csv_file.write_text("external_id,name\nA-1,Acme\n", encoding="utf-8")
    result = run_cli(capsys, "restore", str(csv_file))
    assert result.code == 1
    assert "is not a Kizuna backup (not an SQLite file)" in result.err

    plain = tmp_path / "plain.db"  # an SQLite file, but not made by `kizuna backup`
    sqlite3.connect(plain).execute("CREATE TABLE t (x)").connection.close()
    result = run_cli(capsys, "restore", str(plain))
    assert "is not a Kizuna backup (made by `kizuna backup`)" in result.err

    monkeypatch.setenv("KIZUNA_DATABASE_URL", sqlite_url)
    assert run_cli(capsys, "backup", str(tmp_path / "b.backup")).code == 0
    conn = sqlite3.connect(tmp_path / "b.backup")
    conn.execute("UPDATE kizuna_backup SET revision = '9999_from_the_future'")
    conn.commit()
    conn.close()
    monkeypatch.setenv("KIZUNA_DATABASE_URL", f"sqlite:///{tmp_path / 'target.db'}")
    result = run_cli(capsys, "restore", str(tmp_path / "b.backup"))
    assert result.code == 1
    assert "comes from a newer Kizuna (schema revision 9999_from_the_future); upgrade Kizuna first" in result.err


@pytest.mark.parametrize("store_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True)
def test_postgresql_backup_and_restore_round_trip(
    store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    load_all(store_url)
    before = counts(store_url)
    monkeypatch.setenv("KIZUNA_DATABASE_URL", store_url)
    result = run_cli(capsys, "backup", str(tmp_path / "pg.backup"))
    assert result.code == 0, result.err
    engine = make_engine(store_url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM usage_events"))
    engine.dispose()
    assert run_cli(capsys, "restore", str(tmp_path / "pg.backup")).code == 1  # not empty: needs --force
    result = run_cli(capsys, "restore", "--force", str(tmp_path / "pg.backup"))
    assert result.code == 0, result.err
    assert counts(store_url) == before
