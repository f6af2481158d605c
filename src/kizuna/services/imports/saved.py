"""Saved column mappings: named, per entity, stored in the database, found again by the
next upload whose headers match (``import_mappings``)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from kizuna.db import Session
from kizuna.db.models import ImportMapping
from kizuna.db.queries import imports as q
from kizuna.errors import InvalidInput, NotFound
from kizuna.i18n import _
from kizuna.services.imports.mapping import ColumnMapping, normalize
from kizuna.services.imports.specs import entity

NAME_MAX = 200


@dataclass(frozen=True)
class SavedMapping:
    id: int
    entity: str
    name: str
    columns: dict[str, str]
    updated_at: datetime

    @property
    def mapping(self) -> ColumnMapping:
        return ColumnMapping(self.entity, dict(self.columns), self.name)


def headers_key(headers: list[str]) -> str:
    """The same set of file columns (in any order, any width or case) gives the same key."""
    names = sorted({normalize(h) for h in headers})
    return hashlib.sha256("\x1f".join(names).encode()).hexdigest()


def _view(row: ImportMapping) -> SavedMapping:
    return SavedMapping(row.id, row.entity, row.name, {str(h): str(t) for h, t in row.columns}, row.updated_at)


def save(session: Session, mapping: ColumnMapping, name: str, headers: list[str], *,
         user_id: int | None = None) -> SavedMapping:  # fmt: skip
    """Save (or replace) the mapping called ``name`` for its entity."""
    name = " ".join(name.split())
    if not name:
        raise InvalidInput(_("give the mapping a name"), field="mapping_name")
    if len(name) > NAME_MAX:
        raise InvalidInput(_("longer than {n} characters").format(n=NAME_MAX), field="mapping_name")
    spec = entity(mapping.entity)
    pairs = [[h, mapping.columns.get(h, h)] for h in headers]
    row = q.mapping_named(session, spec.name, name)
    if row is None:
        row = ImportMapping(entity=spec.name, name=name, created_by_id=user_id)
        session.add(row)
    row.columns = pairs
    row.headers_key = headers_key(headers)
    session.flush()
    return _view(row)


def for_headers(session: Session, entity_name: str, headers: list[str]) -> SavedMapping | None:
    """The saved mapping to reuse for a file with these headers: one saved for the same
    set of columns (the latest), else none."""
    rows = q.mappings_for_headers(session, entity(entity_name).name, headers_key(headers))
    return _view(rows[0]) if rows else None


def all_mappings(session: Session, entity_name: str | None = None) -> list[SavedMapping]:
    return [_view(r) for r in q.mappings(session, entity(entity_name).name if entity_name else None)]


def named(session: Session, name: str, entity_name: str | None = None) -> SavedMapping:
    """The mapping called ``name`` (of ``entity_name``, needed when two entities share the name)."""
    if entity_name:
        row = q.mapping_named(session, entity(entity_name).name, name)
        rows = [row] if row is not None else []
    else:
        rows = q.mappings_named(session, name)
    if not rows:
        raise NotFound(_("no saved mapping called {name!r}; see kizuna import mappings list").format(name=name))
    if len(rows) > 1:
        raise InvalidInput(_("{n} entities have a mapping called {name!r}: give --entity ({entities})").format(
            n=len(rows), name=name, entities=", ".join(r.entity for r in rows)), field="entity")  # fmt: skip
    return _view(rows[0])
