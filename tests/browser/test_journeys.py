"""What a CSM does in a real browser, against the real server (``kizuna serve``).

Debian's Chromium driven by Playwright; the server runs as a subprocess on an SQLite
file seeded through the command line, exactly as a user would set it up: the import sample's
store (``sample_server`` in conftest.py), which test_accounts_list, test_phone and test_admin
share, each module signed in as its own user (``live.SAMPLE_USERS``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.live import ARGS as CHROMIUM_ARGS
from tests.browser.live import CHROMIUM, PASSWORD, SAMPLE_USERS, XSS_NAME, Server

if not CHROMIUM.exists():
    pytest.skip("Debian's Chromium is not installed (/usr/bin/chromium; `make chromium`)", allow_module_level=True)

from playwright.sync_api import Browser, Dialog, Page, expect

pytestmark = pytest.mark.browser

EMAIL = SAMPLE_USERS["test_journeys"][0]
__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "EMAIL", "PASSWORD"]


@pytest.fixture(scope="module")
def server(sample_server: Server, browser: Browser) -> str:
    """The running server's base URL (fails with the server's output if it died); the
    process's Chromium (conftest.py) launches while the server starts."""
    return sample_server.url()


@pytest.fixture(scope="module")
def signed_in(browser: Browser, server: str, user: tuple[str, str, str]) -> dict[str, Any]:
    """Sign in once through the real form (a page asks for it first); the session's
    cookies are then reused by every test's fresh browser context."""
    email, name, _role = user
    context = browser.new_context(base_url=server, locale="ja-JP")
    try:
        tab = context.new_page()
        tab.goto("/accounts")
        expect(tab).to_have_url(f"{server}/login?next=/accounts")
        expect(tab.locator("h1")).to_have_text("Kizuna にサインイン")
        tab.fill("input[name=email]", email)
        tab.fill("input[name=password]", "wrong-password-1")
        tab.click("form[action='/login'] button[type=submit]")
        expect(tab.locator("[role=alert]")).to_have_text("メールアドレスまたはパスワードが違います。")
        tab.fill("input[name=password]", PASSWORD)
        tab.click("form[action='/login'] button[type=submit]")
        expect(tab).to_have_url(f"{server}/accounts")
        expect(tab.locator(".who")).to_contain_text(name)
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
