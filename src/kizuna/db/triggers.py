"""Sets of triggers that keep a derived table in step, on SQLite and PostgreSQL: whether
any is missing, creating them (again) and dropping them — for the account search index
(:mod:`kizuna.db.bigrams`) and the monthly usage rollup (:mod:`kizuna.db.usage_months`).

A migration that rebuilds a table on SQLite (copy, drop, rename) drops its triggers, so
each set is checked and put back after every upgrade (:func:`kizuna.db.schema.upgrade`)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection


@dataclass(frozen=True)
class TriggerSet:
    #: the table the triggers are on
    table: str
    #: SQLite: trigger name → its ``CREATE TRIGGER`` statement
    sqlite: dict[str, str]
    #: PostgreSQL: function name → its PL/pgSQL body (``RETURN NULL`` is added)
    pg_functions: dict[str, str]
    #: PostgreSQL: trigger name → what follows ``CREATE TRIGGER name``
    pg_triggers: dict[str, str]

    def missing(self, conn: Connection) -> bool:
        """Whether any trigger of the set is missing."""
        # equivalent mutants: SQL's keywords and names are read case-insensitively, and the
        # sets compared are strict subsets either way (SQLite's list holds every table's
        # triggers, PostgreSQL's the foreign keys' own)
        if conn.dialect.name == "postgresql":
            sql = f"SELECT tgname FROM pg_trigger WHERE tgrelid = '{self.table}'::regclass"  # pragma: no mutate
            return not set(self.pg_triggers) <= {n for (n,) in conn.exec_driver_sql(sql)}  # pragma: no mutate
        sql = "SELECT name FROM sqlite_master WHERE type = 'trigger'"  # pragma: no mutate
        return not set(self.sqlite) <= {n for (n,) in conn.exec_driver_sql(sql)}  # pragma: no mutate

    def create(self, conn: Connection) -> None:
        """Create every trigger of the set, replacing any of the same name (and PostgreSQL's
        functions), in the caller's transaction."""
        if conn.dialect.name == "postgresql":
            for function, body in self.pg_functions.items():
                conn.exec_driver_sql(f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS "
                                     f"$$ BEGIN {body} RETURN NULL; END $$")  # fmt: skip
            for trigger, definition in self.pg_triggers.items():
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger} ON {self.table}")
                conn.exec_driver_sql(f"CREATE TRIGGER {trigger} {definition}")
            return
        for trigger, ddl in self.sqlite.items():
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
            conn.exec_driver_sql(ddl)

    def drop(self, conn: Connection) -> None:
        """Remove the triggers (and PostgreSQL's functions)."""
        if conn.dialect.name == "postgresql":
            for trigger in self.pg_triggers:
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger} ON {self.table}")
            for function in self.pg_functions:
                conn.exec_driver_sql(f"DROP FUNCTION IF EXISTS {function}()")
            return
        for trigger in self.sqlite:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
