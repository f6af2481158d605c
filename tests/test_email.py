"""Email a CS team can send to customers (issue 15): templates checked at save and sent in
the contact's language, the signed unsubscribe link honoured by the next step, the
per-domain rate limit, ``kizuna email test``, Slack alerts and playbook Slack steps, the
assignee rules and branch steps — all through the real outbox to a real SMTP server
(aiosmtpd) or a real HTTP server."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kizuna.domain.playbooks import STEP_FIELDS, parse_playbooks
from kizuna.errors import ConfigurationError
from kizuna.jobs import run_job
from kizuna.jobs.outbox import deliver
from kizuna.main import create_app
from kizuna.services import alerts, outbox, playbooks
from kizuna.services.email_templates import TemplateProblem, check_template, render_template
from kizuna.settings import Settings
from tests.cli import run_cli
from tests.conftest import Inbox, make_user
from tests.test_jobs import Receiver
from tests.test_tasks import add_account, sql

TODAY = date(2026, 11, 20)

WELCOME = """
[playbooks.welcome]
name = "Welcome"
trigger = { kind = "at_risk" }

[[playbooks.welcome.steps]]
kind = "email"
to = "all_contacts"
subject = "{{ account }} へのご案内"
body = "{{ contact }} 様\\n担当 {{ owner }} より。"
en = { subject = "A note for {{ account }}", body = "Dear {{ contact }},\\nfrom {{ owner }} ({{ owner_email }}).", html = "<p>Dear {{ contact }} of <b>{{ account }}</b></p><p><a href=\\"{{ unsubscribe_url }}\\">stop</a></p>" }

[[playbooks.welcome.steps]]
kind = "wait"
days = 7

[[playbooks.welcome.steps]]
kind = "email"
to = "all_contacts"
subject = "{{ account }}: 2 通目"
body = "{{ contact }} 様、その後いかがですか。"
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _app(tmp_path: Any, **settings: Any) -> FastAPI:
    return create_app(Settings(database_url=f"sqlite:///{tmp_path / 'k.db'}", today=TODAY, **settings))


@pytest.fixture
def mail_app(tmp_path: Any, smtp: tuple[Inbox, int]) -> Iterator[FastAPI]:
    app = _app(tmp_path, smtp_host="127.0.0.1", smtp_port=smtp[1], mail_from="cs@kizuna.example",
               base_url="https://kizuna.example.co.jp", secret_key="unit-test-secret")  # fmt: skip
    yield app
    app.state.kizuna.engine.dispose()


def _contact(app: FastAPI, account: int, key: str, name: str, email: str, language: str | None,
             champion: bool = False) -> int:  # fmt: skip
    sql(app, "INSERT INTO contacts (external_id, account_id, name, email, is_champion, language, created_at, updated_at)"
             " VALUES (:k, :a, :n, :e, :c, :l, :now, :now)",
        k=key, a=account, n=name, e=email, c=champion, l=language, now=datetime(2026, 1, 1, tzinfo=UTC))  # fmt: skip
    return int(sql(app, "SELECT id FROM contacts WHERE external_id = :k", k=key)[0][0])


def _load(app: FastAPI, text: str) -> None:
    with app.state.kizuna.unit_of_work() as session:
        playbooks.save(session, text, "test.toml")


def _run(app: FastAPI, day: date) -> int:
    with app.state.kizuna.unit_of_work() as session:
        return playbooks.run(session, day, app.state.kizuna.context)


def _deliver(app: FastAPI, now: datetime | None = None) -> Any:
    return deliver(app.state.kizuna.engine, app.state.kizuna.context, now=now)


def _parts(mail: Any) -> dict[str, str]:
    return {p.get_content_type(): p.get_content().replace("\r\n", "\n") for p in mail.walk() if not p.is_multipart()}


def _log(app: FastAPI, account: int) -> str:
    return str(sql(app, "SELECT log FROM playbook_enrollments WHERE account_id = :a", a=account)[0][0])


