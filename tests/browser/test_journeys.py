"""What a CSM does in a real browser, against the real server (``kizuna serve``).

Debian's Chromium driven by Playwright; the server runs as a subprocess on an SQLite
file seeded through the command line, exactly as a user would set it up.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("Debian's Chromium is not installed (/usr/bin/chromium; `make chromium`)", allow_module_level=True)

from playwright.sync_api import Browser, Dialog, Page, expect, sync_playwright  # noqa: E402

pytestmark = pytest.mark.browser

DATA = Path(__file__).resolve().parents[1] / "data" / "import"
EMAIL = "csm@kizuna.example"
PASSWORD = "correct-horse-battery"
XSS_NAME = "<script>alert(1)</script>"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """Seed a store through the CLI and start ``kizuna serve`` on it, in a background
    thread (so that Chromium starts meanwhile); ``url()`` waits until it answers."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")}
        self.env.update(
            KIZUNA_DATABASE_URL=f"sqlite:///{folder / 'kizuna.db'}", KIZUNA_PASSWORD=PASSWORD, LANG="C.UTF-8"
        )
        self.log_path = folder / "server.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.problem: str | None = None
        self._thread = threading.Thread(target=self._prepare, daemon=True)

    def start(self) -> LiveServer:
        self._thread.start()
        return self

    def _kizuna(self, *args: str) -> None:
        done = subprocess.run([sys.executable, "-m", "kizuna", *args], env=self.env, capture_output=True, text=True,
                              timeout=120)  # fmt: skip
        if done.returncode != 0:
            raise RuntimeError(f"`kizuna {' '.join(args)}` failed:\n{done.stdout}\n{done.stderr}")

    def _prepare(self) -> None:
        try:
            data = self.folder / "import"
            shutil.copytree(DATA, data)
            with (data / "accounts.csv").open("a", encoding="utf-8") as fh:
                fh.write(f"EVIL-1,{XSS_NAME},evil.example,,,,,,\n")
            self._kizuna("import", "all", str(data))  # creates the schema too
            with self.log_path.open("wb") as log:
                self.process = subprocess.Popen([sys.executable, "-m", "kizuna", "serve", "--port", str(self.port)],
                                                env=self.env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
            self._kizuna("users", "create", "--email", EMAIL, "--name", "佐藤 健", "--role", "csm", "--locale", "ja")
        except Exception as exc:
            self.problem = str(exc)

    def _log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def url(self, timeout: float = 90) -> str:
        self._thread.join(timeout)
        if self.problem is not None:
            pytest.fail(self.problem)
        deadline = time.monotonic() + timeout
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                pytest.fail(f"`kizuna serve` exited with {self.process.returncode}:\n{self._log()}")
            try:
                with urllib.request.urlopen(f"{self.base}/login", timeout=2) as response:
                    if response.status == 200:
                        return self.base
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"`kizuna serve` did not answer within {timeout:.0f} s:\n{self._log()}")
            time.sleep(0.1)

    def stop(self) -> None:
        self._thread.join(30)
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = LiveServer(tmp_path_factory.mktemp("browser")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser(live: LiveServer) -> Iterator[Browser]:
    """Chromium, launched while the server is being seeded."""
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def server(live: LiveServer, browser: Browser) -> str:
    """The running server's base URL (fails with the server's output if it died)."""
    return live.url()


@pytest.fixture(scope="module")
def signed_in(browser: Browser, server: str) -> dict[str, Any]:
    """Sign in once through the real form (a page asks for it first); the session's
    cookies are then reused by every test's fresh browser context."""
    context = browser.new_context(base_url=server, locale="ja-JP")
    try:
        tab = context.new_page()
        tab.goto("/accounts")
        expect(tab).to_have_url(f"{server}/login?next=/accounts")
        expect(tab.locator("h1")).to_have_text("Kizuna にサインイン")
        tab.fill("input[name=email]", EMAIL)
        tab.fill("input[name=password]", "wrong-password-1")
        tab.click("form[action='/login'] button[type=submit]")
        expect(tab.locator("[role=alert]")).to_have_text("メールアドレスまたはパスワードが違います。")
        tab.fill("input[name=password]", PASSWORD)
        tab.click("form[action='/login'] button[type=submit]")
        expect(tab).to_have_url(f"{server}/accounts")
        expect(tab.locator(".who")).to_contain_text("佐藤 健")
        state: dict[str, Any] = dict(context.storage_state())
        return state
    finally:
        context.close()


@pytest.fixture
def page(browser: Browser, server: str, signed_in: dict[str, Any]) -> Iterator[Page]:
    """A fresh browser context (Japanese, 1280×900) with the signed-in session, on /accounts."""
    context = browser.new_context(base_url=server, locale="ja-JP", viewport={"width": 1280, "height": 900},
                                  storage_state=signed_in)  # type: ignore[arg-type]  # fmt: skip
    context.set_default_timeout(10_000)
    tab = context.new_page()
    tab.goto("/accounts")
    try:
        yield tab
    finally:
        context.close()


def names(page: Page) -> list[str]:
    return page.locator("[data-testid=account-row] td.name a").all_inner_texts()


def test_the_accounts_list_filters_searches_and_sorts_in_place(page: Page) -> None:
    expect(page.locator("[data-testid=account-row]")).to_have_count(4)
    page.evaluate("window.kizunaMarker = 42")  # survives only if htmx swaps instead of reloading
    page.select_option("[data-testid=filter-status]", "trial")
    expect(page.locator("[data-testid=account-row]")).to_have_count(1)
    assert names(page) == ["合同会社みなと"]
    expect(page).to_have_url(re.compile(r"/accounts\?status=trial$"))
    page.select_option("[data-testid=filter-status]", "")
    expect(page.locator("[data-testid=account-row]")).to_have_count(4)
    page.fill("[data-testid=account-search]", "さくら")  # typed: searched after a short pause
    expect(page.locator("[data-testid=account-row]")).to_have_count(2)
    assert sorted(names(page)) == ["さくらロジスティクス株式会社", "株式会社さくら商事"]
    page.fill("[data-testid=account-search]", "")
    expect(page.locator("[data-testid=account-row]")).to_have_count(4)
    page.click("th.sortable a:has-text('MRR')")  # largest first is the default: this sorts ascending
    expect(page).to_have_url(re.compile(r"/accounts\?sort=mrr$"))
    expect(page.locator("th[aria-sort=ascending]")).to_have_count(1)
    assert names(page)[-1] == "株式会社さくら商事"
    page.click("th.sortable a:has-text('MRR')")
    expect(page.locator("th[aria-sort=descending]")).to_have_count(1)
    assert names(page)[0] == "株式会社さくら商事"
    page.click("th.sortable a:has-text('MRR')")
    expect(page).to_have_url(re.compile(r"/accounts\?sort=mrr$"))
    page.select_option("[data-testid=filter-status]", "active")  # a filter keeps the chosen sort
    expect(page).to_have_url(re.compile(r"/accounts\?status=active&sort=mrr$"))
    assert page.evaluate("window.kizunaMarker") == 42


def test_the_360_page_shows_the_chart_and_timeline_and_logs_a_note(page: Page) -> None:
    problems: list[str] = []
    # (Chromium logs every 4xx answer as "Failed to load resource"; the 422 below is expected.)
    page.on(
        "console", lambda m: problems.append(m.text) if m.type == "error" and "Failed to load" not in m.text else None
    )
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.click("a:has-text('株式会社さくら商事')")
    expect(page.locator("[data-testid=account-name]")).to_have_text("株式会社さくら商事")
    expect(page.locator("[data-testid=account-mrr]")).to_have_text("¥1,196,000")
    chart = page.locator("canvas[data-chart]")
    expect(chart).to_have_attribute("data-drawn", "1")  # kizuna.js drew it from the JSON config
    assert page.evaluate("Chart.getChart(document.querySelector('canvas[data-chart]')).data.datasets.length") == 2
    box = chart.bounding_box()
    assert box is not None
    assert box["width"] > 300
    assert box["height"] > 150
    items = page.locator("[data-testid=timeline-item]")
    expect(items).to_have_count(7)
    expect(items.first).to_have_attribute("data-kind", "survey")
    account_id = page.url.rsplit("/", 1)[-1]
    # an empty note is refused next to the form, without leaving the page
    page.click("[data-testid=log-toggle]")
    page.check("[data-testid=kind-note]")
    page.click("[data-testid=activity-save]")
    expect(page.locator("[data-testid=error-summary]")).to_be_visible()
    expect(items).to_have_count(7)
    # a real note goes to the top of the timeline
    page.fill("[data-testid=activity-subject]", "更新前の打ち合わせ日程を調整")
    page.fill("[data-testid=activity-summary]", "先方の情シス部長も同席予定。")
    page.click("[data-testid=activity-save]")
    expect(items).to_have_count(8)
    expect(items.first).to_contain_text("更新前の打ち合わせ日程を調整")
    expect(items.first).to_contain_text("佐藤 健")
    expect(page.locator("[data-testid=activity-form]")).to_be_hidden()  # a fresh, closed form
    # the JSON twin, with the browser's own session
    latest = page.request.get(f"/api/accounts/{account_id}/timeline?limit=1").json()["items"][0]
    assert (latest["kind"], latest["type"], latest["subject"]) == ("activity", "note", "更新前の打ち合わせ日程を調整")
    assert latest["actor"] == "佐藤 健"
    # and it is still there after a reload
    page.reload()
    expect(page.locator("[data-testid=timeline-item]").first).to_contain_text("更新前の打ち合わせ日程を調整")
    assert problems == []


def test_switching_the_language_and_back(page: Page) -> None:
    page.click("a:has-text('株式会社さくら商事')")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.locator(".main-nav")).to_contain_text("取引先")
    expect(page.locator("[data-testid=account-status]")).to_have_text("契約中")
    url = page.url
    page.click("[data-testid=lang-en]")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page).to_have_url(url)  # the same page, now in English
    expect(page.locator(".main-nav")).to_contain_text("Accounts")
    expect(page.locator("[data-testid=account-status]")).to_have_text("active")
    expect(page.locator("#timeline-h")).to_have_text("Timeline")
    page.click("[data-testid=lang-ja]")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    expect(page.locator(".main-nav")).to_contain_text("取引先")
    expect(page.locator("[data-testid=account-status]")).to_have_text("契約中")


def test_a_script_in_a_name_is_only_text(page: Page) -> None:
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.fill("[data-testid=account-search]", "script")
    expect(page.locator("[data-testid=account-row]")).to_have_count(1)
    link = page.locator("[data-testid=account-row] td.name a")
    expect(link).to_have_text(XSS_NAME)
    link.click()
    expect(page.locator("[data-testid=account-name]")).to_have_text(XSS_NAME)
    expect(page).to_have_title(f"{XSS_NAME} · Kizuna")
    assert dialogs == []
