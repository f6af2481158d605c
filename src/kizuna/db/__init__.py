"""The storage layer: the only package that imports SQLAlchemy.

Services receive a :class:`Session` from their caller and use the query and bulk
functions here; they never commit.
"""

from sqlalchemy.orm import Session

from kizuna.db.engine import (
    DatabaseError,
    StoreVersion,
    is_write_conflict,
    make_engine,
    reads_only,
    session_factory,
    session_scope,
)
from kizuna.db.schema import ensure_schema, upgrade

__all__ = [
    "DatabaseError",
    "Session",
    "StoreVersion",
    "ensure_schema",
    "is_write_conflict",
    "make_engine",
    "reads_only",
    "session_factory",
    "session_scope",
    "upgrade",
]
