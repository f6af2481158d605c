"""Shared fixtures: real SQLite files and a real PostgreSQL server started here.

The ``store_url`` fixture runs a test once per backend, each time on a fresh
database whose schema was built by the Alembic migrations. PostgreSQL comes from
the machine's binaries (``make test`` installs them); when it cannot start, its
tests are skipped locally and fail in CI (``CI`` set).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kizuna.db import ensure_schema, make_engine
from kizuna.i18n import set_language
from tests.pgserver import PostgresServer, PostgresUnavailable

_counter = itertools.count()


@pytest.fixture(autouse=True)
def _english_and_clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see English messages and no KIZUNA_* settings from the outer shell."""
    for key in list(os.environ):
        if key.startswith("KIZUNA_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("LANG", "C.UTF-8")
    set_language("en")


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    try:
        server = PostgresServer.start()
    except PostgresUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI: {exc}")
        pytest.skip(str(exc))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_template(postgres: PostgresServer) -> str:
    """A database migrated once; each test gets a copy (CREATE DATABASE … TEMPLATE)."""
    url = postgres.create_database("kizuna_template")
    engine = make_engine(url)
    ensure_schema(engine)
    engine.dispose()
    return "kizuna_template"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated store on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'kizuna.db'}"
        engine = make_engine(url)
        ensure_schema(engine)
        engine.dispose()
        return url
    server: PostgresServer = request.getfixturevalue("postgres")
    template: str = request.getfixturevalue("postgres_template")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw")
    return server.create_database(f"kizuna_{worker}_{next(_counter)}", template=template)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh, migrated SQLite store (for tests that are about files, not backends)."""
    url = f"sqlite:///{tmp_path / 'kizuna.db'}"
    engine = make_engine(url)
    ensure_schema(engine)
    engine.dispose()
    return url
