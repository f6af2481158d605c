"""Survey page under load (issue 17): the public answer page ``/s/{link}`` on a real
``kizuna serve`` over loopback.

Builds a store of ``--accounts`` accounts with one contact each, an NPS programme and one
invitation per contact (the emailed links), then — ``--concurrency`` clients at a time —
opens ``--requests`` survey pages (``GET /s/{link}``) and answers a share of them
(``POST /s/{link}``, each link once). Baseline in the same run: the sign-in page
(``GET /login``), a page of the same server with no store read. Reports p50/p95 of each and
the ratio. Target: survey page p95 < 100 ms.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import httpx

from benchmarks.web import _free_port, percentile


def _build(db: Path, accounts: int) -> list[str]:
    from sqlalchemy import text

    from kizuna.db import make_engine, session_scope
    from kizuna.db.schema import ensure_schema
    from kizuna.services import surveys
    from kizuna.services.context import RunContext

    engine = make_engine(f"sqlite:///{db}")
    ensure_schema(engine)
    now = datetime.now(UTC)
    context = RunContext(secret_key="benchmark-secret", survey_fatigue_days=0, survey_link_days=30)
    with session_scope(engine) as session:
        session.execute(text("INSERT INTO accounts (external_id, name, custom_fields, status, mrr, created_at, updated_at)"
                             " VALUES (:k, :n, '{}', 'active', 0, :t, :t)"),
                        [{"k": f"A{i}", "n": f"取引先 {i} 株式会社", "t": now} for i in range(accounts)])  # fmt: skip
        session.execute(text("INSERT INTO contacts (external_id, account_id, name, email, is_champion, language, "
                             "created_at, updated_at) SELECT 'C' || id, id, '担当 ' || id, 'c' || id || '@bench.example', "
                             "true, CASE WHEN id % 2 = 0 THEN 'ja' ELSE 'en' END, :t, :t FROM accounts"), {"t": now})  # fmt: skip
        surveys.create_programme(session, key="nps", name="NPS", kind="nps")
        rows = session.execute(text("SELECT c.id, c.account_id, c.name, c.email, c.language, c.unsubscribed_at, a.name "
                                    "FROM contacts c JOIN accounts a ON a.id = c.account_id")).all()  # fmt: skip
        who = [SimpleNamespace(id=r[0], account_id=r[1], name=r[2], email=r[3], language=r[4], unsubscribed_at=r[5])
               for r in rows]  # fmt: skip
        sent = surveys.invite(session, context, "nps", who, account_names={r[1]: r[6] for r in rows}, source="benchmark",
                              now=now, outbox_key="bench")  # fmt: skip
    engine.dispose()
    return [str(m[2]["text"]).split("/s/")[1].split()[0] for m in sent.messages]


def _timed(client: httpx.Client, method: str, url: str, **kw: object) -> tuple[float, int]:
    start = time.perf_counter()
    r = client.request(method, url, **kw)  # type: ignore[arg-type]
    return (time.perf_counter() - start) * 1000, r.status_code


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks surveys")
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--answer-share", type=float, default=0.3)
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="kizuna-survey-bench-"))
    db = work / "kizuna.db"
    started = time.perf_counter()
    links = _build(db, args.accounts)
    built = time.perf_counter() - started
    port = _free_port()
    env = {**os.environ, "KIZUNA_DATABASE_URL": f"sqlite:///{db}", "KIZUNA_SECRET_KEY": "benchmark-secret"}
    server = subprocess.Popen([sys.executable, "-m", "kizuna", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"{base}/login", timeout=2)
                break
            except httpx.HTTPError:
                if server.poll() is not None or time.monotonic() > deadline:
                    out = server.stdout.read().decode() if server.stdout else ""
                    raise RuntimeError(f"server did not start:\n{out}") from None
                time.sleep(0.2)
        rng = random.Random(42)
        pages = [rng.choice(links) for _ in range(args.requests)]
        answers = links[: int(len(links) * args.answer_share)]
        with httpx.Client(base_url=base, timeout=60) as warm:
            for link in pages[:20]:
                warm.get(f"/s/{link}")
                warm.get("/login")

        def run(jobs: list[tuple[str, str, dict[str, object]]]) -> tuple[list[float], dict[int, int]]:
            def one(job: tuple[str, str, dict[str, object]]) -> tuple[float, int]:
                with httpx.Client(base_url=base, timeout=60) as client:
                    return _timed(client, job[0], job[1], **job[2])

            with ThreadPoolExecutor(args.concurrency) as pool:
                done = list(pool.map(one, jobs))
            statuses: dict[int, int] = {}
            for _ms, status in done:
                statuses[status] = statuses.get(status, 0) + 1
            return [ms for ms, _s in done], statuses

        baseline, base_status = run([("GET", "/login", {})] * args.requests)
        page, page_status = run([("GET", f"/s/{link}", {}) for link in pages])
        answer, answer_status = run([("POST", f"/s/{link}", {"data": {"score": str(rng.randint(0, 10)), "why": "bench"}})
                                     for link in answers])  # fmt: skip
    finally:
        server.terminate()
        server.wait(10)

    def figures(values: list[float]) -> dict[str, float]:
        return {"p50_ms": round(percentile(values, 0.5), 1), "p95_ms": round(percentile(values, 0.95), 1)}

    return {
        "accounts": args.accounts, "invitations": len(links), "requests": args.requests,
        "concurrency": args.concurrency, "build_seconds": round(built, 1),
        "login_page": {**figures(baseline), "statuses": base_status},
        "survey_page": {**figures(page), "statuses": page_status},
        "survey_answer": {**figures(answer), "statuses": answer_status, "answers": len(answers)},
        "page_p95_vs_login_p95": round(percentile(page, 0.95) / max(percentile(baseline, 0.95), 0.1), 2),
        "target": {"survey_page_p95_ms": 100},
        "load_average_1m": round(os.getloadavg()[0], 1),
    }  # fmt: skip
