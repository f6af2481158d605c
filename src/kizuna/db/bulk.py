"""Set-at-a-time reads and writes for imports and exports, on SQLite and PostgreSQL.

Everything here runs inside the caller's transaction; nothing commits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    false,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session, aliased

from kizuna.db import models  # noqa: F401  (registers every table)
from kizuna.db.base import Base

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
            sqlite_with_rowid=False,  # one B-tree (the key's), not a table and its index
        )
        conn = session.connection()
        self._table.drop(conn, checkfirst=True)
        self._table.create(conn)
        self._mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        # A key already there (seen in an earlier batch) keeps its first line.
        self._insert_sql = f"INSERT INTO kizuna_import_keys (k, line) VALUES ({self._mark}, {self._mark}) " \
            "ON CONFLICT (k) DO NOTHING"  # fmt: skip

    def add(self, batch: Sequence[tuple[str, int]]) -> list[tuple[str, int, int]]:
        """Record ``(key, line)`` pairs; return ``(key, line, first_line)`` for repeats."""
        first_in_batch: dict[str, int] = {}
        repeats: list[tuple[str, int, int]] = []
        for key, line in batch:
            if key in first_in_batch:
                repeats.append((key, line, first_in_batch[key]))
            else:
                first_in_batch[key] = line
        if not first_in_batch:
            return repeats
        conn = self._session.connection()
        cursor = conn.exec_driver_sql(self._insert_sql, list(first_in_batch.items()))
        if cursor.rowcount == len(first_in_batch):
            return repeats  # every key was new: no lookup needed (the usual case)
        # Some keys were stored by an earlier batch: their stored line is not this one.
        keys = list(first_in_batch)
        for start in range(0, len(keys), _IN_CHUNK):
            chunk = keys[start : start + _IN_CHUNK]
            marks = ", ".join([self._mark] * len(chunk))
            rows = conn.exec_driver_sql(f"SELECT k, line FROM kizuna_import_keys WHERE k IN ({marks})", tuple(chunk))
            repeats += [(k, first_in_batch[k], first) for k, first in rows if first != first_in_batch[k]]
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


class _Prepared:
    """A statement compiled once for the driver, with the columns' bind processors, so
    a batch goes to the DBAPI's ``executemany`` without per-row SQLAlchemy overhead."""

    def __init__(self, session: Session, stmt: Any, t: Table, columns: Sequence[str]) -> None:
        dialect = session.get_bind().dialect
        compiled = stmt.compile(dialect=dialect, column_keys=list(columns))
        self.sql = str(compiled)
        self.positional = compiled.positiontup
        self.columns = list(columns)
        self.processors = [t.c[c].type._cached_bind_processor(dialect) for c in columns]

    def params(self, rows: list[dict[str, Any]], constants: dict[str, Any]) -> list[Any]:
        """Driver parameters for ``rows``; ``constants`` (same for every row) are
        converted once."""
        procs = dict(zip(self.columns, self.processors, strict=True))
        fixed = {c: (v if (p := procs[c]) is None else p(v)) for c, v in constants.items()}
        varying = [(c, procs[c]) for c in self.columns if c not in fixed]
        if self.positional is not None:
            # one C-level itemgetter per row, then the few columns that need converting
            names = [c for c in self.positional if c not in fixed]
            getter = itemgetter(*names)
            converters = [(i, procs[c]) for i, c in enumerate(names) if procs[c] is not None]
            fixed_slots = [(i, fixed[c]) for i, c in enumerate(self.positional) if c in fixed]
            out = []
            for r in rows:
                got = getter(r)
                values = list(got) if len(names) > 1 else [got]
                for i, p in converters:
                    values[i] = p(values[i])  # type: ignore[misc]
                for i, v in fixed_slots:
                    values.insert(i, v)
                out.append(tuple(values))
            return out
        return [{**fixed, **{c: (r[c] if p is None else p(r[c])) for c, p in varying}} for r in rows]


def _defaults(t: Table, present: Sequence[str]) -> dict[str, Any]:
    """Python-side column defaults (created_at, flags, …) that a raw insert would skip,
    evaluated once for the batch."""
    out: dict[str, Any] = {}
    for col in t.c:
        default = col.default
        if col.name in present or default is None:
            continue
        if getattr(default, "is_callable", False):
            out[col.name] = default.arg(None)  # type: ignore[attr-defined]
        elif getattr(default, "is_scalar", False):
            out[col.name] = default.arg  # type: ignore[attr-defined]
    return out


_NAMED_PARAM = re.compile(r"%\((\w+)\)s")


