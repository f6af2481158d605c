"""Saved column mappings of the import upload."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from kizuna.db.models import ImportMapping


def mappings(session: Session, entity: str | None = None) -> list[ImportMapping]:
    stmt = select(ImportMapping).order_by(ImportMapping.entity, ImportMapping.name)
    if entity is not None:
        stmt = stmt.where(ImportMapping.entity == entity)
    return list(session.scalars(stmt))


def mapping_named(session: Session, entity: str, name: str) -> ImportMapping | None:
    return session.scalars(
        select(ImportMapping).where(ImportMapping.entity == entity, ImportMapping.name == name)
    ).first()


def mappings_named(session: Session, name: str) -> list[ImportMapping]:
    return list(session.scalars(select(ImportMapping).where(ImportMapping.name == name).order_by(ImportMapping.entity)))


def mappings_for_headers(session: Session, entity: str, headers_key: str) -> list[ImportMapping]:
    return list(session.scalars(
        select(ImportMapping).where(ImportMapping.entity == entity, ImportMapping.headers_key == headers_key)
        .order_by(ImportMapping.updated_at.desc(), ImportMapping.id.desc())
    ))  # fmt: skip