# --- templates: checked at save ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "path", "why"),
    [
        (("{{ owner_email }}", "{{ owner_mail }}"), "welcome.steps[1].en.body", "unknown merge field {{ owner_mail }}"),
        (("{{ contact }} 様\\n", "{{ contact 様\\n"), "welcome.steps[1].body", "template error on line 1"),
        (("<b>{{ account }}</b>", "<b>{{ account.__class__ }}</b>"), "welcome.steps[1].en.html",
         "merge fields are plain values"),
        (('subject = "{{ account }}: 2 通目"', ""), "welcome.steps[3].subject", "an email needs a subject and a text"),
        (('en = { subject = "A note for {{ account }}", ', 'en = { '), "welcome.steps[1].en.subject",
         "an email needs a subject and a text"),
    ],
)
def test_an_unknown_merge_field_or_a_broken_template_names_the_template_and_field(
    change: tuple[str, str], path: str, why: str
) -> None:
    assert playbooks.parse(WELCOME, "mine.toml")[0].key == "welcome"
    text = WELCOME.replace(*change)
    with pytest.raises(ConfigurationError) as caught:
        playbooks.parse(text, "mine.toml")
    assert caught.value.field == path
    assert caught.value.message.startswith(f"mine.toml: {path}: ")
    assert why in caught.value.message


def test_templates_render_in_a_sandbox_and_html_is_escaped() -> None:
    with pytest.raises(TemplateProblem, match="known: account, contact"):
        check_template("Hi {{ password }}")
    values = {"account": "<script>x</script> & Co", "contact": None}
    assert render_template("<p>{{ account }} {{ contact }}</p>", values, html=True) == (
        "<p>&lt;script&gt;x&lt;/script&gt; &amp; Co —</p>")  # fmt: skip
    assert render_template("{{ account|upper }}", values) == "<SCRIPT>X</SCRIPT> & CO"


def test_each_step_kind_is_described_once_for_the_forms() -> None:
    assert set(STEP_FIELDS) == {"task", "email", "webhook", "wait", "branch", "survey", "onboarding_plan",
                                "article"}
    task = {f.name: f for f in STEP_FIELDS["task"]}
    assert task["assignee"].choices == ("owner", "lead", "round_robin")
    assert task["due_days"].lo == 0
    assert task["due_days"].hi == 365
    assert [f.name for f in STEP_FIELDS["branch"]] == ["if", "then", "else"]


def test_the_default_library_has_email_texts_in_both_languages() -> None:
    books = playbooks.parse(playbooks.default_library_text(), "default.toml")
    emails = [s for b in books for _p, s in b.flat if s.kind == "email"]
    assert len(emails) >= 5
    for step in emails:
        assert step.params["ja"], step.params
        assert step.params["en"], step.params
        assert "{{ unsubscribe_url }}" in step.params["en"]["body"]


# --- sending: the contact's language, the unsubscribe link, the headers -----------------------------


