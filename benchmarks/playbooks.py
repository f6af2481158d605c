"""Playbooks and customer email benchmark (issue 15).

1. **Playbook evaluation in the daily job**: ``--accounts`` accounts (default 100,000; a
   contact each) with tiers, stages, health, at-risk flags and renewals spread as in the
   demo, and 30 playbooks (tasks with each assignee rule, emails in two languages, Slack
   steps, waits, branches; holdouts). The ``playbooks`` step runs three days in a row:
   day 1 (a fresh install: every account meeting a trigger enters at once, the backlog),
   day 2 (steady state: few enter, the waits are not due) and day 8 (the 7-day waits fall
   due). Seconds per run, what it did, and the process's peak memory (its own child
   process, so nothing else is counted). Baseline in the same run: reading the accounts'
   figures alone (what any evaluation must read). Target: < 60 s a run at 100,000 × 30.
2. **Customer email delivery**: the playbook emails queued on day 1 (each with its signed
   unsubscribe link and List-Unsubscribe headers) delivered by the outbox to a local SMTP
   server (aiosmtpd), without and with a per-domain rate limit that never binds (its
   bookkeeping cost). Baseline: the same number of emails sent bare over one SMTP
   connection. Emails/s.

Options: ``--accounts N`` (default 100000), ``--emails N`` (at most this many delivered,
default 5000).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

AS_OF = date(2026, 11, 20)
TIERS = ("high", "low", "tech")
STAGES = ("onboarding", "adoption", "expansion", "renewal")


def _playbooks() -> str:
    """30 playbooks: the default library's 8 and 22 more over triggers × tiers × stages."""
    from kizuna.services.playbooks import default_library_text

    out = [default_library_text()]
    triggers = [('{ kind = "at_risk" }', "risk"), ('{ kind = "health_grade", grade = "red" }', "red"),
                ('{ kind = "health_drop", points = 10 }', "drop"), ('{ kind = "renewal_in_days", days = 60 }', "ren"),
                ('{ kind = "stage", stage = "adoption" }', "adopt"), ('{ kind = "new_account", days = 30 }', "new"),
                ('{ kind = "stage", stage = "expansion" }', "expand"), ('{ kind = "health_grade", grade = "yellow" }', "yellow")]  # fmt: skip
    n = 0
    for trigger, name in triggers:
        for tier in TIERS:
            if n == 22:
                break
            n += 1
            key = f"bench-{name}-{tier}"
            out.append(f"""
[playbooks.{key}]
name = "{key}"
trigger = {trigger}
filters = {{ tier = ["{tier}"] }}
cooldown_days = 30
holdout = 0.1

[[playbooks.{key}.steps]]
kind = "branch"
if = {{ field = "health_score", op = "<", value = 40 }}
then = [{{ kind = "task", title = "Call {{account}} ({{health_score}})", assignee = "round_robin", users = ["a@bench.example", "b@bench.example", "c@bench.example"] }}]
else = [{{ kind = "task", title = "Check {{account}}", assignee = "lead", lead = "lead@bench.example" }}]

[[playbooks.{key}.steps]]
kind = "email"
to = "all_contacts"
ja = {{ subject = "{{{{ account }}}} 様へのご連絡", body = "{{{{ contact }}}} 様\\n担当 {{{{ owner }}}}\\n{{{{ unsubscribe_url }}}}" }}
en = {{ subject = "A note for {{{{ account }}}}", body = "Dear {{{{ contact }}}},\\n{{{{ owner }}}}\\n{{{{ unsubscribe_url }}}}" }}

[[playbooks.{key}.steps]]
kind = "wait"
days = 7

[[playbooks.{key}.steps]]
kind = "webhook"
text = "{{account}}: {key}"
""")
    return "\n".join(out)


