"""Saved column mappings of the import upload: which file column feeds which entity column."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kizuna.db.base import Base
from kizuna.db.types import JsonDoc, UTCDateTime, utcnow


class ImportMapping(Base):
    """A named mapping per entity and source (e.g. "Salesforce 取引先"). ``columns`` is a
    list of ``[file column, entity column]`` pairs in file order (``""``: ignored);
    ``headers_key`` identifies the set of file columns it was saved for, so the next
    upload with the same headers finds it."""

    __tablename__ = "import_mappings"
    __table_args__ = (
        UniqueConstraint("entity", "name"),
        Index("ix_import_mappings_headers", "entity", "headers_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    headers_key: Mapped[str] = mapped_column(String(64))
    columns: Mapped[list[Any]] = mapped_column(JsonDoc)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
