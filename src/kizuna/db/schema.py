"""Alembic migrations, run from code: ``upgrade`` and ``ensure_schema``."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect

from kizuna.db import bigrams, usage_months
from kizuna.db.engine import reads_only

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(engine: Engine | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return cfg


@cache
def head_revision() -> str | None:
    """The newest migration's id (read once per process: the scripts do not change while it
    runs, and parsing them costs ~50 ms — every app, command and test store asks)."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def known_revision(revision: str) -> bool:
    """Whether ``revision`` is one of this Kizuna's migrations (a backup from a newer
    Kizuna carries one it does not know)."""
    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except Exception:  # alembic raises its own ResolutionError / CommandError for unknown ids
        return False


def current_revision(engine: Engine) -> str | None:
    with reads_only(), engine.connect() as conn:  # never waits for a writer (an import)
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision`` in one transaction.

    On SQLite, a migration that alters a table rebuilds it (create a copy, copy the
    rows, drop the old one). With foreign keys enforced, dropping ``accounts`` would
    cascade-delete every subscription, contact and event, so enforcement is switched
    off for the run (outside the transaction, where SQLite honours the pragma), the
    result is checked with ``PRAGMA foreign_key_check`` before commit, and switched on
    again. Afterwards the account search index's triggers are put back if a rebuilt
    ``accounts`` lost them (see :mod:`kizuna.db.bigrams`), and the monthly usage
    rollup's if a rebuilt ``usage_daily`` did (:mod:`kizuna.db.usage_months`).
    """
    cfg = alembic_config(engine)
    with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            _set_foreign_keys(conn, on=False)
        try:
            with conn.begin():
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, revision)
                if inspect(conn).has_table("account_bigrams"):
                    bigrams.install(conn)  # a migration that rebuilt `accounts` dropped its triggers
                if inspect(conn).has_table(usage_months.TABLE):
                    usage_months.install(conn)  # … or one that rebuilt `usage_daily`
                if sqlite:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"the migration left rows pointing at missing rows: {broken[:5]}")
        finally:
            if sqlite:
                _set_foreign_keys(conn, on=True)


def _set_foreign_keys(conn: Connection, *, on: bool) -> None:
    # On the DBAPI connection: going through SQLAlchemy would BEGIN first, and SQLite
    # ignores this pragma inside a transaction.
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None
    dbapi.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def ensure_schema(engine: Engine) -> bool:
    """Bring the schema up to date if it is not; return whether anything was applied."""
    if current_revision(engine) == head_revision():
        return False
    upgrade(engine)
    return True
