"""The monthly usage rollup (``usage_monthly``), kept in step with ``usage_daily`` by the
database, on SQLite and PostgreSQL (issue 19).

One row per account and calendar month with a daily figure above zero:
``active_rows`` counts the month's ``usage_daily`` rows above zero (any metric) and
``events`` sums the month's ``events`` figures above zero: exactly what the KPI report's
monthly usage needs (active accounts, events), so that report reads about one row per
account and month instead of every day of every metric — its one part that grew with
the events.

Kept by **triggers** on ``usage_daily`` (insert, update, delete), so every writer keeps
it: the ingestion's rollups and their journals, ``kizuna usage rebuild``, CSV imports, the
demo, an account's deletion (the cascade), a SQL console. Each change adds its row's
contribution and takes the old one away; a month left with no figure above zero loses
its row. On PostgreSQL the triggers work per statement, from their transition tables
(one set-based upsert per statement: the ingestion's merge of a whole commit group adds
its months in one pass); on SQLite per row. ``events`` are counts, exact in a float up
to 2⁵³; a fractional ``events`` figure (an import may carry one) is summed in the order
the changes came, so its last bits may differ from a sum of the days.

A migration that rebuilds ``usage_daily`` on SQLite (copy, drop, rename) drops its
triggers: :func:`install` puts them back after every upgrade and rebuilds the table if
any was missing (as :mod:`kizuna.db.bigrams` does for the search index).
"""

from __future__ import annotations

from sqlalchemy import Connection

from kizuna.db.triggers import TriggerSet

TABLE = "usage_monthly"

#: a row's contribution: (active rows, events) — SQLite (per row, NEW/OLD)
_SQLITE_ADD = (
    "INSERT INTO usage_monthly (account_id, month, active_rows, events) "
    "VALUES (NEW.account_id, date(NEW.day, 'start of month'), 1, "
    "CASE WHEN NEW.metric = 'events' THEN NEW.value ELSE 0.0 END) "
    "ON CONFLICT (account_id, month) DO UPDATE SET active_rows = active_rows + excluded.active_rows, "
    "events = events + excluded.events; "
)
_SQLITE_TAKE = (
    "UPDATE usage_monthly SET active_rows = active_rows - 1, "
    "events = events - CASE WHEN OLD.metric = 'events' THEN OLD.value ELSE 0.0 END "
    "WHERE account_id = OLD.account_id AND month = date(OLD.day, 'start of month'); "
)
_SQLITE_EMPTY = (
    "DELETE FROM usage_monthly WHERE account_id = OLD.account_id AND month = date(OLD.day, 'start of month') "
    "AND active_rows <= 0; "
)
_SAME_KEY = "OLD.account_id = NEW.account_id AND OLD.day = NEW.day AND OLD.metric = NEW.metric"
_SQLITE_TRIGGERS = {
    "usage_monthly_insert": (
        "CREATE TRIGGER IF NOT EXISTS usage_monthly_insert AFTER INSERT ON usage_daily "
        f"WHEN NEW.value > 0 BEGIN {_SQLITE_ADD}END"
    ),
    # the common change (the ingestion adding to a day): a figure above zero staying above
    # zero on the same key changes nothing but an `events` sum — one row updated by its key;
    # on other metrics nothing at all
    "usage_monthly_update_events": (
        "CREATE TRIGGER IF NOT EXISTS usage_monthly_update_events AFTER UPDATE ON usage_daily "
        f"WHEN {_SAME_KEY} AND OLD.value > 0 AND NEW.value > 0 AND NEW.metric = 'events' BEGIN "
        "UPDATE usage_monthly SET events = events + NEW.value - OLD.value "
        "WHERE account_id = NEW.account_id AND month = date(NEW.day, 'start of month'); END"
    ),
    # any other change: the old row's part away, the new row's in, then the old month's row
    # if nothing is left of it
    "usage_monthly_update": (
        "CREATE TRIGGER IF NOT EXISTS usage_monthly_update AFTER UPDATE ON usage_daily "
        f"WHEN (OLD.value > 0 OR NEW.value > 0) AND NOT ({_SAME_KEY} AND OLD.value > 0 AND NEW.value > 0) BEGIN "
        "UPDATE usage_monthly SET active_rows = active_rows - 1, "
        "events = events - CASE WHEN OLD.metric = 'events' THEN OLD.value ELSE 0.0 END "
        "WHERE OLD.value > 0 AND account_id = OLD.account_id AND month = date(OLD.day, 'start of month'); "
        "INSERT INTO usage_monthly (account_id, month, active_rows, events) "
        "SELECT NEW.account_id, date(NEW.day, 'start of month'), 1, "
        "CASE WHEN NEW.metric = 'events' THEN NEW.value ELSE 0.0 END WHERE NEW.value > 0 "
        "ON CONFLICT (account_id, month) DO UPDATE SET active_rows = active_rows + excluded.active_rows, "
        "events = events + excluded.events; "
        f"{_SQLITE_EMPTY}END"
    ),
    "usage_monthly_delete": (
        "CREATE TRIGGER IF NOT EXISTS usage_monthly_delete AFTER DELETE ON usage_daily "
        f"WHEN OLD.value > 0 BEGIN {_SQLITE_TAKE}{_SQLITE_EMPTY}END"
    ),
}

