"""Alembic environment: runs on the connection Kizuna hands over, or on the configured URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from kizuna.db import models  # noqa: F401  (registers every table)
from kizuna.db.base import Base
from kizuna.db.engine import make_engine

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "sqlite:///kizuna.db")
    with engine.begin() as conn:
        _run(conn)


if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
