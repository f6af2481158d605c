"""The REST API reference at ``/docs`` works offline under Kizuna's content policy.

FastAPI's default page loads Swagger UI from a CDN with an inline script: blank here (no
network) and refused by the CSP everywhere. The page now comes from vendored files.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.live import CHROMIUM, Server

if not CHROMIUM.exists():
    pytest.skip("Debian's Chromium is not installed (/usr/bin/chromium; `make chromium`)", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect  # isort: skip

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path,
         browser: Browser) -> Iterator[tuple[Page, list[str], list[str]]]:  # fmt: skip
    # an empty store (the migrated template): no data, no sign-in needed
    live = Server(tmp_path_factory.mktemp("api-docs"), [], store=sqlite_template)
    try:
        url = live.url()
        context = browser.new_context(base_url=url, locale="en-US")
        try:
            tab = context.new_page()
            problems: list[str] = []
            foreign: list[str] = []
            tab.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            tab.on("pageerror", lambda e: problems.append(str(e)))
            tab.on("request", lambda r: foreign.append(r.url) if not r.url.startswith(url) else None)
            yield tab, problems, foreign
        finally:
            context.close()
    finally:
        live.stop()


def test_the_reference_lists_every_operation_from_local_files(page: tuple[Page, list[str], list[str]]) -> None:
    tab, problems, foreign = page
    tab.goto("/docs")
    operations = tab.locator(".opblock-summary-path")
    expect(operations.first).to_be_visible()
    paths = set(operations.all_inner_texts())
    assert "/api/accounts" in {p.replace("\u200b", "") for p in paths}
    spec = tab.evaluate("fetch('/openapi.json').then(r => r.json())")
    documented = sum(
        1 for item in spec["paths"].values() for verb in item if verb in {"get", "post", "put", "patch", "delete"}
    )
    assert tab.locator(".opblock").count() == documented
    tab.locator(".opblock-summary-path", has_text="/api/accounts/{account_id}/360").first.click()
    expect(tab.locator(".opblock-body").first).to_be_visible()
    assert foreign == [], foreign  # nothing from a CDN, no validator badge
    assert problems == []  # no CSP violation, no script error
