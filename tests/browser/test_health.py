"""A lead changes a scorecard weight in the browser, recomputes, and the account's
health score on its 360 page changes (real server, real Chromium)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip("Debian's Chromium is not installed (/usr/bin/chromium)", allow_module_level=True)

from playwright.sync_api import expect, sync_playwright  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EMAIL = "lead@kizuna.example"
PASSWORD = "correct-horse-battery"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("health-browser")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")}
    env.update(KIZUNA_DATABASE_URL=f"sqlite:///{folder / 'kizuna.db'}", KIZUNA_PASSWORD=PASSWORD, LANG="C.UTF-8")

    def kizuna(*args: str) -> None:
        done = subprocess.run([sys.executable, "-m", "kizuna", *args], env=env, capture_output=True, text=True,
                              timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr

    kizuna("demo", "--accounts", "30", "--months", "6", "--no-serve")  # runs the pipeline: scores for today
    kizuna("users", "create", "--email", EMAIL, "--name", "鈴木 リーダー", "--role", "lead", "--locale", "en")
    port = _free_port()
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "kizuna", "serve", "--port", str(port)], env=env, stdout=log,
                               stderr=subprocess.STDOUT)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/login", timeout=2):
                    break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                assert time.monotonic() < deadline, (folder / "server.log").read_text()
                time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def test_a_lead_changes_a_weight_and_the_score_changes(server: str) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_context(base_url=server, locale="en-US").new_page()
            page.goto("/login")
            page.fill("input[name=email]", EMAIL)
            page.fill("input[name=password]", PASSWORD)
            page.click("form[action='/login'] button[type=submit]")
            page.goto("/accounts?sort=-mrr")
            page.locator("td.name a").first.click()
            score = page.get_by_test_id("health-score")
            expect(score).to_be_visible()
            before = score.inner_text().split()[0]
            account_url = page.url

            page.goto("/health/scorecards")
            page.get_by_test_id("weight-default.engagement").fill("1")
            page.get_by_test_id("weight-default.support").fill("500")
            page.get_by_test_id("weights-note").fill("support first")
            page.get_by_test_id("save-weights").click()
            expect(page.get_by_test_id("saved")).to_be_visible()
            expect(page.get_by_test_id("versions")).to_contain_text("support first")
            page.get_by_test_id("recompute").click()
            expect(page.get_by_test_id("recomputed")).to_be_visible(timeout=60_000)

            page.goto(account_url)
            score = page.get_by_test_id("health-score")
            expect(score).to_be_visible()
            assert score.inner_text().split()[0] != before
            expect(page.get_by_test_id("health-measures")).to_contain_text("Open tickets")
        finally:
            browser.close()
