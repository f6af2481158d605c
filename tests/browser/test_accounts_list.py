"""The accounts list's new columns in a real browser (issue 18): last touch and days to
renewal shown, sorting by last touch swapped in place by htmx, the export of the current
view downloaded as a CSV with a BOM, and a saved view that brings its filters back —
against the real server on the import sample (tests/browser/test_journeys.py)."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import test_journeys as journeys

from playwright.sync_api import Browser, Page, expect  # isort: skip

pytestmark = pytest.mark.browser

server, signed_in = journeys.server, journeys.signed_in  # the process's Chromium: `browser` (conftest.py)


@pytest.fixture
def page(browser: Browser, server: str, signed_in: dict[str, Any]) -> Iterator[Page]:
    context = browser.new_context(base_url=server, locale="en-US", viewport={"width": 1280, "height": 900},
                                  storage_state=signed_in, accept_downloads=True)  # type: ignore[arg-type]  # fmt: skip
    context.set_default_timeout(15_000)
    tab = context.new_page()
    tab.goto("/")
    tab.click("[data-testid=lang-en]")
    expect(tab.locator("html")).to_have_attribute("lang", "en")
    tab.goto("/accounts")
    try:
        yield tab
    finally:
        context.close()


def names(page: Page) -> list[str]:
    return page.locator("[data-testid=account-row] td.name a").all_inner_texts()


def test_the_columns_sort_in_place_and_the_view_exports(page: Page) -> None:
    table = page.locator("[data-testid=accounts-table]")
    for header in ("Top risk", "Health trend (30 days)", "Last touch", "Renewal date"):
        expect(table.locator("thead")).to_contain_text(header)
    sakura = page.locator("[data-testid=account-row]", has_text="株式会社さくら商事")
    expect(sakura.locator("[data-testid=last-touch]")).not_to_have_text("—")  # the sample logs its meetings
    page.evaluate("window.kizunaMarker = 7")
    page.click("th.sortable a:has-text('Last touch')")  # the longest untouched first
    expect(page).to_have_url(re.compile(r"/accounts\?sort=touch$"))
    expect(page.locator("th[aria-sort=ascending]")).to_contain_text("Last touch")
    touched = [t for t in page.locator("[data-testid=last-touch]").all_inner_texts() if t != "—"]
    assert touched, "some accounts have a last touch"
    assert page.locator("[data-testid=last-touch]").last.inner_text() == "—"  # never touched: last
    assert page.evaluate("window.kizunaMarker") == 7  # swapped, not reloaded
    # the export link follows the view
    page.select_option("[data-testid=filter-status]", "active")
    expect(page).to_have_url(re.compile(r"status=active"))
    expect(page.locator("[data-testid=export-csv]")).to_have_attribute("href", re.compile(r"status=active"))
    shown = names(page)
    with page.expect_download() as info:
        page.click("[data-testid=export-csv]")
    body = info.value.path().read_bytes()
    assert body.startswith(b"\xef\xbb\xbf")
    table_rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert table_rows[0][0] == "Account"
    assert [r[0] for r in table_rows[1:]] == shown


def test_a_saved_view_brings_its_filters_back(page: Page) -> None:
    page.select_option("[data-testid=filter-status]", "trial")
    expect(page.locator("[data-testid=account-row]")).to_have_count(1)
    page.click("[data-testid=saved-views] summary")
    page.fill("[data-testid=view-name]", "Trials")
    page.click("[data-testid=save-view] button[type=submit]")
    expect(page.locator("[data-testid=notice]")).to_have_text("View saved.")
    page.goto("/accounts")
    expect(page.locator("[data-testid=account-row]")).not_to_have_count(1)
    page.locator("[data-testid=view-link]", has_text="Trials").click()
    expect(page).to_have_url(re.compile(r"/accounts\?status=trial$"))
    expect(page.locator("[data-testid=account-row]")).to_have_count(1)
    assert names(page) == ["合同会社みなと"]
