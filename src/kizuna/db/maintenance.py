"""Whole-store housekeeping: how many rows each table holds, emptying the store, and
finding stored dates outside the accepted range.

Runs inside the caller's transaction; nothing commits.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import String, delete, func, or_, select, text, type_coerce
from sqlalchemy.orm import Session

from kizuna.db import bigrams, models, usage_months  # noqa: F401  (registers every table)
from kizuna.db.base import Base
from kizuna.db.types import FIRST_MOMENT, LAST_MOMENT, BoundedDate, UTCDateTime
from kizuna.domain.dates import MAX_DATE, MIN_DATE


def table_names() -> list[str]:
    """Every data table, references first (the order a full load follows)."""
    return [t.name for t in Base.metadata.sorted_tables]


def count_rows(session: Session, table_name: str) -> int:
    t = Base.metadata.tables[table_name]
    return int(session.scalar(select(func.count()).select_from(t)) or 0)


def table_counts(session: Session) -> dict[str, int]:
    return {name: count_rows(session, name) for name in table_names()}


def is_empty(session: Session) -> bool:
    """True when no data table holds a row (the schema version table, the search
    index's own tables and the monthly usage rollup, all derived, do not count)."""
    derived = {*bigrams.TABLES, usage_months.TABLE}
    tables = [t for t in Base.metadata.sorted_tables if t.name not in derived]
    return all(session.execute(select(1).select_from(t).limit(1)).first() is None for t in tables)


def delete_all(session: Session) -> None:
    """Delete every row of every data table, keeping the schema (and the search index's
    character positions, which are part of it)."""
    tables = [t for t in reversed(Base.metadata.sorted_tables) if t.name != bigrams.POSITIONS_TABLE]
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


@dataclass(frozen=True)
class StoredOutOfRange:
    """One stored date or timestamp outside the accepted range (``kizuna db check``)."""

    table: str
    id: str  # the primary key; ``a/b`` for a composite key
    column: str
    value: str  # as stored


def dates_out_of_range(session: Session, limit: int = 10_000) -> list[StoredOutOfRange]:
    """Every stored date or timestamp outside ``MIN_DATE`` … ``MAX_DATE`` (at most ``limit``).

    Such rows predate the range check on every input path (or were written by hand);
    they are read back clamped into the range (``kizuna.db.types``), and listed here so
    that they can be corrected. Values are compared in SQL and shown as stored.
    """
    found: list[StoredOutOfRange] = []
    for table in Base.metadata.sorted_tables:
        pk = list(table.primary_key.columns)
        for col in table.columns:
            if isinstance(col.type, BoundedDate):
                bounds: tuple[object, object] = (MIN_DATE, MAX_DATE)
            elif isinstance(col.type, UTCDateTime):
                bounds = (FIRST_MOMENT, LAST_MOMENT)
            else:
                continue
            query = (
                select(*pk, type_coerce(col, String))
                .where(or_(col < bounds[0], col > bounds[1]))
                .order_by(*pk)
                .limit(limit - len(found))
            )
            for row in session.execute(query):
                key = "/".join(str(v) for v in row[:-1])
                found.append(StoredOutOfRange(table.name, key, col.name, str(row[-1])))
            if len(found) >= limit:
                return found
    return found
