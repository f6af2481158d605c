"""Migrations build the schema the models describe, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic import command
from sqlalchemy import inspect, text
from sqlalchemy.exc import StatementError

from kizuna.db import make_engine, session_scope
from kizuna.db.base import Base
from kizuna.db.models import Account, UsageEvent
from kizuna.db.schema import alembic_config, current_revision, ensure_schema, head_revision


def test_migrations_match_the_models(store_url: str) -> None:
    engine = make_engine(store_url)
    assert current_revision(engine) == head_revision()
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.check(cfg)  # raises if autogenerate would find any difference
    assert set(inspect(engine).get_table_names()) >= set(Base.metadata.tables)
    engine.dispose()


def test_ensure_schema_is_a_no_op_when_current(store_url: str) -> None:
    engine = make_engine(store_url)
    assert ensure_schema(engine) is False
    engine.dispose()


def test_the_sqlite_store_uses_wal_and_enforces_foreign_keys(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()


def test_timestamps_are_stored_in_utc_and_come_back_aware(store_url: str) -> None:
    engine = make_engine(store_url)
    jst = timezone(timedelta(hours=9))
    with session_scope(engine) as session:
        account = Account(external_id="A", name="株式会社テスト", custom_fields={})
        session.add(account)
        session.flush()
        session.add(UsageEvent(source="t", message_id="m", account_id=account.id, event="Signed In",
                               timestamp=datetime(2026, 1, 1, 9, 0, tzinfo=jst), properties={}))  # fmt: skip
    with session_scope(engine) as session:
        event = session.query(UsageEvent).one()
        assert event.timestamp == datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
        assert event.timestamp.tzinfo is not None
    engine.dispose()


def test_a_naive_datetime_is_refused(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    with session_scope(engine) as session:
        account = Account(external_id="A", name="x", custom_fields={})
        session.add(account)
        session.flush()
        session.add(UsageEvent(source="t", message_id="m", account_id=account.id, event="e",
                               timestamp=datetime(2026, 1, 1, 9, 0), properties={}))  # fmt: skip
        with pytest.raises(StatementError, match="naive datetime"):
            session.flush()
        session.rollback()
    engine.dispose()


def test_an_old_store_is_brought_up_to_date_by_any_command(tmp_path, capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from tests.cli import run_cli

    url = f"sqlite:///{tmp_path / 'old.db'}"
    monkeypatch.setenv("KIZUNA_DATABASE_URL", url)
    engine = make_engine(url)
    assert current_revision(engine) is None
    path = tmp_path / "accounts.csv"
    path.write_text("external_id,name\nA,x\n")
    assert run_cli(capsys, "import", "accounts", str(path)).code == 0
    assert current_revision(engine) == head_revision()
    result = run_cli(capsys, "db", "upgrade")
    assert result.code == 0
    assert "already up to date" in result.out
    engine.dispose()


def test_upgrading_a_store_with_data_keeps_every_row(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Migrations that rebuild ``accounts`` on SQLite must not cascade-delete its children."""
    from sqlalchemy import text

    from kizuna.db.schema import upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0003")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO accounts (id, external_id, name, custom_fields, status, mrr, created_at, updated_at) "
                          "VALUES (1, 'A', 'Acme', '{}', 'active', 1000, '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')"))  # fmt: skip
        conn.execute(text("INSERT INTO contacts (id, external_id, account_id, name, is_champion, created_at, updated_at) "
                          "VALUES (1, 'C', 1, 'Ann', 0, '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00')"))  # fmt: skip
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM contacts")).scalar() == 1
        assert conn.execute(text("SELECT name FROM accounts")).scalar() == "Acme"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    engine.dispose()
