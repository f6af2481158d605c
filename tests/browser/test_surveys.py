"""Surveys in a real browser (Debian's Chromium, ``kizuna serve``), issue 17's done-when: on
a small demo company the ``survey-nps`` playbook sends the NPS survey through the outbox to a
real SMTP server (aiosmtpd); the emailed link is opened on a phone-sized page (390 px) and
answered; the answer shows on the account's page; the detractor's answer makes the
``survey-detractor`` playbook's follow-up call task the next day."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.browser.live import CHROMIUM, PASSWORD, chromium_page, live_server
from tests.conftest import Inbox

if not CHROMIUM.exists():
    pytest.skip("Debian's Chromium is not installed (/usr/bin/chromium; `make chromium`)", allow_module_level=True)

from playwright.sync_api import expect

pytestmark = pytest.mark.browser

DEMO_ADMIN = "demo@kizuna.example"
DEMO_PASSWORD = "kizuna-demo-2026"


def _kizuna(folder: Path, settings: dict[str, str], *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")}
    env.update(KIZUNA_DATABASE_URL=f"sqlite:///{folder / 'kizuna.db'}", KIZUNA_PASSWORD=PASSWORD, LANG="C.UTF-8")
    env.update({f"KIZUNA_{k}": v for k, v in settings.items()})
    done = subprocess.run([sys.executable, "-m", "kizuna", *args], env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_an_nps_survey_goes_out_by_playbook_is_answered_in_the_browser_and_fires_the_follow_up(
    tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    settings = {"TODAY": "2026-12-05", "SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port),
                "MAIL_FROM": "cs@kizuna-demo.example", "SECRET_KEY": "browser-survey-secret"}  # fmt: skip
    # the demo runs the daily job on its last day: the survey-nps playbook asks accounts in adoption
    commands = [["demo", "--accounts", "30", "--months", "6", "--as-of", "2026-12-05", "--no-serve"],
                ["jobs", "run", "outbox"]]  # fmt: skip
    with live_server(tmp_path, commands, **settings) as base:
        surveys = []
        for rcpt, mail in inbox.messages:
            text = mail.get_body(("plain",)).get_content()
            found = re.search(r"https?://[^/\s]+/s/(\S+)", text)
            if found:
                surveys.append((rcpt[0], mail["Subject"], found.group(1)))
        assert surveys, [m["Subject"] for _r, m in inbox.messages]
        _to, _subject, token = surveys[0]
        with chromium_page(base, locale="en-US", width=390) as page:
            tab: Any = page
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
        db = sqlite3.connect(tmp_path / "kizuna.db")
        rows = db.execute("SELECT account_id, score, comment FROM survey_responses WHERE external_id LIKE "
                          "'survey-invitation:%'").fetchall()  # fmt: skip
        assert [(r[1], r[2]) for r in rows] == [(2, "Setup took weeks / 導入に時間がかかった")]
        account = rows[0][0]
        # the next day's job: the detractor's follow-up call task
        _kizuna(tmp_path, {**settings, "TODAY": "2026-12-06"}, "jobs", "run", "daily", "--as-of", "2026-12-06",
                "--step", "playbooks")  # fmt: skip
        tasks = db.execute("SELECT title, priority FROM tasks WHERE account_id = ? AND source = 'playbook:survey-detractor'",
                           (account,)).fetchall()  # fmt: skip
        db.close()
        assert len(tasks) == 1
        assert tasks[0][0].startswith("NPS 批判者へのフォロー電話: ")
        assert tasks[0][1] == "high"
        with chromium_page(base, locale="ja-JP") as page:
            tab = page
            tab.goto("/login")
            tab.fill("input[name=email]", DEMO_ADMIN)
            tab.fill("input[name=password]", DEMO_PASSWORD)
            tab.click("form[action='/login'] button[type=submit]")
            tab.goto(f"/accounts/{account}")
            expect(tab.get_by_text("Setup took weeks / 導入に時間がかかった").first).to_be_visible()
            expect(tab.get_by_text(tasks[0][0]).first).to_be_visible()
