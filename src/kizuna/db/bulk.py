"""Set-at-a-time reads and writes for imports and exports, on SQLite and PostgreSQL.

Everything here runs inside the caller's transaction; nothing commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from kizuna.db import models  # noqa: F401  (registers every table)
from kizuna.db.base import Base
from kizuna.db.types import utcnow

_IN_CHUNK = 500  # keys per IN (...) list: well under every backend's parameter limit


def table(name: str) -> Table:
    return Base.metadata.tables[name]


def lookup_ids(session: Session, table_name: str, key: str, values: Iterable[Any]) -> dict[Any, int]:
    """Map natural keys (e.g. account external ids) to row ids; missing keys are absent."""
    t = table(table_name)
    wanted = list(dict.fromkeys(values))
    found: dict[Any, int] = {}
    for start in range(0, len(wanted), _IN_CHUNK):
        chunk = wanted[start : start + _IN_CHUNK]
        for k, i in session.execute(select(t.c[key], t.c.id).where(t.c[key].in_(chunk))):
            found[k] = i
    return found


def existing_keys(
    session: Session, table_name: str, columns: Sequence[str], keys: Sequence[tuple[Any, ...]]
) -> set[tuple[Any, ...]]:
    """Which of ``keys`` (tuples over ``columns``) are already stored."""
    t = table(table_name)
    cols = [t.c[c] for c in columns]
    out: set[tuple[Any, ...]] = set()
    step = max(1, _IN_CHUNK // len(cols))
    for start in range(0, len(keys), step):
        chunk = list(keys[start : start + step])
        cond = cols[0].in_([k[0] for k in chunk]) if len(cols) == 1 else tuple_(*cols).in_(chunk)
        out.update(tuple(r) for r in session.execute(select(*cols).where(cond)))
    return out


class KeyTracker:
    """Spots a key seen twice in one file without holding the file's keys in memory:
    keys go into a temporary table in the import's own transaction."""

    def __init__(self, session: Session) -> None:
        self._session = session
        self._table = Table(
            "kizuna_import_keys",
            MetaData(),
            Column("k", String, primary_key=True),
            Column("line", Integer, nullable=False),
            prefixes=["TEMPORARY"],
        )
        conn = session.connection()
        self._table.drop(conn, checkfirst=True)
        self._table.create(conn)

    def add(self, batch: Sequence[tuple[str, int]]) -> list[tuple[str, int, int]]:
        """Record ``(key, line)`` pairs; return ``(key, line, first_line)`` for repeats."""
        first_in_batch: dict[str, int] = {}
        repeats: list[tuple[str, int, int]] = []
        for key, line in batch:
            if key in first_in_batch:
                repeats.append((key, line, first_in_batch[key]))
            else:
                first_in_batch[key] = line
        keys = list(first_in_batch)
        seen: dict[str, int] = {}
        for start in range(0, len(keys), _IN_CHUNK):
            chunk = keys[start : start + _IN_CHUNK]
            rows = self._session.execute(select(self._table.c.k, self._table.c.line).where(self._table.c.k.in_(chunk)))
            seen.update((k, ln) for k, ln in rows)
        fresh = [{"k": k, "line": ln} for k, ln in first_in_batch.items() if k not in seen]
        repeats += [(k, first_in_batch[k], first) for k, first in seen.items()]
        if fresh:
            self._session.execute(self._table.insert(), fresh)
        return repeats

    def contains(self, keys: Iterable[str]) -> set[str]:
        wanted = list(dict.fromkeys(keys))
        out: set[str] = set()
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            out.update(self._session.scalars(select(self._table.c.k).where(self._table.c.k.in_(chunk))))
        return out

    def close(self) -> None:
        self._table.drop(self._session.connection(), checkfirst=True)


def upsert(
    session: Session,
    table_name: str,
    rows: list[dict[str, Any]],
    *,
    conflict: Sequence[str],
    immutable: bool = False,
) -> tuple[int, int]:
    """Insert ``rows``, or update the stored row with the same ``conflict`` key when a
    value differs (an identical row is left alone, ``updated_at`` included).
    ``immutable`` rows (events) are never updated. Returns ``(inserted, updated)``."""
    if not rows:
        return 0, 0
    t = table(table_name)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    keys = [tuple(r[c] for c in conflict) for r in rows]
    before = existing_keys(session, table_name, conflict, keys)
    stmt = insert(t)
    if immutable:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(conflict))
        result = session.execute(stmt.returning(*[t.c[c] for c in conflict]), rows)
        inserted = len(result.all())
        return inserted, 0
    data_cols = [c for c in rows[0] if c not in conflict and c in t.c]
    set_: dict[str, Any] = {c: stmt.excluded[c] for c in data_cols}
    if "updated_at" in t.c:
        set_["updated_at"] = literal(utcnow(), t.c.updated_at.type)
    changed = or_(*(t.c[c].is_distinct_from(stmt.excluded[c]) for c in data_cols)) if data_cols else literal(False)
    stmt = stmt.on_conflict_do_update(index_elements=list(conflict), set_=set_, where=changed)
    result = session.execute(stmt.returning(*[t.c[c] for c in conflict]), rows)
    touched = {tuple(r) for r in result}
    updated = len(touched & before)
    return len(touched) - updated, updated


def set_references(
    session: Session, table_name: str, attr: str, key: str, pairs: Sequence[tuple[Any, int | None]]
) -> None:
    """``UPDATE table SET attr = id WHERE key = k`` for each ``(k, id)`` pair (self references)."""
    t = table(table_name)
    for k, ref_id in pairs:
        session.execute(update(t).where(and_(t.c[key] == k, t.c[attr].is_distinct_from(ref_id))).values({attr: ref_id}))


def export_rows(
    session: Session,
    table_name: str,
    columns: Sequence[tuple[str, str, tuple[str, str] | None]],
    order_by: Sequence[str],
    *,
    batch_size: int = 5000,
) -> Iterator[dict[str, Any]]:
    """Stream rows as ``{column: value}``, references replaced by their natural keys.

    ``columns`` holds ``(column, attr, ref)`` where ``ref`` is ``(table, key)`` for a
    reference column (``account_external_id`` → ``accounts.external_id``).
    """
    t = table(table_name)
    selected = []
    joins = []
    for column, attr, ref in columns:
        if ref is None:
            selected.append(t.c[attr].label(column))
        else:
            other = aliased(table(ref[0]), name=f"ref_{column}")
            joins.append((other, t.c[attr] == other.c.id))
            selected.append(other.c[ref[1]].label(column))
    query = select(*selected).select_from(t)
    for other, cond in joins:
        query = query.outerjoin(other, cond)
    order = []
    for c in order_by:
        order.append(t.c[c])
    query = query.order_by(*order)
    result = session.execute(query.execution_options(yield_per=batch_size))
    for row in result.mappings():
        yield dict(row)


def insert_many(session: Session, table_name: str, rows: list[dict[str, Any]]) -> None:
    """Plain multi-row INSERT (no conflict handling): for generators that own their keys."""
    if rows:
        session.execute(table(table_name).insert(), rows)


def reset_sequences(session: Session) -> None:
    """After rows were inserted with explicit ids on PostgreSQL, move each table's id
    sequence past the largest id so that later inserts do not collide."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for t in Base.metadata.sorted_tables:
        if "id" in t.c and t.c.id.primary_key:
            session.execute(
                select(
                    literal_column(
                        f"setval(pg_get_serial_sequence('{t.name}', 'id'), coalesce((select max(id) from {t.name}), 0) + 1, false)"
                    )
                )
            )
