"""The bigram search index of account names and domains, on SQLite and PostgreSQL.

``account_bigrams (bigram, account_id)`` holds every two-character piece of
``lower(name)`` and ``lower(domain)``. A search for ``商事`` reads the accounts under
that one bigram instead of testing every name; a trigram index (``pg_trgm``) cannot
serve two-character words, which Japanese names are full of, and ``pg_bigm`` is not
installed everywhere, so the index is an ordinary table, the same on both backends.

It is kept in step **by the database**: triggers on ``accounts`` (insert, delete, and
an update of ``name`` or ``domain``) rewrite the account's rows, whatever writes the
accounts (the ORM, bulk imports, the ingestion writer, a SQL console). On PostgreSQL
the insert and delete triggers work per statement, from its transition table. ``lower()`` is
the database's own on both sides (the triggers, and :func:`search_bigrams` for the
query), so the index agrees with the case rules of ``LIKE``/``ILIKE`` that check the
candidates. The triggers cut at most :data:`POSITIONS` characters of a value (the
columns hold 255).

A migration that rebuilds ``accounts`` on SQLite (copy, drop, rename) drops its
triggers: :func:`install` puts them back after every upgrade and rebuilds the index
if any was missing.
"""

from __future__ import annotations

from sqlalchemy import Connection, func, insert, select
from sqlalchemy.orm import Session

from kizuna.db.models import AccountBigram, SearchPosition
from kizuna.db.triggers import TriggerSet

#: The index and the positions its triggers cut at: derived from ``accounts`` and part
#: of the schema, so not data of their own (an empty store may hold positions).
POSITIONS_TABLE = "search_positions"
TABLES = ("account_bigrams", POSITIONS_TABLE)

#: Characters of a name or domain the triggers index (``search_positions`` holds 1 … this).
POSITIONS = 1024

#: A bigram under at least this many accounts is too common to narrow a search: with
#: every bigram of a query that common, the search scans the names instead.
COMMON = 5000

#: At most this many of a long query's bigrams are weighed (any subset narrows correctly).
WEIGHED = 8

_ROWS_OF = (
    "SELECT DISTINCT substr(lower(t.v), p.i, 2), {id} FROM {values} JOIN search_positions AS p ON p.i < length(t.v)"
)

_SQLITE_ROWS = _ROWS_OF.format(id="NEW.id", values="(SELECT NEW.name AS v UNION ALL SELECT NEW.domain) AS t")
_SQLITE_TRIGGERS = {
    "accounts_bigrams_insert": (
        "CREATE TRIGGER IF NOT EXISTS accounts_bigrams_insert AFTER INSERT ON accounts BEGIN "
        f"INSERT OR IGNORE INTO account_bigrams (bigram, account_id) {_SQLITE_ROWS}; END"
    ),
    "accounts_bigrams_update": (
        "CREATE TRIGGER IF NOT EXISTS accounts_bigrams_update AFTER UPDATE OF name, domain ON accounts BEGIN "
        "DELETE FROM account_bigrams WHERE account_id = OLD.id; "
        f"INSERT OR IGNORE INTO account_bigrams (bigram, account_id) {_SQLITE_ROWS}; END"
    ),
    "accounts_bigrams_delete": (
        "CREATE TRIGGER IF NOT EXISTS accounts_bigrams_delete AFTER DELETE ON accounts BEGIN "
        "DELETE FROM account_bigrams WHERE account_id = OLD.id; END"
    ),
}

