"""The engine room: the run context, the daily job as recorded steps, leases between
processes, the scheduler, the transactional outbox with a real SMTP server and a real
HTTP receiver, the admin page and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from kizuna.db import ensure_schema, make_engine, session_scope
from kizuna.demo import generate_demo
from kizuna.errors import ConfigurationError, InvalidInput
from kizuna.jobs import run_job
from kizuna.jobs.outbox import deliver
from kizuna.jobs.scheduler import Scheduler
from kizuna.main import create_app
from kizuna.services import jobs as records
from kizuna.services import outbox
from kizuna.services.context import MailConfig, OutboxConfig, RunContext, build_context
from kizuna.services.outbox import message_id_for, signature
from kizuna.settings import Settings
from tests.cli import run_cli
from tests.conftest import Inbox, make_user, sign_in

AS_OF = date(2026, 11, 20)
DAILY_STEPS = ["usage", "freshness", "summaries", "ltv", "tiers", "stages", "fit", "owners", "renewals", "health",
               "churn", "at_risk", "alerts", "opportunities", "playbooks", "digest", "optimize"]


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("jobs") / "demo.db"
    engine = make_engine(f"sqlite:///{path}")
    ensure_schema(engine)
    with session_scope(engine) as session:
        generate_demo(session, accounts=15, months=4, seed=3, as_of=AS_OF)
    engine.dispose()
    return path


@pytest.fixture
def store(demo_file: Path, tmp_path: Path) -> str:
    target = tmp_path / "store.db"
    target.write_bytes(demo_file.read_bytes())
    return f"sqlite:///{target}"


def _steps(url: str) -> list[tuple[str, str, str]]:
    engine = make_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT run_id, step, status FROM job_runs ORDER BY id")).all()
    engine.dispose()
    return [tuple(r) for r in rows]


# --- the run context -------------------------------------------------------------------------


def test_two_apps_on_two_stores_with_their_own_settings_in_one_process(tmp_path: Path) -> None:
    """One store counts "Logged In" as a login, the other the default "Signed In": the same
    event sent to both rolls up differently, because each app passes its own context down."""
    mapping = tmp_path / "mapping.toml"
    mapping.write_text('[login]\nevents = ["Logged In"]\n', encoding="utf-8")
    apps = {
        "custom": create_app(Settings(database_url=f"sqlite:///{tmp_path / 'a.db'}", usage_mapping=mapping)),
        "default": create_app(Settings(database_url=f"sqlite:///{tmp_path / 'b.db'}", timezone="UTC")),
    }
    from tests.conftest import make_api_key

    when = datetime(2026, 11, 19, 23, 30, tzinfo=UTC)  # 08:30 on the 20th in Tokyo, the 19th in UTC
    for app in apps.values():
        key = make_api_key(app, scope="ingest")
        with TestClient(app) as client:
            auth = {"Authorization": f"Bearer {key}"}
            assert client.post("/v1/group", headers=auth, json={"userId": "U1", "groupId": "ACC-1",
                               "traits": {"name": "株式会社テスト"}}).status_code == 200  # fmt: skip
            assert client.post("/v1/identify", headers=auth, json={"userId": "U1", "context": {"groupId": "ACC-1"},
                               "traits": {"email": "u1@test.example"}}).status_code == 200  # fmt: skip
            for n, event in enumerate(("Logged In", "Signed In", "Signed In")):
                sent = client.post("/v1/track", headers=auth, json={"userId": "U1", "event": event, "messageId": f"m{n}",
                                   "context": {"groupId": "ACC-1"}, "timestamp": when.isoformat()})  # fmt: skip
                assert sent.status_code == 200
    logins = {}
    for name, app in apps.items():
        engine = app.state.kizuna.engine
        with engine.connect() as conn:
            logins[name] = [tuple(r) for r in conn.execute(text(
                "SELECT day, value FROM usage_daily WHERE metric = 'logins' ORDER BY day"))]  # fmt: skip
    assert logins["custom"] == [("2026-11-20", 1.0)]  # Tokyo day, one "Logged In"
    assert logins["default"] == [("2026-11-19", 2.0)]  # UTC day, two "Signed In"
    assert apps["custom"].state.kizuna.context.zone.key == "Asia/Tokyo"
    assert apps["default"].state.kizuna.context.zone.key == "UTC"


def test_no_module_keeps_configuration_state() -> None:
    from kizuna.services import health, segments, usage

    for module in (usage, segments, health):
        assert not hasattr(module, "configure"), module.__name__
        assert not hasattr(module, "configured"), module.__name__
        assert not hasattr(module, "_configured_path"), module.__name__


def test_a_bad_configuration_file_is_reported_when_the_context_is_built(tmp_path: Path) -> None:
    broken = tmp_path / "segments.toml"
    broken.write_text("[tiers\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"segments\.toml"):
        build_context(segments_config=broken)


# --- the daily job -----------------------------------------------------------------------------


def test_the_daily_job_records_every_step_and_a_second_run_changes_nothing(store: str) -> None:
    engine = make_engine(store)
    first = run_job(engine, RunContext(), "daily", as_of=AS_OF, trigger="cli")
    assert first.ok
    assert [s.step for s in first.steps] == DAILY_STEPS
    assert all(s.status == "succeeded" for s in first.steps)
    health_rows = next(s.rows for s in first.steps if s.step == "health")
    with engine.connect() as conn:
        snapshots = conn.execute(text("SELECT count(*) FROM health_snapshots WHERE day = :d"), {"d": str(AS_OF)}).scalar()
        paying = conn.execute(text("SELECT count(*) FROM accounts WHERE status IN ('active', 'trial')")).scalar()
    assert health_rows == snapshots
    assert snapshots >= paying > 0
    second = run_job(engine, RunContext(), "daily", as_of=AS_OF, trigger="cli")
    assert second.ok
    with engine.connect() as conn:
        again = conn.execute(text("SELECT count(*) FROM health_snapshots WHERE day = :d"), {"d": str(AS_OF)}).scalar()
    assert again == snapshots
    recorded = _steps(store)
    assert len(recorded) == 2 * len(DAILY_STEPS)
    assert {run for run, _s, _st in recorded} == {first.run_id, second.run_id}
    with session_scope(engine) as session:
        runs = records.recent_runs(session)
    assert [r.run_id for r in runs] == [second.run_id, first.run_id]
    assert runs[0].status == "succeeded"
    assert runs[0].as_of == AS_OF
    assert runs[0].seconds is not None
    engine.dispose()


def test_a_failed_step_skips_what_reads_it_and_the_next_run_retries_only_that(store: str, tmp_path: Path) -> None:
    cards = tmp_path / "cards.toml"
    cards.write_text("this is not a scorecard", encoding="utf-8")
    engine = make_engine(store)
    broken = RunContext(scorecards_path=cards)
    report = run_job(engine, broken, "daily", as_of=AS_OF)
    status = {s.step: s.status for s in report.steps}
    assert status == {"usage": "succeeded", "freshness": "succeeded", "summaries": "succeeded", "ltv": "succeeded",
                      "tiers": "succeeded",
                      "stages": "succeeded", "fit": "succeeded", "owners": "succeeded", "renewals": "succeeded",
                      "health": "failed", "churn": "skipped",
                      "at_risk": "skipped", "alerts": "skipped", "opportunities": "skipped", "playbooks": "skipped",
                      "digest": "skipped",
                      "optimize": "succeeded"}  # fmt: skip
    failed = next(s for s in report.steps if s.step == "health")
    assert "cards.toml" in (failed.error or "")
    assert next(s.error for s in report.steps if s.step == "at_risk") == "waits for: health"
    assert not report.ok
    from kizuna.jobs.runner import outstanding

    assert outstanding(engine, "daily", AS_OF) == ["health", "churn", "at_risk", "alerts", "opportunities", "playbooks",
                                                   "digest"]
    fixed = run_job(engine, RunContext(), "daily", as_of=AS_OF, pending_only=True)
    assert [s.step for s in fixed.steps] == ["health", "churn", "at_risk", "alerts", "opportunities", "playbooks",
                                             "digest"]
    assert fixed.ok
    assert outstanding(engine, "daily", AS_OF) == []
    engine.dispose()


def test_a_held_lease_stops_a_second_runner(store: str) -> None:
    engine = make_engine(store)
    with session_scope(engine) as session:
        assert records.take_lease(session, "daily", "other-machine:1", seconds=600)
    report = run_job(engine, RunContext(), "daily", as_of=AS_OF)
    assert not report.ran
    assert report.held_by == "other-machine:1"
    assert report.steps == []
    assert _steps(store) == []
    with session_scope(engine) as session:  # an expired lease is taken over
        assert records.take_lease(session, "daily", "other-machine:1", seconds=-1)
    assert run_job(engine, RunContext(), "daily", as_of=AS_OF, only=["summaries"]).ran
    with session_scope(engine) as session:
        assert records.lease_holder(session, "daily") is None  # given back at the end
    engine.dispose()


SCHEDULER_PROCESS = textwrap.dedent("""
    import sys
    from datetime import datetime, time
    from zoneinfo import ZoneInfo
    from kizuna.db import make_engine
    from kizuna.jobs.scheduler import Scheduler
    from kizuna.services.context import RunContext
    engine = make_engine(sys.argv[1])
    clock = lambda: datetime(2026, 11, 20, 4, 0, tzinfo=ZoneInfo("Asia/Tokyo"))
    ran = Scheduler(engine, RunContext(daily_at=time(3, 0)), clock=clock).run_pending()
    print("ran" if "daily" in ran else "idle")
