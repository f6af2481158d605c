"""Every page at a phone's width (390×844, issue 18): nothing wider than the screen, the
menu collapsed behind a button that opens it, the language switch reachable — in
Japanese and in English, against the real server and Debian's Chromium."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import test_journeys as journeys

from playwright.sync_api import Browser, Page, expect  # isort: skip

pytestmark = pytest.mark.browser

# the journeys' fixtures: the shared import-sample server, Chromium, this module's CSM signed in
server, signed_in = journeys.server, journeys.signed_in  # the process's Chromium: `browser` (conftest.py)

PHONE = {"width": 390, "height": 844}
#: Every page a user reaches from the menu, and the pages behind them ({id}: an account).
PAGES = (
    "/", "/accounts", "/accounts/{id}", "/accounts/{id}/health", "/health", "/health/backtest",
    "/health/scorecards", "/kpis", "/kpis/accounts?metric=mrr", "/usage", "/worklist", "/worklist?user=team",
    "/playbooks", "/renewals", "/opportunities", "/surveys", "/kb", "/onboarding/templates", "/docs",
)  # fmt: skip
NAV = {"ja": ("ホーム", "取引先", "ヘルス", "KPI"), "en": ("Home", "Accounts", "Health", "KPIs")}


@pytest.fixture
def phone(browser: Browser, server: str, signed_in: dict[str, Any]) -> Iterator[Page]:
    context = browser.new_context(base_url=server, locale="ja-JP", viewport=PHONE, storage_state=signed_in)  # type: ignore[arg-type]
    context.set_default_timeout(15_000)
    context.set_default_navigation_timeout(60_000)  # the KPI page computes its report on the first visit
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


def _choose_language(page: Page, lang: str) -> None:
    page.goto("/")
    page.click("[data-testid=menu-toggle]")
    page.click(f"[data-testid=lang-{lang}]")
    expect(page.locator("html")).to_have_attribute("lang", lang)


#: Waits until htmx has no request in flight and nothing swapping or settling: the 360 page's
#: sections that load themselves (``hx-trigger="load"``, issued before the page's load event)
#: are in place. "networkidle" waited for that too, but always 500 ms more, on every page.
HTMX_IDLE = "() => !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')"


def _settled(page: Page, path: str) -> None:
    """The page as it ends up: its htmx sections loaded (or, for the API reference, Swagger
    UI's own fetches done)."""
    if path == "/docs":
        page.wait_for_load_state("networkidle")
    else:
        page.wait_for_function(HTMX_IDLE, polling=50)


def _too_wide(page: Page) -> list[str]:
    """What sticks out to the right of the screen (outside a scrolling table)."""
    found: list[str] = page.evaluate(
        """() => Array.from(document.querySelectorAll('body *'))
             .filter(e => e.getBoundingClientRect().right > window.innerWidth + 0.5)
             .filter(e => !e.closest('.table-scroll, table.grid, .swagger-ui .opblock-body'))
             .slice(0, 5).map(e => e.tagName.toLowerCase() + '.' + e.className + ' → ' + Math.round(e.getBoundingClientRect().right))"""
    )
    return found


def _uncovered(page: Page, selector: str) -> bool:
    """The element is inside the screen and nothing lies on top of its centre."""
    result: bool = page.eval_on_selector(
        selector,
        """(el) => { const r = el.getBoundingClientRect();
                    if (r.left < 0 || r.right > window.innerWidth || r.width === 0) return false;
                    const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
                    return hit === el || el.contains(hit); }""",
    )
    return result


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_every_page_fits_a_phone_and_the_menu_opens(phone: Page, lang: str) -> None:
    _choose_language(phone, lang)
    phone.goto("/accounts")
    account = phone.locator("[data-testid=account-row]").first.get_attribute("data-id")
    for template in PAGES:
        path = template.format(id=account)
        response = phone.goto(path)
        assert response is not None, path
        assert response.status == 200, path
        _settled(phone, path)
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{path} ({lang}) is {width} px wide: {_too_wide(phone)}"
        if path == "/docs":
            continue  # the API reference has its own header, no menu
        menu, nav = phone.locator("[data-testid=menu-toggle]"), phone.locator(".main-nav")
        expect(menu).to_be_visible()
        expect(nav).to_be_hidden()
        expect(menu).to_have_attribute("aria-expanded", "false")
        menu.click()
        expect(menu).to_have_attribute("aria-expanded", "true")
        expect(nav).to_be_visible()
        for label in NAV[lang]:
            link = nav.get_by_role("link", name=label, exact=True)
            expect(link).to_be_visible()
            box = link.bounding_box()
            # one line: a link's height is one line of text, not one character per line
            assert box is not None
            assert box["height"] < 48, f"{label} wraps on {path}: {box}"
        assert _uncovered(phone, f"[data-testid=lang-{'en' if lang == 'ja' else 'ja'}]"), path
        assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], path
        menu.click()
        expect(nav).to_be_hidden()


def test_the_menu_leads_to_a_page(phone: Page) -> None:
    _choose_language(phone, "en")
    phone.goto("/")
    phone.click("[data-testid=menu-toggle]")
    phone.locator(".main-nav").get_by_role("link", name="Accounts", exact=True).click()
    expect(phone).to_have_url(re.compile(r"/accounts$"))
    expect(phone.locator("h1")).to_have_text("Accounts")
    expect(phone.locator(".main-nav")).to_be_hidden()  # a new page starts with the menu closed


def test_signed_out_the_login_page_fits_with_its_language_switch(browser: Browser, server: str) -> None:
    context = browser.new_context(base_url=server, locale="ja-JP", viewport=PHONE)
    try:
        tab = context.new_page()
        tab.goto("/login")
        assert tab.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        expect(tab.locator("[data-testid=menu-toggle]")).to_have_count(0)  # nothing to hide
        assert _uncovered(tab, "[data-testid=lang-en]")
        tab.click("[data-testid=lang-en]")
        expect(tab.locator("html")).to_have_attribute("lang", "en")
        assert tab.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        assert _uncovered(tab, "[data-testid=lang-ja]")
    finally:
        context.close()


def test_wide_tables_scroll_inside_their_card(phone: Page) -> None:
    _choose_language(phone, "ja")
    phone.goto("/accounts")
    scroller = phone.locator("[data-testid=accounts-table]").locator("xpath=..")
    sizes = scroller.evaluate("(e) => [e.scrollWidth, e.clientWidth]")
    assert sizes[0] > sizes[1], "the accounts table is wider than the phone and scrolls in its card"
    assert sizes[1] < PHONE["width"]
