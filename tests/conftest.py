"""Shared fixtures: real SQLite files and a real PostgreSQL server started here.

The ``store_url`` fixture runs a test once per backend, each time on a fresh
database whose schema was built by the Alembic migrations. PostgreSQL comes from
the machine's binaries (``make test`` installs them); when it cannot start, its
tests are skipped locally and fail in CI (``CI`` set).
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default as email_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from kizuna.analytics import compiled
from kizuna.db import ensure_schema, make_engine
from kizuna.i18n import set_language
from kizuna.main import create_app
from kizuna.services import auth
from kizuna.settings import Settings
from tests.demo_stores import DemoStores
from tests.pgserver import PostgresServer, PostgresUnavailable

_counter = itertools.count()

# Property tests judge results, not speed: a loaded machine (CI, or several suites at once)
# must not fail them for slow input generation or a slow example.
hypothesis_settings.register_profile(
    "kizuna", deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
hypothesis_settings.load_profile("kizuna")

# Passwords are hashed with Argon2 at its production cost (~0.3–0.5 s a hash or a check on
# a busy machine) by `kizuna serve` and every command the tests run as a subprocess; in
# this process, where hundreds of tests create users and sign in, at the lowest cost that
# still is Argon2id. Hashes carry their parameters, so either verifies the other's.
auth._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@pytest.fixture(scope="session", autouse=True)
def _compiled_sql_checked() -> Iterator[None]:
    """Every query the compiled-SQL cache fills in (kizuna.analytics.compiled) is also
    compiled by Ibis and must be the same text, in every test of the suite."""
    with compiled.checking():
        yield


@pytest.fixture(scope="session", autouse=True)
def _user_cache_of_the_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The user's cache folder (KIZUNA_CACHE_DIR's default: compiled SQL) is one of the test
    run's, not the home one — from the start, for the apps that module fixtures build too."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "user-cache"))
        yield


@pytest.fixture(autouse=True)
def _compiled_sql_in_memory() -> None:
    """Each test starts with the compiled SQL kept in memory only: the folder on disk is
    process-wide, and an app or a command of an earlier test set one (tests that count the
    shapes compiled would count files read instead)."""
    compiled.use_folder(None)


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


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite store migrated once per test process; each test gets a copy of the file
    (running the 24 migrations costs ~0.8 s, a copy a millisecond). The copy is the
    migrations' own result: `test_migrations.py` runs them for real."""
    kept = os.environ.get("MUTATE_SQLITE_TEMPLATE")  # scripts/mutate.py: migrated once a run, not once a mutant
    if kept and Path(kept).exists():
        return Path(kept)
    path = tmp_path_factory.mktemp("sqlite-template") / "kizuna.db"
    engine = make_engine(f"sqlite:///{path}")
    ensure_schema(engine)
    engine.dispose()
    assert not path.with_name("kizuna.db-wal").exists(), "the template must be whole in one file"
    if kept:
        shutil.copyfile(path, f"{kept}.part")
        os.replace(f"{kept}.part", kept)
    return path


def migrated_sqlite(template: Path, path: Path) -> str:
    """A fresh, migrated SQLite store at ``path`` (a copy of ``template``); its URL."""
    shutil.copyfile(template, path)
    return f"sqlite:///{path}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated store on each backend."""
    if request.param == "sqlite":
        return migrated_sqlite(request.getfixturevalue("sqlite_template"), tmp_path / "kizuna.db")
    server: PostgresServer = request.getfixturevalue("postgres")
    template: str = request.getfixturevalue("postgres_template")
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw")
    return server.create_database(f"kizuna_{worker}_{next(_counter)}", template=template)