""")


def test_two_scheduler_processes_on_one_store_run_the_daily_job_once(store: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    processes = [subprocess.Popen([sys.executable, "-c", SCHEDULER_PROCESS, store], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]  # fmt: skip
    outputs = [p.communicate(timeout=300) for p in processes]
    assert all(p.returncode == 0 for p in processes), [err[-2000:] for _out, err in outputs]
    said = sorted(out.strip() for out, _err in outputs)
    assert said == ["idle", "ran"]
    recorded = _steps(store)
    assert len({run for run, _s, _st in recorded}) == 1
    assert [step for _r, step, _st in recorded] == DAILY_STEPS


def test_the_scheduler_waits_for_its_time_and_retries_a_failed_step_later(store: str, tmp_path: Path) -> None:
    engine = make_engine(store)
    zone = RunContext().zone
    now = [datetime(2026, 11, 20, 2, 59, tzinfo=zone)]
    cards = tmp_path / "cards.toml"
    cards.write_text("broken", encoding="utf-8")
    scheduler = Scheduler(engine, RunContext(daily_at=time(3, 0), scorecards_path=cards), clock=lambda: now[0],
                          retry=timedelta(minutes=15))  # fmt: skip
    assert scheduler.run_pending() == []  # 02:59: not yet
    now[0] = datetime(2026, 11, 20, 3, 0, tzinfo=zone)
    assert scheduler.run_pending() == ["daily"]
    assert [st for _r, step, st in _steps(store) if step == "health"] == ["failed"]
    now[0] += timedelta(minutes=5)
    assert scheduler.run_pending() == []  # failed 5 minutes ago: waits for the retry interval
    cards.unlink()
    scheduler.context = RunContext(daily_at=time(3, 0))
    now[0] += timedelta(minutes=10)
    assert scheduler.run_pending() == ["daily"]
    last = [(step, st) for _r, step, st in _steps(store)][-7:]  # the failed step and the steps that read it
    assert last == [("health", "succeeded"), ("churn", "succeeded"), ("at_risk", "succeeded"), ("alerts", "succeeded"),
                    ("opportunities", "succeeded"), ("playbooks", "succeeded"), ("digest", "succeeded")]  # fmt: skip
    now[0] += timedelta(hours=1)
    assert scheduler.run_pending() == []  # done for today
    now[0] = datetime(2026, 11, 21, 3, 1, tzinfo=zone)
    assert scheduler.run_pending() == ["daily"]  # the next day
    engine.dispose()


def test_the_scheduler_thread_starts_and_stops_with_the_server(store: str) -> None:
    # no weekly digest: on its day (by the machine's clock) the run would add a delivery step
    app = create_app(Settings(database_url=store, daily_at=time(0, 0), digest_day="off"), scheduler=True)
    with TestClient(app):
        deadline = datetime.now(UTC) + timedelta(seconds=120)
        while datetime.now(UTC) < deadline and not any(s == "at_risk" for _r, s, _st in _steps(store)):
            threading.Event().wait(0.5)
    assert [step for _r, step, _st in _steps(store)] == DAILY_STEPS


# --- the outbox --------------------------------------------------------------------------------


class Receiver:
    """A local HTTP webhook receiver that stores each effect once per Idempotency-Key."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.effects: dict[str, bytes] = {}
        self.answers: list[int] = []  # status codes to answer, in order (then 200)
        self.on_request: Any = None
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                outer.requests.append((headers, body))
                if outer.on_request is not None:
                    outer.on_request()
                code = outer.answers.pop(0) if outer.answers else 200
                if code == 200:
                    outer.effects.setdefault(headers.get("idempotency-key", ""), body)
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    made = Receiver()
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def empty_store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'outbox.db'}"
    ensure_schema(make_engine(url))
    return url


