"""Exports: every importable entity as a CSV file that ``kizuna import`` reads back unchanged."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from kizuna.db import Session, bulk
from kizuna.domain.spreadsheet import neutralise
from kizuna.errors import InvalidInput
from kizuna.i18n import _
from kizuna.services.imports.runner import CUSTOM_PREFIX
from kizuna.services.imports.specs import ENTITIES, EntitySpec, Field, format_value


def _columns(spec: EntitySpec) -> list[Field]:
    fields = list(spec.fields)
    if spec.self_ref is not None:
        fields.append(spec.self_ref)
    return fields


#: Columns whose cells are numbers by construction: ``-5`` there is data, not a formula.
NUMERIC_KINDS = frozenset({"integer", "number", "money"})


def export_entity(session: Session, spec: EntitySpec, path: Path, *, bom: bool = False, raw: bool = False) -> int:
    """Write ``spec``'s rows to ``path``; return how many.

    Unless ``raw``, text cells a spreadsheet would run as a formula (``=…``, ``+…``,
    ``-…``, ``@…``, a leading tab or CR) get a leading ``'`` (OWASP's rule;
    ``kizuna.domain.spreadsheet``); ``kizuna import`` drops it again."""
    fields = _columns(spec)
    text_cells = [fd.kind not in NUMERIC_KINDS for fd in fields]
    select_cols: list[tuple[str, str, tuple[str, str] | None]] = [
        (fd.column, fd.attr, (fd.ref.table, fd.ref.key) if fd.ref else None) for fd in fields
    ]
    custom_keys: list[str] = []
    if spec.custom_fields:
        select_cols.append(("custom_fields", "custom_fields", None))
        keys: set[str] = set()
        for row in bulk.export_rows(session, spec.table, [("custom_fields", "custom_fields", None)], spec.order_by):
            keys.update((row["custom_fields"] or {}).keys())
        custom_keys = sorted(keys)
    header = [fd.column for fd in fields] + [CUSTOM_PREFIX + k for k in custom_keys]
    count = 0
    with path.open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for row in bulk.export_rows(session, spec.table, select_cols, spec.order_by):
            out = [format_value(fd, row[fd.column], row) for fd in fields]
            if not raw:
                out = [neutralise(v) if is_text and v else v for v, is_text in zip(out, text_cells, strict=True)]
            if custom_keys:
                custom: dict[str, Any] = row.get("custom_fields") or {}
                out += [_custom_text(custom.get(k), raw) for k in custom_keys]
            writer.writerow(out)
            count += 1
    return count


def _custom_text(value: Any, raw: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value if raw else neutralise(value)
    return str(value)  # a number (-5 is data) or a boolean


def export_csv(session: Session, directory: Path, *, bom: bool = False, raw: bool = False) -> dict[str, int]:
    """Write ``<entity>.csv`` for every entity into ``directory``; return rows per entity.

    ``bom`` writes a UTF-8 byte-order mark, which Excel needs to show Japanese text;
    ``raw`` leaves cells that look like formulas as they are (see :func:`export_entity`).
    """
    if directory.exists() and not directory.is_dir():
        raise InvalidInput(_("{path} exists and is not a folder").format(path=directory), field="directory")
    directory.mkdir(parents=True, exist_ok=True)
    return {
        name: export_entity(session, spec, directory / f"{name}.csv", bom=bom, raw=raw)
        for name, spec in ENTITIES.items()
    }


def table_names() -> list[str]:
    """The store's tables, by name (what :func:`table_frame` reads)."""
    from kizuna.db.frames import table_names as names

    return names()


def table_frame(engine: Any, name: str, *, where: dict[str, Any] | None = None, limit: int | None = None) -> Any:
    """One table as a pandas DataFrame (timestamps in UTC), in primary-key order — for the
    Python API (:class:`kizuna.client.Kizuna`) and analysts."""
    from kizuna.db.frames import read_table

    return read_table(engine, name, where=where, limit=limit)
