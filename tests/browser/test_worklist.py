"""A CSM's worklist in a real browser: the overdue task comes first with its reason, is
completed from the list (and lands on the account's timeline), and a task added on the
360 page shows up there and on the worklist (Debian's Chromium, ``kizuna serve``)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.live import CHROMIUM, PASSWORD, SEGMENTED_USERS, Server, chromium_page

if not CHROMIUM.exists():
    pytest.skip("Debian's Chromium is not installed (/usr/bin/chromium; `make chromium`)", allow_module_level=True)

from playwright.sync_api import expect

pytestmark = pytest.mark.browser

CSM = SEGMENTED_USERS["test_worklist"]


@pytest.fixture(scope="module")
def server(segmented_server: Server) -> str:
    """The import sample with its segments, on 2026-12-05 (shared with test_playbooks)."""
    return segmented_server.url()


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    with chromium_page(browser, server) as tab:
        yield tab


def test_a_csm_works_through_the_worklist(page: Any) -> None:
    page.goto("/login")
    page.fill("input[name=email]", CSM)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.click("nav.main-nav a[href='/worklist']")
    first = page.locator("[data-testid=work-item]").first
    expect(first).to_have_attribute("data-kind", "task")
    expect(first).to_contain_text("更新前の利用状況レビュー")
    expect(first.locator("[data-testid=reason]")).to_contain_text("期限を 4 日超過")
    expect(page.locator("[data-testid=overdue-count]")).to_have_text("1")

    first.locator("[data-testid=complete]").click()
    expect(page).to_have_url(re.compile(r"/worklist\?done=completed$"))
    expect(page.locator("[data-testid=notice]")).to_have_text("完了にしました。")
    expect(page.locator("[data-testid=work-item]", has_text="更新前の利用状況レビュー")).to_have_count(0)
    expect(page.locator("[data-testid=overdue-count]")).to_have_text("0")

    page.goto("/accounts?q=ACC-1")
    page.locator("[data-testid=account-row] td.name a").first.click()
    page.locator("[data-testid=open-tasks] [data-testid=task-toggle]").click()
    page.fill("[data-testid=task-title]", "更新の提案書を送る")
    page.select_option("[data-testid=task-kind]", "renewal_prep")
    page.fill("[data-testid=task-due]", "2026-12-07")
    page.click("[data-testid=task-save]")
    expect(page).to_have_url(re.compile(r"/accounts/\d+\?done=created#tasks$"))
    expect(page.locator("[data-testid=open-task]")).to_contain_text("更新の提案書を送る")

    page.goto("/worklist")
    row = page.locator("[data-testid=work-item]", has_text="更新の提案書を送る")
    expect(row.locator("[data-testid=reason]")).to_contain_text("期限まで 2 日")
    # the first task, done from the worklist, is on its account's timeline now
    page.goto("/accounts?q=ACC-1")
    page.locator("[data-testid=account-row] td.name a").first.click()
    expect(page.locator("#timeline-items [data-kind=task][data-type=done]").first).to_contain_text(
        "更新前の利用状況レビュー"
    )
