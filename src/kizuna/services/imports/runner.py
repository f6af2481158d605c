"""``import_file``: validate every row of a file and upsert it, all or nothing.

One pass over the file, in batches: parse each field, check each row, find keys
repeated in the file and references to records that do not exist. While no problem
has been found, each batch is upserted in the caller's transaction; after the first
problem nothing more is written but every row is still checked, so the user gets the
full list. Any problem raises :class:`ImportRejected` and the caller rolls back.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import Any

from kizuna.db import Session, bulk
from kizuna.errors import ImportRejected, RowError
from kizuna.i18n import _
from kizuna.services.imports import mapping as column_mapping
from kizuna.services.imports import parallel
from kizuna.services.imports.fields import FieldError, ParseContext
from kizuna.services.imports.mapping import ColumnMapping
from kizuna.services.imports.readers import Record, detect_format, open_records
from kizuna.services.imports.specs import EntitySpec, Field, entity

BATCH_SIZE = 2000
#: Files at least this big are parsed in a second process (see ``parallel``).
PARALLEL_FROM_BYTES = 16 << 20
CUSTOM_PREFIX = column_mapping.CUSTOM_PREFIX
_KEY_SEP = "\x1f"
_CACHE_LIMIT = 200_000


@dataclass
class ImportSummary:
    entity: str
    path: str
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    dry_run: bool = False
    refused: int = 0  # rows with at least one problem (then nothing is written)

    @property
    def unchanged(self) -> int:
        return max(0, self.rows - self.inserted - self.updated - self.refused)


@dataclass
class _RefCache:
    """Natural key → id, per referenced table, bounded so memory stays flat."""

    session: Session
    known: dict[tuple[str, str], dict[Any, int]] = field(default_factory=dict)

    def resolve(self, table: str, key: str, values: Iterable[Any]) -> dict[Any, int]:
        cache = self.known.setdefault((table, key), {})
        wanted = {v for v in values if v not in cache}
        if wanted:
            if len(cache) > _CACHE_LIMIT:
                cache.clear()
            cache.update(bulk.lookup_ids(self.session, table, key, wanted))
        return cache


def _batches(records: Iterator[Record], size: int) -> Iterator[list[Record]]:
    while batch := list(islice(records, size)):
        yield batch


def check_columns(
    spec: EntitySpec, label: str, columns: list[str], *, line: int = 1, header: bool = True
) -> list[RowError]:
    """Problems with a CSV header (or a JSON object's keys): unknown, missing, repeated."""
    problems: list[RowError] = []
    known = set(spec.columns) | ({spec.self_ref.column} if spec.self_ref else set())
    if spec.custom_fields and not header:
        known.add("custom_fields")  # JSON Lines may carry them as one object
    seen: set[str] = set()
    for column in columns:
        if column in seen:
            problems.append(RowError(label, line, column, _("column appears twice")))
        seen.add(column)
        if column in known or (
            spec.custom_fields and column.startswith(CUSTOM_PREFIX) and len(column) > len(CUSTOM_PREFIX)
        ):
            continue
        hint = _(" (custom fields are columns named custom.<name>)") if spec.custom_fields else ""
        problems.append(RowError(label, line, column, _("unknown column; expected one of: {columns}").format(
            columns=", ".join(sorted(known))) + hint))  # fmt: skip
    for fd in spec.fields:
        if header and fd.required and fd.column not in seen:
            problems.append(RowError(label, line, fd.column, _("required column is missing")))
    return problems


def _plan(spec: EntitySpec) -> tuple[tuple[str, Any, bool, Any], ...]:
    """The fields as plain tuples: the per-row loop is the hot path of a large import.
    (Cached by name: hashing the spec itself on every row costs more than parsing.)"""
    return _plan_by_name(spec.name)


@cache
def _plan_by_name(name: str) -> tuple[tuple[str, Any, bool, Any], ...]:
    spec = entity(name)
    return tuple((fd.column, fd.parse or (lambda raw, ctx, row: raw), fd.required, fd.default) for fd in spec.fields)


def _stored_columns(spec: EntitySpec) -> tuple[str, ...]:
    return tuple(fd.attr for fd in spec.fields) + (("custom_fields",) if spec.custom_fields else ())


def _parse(
    spec: EntitySpec, record: Record, ctx: ParseContext, label: str, errors: list[RowError]
) -> tuple[dict[str, Any], bool]:
    """The row's values (None where a field is bad) and whether the row is good so far."""
    raw = record.values or {}
    values: dict[str, Any] = {}
    ok = True
    for column, parse, required, default in _plan(spec):
        value = raw.get(column)
        if value is None:
            if required:
                errors.append(RowError(label, record.line, column, _("required, but empty")))
                ok = False
            values[column] = default(ctx) if callable(default) else default
            continue
        if value.__class__ is str and "\x00" in value:  # PostgreSQL cannot store it; nor should SQLite
            errors.append(RowError(label, record.line, column, _("must not contain NUL characters")))
            ok = False
            values[column] = None
            continue
        try:
            values[column] = parse(value, ctx, values)
        except FieldError as exc:
            errors.append(RowError(label, record.line, column, str(exc)))
            ok = False
            values[column] = None
    if spec.self_ref is not None:
        parent = raw.get(spec.self_ref.column)
        values[spec.self_ref.column] = str(parent).strip() if parent is not None else None
    if spec.custom_fields:
        custom: dict[str, Any] = {}
        given = raw.get("custom_fields")
        if given is not None:
            if isinstance(given, dict):
                custom.update(given)
            else:
                errors.append(RowError(label, record.line, "custom_fields", _("must be a JSON object ({...})")))
                ok = False
        for column, value in raw.items():
            if column.startswith(CUSTOM_PREFIX) and value is not None:
                if isinstance(value, str) and "\x00" in value:
                    errors.append(RowError(label, record.line, column, _("must not contain NUL characters")))
                    ok = False
                    continue
                custom[column[len(CUSTOM_PREFIX) :]] = value.strip() if isinstance(value, str) else value
        values["custom_fields"] = custom
    if ok and spec.check is not None:
        for column, reason in spec.check(values):
            errors.append(RowError(label, record.line, column, reason))
            ok = False
    return values, ok


def _keys(spec: EntitySpec, parsed: list[tuple[int, dict[str, Any]]]) -> list[tuple[str, int]]:
    """``(key text, line)`` for each row whose key columns all parsed (a hot loop)."""
    columns = spec.key
    out = []
    if len(columns) == 1:
        (c,) = columns
        for line, v in parsed:
            value = v.get(c)
            if value is not None:
                out.append((str(value), line))
        return out
    for line, v in parsed:
        values = [v.get(c) for c in columns]
        if None not in values:
            out.append((_KEY_SEP.join(map(str, values)), line))
    return out


class RowLayout:
    """Where each parsed value goes in the row the driver takes (``bulk.RowFormat``).

    The parsing stage converts every value for the driver (dates and times to what the
    dialect stores, JSON documents serialised once) and puts a reference's natural key
    (an account's ``external_id``) where its id goes; the writing stage swaps in the ids
    and sends the rows to ``executemany`` as they are."""

    def __init__(self, spec: EntitySpec, fmt: bulk.RowFormat) -> None:
        self.format = fmt
        source = {fd.attr: fd.column for fd in spec.fields}
        if spec.custom_fields:
            source["custom_fields"] = "custom_fields"
        missing = [c for c in _stored_columns(spec) if c not in fmt.columns]
        if missing:
            raise ValueError(f"{spec.table} rows lack {missing}")
        refs = {fd.attr for fd in spec.fields if fd.ref is not None}
        keys = [source.get(c, _DEFAULT + c) for c in fmt.columns]
        self._getter = itemgetter(*keys)
        self._convert = [
            (i, p) for i, (c, p) in enumerate(zip(fmt.columns, fmt.processors, strict=True))
            if p is not None and c in source and c not in refs
        ]  # fmt: skip
        #: column → (position, processor) of each reference (converted after the id is known)
        self.refs = {c: (fmt.columns.index(c), p) for c, p in zip(fmt.columns, fmt.processors, strict=True) if c in refs}

    @classmethod
    def of(cls, session: Session, spec: EntitySpec) -> RowLayout:
        return cls(spec, bulk.RowFormat.of(session.get_bind().dialect, spec.table, _stored_columns(spec)))

    def rows(self, parsed: list[tuple[int, dict[str, Any]]], label: str, errors: list[RowError]) -> list[list[Any]]:
        """The driver's rows for ``parsed`` (a value the column type refuses is a problem
        of its row, named, not a crash)."""
        constants = {_DEFAULT + c: v for c, v in self.format.default_values().items()}
        getter, convert = self._getter, self._convert
        out: list[list[Any]] = []
        for line, values in parsed:
            values.update(constants)
            row = list(getter(values))
            for i, process in convert:
                try:
                    row[i] = process(row[i])
                except (TypeError, ValueError) as exc:
                    reason = _("cannot be stored: {reason}").format(reason=exc)
                    errors.append(RowError(label, line, self.format.columns[i], reason))
                    row[i] = None
            out.append(row)
        return out


_DEFAULT = "\x00default:"  # a value of a column the file does not supply (never a column's name)


@dataclass
class ParsedBatch:
    """What the parsing stage hands the writing stage: rows read, the good-so-far rows in
    the driver's form with their lines, their keys, and the problems found (including
    ones the reader found)."""

    rows: int
    lines: list[int]
    values: list[list[Any]]  # RowLayout order; references hold their natural keys
    keys: list[tuple[str, int]]  # (key text, line) of each row whose key columns parsed
    errors: list[RowError]
    parents: list[tuple[int, str, str]] = field(default_factory=list)  # (line, key, parent key)
    bytes_read: int = 0


def parse_batches(
    spec: EntitySpec, label: str, records: Iterator[Record], *, ctx: ParseContext, layout: RowLayout,
    reader_errors: list[RowError], check_keys: bool = False,
) -> Iterator[ParsedBatch]:  # fmt: skip
    """Stage one: parse and check each row on its own (types, required, cross-field),
    then lay it out for the driver."""
    self_ref = spec.self_ref.column if spec.self_ref is not None else None
    for batch in _batches(records, BATCH_SIZE):
        errors: list[RowError] = []
        parsed: list[tuple[int, dict[str, Any]]] = []
        for record in batch:
            if record.values is None:
                continue
            if check_keys:
                errors.extend(check_columns(spec, label, list(record.values), line=record.line, header=False))
            values, _ok = _parse(spec, record, ctx, label, errors)
            parsed.append((record.line, values))
        if reader_errors:
            errors.extend(reader_errors)
            reader_errors.clear()
        parents = []
        if self_ref is not None:
            k = spec.key[0]
            parents = [(ln, str(v[k]), v[self_ref]) for ln, v in parsed if v.get(self_ref) and v.get(k)]
        keys = _keys(spec, parsed)
        lines = [ln for ln, _v in parsed]
        yield ParsedBatch(len(batch), lines, layout.rows(parsed, label, errors), keys, errors, parents)
    if reader_errors:
        yield ParsedBatch(0, [], [], [], list(reader_errors))
        reader_errors.clear()


def import_records(
    session: Session,
    spec: EntitySpec,
    label: str,
    records: Iterator[Record],
    *,
    ctx: ParseContext,
    errors: list[RowError],
    dry_run: bool = False,
    check_keys: bool = False,
) -> ImportSummary:
    """The engine behind :func:`import_file`, for any source of records (in-process)."""
    reader_errors = errors  # the reader appends to the list it was given
    own: list[RowError] = []
    layout = RowLayout.of(session, spec)
    batches = parse_batches(
        spec, label, records, ctx=ctx, layout=layout, reader_errors=reader_errors, check_keys=check_keys
    )
    summary = write_batches(session, spec, label, batches, layout=layout, errors=own, dry_run=dry_run)
    errors.extend(own)
    return summary


def write_batches(
    session: Session, spec: EntitySpec, label: str, batches: Iterable[ParsedBatch], *, layout: RowLayout,
    errors: list[RowError], dry_run: bool = False, on_bytes: Callable[[int], None] | None = None,
) -> ImportSummary:  # fmt: skip
    """Stage two: keys repeated in the file, references, and the upsert — in the
    caller's transaction, and only while no problem at all has been found."""
    summary = ImportSummary(spec.name, label, dry_run=dry_run)
    # Everything alive now (modules, the ORM's metadata) outlives the import: left out of
    # the collector's passes meanwhile, which otherwise walk it again and again (Kizuna
    # freezes nothing else, so unfreezing at the end gives back exactly this).
    gc.freeze()
    tracker = bulk.KeyTracker(session)
    refs = _RefCache(session)
    ref_fields = [(fd, *layout.refs[fd.attr]) for fd in spec.fields if fd.ref is not None]
    writer = bulk.PreparedUpsert(session, layout.format, conflict=spec.conflict, immutable=spec.immutable)
    parents: list[tuple[int, str, str]] = []  # (line, key, parent key)
    try:
        for batch in batches:
            first_error = len(errors)
            summary.rows += batch.rows
            errors.extend(batch.errors)
            if on_bytes is not None and batch.bytes_read:
                on_bytes(batch.bytes_read)
            for key, line, first in tracker.add(batch.keys):
                shown = key.replace(_KEY_SEP, ", ")
                errors.append(RowError(label, line, ", ".join(spec.key), _(
                    "{value} appears more than once in the file (also on line {first})").format(
                    value=shown, first=first)))  # fmt: skip
            for fd, at, process in ref_fields:
                _resolve(fd, at, process, batch, refs, label, errors)
            parents += batch.parents
            if dry_run:
                # Write the good rows anyway (the caller rolls back): the counts of new,
                # updated and unchanged rows are then the ones a real import would give,
                # and later files of the same dry run see these rows.
                bad = {e.line for e in errors[first_error:]}
                rows = [r for ln, r in zip(batch.lines, batch.values, strict=True) if ln not in bad] if bad else batch.values
            else:
                rows = [] if errors else batch.values
            if rows:
                inserted, updated = writer.write(rows)
                summary.inserted += inserted
                summary.updated += updated
        if spec.self_ref is not None:
            _link_parents(session, spec, parents, tracker, label, errors, write=not errors and not dry_run)
    finally:
        tracker.close()
        gc.unfreeze()
    summary.refused = len({e.line for e in errors})
    return summary


def _resolve(
    fd: Field, at: int, process: Callable[[Any], Any] | None, batch: ParsedBatch, refs: _RefCache, label: str,
    errors: list[RowError],
) -> None:  # fmt: skip
    """Swap each row's natural key at ``at`` (``account_external_id``) for the id it names."""
    assert fd.ref is not None
    rows = batch.values
    wanted = {r[at] for r in rows}
    wanted.discard(None)
    if not wanted:
        return  # no row names one: every value is None already
    found = refs.resolve(fd.ref.table, fd.ref.key, wanted)
    missing = {k for k in wanted if k not in found}
    if missing:
        for line, r in zip(batch.lines, rows, strict=True):
            if r[at] in missing:
                errors.append(RowError(label, line, fd.column, _(
                    "no {noun} with {key} {value!r}; import it first").format(
                    noun=_(fd.ref.noun), key=fd.ref.key, value=r[at])))  # fmt: skip
    get = found.get
    if process is None:
        for r in rows:
            r[at] = get(r[at])
    else:
        for r in rows:
            r[at] = process(get(r[at]))


def _link_parents(session: Session, spec: EntitySpec, parents: list[tuple[int, str, str]], tracker: bulk.KeyTracker,
                  label: str, errors: list[RowError], *, write: bool) -> None:  # fmt: skip
    assert spec.self_ref is not None
    assert spec.self_ref.ref is not None
    ref = spec.self_ref.ref
    column = spec.self_ref.column
    wanted = {p for _ln, _k, p in parents}
    in_db = bulk.lookup_ids(session, ref.table, ref.key, wanted)
    in_file = tracker.contains(wanted)
    for line, k, parent in parents:
        if parent == k:
            errors.append(RowError(label, line, column, _("an account cannot be its own parent")))
        elif parent not in in_db and parent not in in_file:
            errors.append(RowError(label, line, column, _("no {noun} with {key} {value!r}; import it first").format(
                noun=_(ref.noun), key=ref.key, value=parent)))  # fmt: skip
    if write and not errors and parents:
        ids = bulk.lookup_ids(session, ref.table, ref.key, wanted)
        bulk.set_references(
            session, spec.table, spec.self_ref.attr, spec.key[0], [(k, ids[p]) for _ln, k, p in parents]
        )


def import_file(
    session: Session,
    entity_name: str,
    path: Path,
    *,
    ctx: ParseContext,
    encoding: str | None = None,
    fmt: str | None = None,
    dry_run: bool = False,
    on_bytes: Callable[[int], None] | None = None,
    mapping: ColumnMapping | None = None,
    label: str | None = None,
    keep_dry_run: bool = False,
) -> ImportSummary:
    """Import one CSV or JSON Lines file of ``entity_name`` into the caller's transaction.

    Raises :class:`ImportRejected` listing every bad row; the caller must then roll
    back (``session_scope`` does), so nothing of the file is written. A dry run writes
    the good rows in a savepoint it rolls back (so its counts are real and nothing
    stays); with ``keep_dry_run`` it leaves them in the caller's transaction, which the
    caller must roll back (``kizuna import all --dry-run``: later files see earlier ones).
    ``mapping`` renames the file's columns first (see ``mapping``); ``label`` is the
    file name problems are reported with (default: ``path``).
    """
    summary, errors = check_file(session, entity_name, path, ctx=ctx, encoding=encoding, fmt=fmt, dry_run=dry_run,
                                 on_bytes=on_bytes, mapping=mapping, label=label,
                                 keep_dry_run=keep_dry_run)  # fmt: skip
    if errors:
        raise ImportRejected(sorted(errors, key=lambda e: (e.path, e.line)), rows_read=summary.rows)
    return summary


def check_file(
    session: Session,
    entity_name: str,
    path: Path,
    *,
    ctx: ParseContext,
    encoding: str | None = None,
    fmt: str | None = None,
    dry_run: bool = False,
    on_bytes: Callable[[int], None] | None = None,
    mapping: ColumnMapping | None = None,
    label: str | None = None,
    keep_dry_run: bool = False,
) -> tuple[ImportSummary, list[RowError]]:
    """:func:`import_file` returning its problems instead of raising them (the web
    upload's dry run shows the counts and the problems together)."""
    if dry_run and not keep_dry_run:
        savepoint = session.begin_nested()
        try:
            return _check_file(session, entity_name, path, ctx=ctx, encoding=encoding, fmt=fmt, dry_run=True,
                               on_bytes=on_bytes, mapping=mapping, label=label)  # fmt: skip
        finally:
            savepoint.rollback()
    return _check_file(session, entity_name, path, ctx=ctx, encoding=encoding, fmt=fmt, dry_run=dry_run,
                       on_bytes=on_bytes, mapping=mapping, label=label)  # fmt: skip


def _check_file(
    session: Session, entity_name: str, path: Path, *, ctx: ParseContext, encoding: str | None, fmt: str | None,
    dry_run: bool, on_bytes: Callable[[int], None] | None, mapping: ColumnMapping | None, label: str | None,
) -> tuple[ImportSummary, list[RowError]]:  # fmt: skip
    spec = entity(entity_name)
    label = label or str(path)
    errors: list[RowError] = []
    file_format = detect_format(path, fmt)
    columns, records = open_records(path, fmt=file_format, encoding=encoding, errors=errors, on_bytes=on_bytes)
    opened = records
    if mapping is not None and mapping.columns:
        if not errors and file_format == "csv":
            errors.extend(column_mapping.check(spec, columns, mapping, label=label))
        columns = mapping.renamed(columns)
        records = column_mapping.apply(records, mapping)
    if file_format == "csv":
        if not errors:  # an unreadable header is reported alone
            errors.extend(check_columns(spec, label, columns))
        if errors:
            return ImportSummary(spec.name, label, dry_run=dry_run), _relabel(sorted(errors), path, label)
    check_keys = file_format == "jsonl"
    if path.stat().st_size >= PARALLEL_FROM_BYTES and parallel.available():
        # A large file: parse in a second process while this one writes (2 cores → ~2×).
        opened.close()  # type: ignore[attr-defined]
        layout = RowLayout.of(session, spec)
        batches = parallel.parse_in_worker(
            spec.name, path, fmt=file_format, encoding=encoding, ctx=ctx, check_keys=check_keys, layout=layout,
            mapping=mapping if mapping is not None and mapping.columns else None,
        )
        summary = write_batches(
            session, spec, label, batches, layout=layout, errors=errors, dry_run=dry_run, on_bytes=on_bytes
        )
    else:
        summary = import_records(
            session, spec, label, records, ctx=ctx, errors=errors, dry_run=dry_run, check_keys=check_keys
        )
    return summary, _relabel(errors, path, label)


def _relabel(errors: list[RowError], path: Path, label: str) -> list[RowError]:
    """The reader names problems after the path it opened; report them under ``label``."""
    opened = str(path)
    if opened == label:
        return errors
    return [RowError(label, e.line, e.column, e.reason) if e.path == opened else e for e in errors]
