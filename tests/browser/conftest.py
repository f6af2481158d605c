"""What every browser test shares."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.browser.live import SAMPLE_USERS, SEGMENTED_TODAY, Server, sample_commands, segmented_commands

# A CI machine is slower than a developer's: Swagger UI's 1.5 MB bundle once took more than
# expect()'s default 5 s to render the reference there, with the other worker busy. A check
# that waits longer still fails when the thing never appears; it only stops failing on time.
expect.set_options(timeout=20_000)


@pytest.fixture(scope="session")
def sample_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``kizuna serve`` on the import sample (``live.sample_commands``), seeded once per test
    process for test_journeys, test_accounts_list, test_phone and test_admin (each signs in
    as its own user: ``live.SAMPLE_USERS``). Started here, answered by ``Server.url()``."""
    folder = tmp_path_factory.mktemp("sample-browser")
    server = Server(folder, sample_commands(folder))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def segmented_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``kizuna serve`` on the import sample with its segments and the default playbooks
    (``live.segmented_commands``), on 2026-12-05, seeded once per test process for
    test_playbooks and test_worklist (each signs in as its own user: ``live.SEGMENTED_USERS``)."""
    folder = tmp_path_factory.mktemp("segmented-browser")
    server = Server(folder, segmented_commands(folder), TODAY=SEGMENTED_TODAY)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def user(request: pytest.FixtureRequest) -> tuple[str, str, str]:
    """The requesting module's own user of ``sample_server``'s store: (email, name, role)."""
    return SAMPLE_USERS[request.module.__name__.rsplit(".", 1)[-1]]
