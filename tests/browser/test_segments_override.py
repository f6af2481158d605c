"""A lead overrides an account's touch tier on its 360 page, in a real browser, and the
accounts list's tier filter then finds it (Debian's Chromium, ``kizuna serve``)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.live import CHROMIUM, chromium_page, live_server

if not CHROMIUM.exists():
    pytest.skip("Debian's Chromium is not installed (/usr/bin/chromium; `make chromium`)", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect

pytestmark = pytest.mark.browser

DATA = Path(__file__).resolve().parents[1] / "data" / "import"
EMAIL = "lead@kizuna.example"
PASSWORD = "correct-horse-battery"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("segments-browser")
    shutil.copytree(DATA, folder / "import")
    commands = [
        ["import", "all", str(folder / "import")],
        ["segments", "recompute"],  # the segment steps of the daily pipeline
        ["users", "create", "--email", EMAIL, "--name", "田中 リーダー", "--role", "lead", "--locale", "ja"],
    ]
    with live_server(folder, commands, store=sqlite_template) as base:
        yield base


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    with chromium_page(browser, server) as tab:
        yield tab  # type: ignore[misc]


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