@pytest.fixture(scope="session")
def demo_stores(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> DemoStores:
    """Small demo companies built once per test process; each test gets a copy (tests/demo_stores.py)."""
    return DemoStores(tmp_path_factory.mktemp("demo-stores"), sqlite_template)


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh, migrated SQLite store (for tests that are about files, not backends)."""
    return migrated_sqlite(sqlite_template, tmp_path / "kizuna.db")


# --- the web app -------------------------------------------------------------------------

PASSWORD = "correct-horse-battery"


@pytest.fixture
def app_settings(store_url: str) -> Settings:
    return Settings(database_url=store_url)


@pytest.fixture
def app(app_settings: Settings) -> FastAPI:
    return create_app(app_settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    # English unless a test asks otherwise (pages default to Japanese without Accept-Language).
    with TestClient(app, base_url="http://testserver", headers={"Accept-Language": "en"}) as c:
        yield c


def make_user(
    app: FastAPI, email: str, role: str = "csm", *, name: str | None = None, locale: str | None = None
) -> int:
    from kizuna.domain.enums import UserRole
    from kizuna.services import auth

    with app.state.kizuna.unit_of_work() as session:
        user = auth.create_user(session, email=email, name=name or email.split("@")[0], role=UserRole(role),
                                password=PASSWORD, locale=locale)  # fmt: skip
        return user.id


def login_token(client: TestClient) -> str:
    """The sign-in form's CSRF token, as a browser gets it: from the form on GET /login."""
    page = client.get("/login").text
    match = re.search(r'action="/login".*?name="csrf_token" value="([^"]+)"', page, re.S)
    assert match, "the sign-in form carries a CSRF token"
    return match.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> str:
    """Sign in through the real form; return the page's CSRF token."""
    if "kizuna_session" in client.cookies:  # signing in as someone else: the sign-in page is for the signed out
        client.cookies.delete("kizuna_session")
    response = client.post("/login", data={"email": email, "password": password, "next": "/",
                                           "csrf_token": login_token(client)}, follow_redirects=False)  # fmt: skip
    assert response.status_code == 303, response.text
    page = client.get("/")
    match = re.search(r'data-csrf="([^"]+)"', page.text)
    assert match, "signed-in pages carry a CSRF token"
    return match.group(1)


@pytest.fixture
def csm(app: FastAPI, client: TestClient) -> str:
    """A signed-in CSM; returns the CSRF token."""
    make_user(app, "csm@kizuna.example", "csm", name="佐藤 健")
    return sign_in(client, "csm@kizuna.example")


def make_api_key(app: FastAPI, scope: str = "write") -> str:
    from kizuna.domain.auth import ApiKeyScope
    from kizuna.services import auth

    with app.state.kizuna.unit_of_work() as session:
        key, _record = auth.create_api_key(session, name=f"test {scope}", scope=ApiKeyScope(scope))
    return key


@pytest.fixture
def api(app: FastAPI, client: TestClient) -> TestClient:
    """The test client with a write-scoped API key as its bearer token."""
    client.headers["Authorization"] = f"Bearer {make_api_key(app, 'write')}"
    return client


# --- a real SMTP server ------------------------------------------------------------------------


class Inbox:
    """A real SMTP server (aiosmtpd) on a free loopback port that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=email_policy)))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    with socket.socket() as probe:  # aiosmtpd checks its own port by connecting: it must be known
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


# --- the order the two workers take the modules in ---------------------------------------------

#: Modules that take a minute or more (a live server and Chromium, a demo company, Spark,
#: schemathesis), by the durations table `pytest` prints. `make test` hands whole modules to two
#: workers in collection order (`--dist loadscope`); started last, they ran alone at the end
#: with the other worker idle for minutes. Started first, the short modules fill in around them.
SLOW_MODULES = (
    "tests/browser/",
    "tests/test_api_schemathesis.py",
    "tests/test_analytics_parity.py",
    "tests/test_health_backtest.py",
    "tests/test_health_surfaces.py",
    "tests/test_health_history.py",
    "tests/test_tracking_clients.py",
    "tests/test_concurrent_writes",  # and test_concurrent_writes_postgres.py
    "tests/test_demo_playbooks.py",
    "tests/test_health_generators.py",
    "tests/test_churn.py",
    "tests/test_cli_usability.py",
    "tests/test_web_hostile.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The slow modules first, each module's tests in their own order (a stable sort)."""
    items.sort(key=lambda item: not item.nodeid.startswith(SLOW_MODULES))
