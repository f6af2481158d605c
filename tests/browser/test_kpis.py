"""The KPI dashboard in a real browser, against the real server (``kizuna serve``) on the
small hand-built company of ``tests/data/metrics`` (see ``tests/test_metrics.py``).

Charts are drawn by kizuna.js from server-built JSON; a CSP violation or a script error
would show on the console, which is watched throughout.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.live import CHROMIUM, PASSWORD, Server

if not CHROMIUM.exists():
    pytest.skip("Debian's Chromium is not installed (/usr/bin/chromium; `make chromium`)", allow_module_level=True)

from playwright.sync_api import Browser, Page, expect  # isort: skip

pytestmark = pytest.mark.browser

METRICS = Path(__file__).resolve().parents[1] / "data" / "metrics"
DASHBOARD = "/kpis?as_of=2026-03-15&months=3"
EMAIL = "csm@kizuna.example"
CHARTS = ("waterfall", "retention", "survival", "pareto", "nps", "support")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[Server]:
    """The live server, seeded with the metrics company instead of the import sample, and a
    viewer (English by setting); started here, answered by ``server``."""
    folder = tmp_path_factory.mktemp("kpis")
    shutil.copytree(METRICS, folder / "metrics")
    commands = [["import", "all", str(folder / "metrics")],
                ["users", "create", "--email", EMAIL, "--name", "佐藤 健", "--role", "viewer", "--locale", "en"]]  # fmt: skip
    server = Server(folder, commands, store=sqlite_template)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def server(live: Server, browser: Browser) -> str:
    """The base URL (the process's Chromium, conftest.py, launches while the server is seeded)."""
    return live.url()


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    """A fresh context signed in through the real form (as a viewer, English by setting)."""
    context = browser.new_context(base_url=server, locale="en-US", viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    tab = context.new_page()
    tab.goto(DASHBOARD)
    expect(tab).to_have_url(re.compile(r"/login\?next=/kpis"))
    tab.fill("input[name=email]", EMAIL)
    tab.fill("input[name=password]", PASSWORD)
    tab.click("form[action='/login'] button[type=submit]")
    try:
        yield tab
    finally:
        context.close()


def watch(page: Page) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


def test_the_dashboard_draws_every_chart_and_drills_down(page: Page) -> None:
    problems = watch(page)
    page.goto(DASHBOARD)
    expect(page.locator("h1")).to_have_text("KPI dashboard")
    expect(page.locator("[data-kpi=mrr]")).to_have_text("¥120,000")
    for name in CHARTS:
        canvas = page.locator(f"[data-testid=chart-{name}]")
        expect(canvas).to_have_attribute("data-drawn", "1")
        box = canvas.bounding_box()
        assert box is not None, name
        assert box["width"] > 200, name
        assert box["height"] > 150, name
    counts: dict[str, Any] = page.evaluate(
        "Object.fromEntries([...document.querySelectorAll('canvas[data-chart]')].map("
        "c => [c.dataset.chart, Chart.getChart(c).data.datasets.length]))"
    )
    # five movements + net change; NRR/GRR month and 12 months; per plan: band (2) + curve
    assert counts["kpi-waterfall"] == 6
    assert counts["kpi-retention"] == 4
    assert counts["kpi-survival"] == 6
    # the canvas has pixels on it (not a blank box)
    drawn = page.evaluate(
        "(() => { const c = document.querySelector('[data-testid=chart-waterfall]');"
        " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let n = 0; for (let i = 3; i < d.length; i += 4) { if (d[i]) n++; } return n; })()"
    )
    assert drawn > 1000
    # cohort cells are shaded by class (no inline styles under the CSP)
    cell = page.locator("[data-testid=cohort-logo-2026-01-0]")
    expect(cell).to_have_text("100%")
    assert "heat-10" in (cell.locator("xpath=..").get_attribute("class") or "")
    # the churned figure of February opens the account list behind it
    page.click("[data-testid=drill-churned-2026-02]")
    expect(page).to_have_url(re.compile(r"/kpis/accounts\?.*metric=churned&month=2026-02"))
    expect(page.locator("[data-testid=drill-title]")).to_have_text("Churned MRR in Feb 2026")
    rows = page.locator("[data-testid=drill-table] tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("-¥10,000")
    rows.first.locator("a").click()
    expect(page).to_have_url(re.compile(r"/accounts/\d+$"))
    assert problems == []


def test_switching_to_japanese_shows_japanese_labels(page: Page) -> None:
    problems = watch(page)
    page.goto(DASHBOARD)
    page.click("[data-testid=lang-ja]")
    expect(page.locator("h1")).to_have_text("KPIダッシュボード")
    expect(page.locator("#movements-h")).to_have_text("MRRの内訳")
    expect(page.locator("[data-testid=chart-waterfall]")).to_have_attribute("data-drawn", "1")
    legend = page.evaluate("Chart.getChart(document.querySelector('[data-testid=chart-waterfall]'))"
                           ".data.datasets.map(d => d.label)")  # fmt: skip
    assert legend[:5] == ["新規", "拡大", "再開", "縮小", "解約"]
    expect(page.locator("[data-testid=drill-churned-2026-02]")).to_have_text("-¥10,000")
    page.click("[data-testid=cohort-revenue-2026-01-2]")
    expect(page.locator("[data-testid=drill-title]")).to_have_text("コホート 2026年1月・2か月目")
    expect(page.locator("[data-testid=drill-table] tbody tr")).to_have_count(2)
    page.click("[data-testid=lang-en]")  # back to English for the other tests' sake
    expect(page.locator("[data-testid=drill-title]")).to_have_text("Cohort Jan 2026, month 2")
    assert problems == []
