"""A lead overrides an account's touch tier on its 360 page, in a real browser, and the
accounts list's tier filter then finds it (Debian's Chromium, ``kizuna serve``)."""

from __future__ import annotations

import os
import re
import shutil
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
    pytest.skip("Debian's Chromium is not installed (/usr/bin/chromium; `make chromium`)", allow_module_level=True)

from playwright.sync_api import Page, expect, sync_playwright  # noqa: E402

pytestmark = pytest.mark.browser

DATA = Path(__file__).resolve().parents[1] / "data" / "import"
EMAIL = "lead@kizuna.example"
PASSWORD = "correct-horse-battery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("segments-browser")
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")}
    env.update(KIZUNA_DATABASE_URL=f"sqlite:///{folder / 'kizuna.db'}", KIZUNA_PASSWORD=PASSWORD, LANG="C.UTF-8")

    def kizuna(*args: str) -> None:
        done = subprocess.run([sys.executable, "-m", "kizuna", *args], env=env, capture_output=True, text=True,
                              timeout=180)  # fmt: skip
        assert done.returncode == 0, f"`kizuna {' '.join(args)}` failed:\n{done.stdout}\n{done.stderr}"

    shutil.copytree(DATA, folder / "import")
    kizuna("import", "all", str(folder / "import"))
    kizuna("segments", "recompute")  # the segment steps of the daily pipeline
    kizuna("users", "create", "--email", EMAIL, "--name", "田中 リーダー", "--role", "lead", "--locale", "ja")
    port = _free_port()
    with (folder / "server.log").open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "kizuna", "serve", "--port", str(port)], env=env,
                                   stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                pytest.fail((folder / "server.log").read_text(encoding="utf-8", errors="replace"))
            try:
                with urllib.request.urlopen(f"{base}/login", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail("`kizuna serve` did not answer within 90 s")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def page(server: str) -> Iterator[Page]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM),
                                    args=["--headless", "--no-sandbox", "--disable-gpu"])  # fmt: skip
        context = browser.new_context(base_url=server, locale="ja-JP", viewport={"width": 1280, "height": 900})
        context.set_default_timeout(10_000)
        tab = context.new_page()
        try:
            yield tab
        finally:
            context.close()
            browser.close()


def test_a_lead_overrides_a_tier_and_the_list_filter_finds_it(page: Page, server: str) -> None:
    page.goto("/login")
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.goto("/accounts?q=ACC-2")
    page.locator("[data-testid=account-row] td.name a").first.click()
    expect(page.locator("[data-testid=account-name]")).to_have_text("さくらロジスティクス株式会社")
    before = page.locator("[data-testid=account-tier]").get_attribute("data-value")
    tier = "low" if before != "low" else "high"
    label = {"low": "ロータッチ", "high": "ハイタッチ"}[tier]

    page.locator("[data-testid=segment-details] summary").click()
    page.select_option("[data-testid=segment-dimension]", "tier")
    page.select_option("[data-testid=segment-value]", tier)
    page.click("[data-testid=segment-set]")  # no reason: the page says why and keeps the choice
    expect(page.locator("[data-testid=segment-error]")).to_contain_text("理由を入力してください")
    page.fill("[data-testid=segment-reason]", "親会社と一体で支援する")
    page.click("[data-testid=segment-set]")

    expect(page).to_have_url(re.compile(r"/accounts/\d+#segments$"))
    expect(page.locator("[data-testid=account-tier]")).to_have_attribute("data-value", tier)
    expect(page.locator("[data-testid=account-tier]")).to_contain_text(label)
    expect(page.locator("[data-testid=tier-overridden]")).to_contain_text("田中 リーダー")
    page.locator("[data-testid=segment-details] summary").click()
    expect(page.locator("[data-testid=segment-history]")).to_contain_text("親会社と一体で支援する")

    page.goto("/accounts")
    page.select_option("[data-testid=filter-tier]", tier)
    expect(page).to_have_url(re.compile(rf"/accounts\?tier={tier}$"))
    expect(page.locator("[data-testid=account-row] td.name a", has_text="さくらロジスティクス株式会社")).to_have_count(
        1
    )
    for cell in page.locator("[data-testid=account-row] [data-testid=tier]").all_inner_texts():
        assert cell == label