#: PostgreSQL: per statement, the rows' contributions summed per account and month.
_PG_PART = (
    "SELECT account_id, date_trunc('month', day)::date AS month, {sign}1 AS a, "
    "{sign}(CASE WHEN metric = 'events' THEN value ELSE 0.0 END) AS e FROM {rows} WHERE value > 0"
)
_PG_UPSERT = (
    "INSERT INTO usage_monthly (account_id, month, active_rows, events) "
    "SELECT account_id, month, sum(a), sum(e) FROM ({parts}) AS d GROUP BY account_id, month "
    "HAVING sum(a) <> 0 OR sum(e) <> 0 ORDER BY account_id, month "
    "ON CONFLICT (account_id, month) DO UPDATE SET active_rows = usage_monthly.active_rows + excluded.active_rows, "
    "events = usage_monthly.events + excluded.events;"
)
_PG_EMPTY = (
    "DELETE FROM usage_monthly AS m USING (SELECT DISTINCT account_id, date_trunc('month', day)::date AS month "
    "FROM old_rows WHERE value > 0) AS o WHERE m.account_id = o.account_id AND m.month = o.month "
    "AND m.active_rows <= 0;"
)
_PG_FUNCTIONS = {
    "usage_monthly_added": _PG_UPSERT.format(parts=_PG_PART.format(sign="", rows="new_rows")),
    "usage_monthly_changed": _PG_UPSERT.format(
        parts=f"{_PG_PART.format(sign='', rows='new_rows')} UNION ALL {_PG_PART.format(sign='-', rows='old_rows')}"
    )
    + _PG_EMPTY,
    # a deletion only takes away (an account's cascade may have removed its months already)
    "usage_monthly_deleted": (
        "UPDATE usage_monthly AS m SET active_rows = m.active_rows - o.a, events = m.events - o.e "
        "FROM (SELECT account_id, month, sum(a) AS a, sum(e) AS e FROM "
        f"({_PG_PART.format(sign='', rows='old_rows')}) AS d GROUP BY account_id, month) AS o "
        "WHERE m.account_id = o.account_id AND m.month = o.month;" + _PG_EMPTY
    ),
}
_PG_TRIGGERS = {
    "usage_monthly_insert": "AFTER INSERT ON usage_daily REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION usage_monthly_added()",
    "usage_monthly_update": "AFTER UPDATE ON usage_daily REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION usage_monthly_changed()",
    "usage_monthly_delete": "AFTER DELETE ON usage_daily REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION usage_monthly_deleted()",
}

#: every month of ``usage_daily`` from scratch
_REBUILD = (
    "INSERT INTO usage_monthly (account_id, month, active_rows, events) "
    "SELECT account_id, {month} AS month, count(*), sum(CASE WHEN metric = 'events' THEN value ELSE 0.0 END) "
    "FROM usage_daily WHERE value > 0 GROUP BY account_id, {month} ORDER BY account_id, month"
)


def _month(conn: Connection) -> str:
    # equivalent mutants (here and below): SQL's keywords, names and SQLite's date modifiers
    # are read case-insensitively
    return "date_trunc('month', day)::date" if conn.dialect.name == "postgresql" else "date(day, 'start of month')"  # pragma: no mutate


TRIGGERS = TriggerSet("usage_daily", _SQLITE_TRIGGERS, _PG_FUNCTIONS, _PG_TRIGGERS)


def install(conn: Connection) -> bool:
    """Create the triggers and fill the table where any trigger is missing (in the
    caller's transaction); returns whether the table was rebuilt."""
    if not TRIGGERS.missing(conn):
        return False
    TRIGGERS.create(conn)
    rebuild(conn)
    return True


def drop_triggers(conn: Connection) -> None:
    """Remove the triggers (and PostgreSQL's functions): the migration's downgrade, or a
    bulk load that rebuilds the table once at its end (:func:`install`)."""
    TRIGGERS.drop(conn)


def rebuild(conn: Connection) -> None:
    """Fill the table from every row of ``usage_daily``."""
    conn.exec_driver_sql("DELETE FROM usage_monthly")  # pragma: no mutate
    conn.exec_driver_sql(_REBUILD.format(month=_month(conn)))


def differences(conn: Connection, limit: int = 100) -> list[tuple[int, str, int, float, int, float]]:
    """``(account, month, active rows, events)`` as kept and as a rebuild would make them,
    where they differ (at most ``limit``; empty when the table is in step)."""
    month = _month(conn)
    fresh = (
        f"SELECT account_id, {month} AS month, count(*) AS a, sum(CASE WHEN metric = 'events' THEN value ELSE 0.0 END) "
        f"AS e FROM usage_daily WHERE value > 0 GROUP BY account_id, {month}"
    )
    sql = (
        f"SELECT coalesce(k.account_id, f.account_id), coalesce(k.month, f.month), coalesce(k.active_rows, 0), "
        f"coalesce(k.events, 0.0), coalesce(f.a, 0), coalesce(f.e, 0.0) FROM usage_monthly AS k "
        f"FULL OUTER JOIN ({fresh}) AS f ON k.account_id = f.account_id AND k.month = f.month "
        f"WHERE k.account_id IS NULL OR f.account_id IS NULL OR k.active_rows <> f.a OR k.events <> f.e "
        f"ORDER BY 1, 2 LIMIT {int(limit)}"
    )
    return [(int(r[0]), str(r[1]), int(r[2]), float(r[3]), int(r[4]), float(r[5])) for r in conn.exec_driver_sql(sql)]
