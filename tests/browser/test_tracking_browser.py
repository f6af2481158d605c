"""Browser tracking: a customer's web app on another origin loads Segment's analytics.js
(``@segment/analytics-next``, the npm package's own UMD build, served by the app's origin)
with ``cdnURL`` set to Kizuna, and sends page and track calls to a real ``kizuna serve``
through CORS. Every event must arrive exactly once, a refused one must be reported to the
page, and nothing may leave for Segment's CDN or API (every request is watched).
"""

from __future__ import annotations

import functools
import shutil
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.browser.live import CHROMIUM
from tests.tracking_server import KizunaServer, free_port

if not CHROMIUM.exists():
    pytest.skip("Debian's Chromium is not installed (/usr/bin/chromium; `make chromium`)", allow_module_level=True)

from playwright.sync_api import Browser, Route  # isort: skip

pytestmark = pytest.mark.browser

UMD = Path(__file__).resolve().parents[1] / "clients" / "node_modules" / "@segment" / "analytics-next" / "dist" / "umd"
EVENTS = 300

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Customer app</title>
<script src="/ajs/index.js"></script></head>
<body><h1>Customer app</h1>
<script>
window.failures = [];
window.send = async function (kizuna, writeKey, tracks) {
  const [analytics] = await AnalyticsNext.AnalyticsBrowser.load(
    { writeKey: writeKey, cdnURL: kizuna }, { disableClientPersistence: true });
  analytics.on('error', (e) => window.failures.push({ code: e.code, reason: String(e.reason) }));
  const groupId = { context: { groupId: 'ACC-WEB' } };
  await analytics.group('ACC-WEB', { name: 'Web 株式会社' });
  await analytics.identify('web-user', { name: 'ウェブ 太郎' }, groupId);
  const delivered = [];
  const page = await analytics.page('Dashboard', groupId);
  delivered.push(page.failedDelivery() ? 'failed' : page.event.messageId);
  for (let i = 0; i < tracks; i++) {
    const ctx = await analytics.track('Report Created', { n: i }, groupId);
    delivered.push(ctx.failedDelivery() ? 'failed' : ctx.event.messageId);
  }
  const refused = await analytics.track('x'.repeat(300), {}, groupId);
  return { delivered: delivered, refused: String((refused.failedDelivery() || {}).reason) };
};
</script></body></html>
"""


@pytest.fixture(scope="module")
def app_origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The customer's web app: its page and analytics.js, on http://localhost:PORT."""
    assert (UMD / "index.js").is_file(), "run `npm ci` in tests/clients (make test does)"
    root = tmp_path_factory.mktemp("webapp")
    (root / "index.html").write_text(PAGE, encoding="utf-8")
    (root / "ajs").symlink_to(UMD)

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}"
    finally:
        server.shutdown()


@pytest.fixture(scope="module")
def kizuna(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path, app_origin: str) -> Iterator[KizunaServer]:
    server = KizunaServer(tmp_path_factory.mktemp("tracking-browser"), tracking_origins=app_origin)
    shutil.copyfile(sqlite_template, server.db)  # migrated once per test process, not by each server
    server.url = server.serve()  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()


def test_analytics_next_in_a_page_on_another_origin_delivers_300_events_exactly_once(
    kizuna: KizunaServer, app_origin: str, browser: Browser
) -> None:
    key = kizuna.key(name="browser")
    local = {urlsplit(app_origin).netloc, urlsplit(kizuna.url).netloc}  # type: ignore[attr-defined]
    outside: list[str] = []
    console: list[str] = []

    def only_local(route: Route) -> None:
        if urlsplit(route.request.url).netloc in local:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context = browser.new_context()  # the process's Chromium (conftest.py), a context of its own
    try:
        context.route("**/*", only_local)
        page = context.new_page()
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
        page.goto(f"{app_origin}/index.html")
        result = page.evaluate("([k, key, n]) => window.send(k, key, n)", [kizuna.url, key, EVENTS - 1])  # type: ignore[attr-defined]
        failures = page.evaluate("window.failures")
    finally:
        context.close()

    assert outside == [], "analytics.js tried to reach beyond Kizuna"
    assert "failed" not in result["delivered"], console
    source = f"key:{kizuna.key_id(key)}"
    stored = kizuna.rows("SELECT message_id, event FROM usage_events WHERE source = ?", (source,))
    assert len(stored) == EVENTS
    assert len({m for m, _e in stored}) == EVENTS
    assert sorted(m for m, _e in stored) == sorted(result["delivered"])
    assert sorted({e for _m, e in stored}) == ["Page Viewed", "Report Created"]
    assert kizuna.rows("SELECT name FROM accounts WHERE external_id = 'ACC-WEB'") == [("Web 株式会社",)]
    # the refused event is reported to the page (a non-retryable 400), not retried
    assert "400" in result["refused"]
    assert [f["code"] for f in failures] == ["delivery_failure"]
