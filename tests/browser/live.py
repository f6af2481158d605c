"""A real ``kizuna serve`` on a fresh SQLite store and a real Chromium page for the browser
tests: the store is filled by the ``kizuna`` commands a user would run.

The seeding commands and ``kizuna serve`` run one after the other in ONE process
(``kizuna.cli.main`` called once per command, exactly as ``python -m kizuna`` calls it), not
one process each, and that process is forked from a fork server that imported the app once
per test process (tests/browser/forkserver.py): every ``python -m kizuna`` starts Python and
imports the app again, ~3.5 s of CPU each on a machine whose two cores the whole suite
shares. A server starts from a migrated store (the template, or a store seeded once per run:
``seeded_store``), not by running the migrations again.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.browser.forkserver import spawn

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PASSWORD = "correct-horse-battery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kizuna_env(folder: Path, **settings: str) -> dict[str, str]:
    """The environment of a ``kizuna`` command on ``folder``'s store; ``settings`` are extra
    ``KIZUNA_*`` variables (``TODAY="2026-12-05"``).

    The server's scheduler is off (``KIZUNA_SCHEDULER=false``; tests/test_jobs.py tests it): on,
    it ran the whole daily job for the real date in the background of every test server once
    the clock passed 03:00 in Tokyo — CPU taken from the tests, and a store that differed with
    the hour the suite ran at. A test that needs a job runs it (``kizuna jobs run``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")}
    env.update(KIZUNA_DATABASE_URL=f"sqlite:///{folder / 'kizuna.db'}", KIZUNA_PASSWORD=PASSWORD, LANG="C.UTF-8",
               KIZUNA_SCHEDULER="false")  # fmt: skip
    env.update({f"KIZUNA_{k}": v for k, v in settings.items()})
    return env


class Server:
    """Seed ``folder``'s store with ``commands`` (``kizuna`` arguments), then ``kizuna serve``
    it — all in one process, started at once (Chromium can launch meanwhile); ``url()`` waits
    until the server answers, and fails with the process's output if a command failed.

    ``store``: an SQLite file the store starts as (copied): the migrated template
    (``sqlite_template`` in tests/conftest.py) spares the server its ~1 s of migrations; a
    seeded store (``seeded_store``) spares it the seeding too."""

    def __init__(self, folder: Path, commands: Sequence[Sequence[str]], *, store: Path | None = None,
                 **settings: str) -> None:  # fmt: skip
        self.folder = folder
        self.env = kizuna_env(folder, **settings)
        if store is not None:
            shutil.copyfile(store, folder / "kizuna.db")
        self.base = f"http://127.0.0.1:{free_port()}"
        self.log_path = folder / "server.log"
        everything = [list(args) for args in commands] + [["serve", "--port", self.base.rsplit(":", 1)[1]]]
        self.process = spawn(everything, self.env, self.log_path)
        self._answered = False

    def _log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def url(self, timeout: float = 600) -> str:
        """The base URL once the server answers (seeding a demo company takes minutes on a
        loaded machine; a failed command ends the process and fails at once)."""
        deadline = time.monotonic() + timeout
        while not self._answered:
            if self.process.poll() is not None:
                pytest.fail(f"seeding or `kizuna serve` exited with {self.process.returncode}:\n{self._log()}")
            try:
                with urllib.request.urlopen(f"{self.base}/login", timeout=2) as response:
                    self._answered = response.status == 200
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if not self._answered:
                if time.monotonic() > deadline:
                    pytest.fail(f"`kizuna serve` did not answer within {timeout:.0f} s:\n{self._log()}")
                time.sleep(0.1)
        return self.base

    def kizuna(self, *args: str, **settings: str) -> str:
        """Run one more ``kizuna`` command on the store (its own process); its standard output."""
        env = {**self.env, **{f"KIZUNA_{k}": v for k, v in settings.items()}}
        out, err = (self.folder / f"kizuna-{time.monotonic_ns()}.{name}" for name in ("out", "err"))
        code = spawn([args], env, out, err).wait(timeout=300)
        stdout, stderr = (p.read_text(encoding="utf-8", errors="replace") for p in (out, err))
        assert code == 0, f"`kizuna {' '.join(args)}` failed:\n{stdout}\n{stderr}"
        return stdout.split("\n", 1)[1]  # after the command's echo ("$ kizuna ...")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


DATA = Path(__file__).resolve().parents[1] / "data" / "import"
XSS_NAME = "<script>alert(1)</script>"
#: The import sample's store (``sample_server`` in conftest.py), shared by the modules that read it:
#: each module signs in as its own user, so that what one saves for its user (a language, a
#: saved view) is not another module's starting point. (email, name, role), all Japanese.
SAMPLE_USERS = {
    "test_journeys": ("csm@kizuna.example", "佐藤 健", "csm"),
    "test_accounts_list": ("list.csm@kizuna.example", "佐藤 健", "csm"),
    "test_phone": ("phone.csm@kizuna.example", "佐藤 健", "csm"),
    "test_admin": ("admin@kizuna.example", "管理 太郎", "admin"),
}


def sample_commands(folder: Path) -> list[list[str]]:
    """The import sample (with an account named like a script) imported into a fresh store,
    the users of ``SAMPLE_USERS``, and the default playbooks (the admin's pages show them)."""
    data = folder / "import"
    shutil.copytree(DATA, data)
    with (data / "accounts.csv").open("a", encoding="utf-8") as fh:
        fh.write(f"EVIL-1,{XSS_NAME},evil.example,,,,,,\n")
    users = [["users", "create", "--email", email, "--name", name, "--role", role, "--locale", "ja"]
             for email, name, role in SAMPLE_USERS.values()]  # fmt: skip
    return [["import", "all", str(data)], *users, ["playbooks", "load", "--defaults"]]


#: The users of the import sample that ``segmented_commands``'s store lets sign in (by
#: module): a lead who edits playbooks, a CSM who works through the worklist.
SEGMENTED_USERS = {"test_playbooks": "t.sato@kizuna-demo.example", "test_worklist": "h.suzuki@kizuna-demo.example"}
#: The day ``segmented_server``'s store is served on.
SEGMENTED_TODAY = "2026-12-05"


def segmented_commands(folder: Path) -> list[list[str]]:
    """The import sample, its segments computed (the segment steps of the daily job), the
    default playbooks, and passwords for ``SEGMENTED_USERS``: the store test_playbooks and
    test_worklist share (``segmented_server`` in conftest.py), each as its own user."""
    shutil.copytree(DATA, folder / "import")
    passwords = [["users", "set-password", "--email", email] for email in SEGMENTED_USERS.values()]
    return [["import", "all", str(folder / "import")], ["segments", "recompute"], ["playbooks", "load", "--defaults"],
            *passwords]  # fmt: skip


def seeded_store(cache: Path, name: str, commands: Sequence[Sequence[str]], template: Path, **settings: str) -> Path:
    """The SQLite file of a store seeded by ``commands`` (``kizuna`` arguments, on a copy of
    the migrated ``template``, with ``settings``), seeded ONCE in ``cache`` — a folder every
    test process of the run shares (``store_cache`` in conftest.py) — and copied by each
    server that starts from it (``Server(store=...)``): a demo company costs ~12 s of CPU to
    build; three modules serve the same one. A lock file lets one process seed it while
    another waits; a failed seeding fails the test with the commands' output (and is tried
    again by the next)."""
    folder = cache / name
    store = folder / "kizuna.db"
    with (cache / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also if this process dies
        if not store.exists():
            shutil.rmtree(folder, ignore_errors=True)  # a seeding that failed half-way
            folder.mkdir(parents=True)
            seeding = folder / "seeding.db"
            shutil.copyfile(template, seeding)
            env = {**kizuna_env(folder, **settings), "KIZUNA_DATABASE_URL": f"sqlite:///{seeding}"}
            log = folder / "seeding.log"
            code = spawn(commands, env, log).wait(timeout=600)
            if code != 0:
                pytest.fail(f"seeding the {name} store failed (exit {code}):\n{log.read_text(errors='replace')}")
            # the commands' process has ended: its last connection folded the WAL into the file
            assert not seeding.with_name("seeding.db-wal").exists(), "the seeded store must be whole in one file"
            seeding.rename(store)  # complete, or absent
    return store


#: The demo company the health and survey tests serve (``demo_store`` in conftest.py): 30
#: accounts, 6 months (180 days of health history), its daily job run on ``DEMO_TODAY`` —
#: the survey-nps playbook queues its invitations, signed with ``DEMO_SETTINGS``'s secret —,
#: and the users test_health and test_health_history sign in as (``DEMO_USERS``).
DEMO_TODAY = "2026-12-05"
DEMO_SETTINGS = {"TODAY": DEMO_TODAY, "SECRET_KEY": "browser-survey-secret", "MAIL_FROM": "cs@kizuna-demo.example"}
DEMO_USERS = {"test_health": ("lead@kizuna.example", "鈴木 リーダー", "lead", "en"),
              "test_health_history": ("viewer@kizuna.example", "山田 閲覧", "viewer", "ja")}  # fmt: skip
DEMO_COMMANDS = [["demo", "--accounts", "30", "--months", "6", "--as-of", DEMO_TODAY, "--no-serve"],
                 *(["users", "create", "--email", email, "--name", name, "--role", role, "--locale", locale]
                   for email, name, role, locale in DEMO_USERS.values())]  # fmt: skip


@contextmanager
def live_server(folder: Path, commands: Sequence[Sequence[str]], *, store: Path | None = None,
                **settings: str) -> Iterator[str]:  # fmt: skip
    """Run each of ``commands`` (``kizuna`` arguments) on ``store`` (a copy), then serve;
    yields the base URL. ``settings`` are extra ``KIZUNA_*`` variables (``TODAY="2026-12-05"``)."""
    server = Server(folder, commands, store=store, **settings)
    try:
        yield server.url()
    finally:
        server.stop()


@contextmanager
def chromium() -> Iterator[object]:
    """Debian's Chromium (Playwright's ``Browser``): launched once per test process (the
    ``browser`` fixture of conftest.py); each test or module opens its own context of it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_tab(browser: object, base: str, locale: str = "ja-JP", width: int = 1280) -> object:
    """A tab in a fresh context of ``browser`` on ``base`` (Playwright's ``Page``; close its
    ``context`` when done): a context has its own cookies and storage, as a new browser."""
    context = browser.new_context(base_url=base, locale=locale, viewport={"width": width, "height": 900})  # type: ignore[attr-defined]
    # as expect()'s (conftest.py): a sign-in's hashing runs niced, slow on a busy machine
    context.set_default_timeout(20_000)
    return context.new_page()


@contextmanager
def chromium_page(browser: object, base: str, locale: str = "ja-JP", width: int = 1280) -> Iterator[object]:
    """A tab of ``browser`` on ``base`` in a fresh context (Playwright's ``Page``), closed after."""
    tab = new_tab(browser, base, locale, width)
    try:
        yield tab
    finally:
        tab.context.close()  # type: ignore[attr-defined]
