"""Ibis' SQL compilers imported on first use (issue 19, ``kizuna.analytics.lazy_compilers``):
a process that opens an SQLite store imports the SQLite compiler only, and every other
compiler is still there when asked for by its class or module name. Babel's catalogue
reader is imported only when a message is translated."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kizuna.analytics import lazy_compilers

CHILD = """
import sys
from kizuna.analytics import backend
con = backend.connect("sqlite:///" + sys.argv[1])
print(sorted(k.rpartition(".")[2] for k in sys.modules if k.startswith("ibis.backends.sql.compilers.")))
print(con.compile(con.table("t").count()))
import ibis
import ibis.backends.sql.compilers as sc
from ibis.backends.sql.compilers import DuckDBCompiler
print(DuckDBCompiler.__name__, type(sc.postgres.compiler).__name__, "PostgresCompiler" in dir(sc))
print(ibis.duckdb.connect().compile(ibis.memtable({"x": [1]}).count()).startswith("SELECT COUNT(*)"))
try:
    sc.no_such_dialect
except AttributeError as e:
    print("AttributeError", e)
print("babel.messages.pofile" in sys.modules)
from kizuna import i18n
with i18n.language("ja"):
    print(i18n._("months must be from 1 to {n}"), "babel.messages.pofile" in sys.modules)
"""


def test_an_sqlite_process_imports_the_sqlite_compiler_only(tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "s.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE t (x INTEGER)")
    out = subprocess.run([sys.executable, "-c", CHILD, str(db)], capture_output=True, text=True, check=True, timeout=120)
    lines = out.stdout.splitlines()
    assert lines[0] == "['_compat', 'base', 'sqlite']"
    assert lines[1] == 'SELECT COUNT(*) AS "CountStar(t)" FROM "t" AS "t0"'
    assert lines[2] == "DuckDBCompiler PostgresCompiler True"
    assert lines[3] == "True"
    assert lines[4] == "AttributeError module 'ibis.backends.sql.compilers' has no attribute 'no_such_dialect'"
    assert lines[5] == "False"
    assert lines[6] == "月数は1〜{n}で指定してください True"


def test_only_the_expected_package_is_made_lazy() -> None:
    source = '''"""Doc."""
from __future__ import annotations

__all__ = ["AthenaCompiler", "SQLiteCompiler"]

from ibis.backends.sql.compilers.athena import AthenaCompiler
from ibis.backends.sql.compilers.sqlite import SQLiteCompiler
'''
    assert lazy_compilers._names(source) == {"AthenaCompiler": "athena", "SQLiteCompiler": "sqlite"}
    # anything else in it: left to Ibis
    assert lazy_compilers._names(source + "x = 1\n") is None
    assert lazy_compilers._names(source + "from ibis.backends.sql.compilers.a.b import C\n") is None
    assert lazy_compilers._names(source + "from ibis.backends.sql.compilers.duckdb import D as E\n") is None
    assert lazy_compilers._names(source + "from ibis.backends.sql.compilers.duckdb import *\n") is None
    assert lazy_compilers._names(source + "from elsewhere import F\n") is None
    assert lazy_compilers._names(source + "import os\n") is None
    assert lazy_compilers._names('"""Only a docstring."""\n') is None
    # the installed Ibis: every compiler named, by its module
    names = lazy_compilers._names(Path(lazy_compilers.importlib.util.find_spec(lazy_compilers.PACKAGE).origin).read_text())
    assert names is not None
    assert (names["SQLiteCompiler"], names["DuckDBCompiler"], names["PostgresCompiler"]) == ("sqlite", "duckdb", "postgres")


def test_installing_again_changes_nothing() -> None:
    import ibis.backends.sql.compilers as sc

    assert lazy_compilers.install() is False
    assert sys.modules[lazy_compilers.PACKAGE] is sc
    with pytest.raises(AttributeError):
        sc.__no_such__  # noqa: B018