def test_an_email_queued_with_its_change_arrives_once_with_its_key(empty_store: str, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    engine = make_engine(empty_store)
    context = RunContext(mail=MailConfig(host="127.0.0.1", port=port, sender="cs@kizuna.example"))
    with session_scope(engine) as session:
        first = outbox.enqueue_email(session, key="welcome:ACC-1", to=["keiko@customer.example"],
                                     subject="ようこそ", text="本文です", html="<p>本文です</p>")  # fmt: skip
        again = outbox.enqueue_email(session, key="welcome:ACC-1", to=["keiko@customer.example"], subject="x", text="y")
    assert first is not None
    assert again is None  # the same key is queued once
    report = deliver(engine, context)
    assert (report.sent, report.retrying, report.failed) == (1, 0, 0)
    assert len(inbox.messages) == 1
    rcpt, mail = inbox.messages[0]
    assert rcpt == ["keiko@customer.example"]
    assert mail["Subject"] == "ようこそ"
    assert mail["From"] == "cs@kizuna.example"
    assert mail["Message-ID"] == message_id_for("welcome:ACC-1", "cs@kizuna.example")
    assert mail["X-Kizuna-Idempotency-Key"] == "welcome:ACC-1"
    parts = {p.get_content_type(): p.get_payload(decode=True).decode() for p in mail.walk() if not p.is_multipart()}
    assert parts["text/plain"].strip() == "本文です"
    assert parts["text/html"].strip() == "<p>本文です</p>"
    assert deliver(engine, context).sent == 0  # nothing twice
    with session_scope(engine) as session:
        assert outbox.counts(session) == {"pending": 0, "sending": 0, "sent": 1, "failed": 0}


def test_a_rolled_back_change_sends_nothing(empty_store: str, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    engine = make_engine(empty_store)

    def change_that_fails() -> None:
        with session_scope(engine) as session:
            outbox.enqueue_email(session, key="k1", to=["a@customer.example"], subject="s", text="t")
            raise RuntimeError("the change failed after queueing")

    with pytest.raises(RuntimeError):
        change_that_fails()
    assert deliver(engine, RunContext(mail=MailConfig(host="127.0.0.1", port=port))).sent == 0
    assert inbox.messages == []


def test_a_down_smtp_server_loses_nothing_and_delivery_resumes(empty_store: str, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    engine = make_engine(empty_store)
    with session_scope(engine) as session:
        outbox.enqueue_email(session, key="k1", to=["a@customer.example"], subject="s", text="t")
    t0 = datetime.now(UTC) + timedelta(seconds=1)  # queued just now
    config = OutboxConfig(backoff_seconds=60)
    down = deliver(engine, RunContext(mail=MailConfig(host="127.0.0.1", port=1), outbox=config), now=t0)
    assert (down.sent, down.retrying) == (0, 1)
    with session_scope(engine) as session:
        [item] = outbox.list_items(session)
    assert item.status == "pending"
    assert "cannot reach the SMTP server" in (item.last_error or "")
    assert item.next_attempt_at == t0 + timedelta(seconds=60)
    up = RunContext(mail=MailConfig(host="127.0.0.1", port=port), outbox=config)
    assert deliver(engine, up, now=t0 + timedelta(seconds=59)).sent == 0  # not due yet
    assert deliver(engine, up, now=t0 + timedelta(seconds=61)).sent == 1
    assert len(inbox.messages) == 1


def test_a_down_smtp_server_is_logged_once_per_cause_not_once_per_email(
    empty_store: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = make_engine(empty_store)
    with session_scope(engine) as session:
        for i in range(5):
            outbox.enqueue_email(session, key=f"k{i}", to=[f"c{i}@customer.example"], subject="s", text="t")
    t0 = datetime.now(UTC) + timedelta(seconds=1)
    context = RunContext(mail=MailConfig(host="127.0.0.1", port=1), outbox=OutboxConfig(backoff_seconds=60))
    with caplog.at_level("WARNING", logger="kizuna.outbox"):
        assert deliver(engine, context, now=t0).retrying == 5
    lines = [r.getMessage() for r in caplog.records if r.name == "kizuna.outbox"]
    assert len(lines) == 2, lines
    assert "attempt 1 failed: cannot reach the SMTP server 127.0.0.1:1" in lines[0]
    assert lines[1].startswith("outbox: 4 more messages failed the same way: cannot reach the SMTP server 127.0.0.1:1")


def test_a_webhook_is_signed_retried_with_backoff_then_parked(empty_store: str, receiver: Receiver) -> None:
    engine = make_engine(empty_store)
    config = OutboxConfig(max_attempts=3, backoff_seconds=10, webhook_secret="s3cret")
    context = RunContext(outbox=config)
    with session_scope(engine) as session:
        outbox.enqueue_webhook(session, key="red:ACC-7:2026-11-20", url=receiver.url,
                               body={"text": "株式会社テスト turned red"}, account_id=7)  # fmt: skip
    receiver.answers = [503, 500]
    t0 = datetime.now(UTC) + timedelta(seconds=1)  # queued just now
    assert deliver(engine, context, now=t0).retrying == 1
    assert deliver(engine, context, now=t0 + timedelta(seconds=11)).retrying == 1  # 2nd attempt after 10 s
    assert deliver(engine, context, now=t0 + timedelta(seconds=25)).sent == 0  # 3rd waits 20 s
    assert deliver(engine, context, now=t0 + timedelta(seconds=32)).sent == 1
    assert len(receiver.requests) == 3
    headers, body = receiver.requests[-1]
    assert json.loads(body) == {"text": "株式会社テスト turned red"}
    assert headers["idempotency-key"] == "red:ACC-7:2026-11-20"
    assert headers["x-kizuna-signature"] == signature("s3cret", headers["x-kizuna-timestamp"], body)
    with session_scope(engine) as session:
        outbox.enqueue_webhook(session, key="k2", url=receiver.url, body={"n": 2})
    receiver.answers = [500, 500, 500]
    for seconds in (100, 200, 300):
        deliver(engine, context, now=t0 + timedelta(seconds=seconds))
    with session_scope(engine) as session:
        failed = outbox.list_items(session, status="failed")
        assert [(m.idempotency_key, m.attempts) for m in failed] == [("k2", 3)]
        assert failed[0].last_error == "HTTP 500 from " + receiver.url.split("/")[2]
        assert outbox.retry(session) == 1
    assert deliver(engine, context, now=t0 + timedelta(seconds=400)).sent == 1


def test_a_4xx_answer_parks_the_message_at_once(empty_store: str, receiver: Receiver) -> None:
    engine = make_engine(empty_store)
    with session_scope(engine) as session:
        outbox.enqueue_webhook(session, key="k", url=receiver.url, body={}, signed=False)
    receiver.answers = [404]
    report = deliver(engine, RunContext())
    assert (report.sent, report.retrying, report.failed) == (0, 0, 1)
    assert "x-kizuna-signature" not in receiver.requests[0][0]


DELIVERER_PROCESS = textwrap.dedent("""
    import sys
    from kizuna.db import make_engine
    from kizuna.jobs.outbox import deliver
    from kizuna.services.context import RunContext
    deliver(make_engine(sys.argv[1]), RunContext())
""")


def test_a_deliverer_killed_between_send_and_mark_sends_again_with_the_same_key(
    empty_store: str, receiver: Receiver
) -> None:
    engine = make_engine(empty_store)
    with session_scope(engine) as session:
        outbox.enqueue_webhook(session, key="renewal:ACC-3:T-30", url=receiver.url, body={"text": "renewal in 30 days"})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    process = subprocess.Popen([sys.executable, "-c", DELIVERER_PROCESS, empty_store], env=env)
    receiver.on_request = process.kill  # the deliverer dies while the receiver holds the request
    process.wait(timeout=120)
    receiver.on_request = None
    assert process.returncode != 0
    with session_scope(engine) as session:
        [item] = outbox.list_items(session)
    assert item.status == "sending"  # sent, never marked
    later = datetime.now(UTC) + timedelta(seconds=OutboxConfig().claim_seconds + 1)
    assert deliver(engine, RunContext(), now=later).sent == 1
    keys = [headers["idempotency-key"] for headers, _body in receiver.requests]
    assert keys == ["renewal:ACC-3:T-30", "renewal:ACC-3:T-30"]
    assert list(receiver.effects) == ["renewal:ACC-3:T-30"]  # the receiver stored it once


@pytest.mark.parametrize(
    ("call", "field"),
    [
        ({"to": [], "subject": "s", "text": "t"}, "to"),
        ({"to": ["no-at-sign"], "subject": "s", "text": "t"}, "to"),
        ({"to": ["a@b.example\nBcc: x@evil.example"], "subject": "s", "text": "t"}, "to"),
        ({"to": ["a@b.example"], "subject": "line\nBcc: x@evil.example", "text": "t"}, "subject"),
    ],
)
def test_bad_emails_are_refused_when_queued(empty_store: str, call: dict[str, Any], field: str) -> None:
    engine = make_engine(empty_store)
    with pytest.raises(InvalidInput) as refused, session_scope(engine) as session:
        outbox.enqueue_email(session, key="k", **call)
    assert refused.value.field == field


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "javascript:alert(1)", "hooks.example"])
def test_bad_webhook_urls_are_refused(empty_store: str, url: str) -> None:
    engine = make_engine(empty_store)
    with pytest.raises(InvalidInput, match="https://"), session_scope(engine) as session:
        outbox.enqueue_webhook(session, key="k", url=url, body={})


def test_keys_have_a_length_range(empty_store: str) -> None:
    engine = make_engine(empty_store)
    for key in ("", "   ", "k" * 201):
        with pytest.raises(InvalidInput, match="idempotency key"), session_scope(engine) as session:
            outbox.enqueue_webhook(session, key=key, url="https://hooks.example/x", body={})


# --- the admin page, the API twin and the CLI ------------------------------------------------------


def test_the_job_runs_page_and_its_twin_for_leads_only(store: str) -> None:
    # the store's own day (a Friday), not the machine's clock: on the digest day (Monday)
    # the job also sends the weekly digests, and they would fail beside the webhook
    assert AS_OF.weekday() == 4
    app = create_app(Settings(database_url=store, today=AS_OF))
    make_user(app, "lead@kizuna.example", role="lead")
    make_user(app, "csm@kizuna.example", role="csm")
    engine = app.state.kizuna.engine
    with session_scope(engine) as session:
        outbox.enqueue_webhook(session, key="k", url="http://127.0.0.1:1/x", body={})
    deliver(engine, RunContext(outbox=OutboxConfig(max_attempts=1)))
    with TestClient(app) as client:
        sign_in(client, "csm@kizuna.example")
        assert client.get("/admin/jobs").status_code == 403
        assert client.get("/api/jobs").status_code == 403
    with TestClient(app) as client:
        csrf = sign_in(client, "lead@kizuna.example")
        assert client.post("/admin/jobs/daily", data={}).status_code == 403  # no CSRF token
        ran = client.post("/admin/jobs/daily", data={"csrf_token": csrf}, follow_redirects=False)
        assert ran.status_code == 303
        assert ran.headers["location"] == "/admin/jobs?done=ran"
        page = client.get("/admin/jobs?done=ran")
        assert page.status_code == 200
        assert "日次ジョブを実行し、すべてのステップが成功しました。" in page.text  # pages default to Japanese
        assert page.text.count('data-status="succeeded"') == len(DAILY_STEPS)
        assert "cannot reach 127.0.0.1:1" in page.text
        twin = client.get("/api/jobs").json()
        assert [s["step"] for s in twin["runs"][0]["steps"]] == DAILY_STEPS
        assert twin["runs"][0]["trigger"] == "web"
        assert twin["runs"][0]["status"] == "succeeded"
        assert twin["outbox_counts"]["failed"] == 1
        assert twin["outbox_failed"][0]["target"] == "127.0.0.1:1"
        assert twin["scheduler"] == {"enabled": True, "daily_at": "03:00", "timezone": "Asia/Tokyo", "running": {}}
        retried = client.post("/admin/outbox/retry", data={"csrf_token": csrf}, follow_redirects=False)
        assert retried.headers["location"] == "/admin/jobs?done=retried"
        assert client.get("/api/jobs").json()["outbox_counts"]["pending"] == 1
    assert "/api/jobs" in app.openapi()["paths"]


def test_the_cli_runs_lists_and_reports(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                        store: str) -> None:  # fmt: skip
    monkeypatch.setenv("KIZUNA_DATABASE_URL", store)
    listed = run_cli(capsys, "jobs", "list")
    assert listed.code == 0
    assert "daily" in listed.out
    assert "outbox" in listed.out
    ran = run_cli(capsys, "jobs", "run", "daily", "--as-of", "2026-11-20", "--format", "json")
    assert ran.code == 0, ran.err
    report = json.loads(ran.out)
    assert report["ok"] is True
    assert [s["step"] for s in report["steps"]] == DAILY_STEPS
    only = run_cli(capsys, "jobs", "run", "daily", "--as-of", "2026-11-20", "--step", "tiers", "--step", "fit")
    assert only.code == 0
    status = run_cli(capsys, "jobs", "status", "--format", "json", "--limit", "2")
    assert [s["step"] for s in json.loads(status.out)["steps"]] == ["fit", "tiers"]
    pipeline = run_cli(capsys, "pipeline", "run", "--as-of", "2026-11-20")
    assert pipeline.code == 0
    assert "health scores" in pipeline.out
    assert len(_steps(store)) == 2 * len(DAILY_STEPS) + 2
    listed = run_cli(capsys, "outbox", "list", "--format", "json")
    assert json.loads(listed.out) == {"counts": {"pending": 0, "sending": 0, "sent": 0, "failed": 0}, "messages": []}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["jobs", "run", "weekly"], "no job named 'weekly': use one of daily, outbox"),
        (["jobs", "run", "daily", "--step", "healht"], "job daily has no step 'healht'"),
        (["jobs", "run", "daily", "--as-of", "2026-13-01"], "--as-of must be a date like 2025-03-31"),
        (["jobs", "status", "--format", "xml"], "--format must be one of table, json"),
        (["outbox", "list", "--status", "lost"], "unknown status 'lost'"),
        (["outbox", "purge", "--older-than", "-1"], "--older-than must be from 0 to 36500 days"),
    ],
)
def test_the_cli_refuses_bad_input_plainly(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                           empty_store: str, args: list[str], message: str) -> None:  # fmt: skip
    monkeypatch.setenv("KIZUNA_DATABASE_URL", empty_store)
    result = run_cli(capsys, *args)
    assert result.code == 1
    assert message in result.err
    assert "Traceback" not in result.err