def test_each_contact_gets_the_email_in_their_language_with_a_signed_unsubscribe_link(
    mail_app: FastAPI, smtp: tuple[Inbox, int]
) -> None:
    inbox, _port = smtp
    app = mail_app
    owner = make_user(app, "owner@kizuna.example", "csm", name="担当 太郎")
    acc = add_account(app, "A1", owner=owner, score=30, grade="red", at_risk=True)
    sql(app, "UPDATE accounts SET name = '<b>Acme</b>' WHERE id = :a", a=acc)
    en = _contact(app, acc, "c-en", "Keiko Smith", "keiko@acme.example", "en")
    ja = _contact(app, acc, "c-ja", "山田 花子", "hanako@acme.example", "ja")
    _contact(app, acc, "c-none", "佐藤", "sato@acme.example", None)
    _load(app, WELCOME)
    assert _run(app, TODAY) == 1
    assert _deliver(app).sent == 3
    mails = {rcpt[0]: mail for rcpt, mail in inbox.messages}
    english = mails["keiko@acme.example"]
    assert english["Subject"] == "A note for <b>Acme</b>"
    parts = _parts(english)
    assert parts["text/plain"].startswith("Dear Keiko Smith,\nfrom 担当 太郎 (owner@kizuna.example).")
    assert "<p>Dear Keiko Smith of <b>&lt;b&gt;Acme&lt;/b&gt;</b></p>" in parts["text/html"]
    link = re.search(r"https://kizuna\.example\.co\.jp/unsubscribe/(\S+?)\"", parts["text/html"])
    assert link is not None
    assert english["List-Unsubscribe"].strip() == f"<https://kizuna.example.co.jp/unsubscribe/{link.group(1)}>"
    assert english["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    japanese = mails["hanako@acme.example"]
    assert japanese["Subject"] == "<b>Acme</b> へのご案内"
    assert _parts(japanese)["text/plain"].startswith("山田 花子 様\n担当 担当 太郎 より。")
    # the text says nothing of the link: the footer adds it, in Japanese
    assert f"配信を希望されない場合は、こちらから停止できます: https://kizuna.example.co.jp/unsubscribe/{ja}." in (
        _parts(japanese)["text/plain"])  # fmt: skip
    # no language: the company default (ja)
    assert mails["sato@acme.example"]["Subject"] == "<b>Acme</b> へのご案内"

    # the English contact unsubscribes through the link: the page first, then the button
    client = TestClient(app)
    token = link.group(1)
    assert token.startswith(f"{en}.")
    page = client.get(f"/unsubscribe/{token}", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert "Stop sending these emails to k•••@acme.example?" in page.text
    assert sql(app, "SELECT unsubscribed_at FROM contacts WHERE id = :c", c=en)[0][0] is None  # GET changes nothing
    done = client.post(f"/unsubscribe/{token}", headers={"Accept-Language": "en"})
    assert done.status_code == 200
    assert "Done: k•••@acme.example will get no more of these emails." in done.text
    assert sql(app, "SELECT unsubscribed_at FROM contacts WHERE id = :c", c=en)[0][0] is not None

    # seven days later the second email goes to the other two only, and the run says why
    inbox.messages.clear()
    _run(app, TODAY + timedelta(days=7))
    assert _deliver(app).sent == 2
    assert sorted(r[0] for r, _m in inbox.messages) == ["hanako@acme.example", "sato@acme.example"]
    assert "2026-11-27 email to keiko@acme.example skipped: unsubscribed" in _log(app, acc)


def test_a_tampered_or_made_up_unsubscribe_link_gets_a_clear_400(mail_app: FastAPI) -> None:
    app = mail_app
    acc = add_account(app, "A1", owner=None)
    contact = _contact(app, acc, "c1", "K", "k@acme.example", "en")
    other = _contact(app, acc, "c2", "L", "l@acme.example", "en")
    from kizuna.services import unsubscribe

    good = unsubscribe.token_for("unit-test-secret", contact)
    forged = f"{other}.{good.split('.')[1]}"  # someone else's number under this signature
    client = TestClient(app)
    for bad in (forged, good[:-1] + ("A" if good[-1] != "A" else "B"), "12", "x" * 300, "<script>"):
        for method in ("get", "post"):
            r = getattr(client, method)(f"/unsubscribe/{bad}", headers={"Accept-Language": "en"})
            assert r.status_code == 400, (bad, method)
            assert "this unsubscribe link is not valid" in r.text
        r = client.post(f"/unsubscribe/{bad}", headers={"Accept": "application/json"})
        assert r.json()["errors"][0]["code"] == "invalid_unsubscribe_link"
    ja = client.get(f"/unsubscribe/{forged}", headers={"Accept-Language": "ja"})
    assert "この配信停止リンクは無効です" in ja.text
    assert sql(app, "SELECT count(*) FROM contacts WHERE unsubscribed_at IS NOT NULL")[0][0] == 0
    # a mail client's one-click POST (RFC 8058) with the good link works, twice is fine
    for _ in range(2):
        r = client.post(f"/unsubscribe/{good}", data={"List-Unsubscribe": "One-Click"},
                        headers={"Accept": "application/json"})  # fmt: skip
        assert r.json() == {"email": "k•••@acme.example", "unsubscribed": True}


def test_without_a_secret_setting_the_store_keeps_one_and_links_stay_valid(tmp_path: Any) -> None:
    app = _app(tmp_path)
    acc = add_account(app, "A1", owner=None)
    contact = _contact(app, acc, "c1", "K", "k@acme.example", "en")
    from kizuna.services import unsubscribe

    with app.state.kizuna.unit_of_work() as session:
        key = unsubscribe.secret(session, app.state.kizuna.context)
    app.state.kizuna.engine.dispose()
    again = _app(tmp_path)  # another process on the same store signs the same
    with again.state.kizuna.unit_of_work() as session:
        assert unsubscribe.secret(session, again.state.kizuna.context) == key
    assert TestClient(again).get(f"/unsubscribe/{unsubscribe.token_for(key, contact)}").status_code == 200
    again.state.kizuna.engine.dispose()


# --- the per-domain rate limit ------------------------------------------------------------------------


def test_over_the_per_domain_rate_an_email_waits_and_is_sent_the_next_minute(
    tmp_path: Any, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    app = _app(tmp_path, smtp_host="127.0.0.1", smtp_port=port, mail_domain_rate=3)
    with app.state.kizuna.unit_of_work() as session:
        for i in range(5):
            outbox.enqueue_email(session, key=f"big:{i}", to=[f"u{i}@big.example"], subject="s", text="t")
        for i in range(2):
            outbox.enqueue_email(session, key=f"small:{i}", to=[f"u{i}@SMALL.example"], subject="s", text="t")
    t0 = datetime.now(UTC) + timedelta(seconds=1)
    first = _deliver(app, t0)
    assert (first.sent, first.waiting, first.retrying, first.failed) == (5, 2, 0, 0)
    assert sorted(r[0] for r, _m in inbox.messages if r[0].endswith("big.example")) == [
        "u0@big.example", "u1@big.example", "u2@big.example"]  # fmt: skip
    with app.state.kizuna.unit_of_work() as session:
        waiting = [i for i in outbox.list_items(session) if i.status == "pending"]
    assert len(waiting) == 2
    assert all(i.attempts == 0 and "waiting: over 3 emails a minute to big.example" in (i.last_error or "")
               for i in waiting)  # fmt: skip
    assert _deliver(app, t0 + timedelta(seconds=30)).sent == 0  # still within the minute
    later = _deliver(app, t0 + timedelta(seconds=61))
    assert (later.sent, later.waiting) == (2, 0)
    assert len(inbox.messages) == 7
    app.state.kizuna.engine.dispose()


# --- kizuna email test ------------------------------------------------------------------------------


def _auth(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = data.login == b"kizuna" and data.password == b"right"
    return AuthResult(success=ok, handled=False)


def test_kizuna_email_test_sends_or_says_what_failed(
    smtp: tuple[Inbox, int], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    inbox, port = smtp
    monkeypatch.setenv("KIZUNA_DATABASE_URL", f"sqlite:///{tmp_path / 'k.db'}")
    monkeypatch.setenv("KIZUNA_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("KIZUNA_SMTP_PORT", str(port))
    monkeypatch.setenv("KIZUNA_MAIL_FROM", "cs@kizuna.example")
    ok = run_cli(capsys, "email", "test", "--to", "me@kizuna.example")
    assert ok.code == 0, ok.err
    assert "Sent: the SMTP server accepted it" in ok.out
    [(rcpt, mail)] = inbox.messages
    assert rcpt == ["me@kizuna.example"]
    assert mail["Subject"] == "Kizuna test email"

    closed = _free_port()
    monkeypatch.setenv("KIZUNA_SMTP_PORT", str(closed))
    refused = run_cli(capsys, "email", "test", "--to", "me@kizuna.example")
    assert refused.code == 1
    assert f"connection refused by 127.0.0.1:{closed}: no SMTP server listens there" in refused.err

    monkeypatch.setenv("KIZUNA_SMTP_PORT", str(port))
    monkeypatch.setenv("KIZUNA_SMTP_SECURITY", "starttls")
    tls = run_cli(capsys, "email", "test", "--to", "me@kizuna.example")
    assert tls.code == 1
    assert f"the SMTP server 127.0.0.1:{port} does not offer STARTTLS" in tls.err
    monkeypatch.setenv("KIZUNA_SMTP_SECURITY", "tls")
    implicit = run_cli(capsys, "email", "test", "--to", "me@kizuna.example")
    assert implicit.code == 1
    assert "TLS" in implicit.err

    auth_port = _free_port()
    controller = Controller(Inbox(), hostname="127.0.0.1", port=auth_port, auth_required=True,
                            auth_require_tls=False, authenticator=_auth)  # fmt: skip
    controller.start()
    try:
        monkeypatch.setenv("KIZUNA_SMTP_SECURITY", "none")
        monkeypatch.setenv("KIZUNA_SMTP_PORT", str(auth_port))
        monkeypatch.setenv("KIZUNA_SMTP_USERNAME", "kizuna")
        monkeypatch.setenv("KIZUNA_SMTP_PASSWORD", "wrong")
        auth = run_cli(capsys, "email", "test", "--to", "me@kizuna.example")
        assert auth.code == 1
        assert f"the SMTP server 127.0.0.1:{auth_port} refused the login of kizuna" in auth.err
        ja = run_cli(capsys, "--lang", "ja", "email", "test", "--to", "me@kizuna.example")
        assert ja.code == 1
        assert "ログインを拒否しました" in ja.err
        monkeypatch.setenv("KIZUNA_SMTP_PASSWORD", "right")
        assert run_cli(capsys, "email", "test", "--to", "me@kizuna.example").code == 0
    finally:
        controller.stop()
    helped = run_cli(capsys, "--lang", "ja", "email", "test", "--help")
    assert "テストメール" in helped.out


# --- Slack: alerts and playbook steps ----------------------------------------------------------------


def _snapshot(app: FastAPI, account: int, day: date, score: float, grade: str) -> None:
    sql(app, "INSERT INTO health_snapshots (account_id, day, scorecard, score, grade, letter, measures, explanation)"
             " VALUES (:a, :d, 'default', :s, :g, 'C', '{}', '[]')", a=account, d=day, s=score, g=grade)  # fmt: skip


@pytest.fixture
def slack() -> Iterator[Receiver]:
    made = Receiver()
    try:
        yield made
    finally:
        made.close()


def test_an_account_turning_red_posts_one_slack_message(tmp_path: Any, slack: Receiver) -> None:
    app = _app(tmp_path, slack_webhook_url=slack.url, base_url="https://kizuna.example.co.jp", mail_language="en")
    owner = make_user(app, "owner@kizuna.example", "csm", name="担当 太郎")
    turned = add_account(app, "T", owner=owner)
    stayed = add_account(app, "S", owner=owner)
    first = add_account(app, "F", owner=None)
    _snapshot(app, turned, TODAY - timedelta(days=3), 55, "yellow")
    _snapshot(app, turned, TODAY, 31.4, "red")
    _snapshot(app, stayed, TODAY - timedelta(days=1), 30, "red")
    _snapshot(app, stayed, TODAY, 28, "red")
    _snapshot(app, first, TODAY, 20, "red")  # first scored: it did not turn
    engine, context = app.state.kizuna.engine, app.state.kizuna.context
    for _ in range(2):  # the daily job twice: one message
        report = run_job(engine, context, "daily", as_of=TODAY, only=["alerts"])
        assert report.ok, report.steps
    assert deliver(engine, context).sent == 1
    [(headers, body)] = slack.requests
    assert json.loads(body) == {"text": f"🔴 T 株式会社 turned red (health 31, was yellow). Owner: 担当 太郎. "
                                        f"https://kizuna.example.co.jp/accounts/{turned}"}
    assert headers["idempotency-key"] == f"alert:red:{turned}:2026-11-20"
    assert "x-kizuna-signature" not in headers
    app.state.kizuna.engine.dispose()


def test_slack_alerts_are_retried_through_the_outbox(tmp_path: Any, slack: Receiver) -> None:
    app = _app(tmp_path, slack_webhook_url=slack.url)
    acc = add_account(app, "T", owner=None)
    _snapshot(app, acc, TODAY - timedelta(days=1), 60, "green")
    _snapshot(app, acc, TODAY, 20, "red")
    with app.state.kizuna.unit_of_work() as session:
        assert alerts.red_alerts(session, TODAY, app.state.kizuna.context) == 1
    slack.answers = [503]
    t0 = datetime.now(UTC) + timedelta(seconds=1)
    assert _deliver(app, t0).retrying == 1
    assert _deliver(app, t0 + timedelta(seconds=31)).sent == 1
    assert len(slack.requests) == 2
    app.state.kizuna.engine.dispose()


def test_a_playbook_webhook_step_without_a_url_posts_to_the_slack_setting(tmp_path: Any, slack: Receiver) -> None:
    app = _app(tmp_path, slack_webhook_url=slack.url)
    acc = add_account(app, "R", owner=None, score=30, grade="red", at_risk=True)
    _load(app, """
[playbooks.alert]
name = "Alert"
trigger = { kind = "at_risk" }
steps = [{ kind = "webhook", text = "{account} is at risk (health {health_score})" }]
""")
    _run(app, TODAY)
    assert _deliver(app).sent == 1
    assert json.loads(slack.requests[0][1]) == {"text": "R 株式会社 is at risk (health 30)"}
    assert "Slack message" in _log(app, acc)
    app.state.kizuna.engine.dispose()
    (tmp_path / "bare").mkdir()
    bare = _app(tmp_path / "bare")
    acc2 = add_account(bare, "R", owner=None, score=30, grade="red", at_risk=True)
    _load(bare, """
[playbooks.alert]
name = "Alert"
trigger = { kind = "at_risk" }
steps = [{ kind = "webhook", text = "{account}" }]
""")
    _run(bare, TODAY)
    assert "webhook skipped: no URL in the step and no Slack webhook in the settings" in _log(bare, acc2)
    bare.state.kizuna.engine.dispose()


# --- assignee rules ------------------------------------------------------------------------------------

RULES = """
[playbooks.rr]
name = "Round robin"
trigger = { kind = "at_risk" }
steps = [{ kind = "task", title = "Call {account}", assignee = "round_robin", users = ["a@kizuna.example", "b@kizuna.example", "c@kizuna.example"] }]

[playbooks.lead]
name = "To the lead"
trigger = { kind = "at_risk" }
steps = [{ kind = "task", title = "Review {account}", assignee = "lead", lead = "boss@kizuna.example" }]
"""


def _assignees(app: FastAPI, source: str) -> list[tuple[str, str | None]]:
    return [(r[0], r[1]) for r in sql(app, "SELECT a.external_id, u.email FROM tasks t JOIN accounts a ON a.id = "
                                           "t.account_id LEFT JOIN users u ON u.id = t.assignee_id WHERE t.source = :s"
                                           " ORDER BY a.id", s=source)]  # fmt: skip


def test_round_robin_is_fair_and_carries_over_between_runs_and_lead_follows_the_team(
    tmp_path: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    app = _app(tmp_path)
    owner = make_user(app, "owner@kizuna.example", "csm")
    loner = make_user(app, "loner@kizuna.example", "csm")
    for email in ("a", "b", "c", "boss", "teamlead"):
        make_user(app, f"{email}@kizuna.example", "lead" if "lead" in email or email == "boss" else "csm")
    monkeypatch.setenv("KIZUNA_DATABASE_URL", f"sqlite:///{tmp_path / 'k.db'}")
    assert run_cli(capsys, "users", "set-lead", "--email", "owner@kizuna.example",
                   "--lead", "teamlead@kizuna.example").code == 0  # fmt: skip
    circle = run_cli(capsys, "users", "set-lead", "--email", "teamlead@kizuna.example", "--lead", "owner@kizuna.example")
    assert circle.code == 1
    assert "makes a circle" in circle.err
    _load(app, RULES)
    for i in range(4):
        add_account(app, f"D1-{i}", owner=owner if i % 2 == 0 else loner, score=30, grade="red", at_risk=True)
    _run(app, TODAY)
    sql(app, "UPDATE users SET is_active = :no WHERE email = 'b@kizuna.example'", no=False)
    for i in range(3):
        add_account(app, f"D2-{i}", owner=owner, score=30, grade="red", at_risk=True)
    _run(app, TODAY + timedelta(days=1))
    assert _assignees(app, "playbook:rr") == [
        ("D1-0", "a@kizuna.example"), ("D1-1", "b@kizuna.example"), ("D1-2", "c@kizuna.example"),
        ("D1-3", "a@kizuna.example"),
        # the next day the turn carries on from b — who left, so c, then a, then (b still gone) c
        ("D2-0", "c@kizuna.example"), ("D2-1", "a@kizuna.example"), ("D2-2", "c@kizuna.example"),
    ]  # fmt: skip
    # lead: the owner's team lead, else the step's configured lead
    assert _assignees(app, "playbook:lead") == [
        ("D1-0", "teamlead@kizuna.example"), ("D1-1", "boss@kizuna.example"), ("D1-2", "teamlead@kizuna.example"),
        ("D1-3", "boss@kizuna.example"), ("D2-0", "teamlead@kizuna.example"), ("D2-1", "teamlead@kizuna.example"),
        ("D2-2", "teamlead@kizuna.example"),
    ]  # fmt: skip
    app.state.kizuna.engine.dispose()


@pytest.mark.parametrize(
    ("step", "path", "why"),
    [
        ('{ kind = "task", title = "x", assignee = "round_robin" }', "p.steps[1].users", "round robin needs"),
        ('{ kind = "task", title = "x", users = ["a@x.example"] }', "p.steps[1].users", "only a round-robin"),
        ('{ kind = "task", title = "x", assignee = "round_robin", users = ["nobody"] }', "p.steps[1].users[0]",
         "must be an email address"),
        ('{ kind = "task", title = "x", assignee = "boss" }', "p.steps[1].assignee", "owner, lead, round_robin"),
        ('{ kind = "branch", if = { field = "mood", op = "<", value = 1 }, then = [] }', "p.steps[1].if.field",
         "must be one of"),
        ('{ kind = "branch", if = { field = "health_score", op = "~", value = 1 }, then = [] }', "p.steps[1].if.op",
         "must be one of"),
        ('{ kind = "branch", if = { field = "tier", value = "gold" }, then = [] }', "p.steps[1].if.value",
         "high, low, tech"),
        ('{ kind = "branch", if = { field = "tier", value = "high" } }', "p.steps[1].then", "needs steps"),
        ('{ kind = "branch", if = { field = "at_risk", value = true }, then = [{ kind = "wait", days = 0 }] }',
         "p.steps[1].then[1].days", "must be from 1 to 365"),
    ],
)
def test_a_bad_assignee_rule_or_branch_names_the_path(step: str, path: str, why: str) -> None:
    text = f'[playbooks.p]\nname = "P"\ntrigger = {{ kind = "at_risk" }}\nsteps = [{step}]\n'
    with pytest.raises(ConfigurationError) as caught:
        parse_playbooks(text, "mine.toml")
    assert caught.value.field == path
    assert why in caught.value.message


# --- branch steps ------------------------------------------------------------------------------------

BRANCH = """
[playbooks.br]
name = "Branch"
trigger = { kind = "at_risk" }

[[playbooks.br.steps]]
kind = "branch"
if = { field = "health_score", op = "<", value = 40 }
then = [{ kind = "task", title = "Executive call {account}", priority = "high" }, { kind = "wait", days = 2 }, { kind = "task", title = "Follow up {account}" }]
else = [{ kind = "task", title = "Check-in {account}" }]

[[playbooks.br.steps]]
kind = "task"
title = "Note {account}"
"""


def test_a_branch_takes_one_of_two_step_lists_and_waits_inside_it(tmp_path: Any) -> None:
    app = _app(tmp_path)
    low = add_account(app, "LOW", owner=None, score=30, grade="red", at_risk=True)
    mid = add_account(app, "MID", owner=None, score=45, grade="yellow", at_risk=True)
    _load(app, BRANCH)
    with app.state.kizuna.unit_of_work() as session:
        preview = playbooks.preview(session, "br", TODAY)
    assert {name: steps for _id, name, steps in preview.entering} == {
        "LOW 株式会社": ("branch health_score < 40: yes, then", "task “Executive call LOW 株式会社” due 2026-11-23",
                       "wait 2 days", "task “Follow up LOW 株式会社” due 2026-11-23",
                       "task “Note LOW 株式会社” due 2026-11-23"),
        "MID 株式会社": ("branch health_score < 40: no, else", "task “Check-in MID 株式会社” due 2026-11-23",
                       "task “Note MID 株式会社” due 2026-11-23"),
    }  # fmt: skip
    _run(app, TODAY)
    titles = lambda a: [r[0] for r in sql(app, "SELECT title FROM tasks WHERE account_id = :a ORDER BY id", a=a)]  # noqa: E731
    assert titles(low) == ["Executive call LOW 株式会社"]
    assert titles(mid) == ["Check-in MID 株式会社", "Note MID 株式会社"]
    _run(app, TODAY + timedelta(days=2))
    _run(app, TODAY + timedelta(days=2))  # twice: nothing twice
    assert titles(low) == ["Executive call LOW 株式会社", "Follow up LOW 株式会社", "Note LOW 株式会社"]
    assert sql(app, "SELECT state FROM playbook_enrollments ORDER BY account_id") == [("completed",), ("completed",)]
    assert "2026-11-20 branch health_score < 40: yes, then" in _log(app, low)
    app.state.kizuna.engine.dispose()


# --- idempotent and safe ----------------------------------------------------------------------------


def test_the_daily_job_twice_sends_and_makes_nothing_twice(mail_app: FastAPI, smtp: tuple[Inbox, int]) -> None:
    inbox, _port = smtp
    app = mail_app
    owner = make_user(app, "owner@kizuna.example", "csm")
    acc = add_account(app, "A1", owner=owner, score=30, grade="red", at_risk=True)
    _contact(app, acc, "c1", "K", "k@acme.example", "en")
    _contact(app, acc, "c2", "L", "l@acme.example", "ja")
    _load(app, WELCOME + BRANCH)
    engine, context = app.state.kizuna.engine, app.state.kizuna.context
    counts = []
    for _ in range(2):
        report = run_job(engine, context, "daily", as_of=TODAY, only=["alerts", "playbooks", "digest"])
        assert report.ok, report.steps
        counts.append((sql(app, "SELECT count(*) FROM tasks")[0][0], sql(app, "SELECT count(*) FROM outbox")[0][0],
                       sql(app, "SELECT count(*) FROM playbook_enrollments")[0][0]))  # fmt: skip
    assert counts[0] == counts[1] == (1, 2, 2)
    assert deliver(engine, context).sent == 2
    assert deliver(engine, context).sent == 0
    assert len(inbox.messages) == 2


def test_a_failing_smtp_server_loses_no_playbook_email(tmp_path: Any, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    down = _app(tmp_path, smtp_host="127.0.0.1", smtp_port=_free_port(), outbox_backoff_seconds=60)
    acc = add_account(down, "A1", owner=None, score=30, grade="red", at_risk=True)
    _contact(down, acc, "c1", "K", "k@acme.example", "en")
    _load(down, WELCOME)
    _run(down, TODAY)
    t0 = datetime.now(UTC) + timedelta(seconds=1)
    for minutes in (0, 1, 3):
        report = _deliver(down, t0 + timedelta(minutes=minutes, seconds=1))
        assert report.sent == 0
        assert report.failed == 0
    with down.state.kizuna.unit_of_work() as session:
        [item] = outbox.list_items(session)
    assert (item.status, item.attempts) == ("pending", 3)
    down.state.kizuna.engine.dispose()
    up = _app(tmp_path, smtp_host="127.0.0.1", smtp_port=port, outbox_backoff_seconds=60)
    assert _deliver(up, t0 + timedelta(hours=1)).sent == 1
    assert [r for r, _m in inbox.messages] == [["k@acme.example"]]
    up.state.kizuna.engine.dispose()