#: PostgreSQL: inserts and deletes by statement (one set-based write per statement,
#: from its transition table: a bulk import of thousands of accounts writes their
#: bigrams in one sorted pass); a rename by row, and only when ``name`` or ``domain`` is
#: in the ``UPDATE`` (a statement-level update trigger would copy every updated row of
#: every summary refresh into a transition table).
_PG_INSERT_ROWS = _ROWS_OF.format(
    id="t.id", values="(SELECT id, name AS v FROM {rows} UNION ALL SELECT id, domain FROM {rows}) AS t"
)
_PG_FUNCTIONS = {
    "account_bigrams_added": f"""
        INSERT INTO account_bigrams (bigram, account_id)
        SELECT * FROM ({_PG_INSERT_ROWS.format(rows="new_rows")}) AS b ORDER BY 1, 2
        ON CONFLICT DO NOTHING;""",
    "account_bigrams_deleted": """
        DELETE FROM account_bigrams AS b USING old_rows AS o WHERE b.account_id = o.id;""",
    "account_bigrams_renamed": f"""
        DELETE FROM account_bigrams WHERE account_id = OLD.id;
        INSERT INTO account_bigrams (bigram, account_id)
        {_ROWS_OF.format(id="NEW.id", values="(VALUES (NEW.name), (NEW.domain)) AS t(v)")}
        ON CONFLICT DO NOTHING;""",
}
_PG_TRIGGERS = {
    "accounts_bigrams_insert": "AFTER INSERT ON accounts REFERENCING NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION account_bigrams_added()",
    "accounts_bigrams_delete": "AFTER DELETE ON accounts REFERENCING OLD TABLE AS old_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION account_bigrams_deleted()",
    "accounts_bigrams_update": "AFTER UPDATE OF name, domain ON accounts "
    "FOR EACH ROW EXECUTE FUNCTION account_bigrams_renamed()",
}


TRIGGERS = TriggerSet("accounts", _SQLITE_TRIGGERS, _PG_FUNCTIONS, _PG_TRIGGERS)


def install(conn: Connection) -> bool:
    """Create the positions, the triggers and the index where any is missing (in the
    caller's transaction); returns whether the index was rebuilt."""
    positions = conn.exec_driver_sql("SELECT count(*) FROM search_positions").scalar()
    if positions != POSITIONS:
        conn.exec_driver_sql("DELETE FROM search_positions")
        conn.execute(insert(SearchPosition), [{"i": i} for i in range(1, POSITIONS + 1)])
    if not TRIGGERS.missing(conn):
        return False
    TRIGGERS.create(conn)
    rebuild(conn)
    return True


def drop_triggers(conn: Connection) -> None:
    """Remove the triggers (and PostgreSQL's functions): the migration's downgrade."""
    TRIGGERS.drop(conn)


def rebuild(conn: Connection) -> None:
    """Fill the index from every account (after the triggers were missing)."""
    conn.exec_driver_sql("DELETE FROM account_bigrams")
    every = _ROWS_OF.format(
        id="t.id", values="(SELECT id, name AS v FROM accounts UNION ALL SELECT id, domain FROM accounts) AS t"
    )
    conn.exec_driver_sql(f"INSERT INTO account_bigrams (bigram, account_id) SELECT * FROM ({every}) AS b ORDER BY 1, 2")


def search_bigrams(session: Session, text: str) -> list[str]:
    """The distinct bigrams of ``text`` as the index holds them (the database's ``lower()``)."""
    lowered = session.scalar(select(func.lower(text))) or ""
    return list(dict.fromkeys(lowered[i : i + 2] for i in range(len(lowered) - 1)))


def narrowest(session: Session, text: str) -> str | None:
    """The bigram of ``text`` under the fewest accounts — the index entry a search reads —
    or None when the index cannot narrow the search: ``text`` is one character, or every
    bigram is under :data:`COMMON` accounts or more (then scanning the names is as quick).
    Each bigram's accounts are counted up to :data:`COMMON` only."""
    grams = search_bigrams(session, text)
    if len(grams) > WEIGHED:
        step = len(grams) / WEIGHED
        grams = [grams[int(k * step)] for k in range(WEIGHED)]
    best, fewest = None, COMMON
    for gram in grams:
        under = select(AccountBigram.account_id).where(AccountBigram.bigram == gram).limit(COMMON).subquery()
        n = int(session.scalar(select(func.count()).select_from(under)) or 0)
        if n < fewest:
            best, fewest = gram, n
            if n == 0:
                break
    return best
