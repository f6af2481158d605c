"""Reading tables into pandas DataFrames (for the Python API and analysts)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import Engine, select

from kizuna.db import models  # noqa: F401
from kizuna.db.base import Base
from kizuna.db.types import UTCDateTime
from kizuna.errors import InvalidInput


def table_names() -> list[str]:
    return sorted(Base.metadata.tables)


def read_table(
    engine: Engine, name: str, *, where: dict[str, Any] | None = None, limit: int | None = None
) -> pd.DataFrame:
    t = Base.metadata.tables[name]
    query = select(t)
    for column, value in (where or {}).items():
        if column not in t.c:
            raise InvalidInput(f"unknown column {column!r} of {name}", field="where")
        query = query.where(t.c[column] == value)
    pk = list(t.primary_key.columns)
    query = query.order_by(*pk)
    if limit is not None:
        query = query.limit(limit)
    with engine.connect() as conn:
        frame = pd.read_sql(query, conn)
    for col in t.c:
        if isinstance(col.type, UTCDateTime) and col.name in frame:
            frame[col.name] = pd.to_datetime(frame[col.name], utc=True, format="ISO8601")
    return frame
