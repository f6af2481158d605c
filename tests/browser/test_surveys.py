"""Surveys in a real browser (Debian's Chromium, ``kizuna serve``), issue 17's done-when: on
a small demo company the ``survey-nps`` playbook sends the NPS survey through the outbox to a
real SMTP server (aiosmtpd); the emailed link is opened on a phone-sized page (390 px) and
answered; the answer shows on the account's page; the detractor's answer makes the
``survey-detractor`` playbook's follow-up call task the next day."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.browser.live import CHROMIUM, DEMO_SETTINGS, Server, new_tab
from tests.conftest import Inbox

if not CHROMIUM.exists():
    pytest.skip("Debian's Chromium is not installed (/usr/bin/chromium; `make chromium`)", allow_module_level=True)

from playwright.sync_api import expect

pytestmark = pytest.mark.browser

DEMO_ADMIN = "demo@kizuna.example"
DEMO_PASSWORD = "kizuna-demo-2026"


def test_an_nps_survey_goes_out_by_playbook_is_answered_in_the_browser_and_fires_the_follow_up(
    tmp_path: Path, smtp: tuple[Inbox, int], demo_store: Path, browser: Any
) -> None:
    inbox, port = smtp
    # the demo (live.DEMO_COMMANDS, a copy) ran the daily job on its last day, 2026-12-05: the
    # survey-nps playbook asked accounts in adoption, its links signed with DEMO_SETTINGS's secret
    settings = {**DEMO_SETTINGS, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port)}
    server = Server(tmp_path, [["jobs", "run", "outbox"]], store=demo_store, **settings)
    try:
        base = server.url()
        _answer_and_check(server, base, browser, inbox, tmp_path)
    finally:
        server.stop()


def _answer_and_check(server: Server, base: str, browser: Any, inbox: Inbox, folder: Path) -> None:
    surveys = []
    for rcpt, mail in inbox.messages:
        text = mail.get_body(("plain",)).get_content()
        found = re.search(r"https?://[^/\s]+/s/(\S+)", text)
        if found:
            surveys.append((rcpt[0], mail["Subject"], found.group(1)))
    assert surveys, [m["Subject"] for _r, m in inbox.messages]
    _to, _subject, token = surveys[0]
    tab: Any = new_tab(browser, base, locale="en-US", width=390)
    try:
        tab.goto(f"/s/{token}")
        legend = tab.locator("fieldset legend")
        expect(legend).to_be_visible()
        assert re.search(r"recommend|薦める", legend.inner_text())
        assert tab.locator("input[type=radio][name=score]").count() == 11
        # fits a phone: nothing wider than the screen
        assert tab.evaluate("document.documentElement.scrollWidth") <= 390
        tab.get_by_label("2", exact=True).check()
        tab.fill("textarea[name=why]", "Setup took weeks / 導入に時間がかかった")
        tab.click("[data-testid=survey-submit]")
        expect(tab.locator("[data-testid=survey-thanks]")).to_be_visible()
        # the same link again: a clear page, nothing recorded twice
        tab.goto(f"/s/{token}")
        expect(tab.locator("[data-testid=survey-problem]")).to_be_visible()
    finally:
        tab.context.close()
    db = sqlite3.connect(folder / "kizuna.db")
    rows = db.execute("SELECT account_id, score, comment FROM survey_responses WHERE external_id LIKE "
                      "'survey-invitation:%'").fetchall()  # fmt: skip
    assert [(r[1], r[2]) for r in rows] == [(2, "Setup took weeks / 導入に時間がかかった")]
    account = rows[0][0]
    # the next day's job: the detractor's follow-up call task
    server.kizuna("jobs", "run", "daily", "--as-of", "2026-12-06", "--step", "playbooks", TODAY="2026-12-06")
    tasks = db.execute("SELECT title, priority FROM tasks WHERE account_id = ? AND source = 'playbook:survey-detractor'",
                       (account,)).fetchall()  # fmt: skip
    db.close()
    assert len(tasks) == 1
    assert tasks[0][0].startswith("NPS 批判者へのフォロー電話: ")
    assert tasks[0][1] == "high"
    tab = new_tab(browser, base, locale="ja-JP")
    tab.context.set_default_navigation_timeout(60_000)  # the home page after sign-in: a loaded machine took >10 s
    try:
        tab.goto("/login")
        tab.fill("input[name=email]", DEMO_ADMIN)
        tab.fill("input[name=password]", DEMO_PASSWORD)
        tab.click("form[action='/login'] button[type=submit]")
        tab.goto(f"/accounts/{account}")
        expect(tab.get_by_text("Setup took weeks / 導入に時間がかかった").first).to_be_visible()
        expect(tab.get_by_text(tasks[0][0]).first).to_be_visible()
    finally:
        tab.context.close()