def test_a_held_job_is_reported_by_the_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                           empty_store: str) -> None:  # fmt: skip
    monkeypatch.setenv("KIZUNA_DATABASE_URL", empty_store)
    engine = make_engine(empty_store)
    with session_scope(engine) as session:
        records.take_lease(session, "daily", "web-1:42", seconds=600)
    result = run_cli(capsys, "jobs", "run", "daily")
    assert result.code == 1
    assert "Job daily is running in another process (web-1:42); nothing was done." in result.out


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("KIZUNA_SMTP_SECURITY", "ssl3", "SMTP security must be none, starttls or tls"),
        ("KIZUNA_DAILY_AT", "25:00", "KIZUNA_DAILY_AT"),
        ("KIZUNA_OUTBOX_MAX_ATTEMPTS", "0", "KIZUNA_OUTBOX_MAX_ATTEMPTS"),
        ("KIZUNA_SMTP_PORT", "70000", "KIZUNA_SMTP_PORT"),
        ("KIZUNA_DIGEST_DAY", "caturday", "KIZUNA_DIGEST_DAY must be one of monday"),
        ("KIZUNA_BASE_URL", "javascript:alert(1)", "KIZUNA_BASE_URL must be an http:// or https:// address"),
    ],
)
def test_bad_job_and_mail_settings_are_named(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                             empty_store: str, name: str, value: str, message: str) -> None:  # fmt: skip
    monkeypatch.setenv("KIZUNA_DATABASE_URL", empty_store)
    monkeypatch.setenv(name, value)
    result = run_cli(capsys, "jobs", "status")
    assert result.code == 1
    assert message in result.err
