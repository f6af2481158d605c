"""Backing the store up to one file and restoring it (``kizuna backup`` / ``kizuna restore``).

SQLite: SQLite's online backup API copies the database page by page from one read
transaction, so the copy is consistent even while the server writes (WAL: the writer
is never blocked). The copy gets a small ``kizuna_backup`` table naming its format, the
schema revision and when it was taken; a restore checks it, copies the pages into the
store with the same API, drops the marker and migrates the schema up.

PostgreSQL: ``pg_dump --format=custom`` and ``pg_restore``, when the PostgreSQL client
programs are installed (a clear error otherwise).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from kizuna.db import maintenance
from kizuna.db.engine import session_scope
from kizuna.db.schema import current_revision, head_revision, known_revision, upgrade
from kizuna.errors import InvalidInput
from kizuna.i18n import _

#: Written into every SQLite backup; a file without it is not a Kizuna backup.
MARKER_TABLE = "kizuna_backup"
FORMAT = "kizuna-sqlite-1"
_SQLITE_HEADER = b"SQLite format 3\x00"


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    backend: str  # sqlite or postgresql
    revision: str | None
    taken_at: datetime
    tables: dict[str, int]  # rows per table (SQLite backups)


class BackupError(InvalidInput):
    """The backup or restore cannot be done (no pg_dump, not a Kizuna backup, a store not empty…)."""

    code = "backup_failed"


def backup(engine: Engine, target: Path) -> BackupInfo:
    """Write a consistent copy of the store to ``target`` (replaced atomically if it exists)."""
    if target.exists() and target.is_dir():
        raise BackupError(_("{path} is a folder, not a file").format(path=target), field="file")
    if not target.parent.is_dir():
        raise BackupError(_("no such folder: {path}").format(path=target.parent), field="file")
    if engine.dialect.name == "postgresql":
        return _pg_dump(engine, target)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.unlink(missing_ok=True)
    taken_at = datetime.now(UTC)
    raw = engine.raw_connection()
    try:
        source = raw.driver_connection
        assert isinstance(source, sqlite3.Connection)
        copy = sqlite3.connect(tmp)
        try:
            source.backup(copy)  # all pages in one step: one consistent snapshot
            revision = _sqlite_revision(copy)
            copy.execute(f"CREATE TABLE {MARKER_TABLE} (format TEXT, revision TEXT, taken_at TEXT)")
            copy.execute(f"INSERT INTO {MARKER_TABLE} VALUES (?, ?, ?)", (FORMAT, revision, taken_at.isoformat()))
            copy.commit()
            tables = _sqlite_counts(copy)
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            copy.close()
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        raw.close()
    os.replace(tmp, target)
    return BackupInfo(target, "sqlite", revision, taken_at, tables)


def restore(engine: Engine, source: Path, *, force: bool = False) -> BackupInfo:
    """Replace the store's content with the backup in ``source``, then migrate it up.

    Refuses a store that holds data unless ``force``, a file that is not a Kizuna
    backup, and a backup from a newer Kizuna (a schema revision this one does not know).
    """
    if not source.is_file():
        raise BackupError(_("no such file: {path}").format(path=source), field="file")
    if engine.dialect.name == "postgresql":
        return _pg_restore(engine, source, force=force)
    info = inspect_backup(source)
    _refuse_non_empty(engine, force)
    raw = engine.raw_connection()
    try:
        target = raw.driver_connection
        assert isinstance(target, sqlite3.Connection)
        backup_file = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            backup_file.backup(target)
        finally:
            backup_file.close()
        target.execute(f"DROP TABLE IF EXISTS {MARKER_TABLE}")
        target.commit()
        problems = target.execute("PRAGMA integrity_check").fetchall()
        if problems != [("ok",)]:
            raise BackupError(_("the restored store fails its integrity check: {problems}").format(
                problems="; ".join(str(p[0]) for p in problems[:5])))  # fmt: skip
    finally:
        raw.close()
    engine.dispose()  # pooled connections saw the old pages
    upgrade(engine)
    return info


def inspect_backup(source: Path) -> BackupInfo:
    """What a SQLite backup file holds; ``BackupError`` if it is not a usable Kizuna backup."""
    with source.open("rb") as fh:
        header = fh.read(len(_SQLITE_HEADER))
    if header != _SQLITE_HEADER:
        raise BackupError(_("{path} is not a Kizuna backup (not an SQLite file)").format(path=source), field="file")
    conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        try:
            fmt, revision, taken = conn.execute(f"SELECT format, revision, taken_at FROM {MARKER_TABLE}").fetchone()
        except (sqlite3.DatabaseError, TypeError):
            raise BackupError(
                _("{path} is not a Kizuna backup (made by `kizuna backup`)").format(path=source), field="file"
            ) from None
        if fmt != FORMAT:
            raise BackupError(_("{path}: unknown backup format {fmt!r}").format(path=source, fmt=fmt), field="file")
        if revision is not None and not known_revision(revision):
            raise BackupError(
                _("{path} comes from a newer Kizuna (schema revision {rev}); upgrade Kizuna first").format(
                    path=source, rev=revision
                ),
                field="file",
            )
        tables = _sqlite_counts(conn)
    finally:
        conn.close()
    return BackupInfo(source, "sqlite", revision, datetime.fromisoformat(taken), tables)


def _refuse_non_empty(engine: Engine, force: bool) -> None:
    if force or current_revision(engine) is None:
        return
    with session_scope(engine) as session:
        empty = maintenance.is_empty(session)
    if not empty:
        raise BackupError(
            _("the store already holds data; restoring would replace it all. Add --force to do so"), field="force"
        )


def _sqlite_revision(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError:
        return None
    return str(row[0]) if row else None


def _sqlite_counts(conn: sqlite3.Connection) -> dict[str, int]:
    names = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]  # fmt: skip
    return {n: int(conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0]) for n in names if n != MARKER_TABLE}


# --- PostgreSQL ------------------------------------------------------------------------


def _pg_tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            _("{tool} is not installed: PostgreSQL stores are backed up with the PostgreSQL client programs "
              "(e.g. apt install postgresql-client)").format(tool=name)
        )  # fmt: skip
    return found


def _pg_args(engine: Engine) -> tuple[list[str], dict[str, str]]:
    url = make_url(engine.url.render_as_string(hide_password=False))
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    args = ["--dbname", str(url.database or "")]
    if url.host:
        args += ["--host", url.host]
    if url.port:
        args += ["--port", str(url.port)]
    if url.username:
        args += ["--username", url.username]
    return args, env


def _pg_dump(engine: Engine, target: Path) -> BackupInfo:
    tool = _pg_tool("pg_dump")
    args, env = _pg_args(engine)
    tmp = target.with_name(f".{target.name}.tmp")
    taken_at = datetime.now(UTC)
    done = subprocess.run([tool, "--format=custom", "--no-owner", "--file", str(tmp), *args], env=env,
                          capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise BackupError(_("pg_dump failed: {why}").format(why=done.stderr.strip()[:500]))
    os.replace(tmp, target)
    return BackupInfo(target, "postgresql", current_revision(engine), taken_at, {})


def _pg_restore(engine: Engine, source: Path, *, force: bool) -> BackupInfo:
    tool = _pg_tool("pg_restore")
    listing = subprocess.run([tool, "--list", str(source)], capture_output=True, text=True, check=False)
    if listing.returncode != 0 or "alembic_version" not in listing.stdout:
        raise BackupError(_("{path} is not a Kizuna backup (made by `kizuna backup`)").format(path=source),
                          field="file")  # fmt: skip
    _refuse_non_empty(engine, force)
    args, env = _pg_args(engine)
    engine.dispose()
    done = subprocess.run([tool, "--clean", "--if-exists", "--no-owner", "--single-transaction", *args, str(source)],
                          env=env, capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        raise BackupError(_("pg_restore failed: {why}").format(why=done.stderr.strip()[:500]))
    revision = current_revision(engine)
    if revision is not None and not known_revision(revision):
        raise BackupError(_("{path} comes from a newer Kizuna (schema revision {rev}); upgrade Kizuna first").format(
            path=source, rev=revision), field="file")  # fmt: skip
    upgrade(engine)
    return BackupInfo(source, "postgresql", revision, datetime.now(UTC), {})


__all__ = ["BackupError", "BackupInfo", "backup", "head_revision", "inspect_backup", "restore"]
