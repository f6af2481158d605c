"""An admin in a real browser (Debian's Chromium, ``kizuna serve``): adds a user, creates
an API key and sees its secret once, then revokes it; the REST API refuses it at once."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from tests.browser import test_journeys as journeys
from tests.browser.live import PASSWORD, SAMPLE_USERS
from tests.browser.test_phone import PHONE, _choose_language, _too_wide

from playwright.sync_api import Browser, Page, expect  # isort: skip

pytestmark = pytest.mark.browser

# the journeys' fixtures: the shared import-sample server (seeded with this admin and the
# default playbooks, which the playbook pages below show: live.sample_commands), Chromium
server = journeys.server  # the process's Chromium: `browser` (conftest.py)
ADMIN = SAMPLE_USERS["test_admin"][0]


@pytest.fixture(scope="module")
def admin(server: str) -> str:
    return ADMIN


@pytest.fixture
def admin_page(admin: str, browser: Browser, server: str) -> Iterator[Page]:
    context = browser.new_context(base_url=server, locale="ja-JP", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    try:
        tab.goto("/login")
        tab.fill("input[name=email]", ADMIN)
        tab.fill("input[name=password]", PASSWORD)
        tab.click("form[action='/login'] button[type=submit]")
        expect(tab.locator("[data-testid=nav-admin]")).to_be_visible()
        yield tab
    finally:
        context.close()


def _api_status(server: str, key: str) -> int:
    request = urllib.request.Request(f"{server}/api/home", headers={"Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_an_admin_adds_a_user_and_creates_then_revokes_an_api_key(admin_page: Page, server: str) -> None:
    page = admin_page
    page.click("[data-testid=nav-admin]")
    expect(page.locator("h1")).to_have_text("ユーザー")

    # a user: the temporary password is shown once
    page.fill("[data-testid=new-user-email]", "new.csm@kizuna.example")
    page.fill("[data-testid=new-user-name]", "鈴木 新人")
    page.select_option("[data-testid=new-user-role]", "csm")
    page.click("[data-testid=create-user-submit]")
    expect(page.locator("[data-testid=temporary-password]")).to_contain_text("new.csm@kizuna.example を作成しました")
    password = page.locator("[data-testid=secret]").inner_text()
    assert len(password) == 19
    expect(page.locator("[data-testid='user-new.csm@kizuna.example']")).to_contain_text("鈴木 新人")
    page.reload()  # the answer to a POST: reloading asks again; opening the list shows no secret
    page.goto("/admin/users")
    expect(page.locator("[data-testid=secret]")).to_have_count(0)

    # an API key: shown once, works, then revoked
    page.click("[data-testid=admin-nav] a[href='/admin/api-keys']")
    expect(page.locator("h1")).to_have_text("API キー")
    page.fill("[data-testid=key-name]", "CRM 連携")
    page.select_option("[data-testid=key-scope]", "read")
    page.click("[data-testid=create-key-submit]")
    expect(page.locator("[data-testid=new-key]")).to_contain_text("再表示はできません")
    key = page.locator("[data-testid=secret]").inner_text()
    assert key.startswith("kz_")
    assert _api_status(server, key) == 200
    page.goto("/admin/api-keys")
    expect(page.locator("[data-testid=secret]")).to_have_count(0)
    row = page.locator("tr", has_text="CRM 連携")
    expect(row).to_contain_text("読み取り")
    expect(row).not_to_contain_text("未使用")  # its use was recorded
    row.locator("button[data-testid^=revoke-]").click()
    expect(page.locator("[data-testid=done]")).to_have_text("キーを無効化しました。ただちに使えなくなります。")
    expect(page.locator("tr", has_text="CRM 連携")).to_contain_text("に無効化")
    assert _api_status(server, key) == 401


#: The pages only a lead or an admin reaches (the CSM's pages are in test_phone.PAGES).
LEAD_PAGES = (
    "/admin/users", "/admin/api-keys", "/admin/settings", "/admin/jobs", "/imports", "/ingestion", "/ltv",
    "/playbooks/new", "/playbooks/risk-high", "/playbooks/risk-high/edit", "/playbooks/risk-high/effect",
    "/health/scorecards",
)  # fmt: skip


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_the_admin_and_lead_pages_fit_a_phone(admin_page: Page, lang: str) -> None:
    page = admin_page
    page.set_viewport_size(PHONE)
    _choose_language(page, lang)
    for path in LEAD_PAGES:
        response = page.goto(path)
        assert response is not None, path
        assert response.status == 200, path
        if path.startswith("/admin/"):
            expect(page.locator("[data-testid=admin-nav]")).to_be_visible()
        assert _too_wide(page) == [], f"{path} ({lang})"
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"{path} ({lang})"
