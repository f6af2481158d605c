"""Playbooks in a real browser (Debian's Chromium, ``kizuna serve``): a lead edits a
playbook in the forms editor — changes its trigger, adds and moves a step — sees the dry
run, saves, and finds the new version; the effect page renders; every playbook page fits
a phone's width (390 px) in Japanese and in English."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.browser.live import CHROMIUM, PASSWORD, SEGMENTED_USERS, Server, new_tab

if not CHROMIUM.exists():
    pytest.skip("Debian's Chromium is not installed (/usr/bin/chromium; `make chromium`)", allow_module_level=True)

from playwright.sync_api import expect

pytestmark = pytest.mark.browser

LEAD = SEGMENTED_USERS["test_playbooks"]
PHONE = 390


@pytest.fixture(scope="module")
def server(segmented_server: Server, browser: Any) -> str:
    """The import sample with its segments and the default playbooks (shared with test_worklist);
    the process's Chromium (conftest.py) launches while the server starts."""
    return segmented_server.url()


@contextmanager
def tab(browser: Any, server: str, locale: str, width: int = 1280) -> Iterator[Any]:
    page = new_tab(browser, server, locale, width)
    try:
        yield page
    finally:
        page.context.close()


def _sign_in(page: Any) -> None:
    page.goto("/login")
    page.fill("input[name=email]", LEAD)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    expect(page.locator("[data-testid=menu-toggle]")).to_have_count(1)


def test_a_lead_edits_a_playbook_with_the_forms_previews_and_saves_a_version(browser: Any, server: str) -> None:
    with tab(browser, server, locale="en-US") as page:
        _sign_in(page)
        page.goto("/")
        page.click("[data-testid=lang-en]")
        page.click("nav.main-nav a[href='/playbooks']")
        page.locator("[data-testid=playbook-row][data-key=risk-high] a").first.click()
        expect(page.locator("[data-testid=version]")).to_have_count(1)
        page.click("[data-testid=edit]")
        # the trigger: every customer of the last ten years (so that the sample's accounts enter)
        page.select_option("[data-testid=trigger-kind]", "new_account")
        page.click("[data-testid=apply]")
        page.fill("input[name='trigger.days']", "3650")
        page.uncheck("[data-testid=filter-tier-high]")
        # a wait, then moved before the task
        page.click("[data-testid=add-wait]")
        expect(page.locator("[data-testid=step-form]")).to_have_count(2)
        page.locator("[data-testid=step-form]").nth(1).locator("input[name='s1.days']").fill("3")
        page.locator("[data-testid=step-form]").nth(1).locator("[data-testid=step-up]").click()
        expect(page.locator("[data-testid=step-form]").first).to_have_attribute("data-kind", "wait")
        page.locator("input[name='s1.title']").fill("Executive call: {account}")
        page.click("[data-testid=preview]")
        summary = page.locator("[data-testid=preview-summary]")
        expect(summary).to_contain_text("would enter")
        first = page.locator("[data-testid=preview-row]").first
        expect(first).to_contain_text("wait 3 days")
        expect(first).to_contain_text("Executive call:")
        # a refused value: named next to its field, everything else kept
        page.fill("input[name='s1.due_days']", "999")
        page.click("[data-testid=save]")
        error = page.locator("[data-testid=field-error][data-path='risk-high.steps[2].due_days']")
        expect(error).to_contain_text("must be from 0 to 365, not 999")
        expect(page.locator("input[name='s1.title']")).to_have_value("Executive call: {account}")
        page.fill("input[name='s1.due_days']", "1")
        page.fill("[data-testid=note]", "every customer, after 3 days")
        page.click("[data-testid=save]")
        expect(page).to_have_url(re.compile(r"/playbooks/risk-high\?done=saved&v=2$"))
        expect(page.locator("[data-testid=notice]")).to_have_text("Saved as version 2.")
        newest = page.locator("[data-testid=version]").first
        expect(newest).to_have_attribute("data-version", "2")
        expect(newest).to_contain_text("every customer, after 3 days")
        expect(newest).to_contain_text("佐藤 健")
        expect(page.locator("[data-testid=steps] [data-testid=step]").first).to_contain_text("Wait")
        page.click("[data-testid=effect-link]")
        expect(page.locator("[data-testid=outcome]")).to_have_count(4)
        expect(page.locator("[data-testid=not-enough]").first).to_be_visible()


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_playbook_pages_fit_a_phone(browser: Any, server: str, lang: str) -> None:
    with tab(browser, server, locale="ja-JP", width=PHONE) as page:
        _sign_in(page)
        page.goto("/")
        page.click("[data-testid=menu-toggle]")
        page.click(f"[data-testid=lang-{lang}]")
        expect(page.locator("html")).to_have_attribute("lang", lang)
        for path in ("/playbooks", "/playbooks/risk-low", "/playbooks/risk-low/edit",
                     "/playbooks/risk-low/edit?mode=toml", "/playbooks/risk-low/effect", "/playbooks/new"):  # fmt: skip
            response = page.goto(path)
            assert response is not None
            assert response.status == 200, path
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE, f"{path} ({lang}) is {width} px wide"
        page.goto("/playbooks/risk-low/edit")
        page.click("[data-testid=preview]")
        expect(page.locator("[data-testid=preview-summary]")).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE
