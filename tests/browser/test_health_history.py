"""On a demo company (``kizuna demo``, which builds 180 days of health history), the 360
page draws the header's sparkline and the health history chart, and the 360 and health
pages fit a phone's width (real server, real Chromium)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.live import CHROMIUM, DEMO_TODAY, DEMO_USERS, PASSWORD, live_server

if not CHROMIUM.exists():
    pytest.skip("Debian's Chromium is not installed (/usr/bin/chromium)", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EMAIL = DEMO_USERS["test_health_history"][0]
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, demo_store: Path) -> Iterator[str]:
    """A copy of the demo company (``live.DEMO_COMMANDS``: 180 days of history, a month and
    more) with its viewer, served on its day."""
    with live_server(tmp_path_factory.mktemp("health-history-browser"), [], store=demo_store, TODAY=DEMO_TODAY) as base:
        yield base


def _sign_in(page: Page, lang: str) -> None:
    """Sign in, then choose the page language (the menu's language links)."""
    page.goto("/login")
    page.fill("input[name=email]", EMAIL)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    toggle = page.locator("[data-testid=menu-toggle]")
    if toggle.is_visible():
        toggle.click()
    page.click(f"[data-testid=lang-{lang[:2]}]")
    expect(page.locator("html")).to_have_attribute("lang", lang[:2])


def _mover(page: Page) -> int:
    """An account whose score dropped most in 30 days (it has a month of history)."""
    data = page.request.get("/api/health/summary").json()
    movers = data["movers"]["dropped_30d"] or data["movers"]["improved_30d"]
    assert movers, data
    return int(movers[0]["account_id"])


@pytest.mark.parametrize("lang", ["en-US", "ja-JP"])
def test_the_360_page_draws_the_sparkline_and_the_history_chart(browser: Browser, server: str, lang: str) -> None:
    context = browser.new_context(base_url=server, locale=lang, extra_http_headers={"Accept-Language": lang})
    context.set_default_timeout(20_000)
    try:
        page = context.new_page()
        _sign_in(page, lang)
        account = _mover(page)
        page.goto(f"/accounts/{account}")
        spark = page.locator("[data-testid=health-sparkline]")
        expect(spark).to_be_visible()
        label = spark.get_attribute("aria-label") or ""
        expect_label = "Health score over the last 30 days: from " if lang == "en-US" else "過去30日間のヘルススコア: "
        assert label.startswith(expect_label), label
        points = (spark.locator("polyline").get_attribute("points") or "").split()
        assert len(points) == 30
        box = spark.bounding_box()
        assert box is not None
        assert box["width"] >= 100
        assert box["height"] >= 20
        assert page.locator("[data-testid=head-reason]").inner_text().strip()
        # the history chart: loaded by htmx into the 360 page, drawn by kizuna.js with Chart.js
        chart = page.locator("[data-testid=health-trend]")
        expect(chart).to_have_attribute("data-drawn", "1")
        chart_box = chart.bounding_box()
        assert chart_box is not None
        assert chart_box["width"] > 200
        assert chart_box["height"] > 100
        config = "JSON.parse(document.querySelector('[data-testid=health-trend]').dataset.chartConfig)"
        days = page.evaluate(f"{config}.data.labels.length")
        assert 31 <= days <= 180  # a month and more of daily history (the demo builds up to 180 days)
        # the header's score is the chart's last point: the chart rounds the score to a tenth
        # (41.46 → 41.5), the header to a whole number (41.46 → 41), so the header shows the whole
        # number of a score within half a tenth of the point (41.5: 41 or 42; 41.6: only 42)
        last = page.evaluate(f"(() => {{ const d = {config}.data.datasets[0].data; return d[d.length - 1]; }})()")
        shown = page.locator("[data-testid=head-score]").inner_text().strip()
        assert shown in {f"{last - 0.049:.0f}", f"{last + 0.049:.0f}"}, (last, shown)
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["en-US", "ja-JP"])
def test_the_360_and_health_pages_fit_a_phone(browser: Browser, server: str, lang: str) -> None:
    context = browser.new_context(base_url=server, locale=lang, viewport=PHONE,  # type: ignore[arg-type]
                                  extra_http_headers={"Accept-Language": lang})  # fmt: skip
    context.set_default_timeout(20_000)
    try:
        page = context.new_page()
        _sign_in(page, lang)
        account = _mover(page)
        for path in (f"/accounts/{account}", "/health"):
            page.goto(path)
            page.wait_for_load_state("networkidle")
            if path.startswith("/accounts/"):
                expect(page.locator("[data-testid=health-sparkline]")).to_be_visible()
                expect(page.locator("[data-testid=health-trend]")).to_have_attribute("data-drawn", "1")
            else:
                expect(page.locator("[data-testid=mover-owner]").first).to_be_visible()
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{path} is {width} px wide"
    finally:
        context.close()
