"""Surveys that are sent and answered (issue 17, item 1): a playbook's survey step emails a
signed, expiring, single-use link through the real outbox to a real SMTP server; the public
page records the answer once (also when submitted twice at the same moment); a reused,
expired or forged link gets a clear page; the fatigue rule and unsubscribe are honoured; a
detractor's answer fires the ``survey_detractor`` playbook's task."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kizuna.jobs.outbox import deliver
from kizuna.main import create_app
from kizuna.services import playbooks, surveys
from kizuna.settings import Settings
from tests.conftest import Inbox, make_user, sign_in
from tests.test_tasks import add_account, sql

TODAY = date(2026, 11, 20)

ASK = """
[playbooks.ask-nps]
name = "Ask for NPS"
trigger = { kind = "at_risk" }

[[playbooks.ask-nps.steps]]
kind = "survey"
programme = "nps"
to = "all_contacts"

[playbooks.detractor]
name = "Call a detractor"
trigger = { kind = "survey_detractor", days = 7 }

[[playbooks.detractor.steps]]
kind = "task"
title = "Call back the detractor at {account}"
task_kind = "call"
priority = "high"
due_days = 1
"""


@pytest.fixture
def app(tmp_path: Any, smtp: tuple[Inbox, int]) -> Iterator[FastAPI]:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'k.db'}", today=TODAY, smtp_host="127.0.0.1",
                              smtp_port=smtp[1], mail_from="cs@kizuna.example", base_url="https://kizuna.example.jp",
                              secret_key="survey-test-secret", survey_fatigue_days=30))  # fmt: skip
    yield app
    app.state.kizuna.engine.dispose()


def _contact(app: FastAPI, account: int, key: str, email: str, language: str | None, *,
             unsubscribed: bool = False) -> int:  # fmt: skip
    now = datetime(2026, 1, 1, tzinfo=UTC)
    sql(app, "INSERT INTO contacts (external_id, account_id, name, email, is_champion, language, unsubscribed_at,"
             " created_at, updated_at) VALUES (:k, :a, :n, :e, true, :l, :u, :now, :now)",
        k=key, a=account, n=f"{key} 様", e=email, l=language, u=now if unsubscribed else None, now=now)  # fmt: skip
    return int(sql(app, "SELECT id FROM contacts WHERE external_id = :k", k=key)[0][0])


def _setup(app: FastAPI) -> dict[str, int]:
    owner = make_user(app, "owner@kizuna.example", "lead", name="担当 太郎")
    acc = add_account(app, "A1", owner=owner, score=30, grade="red", at_risk=True)
    ids = {"owner": owner, "account": acc,
           "en": _contact(app, acc, "c-en", "keiko@acme.example", "en"),
           "ja": _contact(app, acc, "c-ja", "hanako@acme.example", "ja"),
           "gone": _contact(app, acc, "c-gone", "gone@acme.example", None, unsubscribed=True)}  # fmt: skip
    with app.state.kizuna.unit_of_work() as session:
        surveys.create_programme(session, key="nps", name="NPS 2026", kind="nps")
        playbooks.save(session, ASK, "test.toml")
    return ids


def _run(app: FastAPI, day: date) -> int:
    with app.state.kizuna.unit_of_work() as session:
        return playbooks.run(session, day, app.state.kizuna.context)


def _links(inbox: Inbox) -> dict[str, str]:
    out = {}
    for rcpt, mail in inbox.messages:
        body = mail.get_body(("plain",)).get_content()
        found = re.search(r"https://kizuna\.example\.jp/s/(\S+)", body)
        if found:
            out[rcpt[0]] = found.group(1)
    return out


def test_a_playbook_sends_the_survey_and_the_answer_lands_once_on_the_account(
    app: FastAPI, smtp: tuple[Inbox, int]
) -> None:
    inbox, _port = smtp
    ids = _setup(app)
    _run(app, TODAY)
    assert deliver(app.state.kizuna.engine, app.state.kizuna.context).sent == 2
    mails = {rcpt[0]: mail for rcpt, mail in inbox.messages}
    assert sorted(mails) == ["hanako@acme.example", "keiko@acme.example"]  # never to the unsubscribed contact
    assert mails["keiko@acme.example"]["Subject"] == "A short question from A1 株式会社"
    assert mails["hanako@acme.example"]["Subject"] == "A1 株式会社 から簡単なご質問"
    assert "List-Unsubscribe" in mails["keiko@acme.example"]
    links = _links(inbox)
    log = str(sql(app, "SELECT log FROM playbook_enrollments WHERE playbook_key = 'ask-nps'")[0][0])
    assert "survey to gone@acme.example skipped: unsubscribed" in log

    client = TestClient(app)
    page = client.get(f"/s/{links['keiko@acme.example']}")  # no sign-in; the contact's language, not the browser's
    assert page.status_code == 200
    assert "How likely are you to recommend A1 株式会社 to a friend or colleague?" in page.text
    assert page.text.count('type="radio" name="score"') == 11
    assert "<fieldset" in page.text
    assert "<legend>" in page.text
    # a public page: the security headers, the CSP, no referrer leaking the token, not indexed
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp or "default-src 'self'" in csp
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["X-Robots-Tag"] == "noindex"
    ja_page = client.get(f"/s/{links['hanako@acme.example']}", headers={"Accept-Language": "en"})
    assert "A1 株式会社 を友人や同僚に薦める可能性はどのくらいありますか？" in ja_page.text

    done = client.post(f"/s/{links['keiko@acme.example']}", data={"score": "3", "why": "Too slow <script>x</script>"})
    assert done.status_code == 200
    assert "Your answer has been recorded" in done.text
    rows = sql(app, "SELECT kind, score, comment, contact_id, account_id FROM survey_responses")
    assert rows == [("nps", 3, "Too slow <script>x</script>", ids["en"], ids["account"])]
    # the account's timeline shows it (escaped)
    owner_client = TestClient(app)
    sign_in(owner_client, "owner@kizuna.example")
    account_page = owner_client.get(f"/accounts/{ids['account']}", headers={"Accept-Language": "en"}).text
    timeline = owner_client.get(f"/accounts/{ids['account']}/timeline", headers={"Accept-Language": "en"}).text
    assert "Too slow &lt;script&gt;" in account_page + timeline

    # the same link again: a clear 410 page, nothing recorded twice
    again = client.post(f"/s/{links['keiko@acme.example']}", data={"score": "10"})
    assert again.status_code == 410
    assert "already been answered" in again.text
    assert client.get(f"/s/{links['keiko@acme.example']}").status_code == 410
    assert sql(app, "SELECT count(*) FROM survey_responses")[0][0] == 1

    # the detractor's answer fires the survey_detractor playbook: the follow-up task
    _run(app, TODAY + timedelta(days=1))
    tasks = sql(app, "SELECT title, priority, account_id FROM tasks")
    assert tasks == [("Call back the detractor at A1 株式会社", "high", ids["account"])]

    # the KPI page: response rate and NPS by tier and month sent
    sql(app, "UPDATE accounts SET touch_tier = 'tech' WHERE id = :a", a=ids["account"])
    kpis = owner_client.get("/kpis", headers={"Accept-Language": "en"}).text
    assert "2 sent, 1 answered (50.0%); NPS -100.0 from 1 answers." in kpis
    tier = re.search(r'data-testid="survey-by-tier".*?</table>', kpis, re.S)
    assert tier is not None
    assert re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", tier.group(0))).count("tech touch 2 1 50.0% -100.0 1") == 1
    month = re.search(r'data-testid="survey-by-month".*?</table>', kpis, re.S)
    assert month is not None
    assert "2026-11" in month.group(0)


def test_a_forged_expired_or_bad_answer_gets_a_clear_page_and_records_nothing(
    app: FastAPI, smtp: tuple[Inbox, int]
) -> None:
    inbox, _port = smtp
    _setup(app)
    _run(app, TODAY)
    deliver(app.state.kizuna.engine, app.state.kizuna.context)
    token = _links(inbox)["keiko@acme.example"]
    client = TestClient(app)
    number, signature = token.split(".")
    for forged in (f"{int(number) + 1}.{signature}", f"{number}.{'A' * 22}", "1.x", "nothing",
                   f"{number}.{signature[:-1]}"):  # fmt: skip
        r = client.post(f"/s/{forged}", data={"score": "9"}, headers={"Accept-Language": "en"})
        assert r.status_code == 400, forged
        assert "this survey link is not valid (it was changed or cut short)" in r.text
    assert "このアンケートのリンクは無効です" in client.get("/s/1.x", headers={"Accept-Language": "ja"}).text
    # an unsubscribe link's signature does not open a survey (signatures are per purpose)
    from kizuna.services import unsubscribe

    assert client.get(f"/s/{number}.{unsubscribe.sign('survey-test-secret', 'unsubscribe', int(number))}"
                      ).status_code == 400  # fmt: skip
    # a score off the scale, a "why" too long: the form again with the reason, nothing recorded
    bad = client.post(f"/s/{token}", data={"score": "11"})
    assert bad.status_code == 422
    assert "choose a score from 0 to 10" in bad.text
    long = client.post(f"/s/{token}", data={"score": "9", "why": "x" * 2001})
    assert long.status_code == 422
    assert "longer than 2000 characters" in long.text
    assert client.post(f"/s/{token}", data={"score": "9"}, headers={"Accept": "application/json"}).json() == {
        "thanks": True}
    assert sql(app, "SELECT count(*) FROM survey_responses")[0][0] == 1
    # expired: the Japanese contact's link, opened after its 14 days
    ja = _links(inbox)["hanako@acme.example"]
    sql(app, "UPDATE survey_invitations SET expires_at = :t", t=datetime(2020, 1, 1, tzinfo=UTC))
    gone = client.get(f"/s/{ja}")
    assert gone.status_code == 410
    assert "このアンケートのリンクは有効期限が切れています" in gone.text
    assert client.post(f"/s/{ja}", data={"score": "9"}).status_code == 410
    assert sql(app, "SELECT count(*) FROM survey_responses")[0][0] == 1


def test_two_submissions_at_the_same_moment_record_one_answer(app: FastAPI, smtp: tuple[Inbox, int]) -> None:
    inbox, _port = smtp
    _setup(app)
    _run(app, TODAY)
    deliver(app.state.kizuna.engine, app.state.kizuna.context)
    token = _links(inbox)["keiko@acme.example"]
    statuses: list[int] = []
    start = threading.Barrier(4)

    def submit(score: str) -> None:
        client = TestClient(app)
        start.wait()
        statuses.append(client.post(f"/s/{token}", data={"score": score}).status_code)

    threads = [threading.Thread(target=submit, args=(str(s),)) for s in (9, 10, 2, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 410, 410, 410]
    assert sql(app, "SELECT count(*) FROM survey_responses")[0][0] == 1
    assert sql(app, "SELECT count(*) FROM survey_invitations WHERE response_id IS NOT NULL")[0][0] == 1


def test_the_fatigue_rule_and_a_send_by_hand_to_a_segment(app: FastAPI, smtp: tuple[Inbox, int]) -> None:
    inbox, _port = smtp
    ids = _setup(app)
    _run(app, TODAY)  # the playbook asks both contacts today
    other = add_account(app, "B2", owner=None, score=80, grade="green")
    _contact(app, other, "c-b", "bob@beta.example", "en")
    client = TestClient(app)
    csrf = sign_in(client, "owner@kizuna.example")
    with app.state.kizuna.unit_of_work() as session:
        surveys.create_programme(session, key="csat", name="CSAT", kind="csat")
    r = client.post("/surveys/csat/send", data={"csrf_token": csrf, "to": "all_contacts"}, follow_redirects=False)
    assert r.status_code == 303
    # A1's contacts were asked today (within 30 days): skipped; the unsubscribed one too; B2's contact asked
    assert r.headers["location"] == "/surveys?sent=1&skipped=3"
    page = client.get(r.headers["location"], headers={"Accept-Language": "en"}).text
    assert "Sent to 1 contacts; 3 skipped" in page
    deliver(app.state.kizuna.engine, app.state.kizuna.context)
    assert sorted(_links(inbox)) == ["bob@beta.example", "hanako@acme.example", "keiko@acme.example"]
    # a segment by owner: only the owner's accounts
    with app.state.kizuna.unit_of_work() as session:
        done = surveys.send_to_segment(session, app.state.kizuna.context, "csat", owner_ids=[ids["owner"]],
                                       now=datetime.now(UTC) + timedelta(days=31))  # fmt: skip
    assert (done.sent, done.skipped) == (2, 1)
    # the CSAT page offers 1–5
    token = _links(inbox)["bob@beta.example"]
    assert TestClient(app).get(f"/s/{token}").text.count('name="score"') == 5


def test_programmes_are_created_with_named_errors(app: FastAPI) -> None:
    make_user(app, "lead@kizuna.example", "lead")
    make_user(app, "csm@kizuna.example", "csm")
    client = TestClient(app)
    csrf = sign_in(client, "lead@kizuna.example")
    ok = client.post("/surveys", data={"csrf_token": csrf, "key": "ces-q4", "name": "CES Q4", "kind": "ces"},
                     follow_redirects=False)  # fmt: skip
    assert ok.status_code == 303
    taken = client.post("/surveys", data={"csrf_token": csrf, "key": "ces-q4", "name": "again", "kind": "ces"},
                        headers={"Accept-Language": "en"})  # fmt: skip
    assert taken.status_code == 422
    assert "a survey with the key &#39;ces-q4&#39; exists already" in taken.text
    bad = client.post("/surveys", data={"csrf_token": csrf, "key": "x", "name": "X", "kind": "mood"},
                      headers={"Accept-Language": "en"})  # fmt: skip
    assert bad.status_code == 422
    assert "the kind must be one of: nps, csat, ces" in bad.text
    csm = TestClient(app)
    csrf2 = sign_in(csm, "csm@kizuna.example")
    assert csm.post("/surveys", data={"csrf_token": csrf2, "key": "y", "name": "Y", "kind": "nps"}).status_code == 403
    assert sql(app, "SELECT key, kind FROM survey_programmes") == [("ces-q4", "ces")]


def test_the_cli_creates_lists_and_sends_programmes(app: FastAPI, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    from tests.cli import run_cli

    ids = _setup(app)
    monkeypatch.setenv("KIZUNA_DATABASE_URL", str(app.state.kizuna.settings.database_url))
    monkeypatch.setenv("KIZUNA_TODAY", TODAY.isoformat())
    monkeypatch.setenv("KIZUNA_LANGUAGE", "en")
    made = run_cli(capsys, "surveys", "create", "effort", "--name", "Effort <b>", "--kind", "ces")
    assert made.code == 0, made.err
    assert "Survey effort created (ces)" in made.out
    bad = run_cli(capsys, "surveys", "create", "mood", "--name", "Mood", "--kind", "mood")
    assert bad.code != 0
    assert "the kind must be one of: nps, csat, ces" in bad.err
    listed = run_cli(capsys, "surveys", "list", "--format", "json")
    assert [(p["key"], p["name"], p["kind"]) for p in json.loads(listed.out)] == [
        ("effort", "Effort <b>", "ces"), ("nps", "NPS 2026", "nps")]
    sent = run_cli(capsys, "surveys", "send", "effort", "--all-contacts")
    assert "Sent to 2 contacts; 1 skipped" in sent.out
    assert sql(app, "SELECT count(*) FROM survey_invitations WHERE account_id = :a", a=ids["account"])[0][0] == 2
    assert run_cli(capsys, "surveys", "send", "nothing").code != 0


def test_the_api_creates_lists_and_reports(app: FastAPI) -> None:
    from kizuna.domain.auth import ApiKeyScope
    from kizuna.services import auth

    make_user(app, "lead@kizuna.example", "lead")
    with app.state.kizuna.unit_of_work() as session:
        key, _row = auth.create_api_key(session, name="t", scope=ApiKeyScope.WRITE)
    client = TestClient(app, headers={"Authorization": f"Bearer {key}"})
    assert client.post("/api/surveys", json={"key": "n", "name": "N", "kind": "nps"}).status_code == 403  # not a lead
    client = TestClient(app)
    csrf = sign_in(client, "lead@kizuna.example")
    made = client.post("/api/surveys", json={"key": "pulse", "name": "Pulse", "kind": "csat"},
                       headers={"X-CSRF-Token": csrf})  # fmt: skip
    assert made.status_code == 201, made.text
    assert made.json() == {"key": "pulse", "name": "Pulse", "kind": "csat", "question_ja": None, "question_en": None}
    again = client.post("/api/surveys", json={"key": "pulse", "name": "P", "kind": "csat"}, headers={"X-CSRF-Token": csrf})
    assert again.status_code == 422
    assert again.json()["errors"][0]["code"] == "survey_programme_exists"
    assert [p["key"] for p in client.get("/api/surveys").json()] == ["pulse"]
    assert client.get("/api/surveys/report").json()["total"] == {"sent": 0, "answered": 0, "rate": None, "nps": None,
                                                                "nps_answers": 0}  # fmt: skip