def build(path: Path, accounts: int) -> dict[str, Any]:
    """A store with ``accounts`` accounts (one contact each), 5 users and the 30 playbooks."""
    from sqlalchemy import insert

    from kizuna.db import ensure_schema, make_engine, session_scope
    from kizuna.db.models import Account, Contact, User
    from kizuna.services import playbooks

    engine = make_engine(f"sqlite:///{path}")
    ensure_schema(engine)
    rng = random.Random(42)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    start = time.perf_counter()
    with session_scope(engine) as session:
        session.execute(insert(User), [
            {"email": f"{n}@bench.example", "name": n, "role": "lead" if n == "lead" else "csm", "is_active": True,
             "created_at": now, "updated_at": now} for n in ("lead", "a", "b", "c", "owner")])  # fmt: skip
        owner_ids = [2, 3, 4, 5]
        rows, contacts = [], []
        for i in range(1, accounts + 1):
            score = max(0.0, min(100.0, rng.gauss(62, 18)))
            grade = "red" if score < 40 else "yellow" if score < 65 else "green"
            rows.append({
                "id": i, "external_id": f"ACC-{i}", "name": f"取引先 {i}", "owner_id": owner_ids[i % 4],
                "custom_fields": {}, "status": "active", "mrr": rng.randint(1, 100) * 10_000, "currency": "JPY",
                "renewal_on": AS_OF + timedelta(days=rng.randint(1, 365)), "contract_term_months": 12,
                "customer_since": AS_OF - timedelta(days=rng.randint(1, 1500)),
                "touch_tier": TIERS[min(2, int(rng.random() * 3))], "lifecycle_stage": rng.choice(STAGES),
                "at_risk": score < 45 and rng.random() < 0.6, "health_score": score, "health_grade": grade,
                "health_as_of": AS_OF, "created_at": now, "updated_at": now,
            })  # fmt: skip
            contacts.append({"external_id": f"C-{i}", "account_id": i, "name": f"担当者 {i}",
                             "email": f"c{i}@customer{i % 50}.example", "is_champion": True,
                             "language": "en" if i % 5 == 0 else "ja", "created_at": now, "updated_at": now})  # fmt: skip
            if len(rows) == 10_000:
                session.execute(insert(Account), rows)
                session.execute(insert(Contact), contacts)
                rows, contacts = [], []
        if rows:
            session.execute(insert(Account), rows)
            session.execute(insert(Contact), contacts)
        saved = playbooks.save(session, _playbooks(), "bench.toml")
    engine.dispose()
    assert len(saved) == 30, len(saved)
    return {"accounts": accounts, "playbooks": len(saved), "build_seconds": round(time.perf_counter() - start, 1)}


def _child(path: str, what: str) -> None:
    """One measured run in this (child) process; prints its figures as JSON."""
    from kizuna.db import make_engine, session_scope
    from kizuna.services import accounts as accounts_service
    from kizuna.services import playbooks
    from kizuna.services.context import RunContext

    engine = make_engine(f"sqlite:///{path}")
    context = RunContext(public_url="https://kizuna.example.co.jp", secret_key="bench",
                         slack_webhook_url="http://127.0.0.1:9/hook")  # fmt: skip
    day = AS_OF + timedelta(days={"baseline": 0, "day1": 0, "day2": 1, "day8": 7}[what])
    start = time.perf_counter()
    with session_scope(engine) as session:
        if what == "baseline":
            rows = accounts_service.all_accounts(session, accounts_service.AccountQuery(sort="name"), as_of=day)
            done = len(rows)
        else:
            done = playbooks.run(session, day, context)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": round(seconds, 2), "actions": done, "peak_rss_mb": round(peak, 1)}))


