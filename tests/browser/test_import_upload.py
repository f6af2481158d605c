"""A lead imports a CSV with Japanese headers in a real browser (Debian's Chromium,
``kizuna serve``): upload, mapping suggestions, saving the mapping, the dry run, the
import; then a second export with the same columns (in CP932, as Japanese Excel saves
it) finds the saved mapping by itself. ``IMPORT_SCREENSHOT_DIR`` set: the mapping page
is also saved there as ``import-mapping.png`` (docs/images)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.live import CHROMIUM, PASSWORD, Server

if not CHROMIUM.exists():
    pytest.skip("Debian's Chromium is not installed (/usr/bin/chromium; `make chromium`)", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect  # isort: skip

pytestmark = pytest.mark.browser

DATA = Path(__file__).resolve().parents[1] / "data" / "import_ja"
EMAIL = "lead@kizuna.example"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Server]:
    """The served store: a lead, nothing else (``Server.kizuna`` runs a command on it)."""
    folder = tmp_path_factory.mktemp("import-browser")
    lead = ["users", "create", "--email", EMAIL, "--name", "田中 リーダー", "--role", "lead", "--locale", "ja"]
    live = Server(folder, [lead], store=sqlite_template, UPLOAD_DIR=str(folder / "uploads"))
    try:
        live.url()
        yield live
    finally:
        live.stop()


@pytest.fixture
def page(browser: Browser, server: Server) -> Iterator[Page]:
    context = browser.new_context(base_url=server.url(), locale="ja-JP", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


def _selected(page: Page) -> dict[str, str]:
    out = {}
    for select in page.locator("[data-testid=map-target]").all():
        out[select.get_attribute("data-header") or ""] = select.input_value()
    return out


def test_a_japanese_header_csv_imports_in_the_browser_and_its_saved_mapping_is_reused(
    page: Page, server: Server, tmp_path: Path
) -> None:
    page.goto("/login")
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.click("nav.main-nav a[href='/imports']")
    expect(page.locator("h1")).to_have_text("ファイルをインポート")

    # 1. UTF-8, Japanese headers: the suggestions map every column but the memo
    page.select_option("[data-testid=upload-entity]", "accounts")
    page.set_input_files("[data-testid=upload-file]", str(DATA / "取引先.csv"))
    page.click("[data-testid=upload-submit]")
    expect(page.locator("h1")).to_have_text("取引先.csv の列を対応付ける")
    assert _selected(page) == {
        "取引先コード": "external_id", "会社名": "name", "ドメイン": "domain", "業種": "industry",
        "従業員数": "employee_count", "担当者メール": "owner_email", "備考": "",
    }  # fmt: skip
    expect(page.locator("[data-testid=preview]")).to_contain_text("株式会社あおば商会")
    if shots := os.environ.get("IMPORT_SCREENSHOT_DIR"):
        page.screenshot(path=str(Path(shots) / "import-mapping.png"), full_page=True)
    # a wrong choice is caught before anything is checked: 業種 → name twice
    page.select_option("[data-testid=map-target][data-header='業種']", "name")
    page.fill("[data-testid=mapping-name]", "Sansan 取引先")
    page.click("[data-testid=check-submit]")
    expect(page.locator("[data-testid=mapping-problems]")).to_contain_text(
        "複数の列が対応付けられています: 会社名, 業種"
    )
    page.select_option("[data-testid=map-target][data-header='業種']", "industry")
    page.select_option("[data-testid=map-target][data-header='担当者メール']", "")  # the lead is no owner here
    page.click("[data-testid=check-submit]")
    expect(page.locator("[data-testid=check-new]")).to_have_text("3")
    expect(page.locator("[data-testid=check-refused]")).to_have_text("0")
    page.click("[data-testid=import-submit]")
    expect(page.locator("[data-testid=done-new]")).to_have_text("3")
    page.goto("/accounts")
    expect(page.locator("[data-testid=account-row]")).to_have_count(3)
    expect(page.locator("[data-testid=account-row] td.name a", has_text="ひかり電機株式会社")).to_have_count(1)

    # 2. the next export: same columns in CP932, one company renamed, one new
    text = (
        (DATA / "取引先.csv")
        .read_text(encoding="utf-8")
        .replace("ひかり電機株式会社", "ひかり電機ホールディングス株式会社")
    )
    text += "JA-4,株式会社みらい,mirai.example,小売,40,,\n"
    second = tmp_path / "取引先_12月.csv"
    second.write_bytes(text.encode("cp932"))
    page.goto("/imports")
    page.select_option("[data-testid=upload-entity]", "accounts")
    page.set_input_files("[data-testid=upload-file]", str(second))
    page.click("[data-testid=upload-submit]")
    expect(page.locator("[data-testid=saved-used]")).to_contain_text("Sansan 取引先")
    assert _selected(page)["担当者メール"] == ""  # the saved choice, not the suggestion
    assert _selected(page)["会社名"] == "name"
    expect(page.locator("[data-testid=mapping-name]")).to_have_value("Sansan 取引先")
    page.click("[data-testid=check-submit]")
    expect(page.locator("[data-testid=check-new]")).to_have_text("1")
    expect(page.locator("[data-testid=check-updated]")).to_have_text("1")
    expect(page.locator("[data-testid=check-unchanged]")).to_have_text("2")
    page.click("[data-testid=import-submit]")
    expect(page.locator("[data-testid=done-updated]")).to_have_text("1")
    page.goto("/accounts")
    expect(page.locator("[data-testid=account-row]")).to_have_count(4)
    expect(
        page.locator("[data-testid=account-row] td.name a", has_text="ひかり電機ホールディングス株式会社")
    ).to_have_count(1)

    # the same mapping on the command line
    exported = server.kizuna("import", "mappings", "export", "Sansan 取引先")  # fails unless it exits with 0
    assert '"会社名" = "name"' in exported
    assert '"担当者メール" = ""' in exported
    assert re.search(r'^entity = "accounts"$', exported, re.M)