@dataclass(frozen=True)
class RowFormat:
    """The values of an insert into ``table`` as the driver takes them: one tuple per row,
    its values in ``columns`` order (the insert statement's parameters), each already
    converted by its column type's bind processor for the dialect (``processors``).

    ``columns`` are the ones supplied plus the other columns' Python-side defaults
    (``created_at``, flags, …): :meth:`default_values` evaluates and converts those once
    per batch. Building rows needs no database connection, so a parsing process does it
    and hands the writer tuples it sends to ``executemany`` as they are."""

    table: str
    columns: tuple[str, ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    defaults: dict[str, Any]

    @classmethod
    def of(cls, dialect: Dialect, table_name: str, supplied: Sequence[str]) -> RowFormat:
        t = table(table_name)
        defaults = {
            col.name: col.default
            for col in t.c
            if col.name not in supplied and col.default is not None
            and (getattr(col.default, "is_callable", False) or getattr(col.default, "is_scalar", False))
        }  # fmt: skip
        wanted = set(supplied) | set(defaults)
        columns = tuple(c.name for c in t.c if c.name in wanted)  # an insert's parameters follow the table
        if len(columns) != len(wanted):
            raise ValueError(f"not columns of {table_name}: {sorted(wanted - set(columns))}")
        return cls(table_name, columns, tuple(_processor(t.c[c].type, dialect) for c in columns), defaults)

    def default_values(self) -> dict[str, Any]:
        """The defaults of the columns not supplied, evaluated now, in the driver's form."""
        procs = dict(zip(self.columns, self.processors, strict=True))
        out: dict[str, Any] = {}
        for name, default in self.defaults.items():
            value = default.arg(None) if getattr(default, "is_callable", False) else default.arg
            out[name] = value if (p := procs[name]) is None else p(value)
        return out


def _processor(type_: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    process: Callable[[Any], Any] | None = type_._cached_bind_processor(dialect)
    if process is not None and isinstance(type_, JSON):
        # The commonest document, {}, is converted once rather than serialised per row.
        empty = process({})
        inner = process

        def process(value: Any) -> Any:
            return empty if value.__class__ is dict and not value else inner(value)

    return process


class PreparedUpsert:
    """Insert rows in the driver's form (:class:`RowFormat`), or update the stored row
    with the same ``conflict`` key when a value differs (an identical row is left alone,
    ``updated_at`` included); ``immutable`` rows (events) are never updated. The
    statement is compiled once for a whole import: each batch is one ``executemany`` of
    ready tuples."""

    def __init__(
        self, session: Session, fmt: RowFormat, *, conflict: Sequence[str], immutable: bool = False
    ) -> None:
        self._session = session
        self.format = fmt
        self._immutable = immutable
        t = table(fmt.table)
        dialect = session.get_bind().dialect
        insert = postgresql.insert if dialect.name == "postgresql" else sqlite.insert
        stmt = insert(t)
        if immutable:
            stmt = stmt.on_conflict_do_nothing(index_elements=list(conflict))
        else:
            data_cols = [c for c in fmt.columns if c not in conflict and c not in fmt.defaults]
            set_: dict[str, Any] = {c: stmt.excluded[c] for c in data_cols}
            if "updated_at" in t.c:
                set_["updated_at"] = stmt.excluded["updated_at"]
            changed = or_(*(t.c[c].is_distinct_from(stmt.excluded[c]) for c in data_cols)) if data_cols else false()
            stmt = stmt.on_conflict_do_update(index_elements=list(conflict), set_=set_, where=changed)
        compiled = stmt.compile(dialect=dialect, column_keys=list(fmt.columns))
        self.sql, order = _positional(str(compiled), compiled.positiontup)
        if tuple(order) != fmt.columns:
            raise ValueError(f"the insert's parameters are {order}, not {fmt.columns}")
        self._conflict_at = [fmt.columns.index(c) for c in conflict]
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        quote = dialect.identifier_preparer.quote
        self._existing_sql = (
            f"SELECT {', '.join(quote(c) for c in conflict)} FROM {quote(t.name)} WHERE {{}}", mark, quote, conflict,
        )

    def write(self, rows: Sequence[Sequence[Any]]) -> tuple[int, int]:
        """Insert ``rows`` or update the stored rows with the same key where a value
        differs; ``(inserted, updated)``."""
        if not rows:
            return 0, 0
        params = [tuple(r) for r in rows]
        existed = 0 if self._immutable else self._existing(params)
        affected = self._session.connection().exec_driver_sql(self.sql, params).rowcount
        if self._immutable:
            return affected, 0
        inserted = len(rows) - existed
        return inserted, affected - inserted

    def _existing(self, params: list[tuple[Any, ...]]) -> int:
        """How many of the rows' keys are stored (driver values on both sides)."""
        template, mark, quote, conflict = self._existing_sql
        at = self._conflict_at
        wanted = {tuple(r[i] for i in at) for r in params}
        firsts = list(dict.fromkeys(k[0] for k in wanted))
        others = [list({k[j] for k in wanted}) for j in range(1, len(at))]
        conn = self._session.connection()
        found: set[tuple[Any, ...]] = set()
        for start in range(0, len(firsts), _IN_CHUNK):
            chunk = firsts[start : start + _IN_CHUNK]
            conditions = [f"{quote(conflict[0])} IN ({', '.join([mark] * len(chunk))})"]
            args: list[Any] = list(chunk)
            for j, values in enumerate(others, start=1):
                conditions.append(f"{quote(conflict[j])} IN ({', '.join([mark] * len(values))})")
                args += values
            query = template.format(" AND ".join(conditions))
            found.update(k for k in map(tuple, conn.exec_driver_sql(query, tuple(args))) if k in wanted)
        return len(found)


def _positional(sql: str, positiontup: Sequence[str] | None) -> tuple[str, list[str]]:
    """The statement with positional parameters, and their names in order (a named
    paramstyle — psycopg's ``%(name)s`` — becomes ``%s``)."""
    if positiontup is not None:
        return sql, list(positiontup)
    names: list[str] = []

    def positional(match: re.Match[str]) -> str:
        names.append(match[1])
        return "%s"

    return _NAMED_PARAM.sub(positional, sql), names


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
    """Plain INSERT of many rows (no conflict handling), for generators that own their
    keys: compiled once and sent with the driver's ``executemany``."""
    if not rows:
        return
    t = table(table_name)
    columns = [c for c in rows[0] if c in t.c]
    constants = _defaults(t, columns)
    prepared = _Prepared(session, t.insert(), t, [*columns, *constants])
    session.connection().exec_driver_sql(prepared.sql, prepared.params(rows, constants))


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
