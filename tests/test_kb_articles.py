"""Knowledge-base articles sent by a playbook (issue 17, item 4): the ``article`` step emails
links signed per contact and article through the real outbox to a real SMTP server (the
contact's language version, unsubscribe honoured); opening a link shows the public article
and counts a view on the contact and account (a forged link counts nothing); per-article
sends, views and readers; deflection — tickets per active account after the send against the
playbook's holdout, worked out by hand below."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kizuna.errors import ConfigurationError
from kizuna.jobs.outbox import deliver
from kizuna.main import create_app
from kizuna.services import kb, playbooks
from kizuna.settings import Settings
from tests.cli import run_cli
from tests.conftest import Inbox, make_user, sign_in
from tests.test_surveys import _contact
from tests.test_tasks import add_account, sql

TODAY = date(2026, 11, 20)

SEND = """
[playbooks.kb-tech]
name = "Tech touch: articles"
trigger = { kind = "at_risk" }
holdout = 0.0

[[playbooks.kb-tech.steps]]
kind = "article"
articles = ["quick-start", "no-such-article"]
"""


def _md(title: str, slug: str, language: str) -> str:
    return f"---\ntitle: {title}\ncategory: start\nlanguage: {language}\nslug: {slug}\n---\nThe first steps.\n"


@pytest.fixture
def app(tmp_path: Path, smtp: tuple[Inbox, int], monkeypatch: pytest.MonkeyPatch) -> Iterator[FastAPI]:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'k.db'}", today=TODAY, smtp_host="127.0.0.1",
                              smtp_port=smtp[1], mail_from="cs@kizuna.example", base_url="https://kizuna.example.jp",
                              secret_key="kb-test-secret"))  # fmt: skip
    monkeypatch.setenv("KIZUNA_DATABASE_URL", str(app.state.kizuna.settings.database_url))
    monkeypatch.setenv("KIZUNA_LANGUAGE", "en")
    folder = tmp_path / "kb"
    folder.mkdir()
    (folder / "ja.md").write_text(_md("はじめの一歩", "quick-start", "ja"), encoding="utf-8")
    (folder / "en.md").write_text(_md("Quick start", "quick-start-en", "en"), encoding="utf-8")
    with app.state.kizuna.unit_of_work() as session:
        kb.import_folder(session, folder)
    yield app
    app.state.kizuna.engine.dispose()


def _links(inbox: Inbox) -> dict[str, str]:
    out = {}
    for rcpt, mail in inbox.messages:
        found = re.search(r"https://kizuna\.example\.jp(/kb/\S+)", mail.get_body(("plain",)).get_content())
        if found:
            out[rcpt[0]] = found.group(1)
    return out


def test_a_playbook_sends_signed_article_links_and_an_opened_link_counts_a_view(
    app: FastAPI, smtp: tuple[Inbox, int]
) -> None:
    inbox, _port = smtp
    owner = make_user(app, "owner@kizuna.example", "lead", name="担当 太郎")
    account = add_account(app, "A1", owner=owner, score=30, grade="red", at_risk=True)
    _contact(app, account, "c-en", "keiko@acme.example", "en")
    _contact(app, account, "c-ja", "hanako@acme.example", "ja")
    _contact(app, account, "c-gone", "gone@acme.example", None, unsubscribed=True)
    with app.state.kizuna.unit_of_work() as session:
        playbooks.save(session, SEND, "kb.toml")
        playbooks.run(session, TODAY, app.state.kizuna.context)
    assert deliver(app.state.kizuna.engine, app.state.kizuna.context).sent == 2
    mails = {rcpt[0]: mail for rcpt, mail in inbox.messages}
    assert sorted(mails) == ["hanako@acme.example", "keiko@acme.example"]  # never to the unsubscribed contact
    assert mails["keiko@acme.example"]["Subject"] == "Articles that may help A1 株式会社"
    assert "List-Unsubscribe" in mails["hanako@acme.example"]
    links = _links(inbox)
    # each contact gets the version in their language, signed for them
    assert links["keiko@acme.example"].startswith("/kb/quick-start-en?r=")
    assert links["hanako@acme.example"].startswith("/kb/quick-start?r=")
    log = str(sql(app, "SELECT log FROM playbook_enrollments WHERE playbook_key = 'kb-tech'")[0][0])
    assert "articles to gone@acme.example skipped: unsubscribed" in log
    assert "article skipped: there is no article 'no-such-article'" in log

    reader = TestClient(app)  # no sign-in
    for _ in range(2):  # the same contact twice: two views, one reader
        page = reader.get(links["keiko@acme.example"], headers={"Accept-Language": "en"})
        assert page.status_code == 200
        assert "Quick start" in page.text
        assert page.headers["Referrer-Policy"] == "no-referrer"
    token = links["keiko@acme.example"].split("?r=")[1]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    for url in (f"/kb/quick-start-en?r={forged}", f"/kb/quick-start?r={token}", "/kb/quick-start-en?r=x",
                "/kb/quick-start-en?r="):  # forged, another article's, malformed, empty: the article, no view
        shown = reader.get(url)
        assert shown.status_code == 200, url
        assert "<h1" in shown.text
    assert sql(app, "SELECT count(*) FROM kb_views")[0][0] == 2

    # per article: sends, views and readers, on the signed-in side
    owner_client = TestClient(app)
    sign_in(owner_client, "owner@kizuna.example")
    stats = owner_client.get("/admin/kb", headers={"Accept": "application/json"}).json()["articles"]
    assert {a["slug"]: (a["sends"], a["views"], a["readers"]) for a in stats} == {
        "quick-start-en": (1, 2, 1), "quick-start": (1, 0, 0)}
    page = owner_client.get("/admin/kb", headers={"Accept-Language": "en"}).text
    row = re.search(r'<tr data-slug="quick-start-en">.*?</tr>', page, re.S)
    assert row is not None
    assert re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row.group(0))).split() == ["Quick", "start", "start", "en",
                                                                                 "1", "2", "1"]  # fmt: skip
    # the account's timeline: who read what, from which playbook
    timeline = owner_client.get(f"/accounts/{account}/timeline", headers={"Accept-Language": "en"}).text
    assert timeline.count('data-kind="article"') == 2
    assert "sent by the playbook kb-tech" in timeline
    assert "c-en 様" in timeline


@pytest.mark.parametrize(("articles", "path", "why"), [
    ("[]", "steps[1].articles", "must be a list of 1 to 10 article slugs"),
    ('["Quick Start"]', "steps[1].articles[0]", "a slug is 1–120 lower-case letters"),
    ("5", "steps[1].articles", "must be a list of 1 to 10 article slugs"),
    (json.dumps([f"a{i}" for i in range(11)]), "steps[1].articles", "must be a list of 1 to 10"),
])  # fmt: skip
def test_a_bad_article_step_is_refused_naming_the_field(articles: str, path: str, why: str) -> None:
    text = SEND.replace('articles = ["quick-start", "no-such-article"]', f"articles = {articles}")
    with pytest.raises(ConfigurationError) as caught:
        playbooks.parse(text, "kb.toml")
    assert caught.value.message.startswith(f"kb.toml: kb-tech.{path}: {why}")
    missing = SEND.replace('articles = ["quick-start", "no-such-article"]', "")
    with pytest.raises(ConfigurationError) as caught:
        playbooks.parse(missing, "kb.toml")
    assert caught.value.message == "kb.toml: kb-tech.steps[1].articles: is missing"


def _ticket(app: FastAPI, account: int, n: int, at: datetime) -> None:
    sql(app, "INSERT INTO tickets (external_id, account_id, status, priority, channel, opened_at, message_count,"
             " created_at, updated_at) VALUES (:k, :a, 'solved', 'normal', 'email', :at, 1, :at, :at)",
        k=f"T-{account}-{n}", a=account, at=at)  # fmt: skip


def test_deflection_is_worked_out_by_hand(app: FastAPI, capsys: pytest.CaptureFixture[str]) -> None:
    """20 accounts sent articles on 2026-10-01: ten opened no ticket in the 30 days after,
    ten opened one (mean 0.5, sample variance 10·0.25·2/19 = 5/19). 20 held-out accounts
    entered the same playbook on 2026-10-01: ten opened one ticket, ten two (mean 1.5,
    variance 5/19). Difference −1.0; standard error √(5/19/20 + 5/19/20) = √(1/38);
    95 % interval −1 ± 1.959964·√(1/38) = −1.3179 … −0.6821. Tickets outside the window
    (the send day itself, day 31) and a held-out account that had churned by its day, and an
    account whose window is not over, are left out."""
    day = date(2026, 10, 1)
    sent_at = datetime(2026, 10, 1, 12, tzinfo=UTC)
    article = int(sql(app, "SELECT id FROM kb_articles WHERE slug = 'quick-start'")[0][0])
    for i in range(40):
        held = i >= 20
        account = add_account(app, f"D{i}", owner=None)
        contact = _contact(app, account, f"d{i}", f"d{i}@x.example", "ja")
        sql(app, "INSERT INTO playbook_enrollments (playbook_key, version, account_id, state, holdout, entered_on, step,"
                 " log) VALUES ('kb-tech', 1, :a, :s, :h, :d, 1, '')",
            a=account, s="holdout" if held else "completed", h=held, d=day)  # fmt: skip
        if not held:
            sql(app, "INSERT INTO kb_sends (article_id, account_id, contact_id, playbook_key, sent_at) "
                     "VALUES (:r, :a, :c, 'kb-tech', :t)", r=article, a=account, c=contact, t=sent_at)  # fmt: skip
        tickets = (i % 2) + (1 if held else 0)  # sent: 0 or 1; held out: 1 or 2
        for n in range(tickets):
            _ticket(app, account, n, sent_at + timedelta(days=1 + n * 10))
        _ticket(app, account, 8, sent_at + timedelta(hours=3))  # the send day: not after it
        _ticket(app, account, 9, sent_at + timedelta(days=31))  # day 31: outside a 30-day window
    gone = add_account(app, "GONE", owner=None)  # held out, but churned before its day
    sql(app, "UPDATE accounts SET churned_on = :d, status = 'churned' WHERE id = :a", d=day - timedelta(days=5), a=gone)
    late = add_account(app, "LATE", owner=None)  # entered held out too recently: its window is not over
    for account, entered in ((gone, day), (late, TODAY - timedelta(days=10))):
        sql(app, "INSERT INTO playbook_enrollments (playbook_key, version, account_id, state, holdout, entered_on, step,"
                 " log) VALUES ('kb-tech', 1, :a, 'holdout', true, :d, 0, '')", a=account, d=entered)  # fmt: skip
        _ticket(app, account, 0, datetime.combine(entered + timedelta(days=2), datetime.min.time(), tzinfo=UTC))
    with app.state.kizuna.unit_of_work() as session:
        found = kb.deflection(session, TODAY, days=30)
    half = 1.959963984540054 * math.sqrt(1 / 38)
    assert (found.sent_accounts, found.holdout_accounts, found.sent_tickets, found.holdout_tickets) == (20, 20, 10, 30)
    assert (found.sent_rate, found.holdout_rate) == (0.5, 1.5)
    assert found.difference == pytest.approx(-1.0)
    assert (found.low, found.high) == (pytest.approx(-1 - half), pytest.approx(-1 + half))
    assert round(-1 - half, 4) == -1.3179
    assert found.enough

    client = TestClient(app)
    make_user(app, "lead@kizuna.example", "lead")
    sign_in(client, "lead@kizuna.example")
    kpis = client.get("/kpis", headers={"Accept-Language": "en"}).text
    card = re.search(r'data-testid="deflection".*?</section>', kpis, re.S)
    assert card is not None
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", card.group(0)))
    assert "Sent articles 20 10 0.50" in text
    assert "Held out 20 30 1.50" in text
    assert "Difference: -1.00 tickets per account (95 % CI -1.32 to -0.68)." in text
    # a 7-day window: the day-11 tickets drop out (one ticket per held-out account), and LATE's
    # window (entered 10 days ago) is over now, with its one ticket on day 2
    week = client.get("/api/kpis/deflection", params={"days": 7, "as_of": TODAY.isoformat()}).json()
    assert (week["holdout_accounts"], week["holdout_tickets"], week["sent_tickets"]) == (21, 21, 10)
    api = client.get("/api/kpis/deflection", params={"days": 30, "as_of": TODAY.isoformat()}).json()
    assert (api["sent_accounts"], api["holdout_accounts"], api["enough"]) == (20, 20, True)
    assert api["difference"] == pytest.approx(-1.0)
    assert api["low"] == pytest.approx(-1 - half)
    out = run_cli(capsys, "kb", "deflection", "--as-of", TODAY.isoformat(), "--format", "json")
    assert out.code == 0, out.err
    assert json.loads(out.out)["holdout_tickets"] == 30
    shown = run_cli(capsys, "kb", "deflection", "--as-of", TODAY.isoformat())
    assert "Difference: -1.00 tickets per account (95 % CI -1.32 to -0.68)." in shown.out

    # bad windows: a clear refusal naming the parameter, never a 500
    for bad in ("0", "366", "x", "-3", "1e3"):
        r = client.get(f"/kpis?deflection_days={bad}", headers={"Accept-Language": "en"})
        assert r.status_code == 400, bad
        assert "the deflection window must be a whole number of days from 1 to 365" in r.text
    assert client.get("/api/kpis/deflection?days=0").status_code == 422
    assert client.get("/api/kpis/deflection?days=x").status_code == 422
    refused = run_cli(capsys, "kb", "deflection", "--days", "0")
    assert refused.code != 0
    assert "the deflection window must be a whole number of days from 1 to 365, not '0'" in refused.err + refused.out


def test_too_few_accounts_says_not_enough_data_with_the_counts(app: FastAPI) -> None:
    day = date(2026, 9, 1)
    article = int(sql(app, "SELECT id FROM kb_articles WHERE slug = 'quick-start'")[0][0])
    for i in range(3):
        account = add_account(app, f"S{i}", owner=None)
        contact = _contact(app, account, f"s{i}", f"s{i}@x.example", "ja")
        sql(app, "INSERT INTO kb_sends (article_id, account_id, contact_id, playbook_key, sent_at) "
                 "VALUES (:r, :a, :c, 'kb-tech', :t)", r=article, a=account, c=contact,
            t=datetime.combine(day, datetime.min.time(), tzinfo=UTC))  # fmt: skip
    client = TestClient(app)
    make_user(app, "lead@kizuna.example", "lead")
    sign_in(client, "lead@kizuna.example")
    kpis = client.get("/kpis", headers={"Accept-Language": "en"}).text
    assert "Not enough data: each group needs at least 20 accounts (3 sent, 0 held out)." in kpis
    with app.state.kizuna.unit_of_work() as session:
        found: Any = kb.deflection(session, TODAY)
    assert (found.enough, found.difference, found.low) == (False, None, None)


def test_the_forms_editor_shows_and_saves_an_article_step(app: FastAPI) -> None:
    make_user(app, "lead@kizuna.example", "lead")
    with app.state.kizuna.unit_of_work() as session:
        playbooks.save(session, SEND, "kb.toml")
    client = TestClient(app)
    csrf = sign_in(client, "lead@kizuna.example")
    page = client.get("/playbooks/kb-tech/edit", headers={"Accept-Language": "en"}).text
    assert 'name="s0.articles" value="quick-start no-such-article"' in page  # the list, as the form edits it
    detail = re.sub(r"<[^>]+>", "", client.get("/playbooks/kb-tech", headers={"Accept-Language": "en"}).text)
    assert "Articles (slugs, separated by spaces): quick-start, no-such-article" in detail
    form = {"csrf_token": csrf, "original": "kb-tech", "key": "kb-tech", "name": "Tech touch: articles",
            "trigger.kind": "at_risk", "cooldown_days": "30", "holdout": "0", "steps": "1", "s0.kind": "article",
            "s0.articles": "quick-start, invite-users", "s0.to": "champion", "op": "save"}  # fmt: skip
    saved = client.post("/playbooks/editor", data=form, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    with app.state.kizuna.unit_of_work() as session:
        _n, table = playbooks.table(session, "kb-tech")
    assert table["steps"] == [{"kind": "article", "articles": "quick-start, invite-users", "to": "champion"}]
    bad = client.post("/playbooks/editor", data={**form, "s0.articles": "Quick Start"}, headers={"Accept-Language": "en"})
    assert bad.status_code == 422
    assert "a slug is 1–120 lower-case letters, digits or -, not &#39;Quick&#39;" in bad.text
