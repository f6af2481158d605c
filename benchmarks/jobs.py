"""Jobs and outbox benchmark.

1. **Outbox delivery**: N webhooks queued, then delivered by the outbox job to a local
   HTTP receiver (a threading ``http.server`` on loopback); N emails delivered to a local
   SMTP server (aiosmtpd). Baseline in the same run: the same requests and emails sent
   bare (a urllib POST loop; ``send_message`` over one SMTP connection), without the
   outbox's claim and mark transactions. Target: ≥ 200 messages/s to the local receiver.
2. **The daily job**: the demo company (``--accounts``, default 10,000) built once; then on
   two copies of it, the daily steps in one transaction (``run_daily``, how the pipeline
   ran before the jobs layer) and the recorded job (``run_job``: a transaction and a
   ``job_runs`` record per step). Total and per-step seconds.

Options: ``--messages N`` (default 2000), ``--accounts N`` (default 10000; 0 skips part 2).
"""

from __future__ import annotations

import argparse
import shutil
import smtplib
import socket
import tempfile
import threading
import time
import urllib.request
from datetime import date
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

AS_OF = date(2026, 11, 20)


class _Hook(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real receivers (Slack, …) do
    received = 0

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).received += 1
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


class _Sink:
    received = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        type(self).received += 1
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def outbox_delivery(n: int, folder: Path) -> dict[str, Any]:
    from aiosmtpd.controller import Controller

    from kizuna.db import ensure_schema, make_engine, session_scope
    from kizuna.jobs.outbox import deliver
    from kizuna.services import outbox
    from kizuna.services.context import MailConfig, RunContext

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    port = _free_port()
    controller = Controller(_Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    results: dict[str, Any] = {"messages": n}
    try:
        start = time.perf_counter()
        for i in range(n):
            request = urllib.request.Request(url, data=b'{"text": "bare"}', method="POST",
                                             headers={"Content-Type": "application/json", "Idempotency-Key": f"b{i}"})  # fmt: skip
            with urllib.request.urlopen(request, timeout=10) as answer:
                answer.read()
        bare = time.perf_counter() - start

        engine = make_engine(f"sqlite:///{folder / 'outbox.db'}")
        ensure_schema(engine)
        with session_scope(engine) as session:
            for i in range(n):
                outbox.enqueue_webhook(session, key=f"hook-{i}", url=url, body={"text": f"アカウント {i} が赤になりました"})
        start = time.perf_counter()
        report = deliver(engine, RunContext())
        delivered = time.perf_counter() - start
        assert report.sent == n, report
        results["webhook"] = {"outbox_per_s": round(n / delivered, 1), "bare_per_s": round(n / bare, 1),
                              "ratio_outbox_to_bare": round(bare / delivered, 2), "target_per_s": 200}  # fmt: skip

        mail = MailConfig(host="127.0.0.1", port=port, sender="cs@kizuna.example")
        start = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for i in range(n):
                email = EmailMessage()
                email["From"], email["To"], email["Subject"] = mail.sender, "c@customer.example", f"bare {i}"
                email.set_content("本文")
                smtp.send_message(email)
        bare = time.perf_counter() - start
        with session_scope(engine) as session:
            for i in range(n):
                outbox.enqueue_email(session, key=f"mail-{i}", to=["c@customer.example"], subject=f"件名 {i}", text="本文")
        start = time.perf_counter()
        report = deliver(engine, RunContext(mail=mail))
        delivered = time.perf_counter() - start
        assert report.sent == n, report
        results["email"] = {"outbox_per_s": round(n / delivered, 1), "bare_per_s": round(n / bare, 1),
                            "ratio_outbox_to_bare": round(bare / delivered, 2)}  # fmt: skip
        engine.dispose()
    finally:
        controller.stop()
        server.shutdown()
    return results


def daily_job(accounts: int, folder: Path) -> dict[str, Any]:
    from kizuna.db import ensure_schema, make_engine, session_scope
    from kizuna.demo import generate_demo
    from kizuna.jobs import run_job
    from kizuna.services.context import RunContext
    from kizuna.services.pipeline import run_daily

    built = folder / "demo.db"
    engine = make_engine(f"sqlite:///{built}")
    ensure_schema(engine)
    start = time.perf_counter()
    with session_scope(engine) as session:
        generate_demo(session, accounts=accounts, months=24, seed=42, as_of=AS_OF)
    build_seconds = time.perf_counter() - start
    engine.dispose()
    copies = {}
    for name in ("one_transaction", "recorded_steps"):
        copies[name] = folder / f"{name}.db"
        shutil.copyfile(built, copies[name])
    engine = make_engine(f"sqlite:///{copies['one_transaction']}")
    start = time.perf_counter()
    with session_scope(engine) as session:
        before = run_daily(session, AS_OF, RunContext())
    before_total = time.perf_counter() - start
    engine.dispose()
    engine = make_engine(f"sqlite:///{copies['recorded_steps']}")
    start = time.perf_counter()
    report = run_job(engine, RunContext(), "daily", as_of=AS_OF)
    after_total = time.perf_counter() - start
    engine.dispose()
    assert report.ok, report
    return {
        "accounts": accounts,
        "build_seconds": round(build_seconds, 1),
        "one_transaction_seconds": round(before_total, 2),
        "recorded_steps_seconds": round(after_total, 2),
        "ratio_recorded_to_one_transaction": round(after_total / before_total, 3),
        "steps_one_transaction": {r.name: round(r.seconds, 2) for r in before},
        "steps_recorded": {s.step: round(s.seconds, 2) for s in report.steps},
    }


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="benchmarks jobs")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--accounts", type=int, default=10_000)
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="kizuna-bench-jobs-"))
    try:
        result: dict[str, Any] = {"outbox": outbox_delivery(args.messages, folder)}
        if args.accounts:
            result["daily_job"] = daily_job(args.accounts, folder)
        return result
    finally:
        shutil.rmtree(folder, ignore_errors=True)
