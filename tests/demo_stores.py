"""Small demo companies built once per test process, handed to each test as a copy.

Many modules test on the same small demo (``generate_demo(accounts=40, months=8, seed=7,
…)``), several of them once per test and per backend: ~1–3 s of CPU each time, 10–40 s
under load. A :class:`Demo` names what a store holds (the demo's arguments, and the steps
run on it after, such as a health recompute); :class:`DemoStores` (the session fixture
``demo_stores`` in ``tests/conftest.py``) builds each one once per test process, with the
same function and the same arguments as the tests did, and hands out copies:

- SQLite: the built file (written whole: its engine is disposed, so the WAL is checkpointed
  into it) is copied for each test, as ``sqlite_template`` is.
- PostgreSQL: a database built once is the ``TEMPLATE`` of each test's database.

A test that writes writes to its own copy; the built store is never handed out itself.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine, make_url, text
from sqlalchemy.orm import Session

from kizuna.db import make_engine, session_scope
from kizuna.demo import generate_demo


@dataclass(frozen=True)
class Demo:
    """``generate_demo(session, accounts=…, months=…, seed=…, as_of=…)``, then ``then(session)``
    in the same transaction (a module-level function: its name is part of the store's key)."""

    accounts: int
    months: int
    seed: int
    as_of: date
    then: Callable[[Session], None] | None = None

    @property
    def key(self) -> str:
        key = f"demo_a{self.accounts}_m{self.months}_s{self.seed}_{self.as_of:%Y%m%d}"
        if self.then is not None:
            key += "_" + re.sub(r"\W", "_", f"{self.then.__module__}_{self.then.__qualname__}")
        return key.lower()

    def build(self, engine: Engine) -> None:
        with session_scope(engine) as session:
            generate_demo(session, accounts=self.accounts, months=self.months, seed=self.seed, as_of=self.as_of)
            if self.then is not None:
                self.then(session)


class DemoStores:
    """Each :class:`Demo` built once in this test process (lazily), copies handed out."""

    def __init__(self, folder: Path, sqlite_template: Path) -> None:
        self._folder = folder
        self._sqlite_template = sqlite_template
        self._files: dict[str, Path] = {}
        self._databases: set[str] = set()

    def sqlite_file(self, demo: Demo) -> Path:
        """The built SQLite store (do not open it: copy it)."""
        if demo.key not in self._files:
            path = self._folder / f"{demo.key}.db"
            shutil.copyfile(self._sqlite_template, path)  # the migrated store the tests started from
            engine = make_engine(f"sqlite:///{path}")
            try:
                demo.build(engine)
            finally:
                engine.dispose()  # the last connection closed checkpoints the WAL into the file
            assert not path.with_name(f"{path.name}-wal").exists(), "the built store must be whole in one file"
            self._files[demo.key] = path
        return self._files[demo.key]

    def sqlite_url(self, demo: Demo, path: Path) -> str:
        """A copy of the built store at ``path``; its URL."""
        shutil.copyfile(self.sqlite_file(demo), path)
        return f"sqlite:///{path}"

    def postgres_template(self, demo: Demo, request: pytest.FixtureRequest) -> str:
        """The name of the PostgreSQL database built once, to copy with ``CREATE DATABASE … TEMPLATE``."""
        if demo.key not in self._databases:
            server = request.getfixturevalue("postgres")
            url = server.create_database(demo.key, template=request.getfixturevalue("postgres_template"))
            engine = make_engine(url)
            try:
                demo.build(engine)
            finally:
                engine.dispose()  # a template must have no open connection
            self._databases.add(demo.key)
        return demo.key

    def fill(self, engine: Engine, demo: Demo, request: pytest.FixtureRequest) -> None:
        """Make the fresh, empty store of ``engine`` (a test's ``store_url``) a copy of ``demo``.

        For fixtures that give the demo to an app already created on that store (``app``): its
        engine's pooled connections are closed first; the next one opens the copy."""
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT (SELECT count(*) FROM accounts) + (SELECT count(*) FROM users)")).scalar()
        assert rows == 0, "the demo replaces a fresh store: a fixture wrote to it before"
        engine.dispose()
        url = make_url(engine.url)
        if url.get_backend_name() == "sqlite":
            path = Path(str(url.database))
            for extra in ("-wal", "-shm"):  # gone once the last connection closed; never copied over
                assert not path.with_name(path.name + extra).exists(), f"{path.name}{extra} is still open"
            shutil.copyfile(self.sqlite_file(demo), path)
            return
        import psycopg

        template = self.postgres_template(demo, request)
        server = request.getfixturevalue("postgres")
        name = str(url.database)
        with psycopg.connect(
            f"host=127.0.0.1 port={server.port} user=postgres dbname=postgres", autocommit=True
        ) as conn:
            # renamed, not dropped: DROP DATABASE waits for a checkpoint (~1 s on a busy machine)
            conn.execute(f'ALTER DATABASE "{name}" RENAME TO "{name}_empty"')
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')


#: The small demo company of the health tests (test_health, test_health_surfaces,
#: test_health_history_surfaces, test_scorecard_editor): 40 accounts, 8 months, seed 7.
SMALL_DEMO = Demo(accounts=40, months=8, seed=7, as_of=date(2026, 11, 20))
