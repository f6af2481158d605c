"""What every browser test shares."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.live import (
    DEMO_COMMANDS,
    DEMO_SETTINGS,
    SAMPLE_USERS,
    SEGMENTED_TODAY,
    Server,
    chromium,
    sample_commands,
    seeded_store,
    segmented_commands,
)

# A CI machine is slower than a developer's: Swagger UI's 1.5 MB bundle once took more than
# expect()'s default 5 s to render the reference there, with the other worker busy. A check
# that waits longer still fails when the thing never appears; it only stops failing on time.
expect.set_options(timeout=20_000)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Chromium, launched once per test process for the browser tests (~1.5 s of CPU a
    launch): each module or test opens its own context of it (``live.new_tab``), which has
    its own cookies and storage. Package-scoped, not session-scoped: Playwright's sync API
    marks the test process's thread as running an event loop while it is started, so every
    later test of that worker that calls ``asyncio.run()`` failed ("cannot be called from a
    running event loop"); it stops when the worker leaves ``tests/browser/``."""
    with chromium() as launched:
        yield launched  # type: ignore[misc]


@pytest.fixture(scope="session")
def store_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder shared by every test process of the run (xdist's workers' base folders sit
    in one), where ``live.seeded_store`` keeps the stores it seeds once."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder = shared / "browser-stores"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def demo_store(store_cache: Path, sqlite_template: Path) -> Path:
    """The demo company of ``live.DEMO_COMMANDS`` (test_health, test_health_history and
    test_surveys serve copies of it), seeded once per run."""
    return seeded_store(store_cache, "demo-30x6", DEMO_COMMANDS, sqlite_template, **DEMO_SETTINGS)


@pytest.fixture(scope="session")
def sample_server(tmp_path_factory: pytest.TempPathFactory, store_cache: Path,
                  sqlite_template: Path) -> Iterator[Server]:  # fmt: skip
    """``kizuna serve`` on the import sample (``live.sample_commands``, seeded once per run),
    served once per test process for test_journeys, test_accounts_list, test_phone and
    test_admin (each signs in as its own user: ``live.SAMPLE_USERS``). Started here, answered
    by ``Server.url()``."""
    folder = tmp_path_factory.mktemp("sample-browser")
    store = seeded_store(store_cache, "sample", sample_commands(folder), sqlite_template)
    server = Server(folder, [], store=store)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def segmented_server(tmp_path_factory: pytest.TempPathFactory, store_cache: Path,
                     sqlite_template: Path) -> Iterator[Server]:  # fmt: skip
    """``kizuna serve`` on the import sample with its segments and the default playbooks
    (``live.segmented_commands``, seeded once per run), on 2026-12-05, served once per test
    process for test_playbooks and test_worklist (each signs in as its own user:
    ``live.SEGMENTED_USERS``)."""
    folder = tmp_path_factory.mktemp("segmented-browser")
    commands = segmented_commands(folder)
    store = seeded_store(store_cache, "segmented", commands, sqlite_template, TODAY=SEGMENTED_TODAY)
    server = Server(folder, [], store=store, TODAY=SEGMENTED_TODAY)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def user(request: pytest.FixtureRequest) -> tuple[str, str, str]:
    """The requesting module's own user of ``sample_server``'s store: (email, name, role)."""
    return SAMPLE_USERS[request.module.__name__.rsplit(".", 1)[-1]]
