"""Whole-store housekeeping: how many rows each table holds, and emptying the store.

Runs inside the caller's transaction; nothing commits.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from kizuna.db import models  # noqa: F401  (registers every table)
from kizuna.db.base import Base


def table_names() -> list[str]:
    """Every data table, references first (the order a full load follows)."""
    return [t.name for t in Base.metadata.sorted_tables]


def count_rows(session: Session, table_name: str) -> int:
    t = Base.metadata.tables[table_name]
    return int(session.scalar(select(func.count()).select_from(t)) or 0)


def table_counts(session: Session) -> dict[str, int]:
    return {name: count_rows(session, name) for name in table_names()}


def is_empty(session: Session) -> bool:
    """True when no data table holds a row (the schema version table does not count)."""
    return all(session.execute(select(1).select_from(t).limit(1)).first() is None for t in Base.metadata.sorted_tables)


def delete_all(session: Session) -> None:
    """Delete every row of every data table, keeping the schema."""
    tables = list(reversed(Base.metadata.sorted_tables))
    if session.get_bind().dialect.name == "postgresql":
        names = ", ".join(t.name for t in tables)
        session.execute(text(f"TRUNCATE TABLE {names} RESTART IDENTITY CASCADE"))
        return
    for t in tables:
        session.execute(delete(t))


def optimize(session: Session) -> None:
    """Let the database refresh its planner statistics after a large change
    (SQLite: ``PRAGMA optimize``; PostgreSQL's autovacuum does this itself)."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("PRAGMA optimize"))
