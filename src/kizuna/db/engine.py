"""Engines and sessions for the operational store (SQLite by default, PostgreSQL for teams)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, **options: Any) -> Engine:
    """Create an engine with Kizuna's per-backend setup.

    SQLite: WAL journal (readers never block the writer), foreign keys on, a 30 s
    busy timeout, and SQLAlchemy's recipe for real transactions and savepoints
    (``BEGIN`` emitted by us, not by pysqlite), so that imports and migrations are
    atomic. PostgreSQL: pre-ping pooled connections.
    """
    parsed = make_url(url)
    # Statement parameters are customer data: never in an exception's text, so never in a log.
    options.setdefault("hide_parameters", True)
    if parsed.get_backend_name() == "sqlite":
        options.setdefault("connect_args", {}).setdefault("check_same_thread", False)
        engine = create_engine(url, **options)
        in_memory = parsed.database in (None, "", ":memory:")

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
            cursor = dbapi_connection.cursor()
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # 64 MB of page cache (SQLite's default is 2 MB): big imports keep their
            # indexes' hot pages in memory instead of re-reading them for every batch.
            cursor.execute("PRAGMA cache_size=-65536")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN")

        return engine
    options.setdefault("pool_pre_ping", True)
    return create_engine(url, **options)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error. For entry points only."""
    session = Session(bind=engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