def _measure(path: Path, what: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "benchmarks.playbooks", "--child", str(path), what],
                         capture_output=True, text=True, check=True, env=os.environ.copy())  # fmt: skip
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def evaluation(folder: Path, accounts: int) -> dict[str, Any]:
    from sqlalchemy import text

    from kizuna.db import make_engine, session_scope

    path = folder / "playbooks.db"
    result: dict[str, Any] = build(path, accounts)
    result["baseline_read_accounts"] = _measure(path, "baseline")
    for day in ("day1", "day2", "day8"):
        result[day] = _measure(path, day)
        result[day]["ratio_to_baseline"] = round(result[day]["seconds"] / result["baseline_read_accounts"]["seconds"], 2)
    engine = make_engine(f"sqlite:///{path}")
    with session_scope(engine) as session:
        count = lambda sql: int(session.execute(text(sql)).scalar_one())  # noqa: E731
        result["made"] = {"enrollments": count("SELECT count(*) FROM playbook_enrollments"),
                          "held_out": count("SELECT count(*) FROM playbook_enrollments WHERE holdout"),
                          "tasks": count("SELECT count(*) FROM tasks"),
                          "emails": count("SELECT count(*) FROM outbox WHERE kind = 'email'"),
                          "webhooks": count("SELECT count(*) FROM outbox WHERE kind = 'webhook'")}  # fmt: skip
    engine.dispose()
    result["target_seconds"] = 60
    return result


class _Sink:
    received = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        type(self).received += 1
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def delivery(folder: Path, emails: int) -> dict[str, Any]:
    """The day-1 playbook emails (at most ``emails``) to a local SMTP server, emails/s."""
    from aiosmtpd.controller import Controller
    from sqlalchemy import text

    from kizuna.db import make_engine, session_scope
    from kizuna.jobs.outbox import deliver
    from kizuna.services.context import MailConfig, OutboxConfig, RunContext

    port = _free_port()
    controller = Controller(_Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    mail = MailConfig(host="127.0.0.1", port=port, sender="cs@kizuna.example")
    results: dict[str, Any] = {}
    try:
        src = folder / "playbooks.db"
        for name, rate in (("no_limit", 0), ("domain_limit_not_binding", 1_000_000)):
            copy = folder / f"deliver-{name}.db"
            shutil.copyfile(src, copy)
            engine = make_engine(f"sqlite:///{copy}")
            with session_scope(engine) as session:  # keep ``emails`` of them; park the webhooks (no receiver here)
                session.execute(text("UPDATE outbox SET status = 'failed' WHERE kind = 'webhook' OR id NOT IN "
                                     "(SELECT id FROM outbox WHERE kind = 'email' ORDER BY id LIMIT :n)"), {"n": emails})  # fmt: skip
                n = int(session.execute(text("SELECT count(*) FROM outbox WHERE status = 'pending'")).scalar_one())
            context = RunContext(mail=mail, outbox=OutboxConfig(domain_rate_per_minute=rate))
            start = time.perf_counter()
            report = deliver(engine, context, limit=500, rounds=10_000)
            seconds = time.perf_counter() - start
            assert report.sent == n, report
            results[name] = {"emails": n, "seconds": round(seconds, 2), "per_s": round(n / seconds, 1)}
            engine.dispose()
        n = results["no_limit"]["emails"]
        start = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for i in range(n):
                email = EmailMessage()
                email["From"], email["To"], email["Subject"] = mail.sender, f"c{i}@customer.example", f"bare {i}"
                email.set_content("本文")
                smtp.send_message(email)
        bare = time.perf_counter() - start
        results["bare_smtp_per_s"] = round(n / bare, 1)
        results["ratio_outbox_to_bare"] = round(results["no_limit"]["per_s"] / results["bare_smtp_per_s"], 2)
    finally:
        controller.stop()
    return results


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="benchmarks playbooks")
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--emails", type=int, default=5000)
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="kizuna-bench-playbooks-"))
    try:
        result = {"evaluation": evaluation(folder, args.accounts)}
        if args.emails:
            result["delivery"] = delivery(folder, args.emails)
        return result
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3])
    else:
        print(json.dumps(main(sys.argv[1:]), indent=2, ensure_ascii=False))
