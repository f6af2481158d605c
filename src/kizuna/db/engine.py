"""Engines and sessions for the operational store (SQLite by default, PostgreSQL for teams)."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

#: Whether transactions begun in this context only read (see :func:`reads_only`).
_READS_ONLY: ContextVar[bool] = ContextVar("kizuna_reads_only", default=False)

#: What a failed statement raises (re-exported so the entry points need no SQLAlchemy import).
DatabaseError = DBAPIError

#: PostgreSQL's "try again" states: serialization failure, deadlock, lock not available.
_PG_RETRY_STATES = frozenset({"40001", "40P01", "55P03"})


@contextmanager
def reads_only() -> Iterator[None]:
    """Transactions begun inside this block only read: on SQLite they start with a plain
    (deferred) ``BEGIN``, so a long write (an import) never makes a page wait. Everything
    else starts with ``BEGIN IMMEDIATE`` (see :func:`make_engine`)."""
    token = _READS_ONLY.set(True)
    try:
        yield
    finally:
        _READS_ONLY.reset(token)


def is_write_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` is a write that lost to another one and may simply be tried again:
    SQLite's "database is locked" (the busy timeout ran out) or PostgreSQL's
    serialization failure, deadlock or lock timeout."""
    if not isinstance(exc, DBAPIError):
        return False
    state = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    if state in _PG_RETRY_STATES:
        return True
    message = str(exc.orig).lower()
    return "database is locked" in message or "database is busy" in message or "database table is locked" in message


def make_engine(url: str, **options: Any) -> Engine:
    """Create an engine with Kizuna's per-backend setup.

    SQLite: WAL journal (readers never block the writer), foreign keys on, a 30 s
    busy timeout, and SQLAlchemy's recipe for real transactions and savepoints
    (``BEGIN`` emitted by us, not by pysqlite), so that imports and migrations are
    atomic. Transactions start with ``BEGIN IMMEDIATE`` (writers wait for each other
    within the busy timeout instead of failing), except inside :func:`reads_only`.
    PostgreSQL: pre-ping pooled connections.
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
            # A deferred BEGIN takes a read snapshot first; its first write must then
            # upgrade, which fails at once (no busy wait) when another connection wrote
            # meanwhile. BEGIN IMMEDIATE takes the write lock up front, so the busy
            # timeout applies and concurrent writers queue instead of failing.
            conn.exec_driver_sql("BEGIN" if _READS_ONLY.get() else "BEGIN IMMEDIATE")

        return engine
    options.setdefault("pool_pre_ping", True)
    return create_engine(url, **options)


class StoreVersion:
    """A number that changes whenever a change to the store is committed, by any
    connection of this process or of another (a second server process, an import from
    the CLI): SQLite's ``PRAGMA data_version``, read on a connection of its own that
    never writes, so that every commit is another connection's. A few microseconds;
    what a per-process cache of the store's data is keyed on (issue 19: the accounts
    list's filter menus). ``None`` where there is no such number (PostgreSQL, an
    in-memory store): nothing may then be cached."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._inode = 0
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:") and not parsed.query:
            self._path = parsed.database

    def current(self) -> tuple[int, int] | None:
        """``(the file's inode, its data version)``: a file replaced by another (a store
        copied over) is read afresh."""
        path = getattr(self, "_path", None)
        if path is None:
            return None
        try:
            inode = os.stat(path).st_ino
        except OSError:
            return None
        with self._lock:
            if self._connection is None or self._inode != inode:
                if self._connection is not None:
                    self._connection.close()
                self._connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
                self._inode = inode
            return inode, int(self._connection.execute("PRAGMA data_version").fetchone()[0])


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
