"""Ingestion benchmark: the tracking API under a retry storm, and under server kills.

For each store (an SQLite file; PostgreSQL started from the machine's binaries):
creates a fresh store with N accounts and their contacts (``kizuna import``) and an
ingest key, starts ``kizuna serve`` on loopback, pre-generates batches of 100 ``track``
events (Segment payloads, Basic auth with the write key; 90 % from the last hour, 10 %
late by up to a week), and has C client processes
send every batch **twice** (the retry storm). Reports events/s accepted (distinct events
acknowledged per second of wall time), p50/p99 batch latency, and checks that the
store holds exactly the distinct events sent: none lost, none duplicated (also in the
rollups: the ``events`` metric sums to the number sent).

``--kill``: a second run on a fresh store SIGKILLs the server twice mid-load and
restarts it; clients retry each batch until acknowledged; then every acknowledged
event must be stored exactly once.

Baseline in the same run: the same load against a trivial endpoint that only reads
and parses the JSON body (``orjson``) and answers 200 — the HTTP + parsing floor on
this machine — so the figure is also a ratio.

    python -m benchmarks ingest -- --events 50000 --stores sqlite
"""

from __future__ import annotations

import argparse
import base64
import http.client
import multiprocessing as mp
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from benchmarks.common import run_measured

EVENTS = ("Signed In", "Report Created", "Dashboard Viewed", "Workflow Run", "Data Exported", "Invite Sent")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _kizuna(*args: str) -> list[str]:
    return [sys.executable, "-m", "kizuna", *args]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


# --- the store ---------------------------------------------------------------------------------


def prepare_store(url: str, folder: Path, accounts: int, users: int) -> str:
    """Accounts and contacts by CSV import, and an ingest key (returned)."""
    env = {"KIZUNA_DATABASE_URL": url}
    (folder / "accounts.csv").write_text(
        "external_id,name\n" + "".join(f"ACC-{i:06d},Company {i}\n" for i in range(accounts)), encoding="utf-8"
    )
    (folder / "contacts.csv").write_text(
        "external_id,account_external_id,name\n"
        + "".join(f"U-{i:06d}-{j},ACC-{i:06d},User {i}-{j}\n" for i in range(accounts) for j in range(users)),
        encoding="utf-8",
    )
    run_measured(_kizuna("import", "accounts", str(folder / "accounts.csv")), env)
    run_measured(_kizuna("import", "contacts", str(folder / "contacts.csv")), env)
    out = run_measured(_kizuna("apikey", "create", "--name", "benchmark", "--scope", "ingest"), env).stdout
    for token in out.split():
        if token.startswith("kz_"):
            return token
    raise RuntimeError(f"no key in: {out}")


def make_batches(n_events: int, batch: int, accounts: int, users: int, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    out = []
    run = uuid.uuid4().hex[:8]
    for b in range(0, n_events, batch):
        events = []
        for i in range(b, min(n_events, b + batch)):
            a = rng.randrange(accounts)
            name = rng.choice(EVENTS)
            props: dict[str, Any] = {"session_minutes": rng.randrange(1, 60)} if name == "Signed In" else {
                "plan": "pro", "page": f"/reports/{rng.randrange(100)}"}  # fmt: skip
            events.append({
                "type": "track", "userId": f"U-{a:06d}-{rng.randrange(users)}", "event": name,
                "messageId": f"{run}-{i}", "properties": props,
                "timestamp": (now - timedelta(seconds=rng.randrange(3600 if rng.random() < 0.9 else 7 * 86400))).isoformat(),
                "context": {"groupId": f"ACC-{a:06d}", "library": {"name": "analytics-python", "version": "2.3.2"}},
            })  # fmt: skip
        out.append(orjson.dumps({"batch": events, "sentAt": now.isoformat()}))
    return out


# --- servers ---------------------------------------------------------------------------------


def start_server(url: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KIZUNA_DATABASE_URL": url}
    server = subprocess.Popen(_kizuna("serve", "--port", str(port)), env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)  # fmt: skip
    _wait_for(port, server)
    return server


def _wait_for(port: int, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        if server.poll() is not None or time.monotonic() > deadline:
            err = server.stderr.read().decode() if server.stderr else ""
            raise RuntimeError(f"server did not start:\n{err}")
        time.sleep(0.1)


FLOOR_APP = """
import orjson, uvicorn
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = b""
    while True:
        m = await receive()
        body += m.get("body", b"")
        if not m.get("more_body"):
            break
    n = len(orjson.loads(body)["batch"])
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": orjson.dumps({"success": True, "stored": n})})
uvicorn.run(app, host="127.0.0.1", port=PORT, log_level="warning")
"""


def start_floor(port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen([sys.executable, "-c", FLOOR_APP.replace("PORT", str(port))],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    _wait_for(port, server)
    return server


# --- clients ---------------------------------------------------------------------------------


def _client(port: int, auth: str, batches: list[bytes], indices: list[int], times: int, retry: bool,
            acked: Any, results: Any) -> None:  # fmt: skip
    headers = {"Content-Type": "application/json", "Authorization": auth}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    latencies: list[float] = []
    stored = duplicates = failures = 0
    for i in indices:
        for _copy in range(times):
            while True:
                start = time.perf_counter()
                try:
                    conn.request("POST", "/v1/batch", body=batches[i], headers=headers)
                    response = conn.getresponse()
                    body = response.read()
                    status = response.status
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                    status, body = 0, b""
                if status == 200:
                    latencies.append(time.perf_counter() - start)
                    answer = orjson.loads(body)
                    stored += answer.get("stored", 0)
                    duplicates += answer.get("duplicates", 0)
                    if _copy == 0:
                        with acked.get_lock():
                            acked.value += 1
                    break
                if not retry:
                    failures += 1
                    break
                time.sleep(0.05)  # the server is down: try again until acknowledged
    results.put((latencies, stored, duplicates, failures))


def run_load(port: int, auth: str, batches: list[bytes], clients: int, times: int, *, retry: bool = False,
             on_progress: Any = None) -> dict[str, Any]:  # fmt: skip
    ctx = mp.get_context("fork")
    acked = ctx.Value("l", 0)
    results = ctx.Queue()
    procs = [ctx.Process(target=_client, args=(port, auth, batches, list(range(c, len(batches), clients)), times,
                                                retry, acked, results)) for c in range(clients)]  # fmt: skip
    start = time.perf_counter()
    for p in procs:
        p.start()
    gathered = []
    while len(gathered) < clients:
        if on_progress is not None:
            on_progress(acked.value / len(batches))
        try:
            gathered.append(results.get(timeout=0.2))
        except Exception:  # queue.Empty
            continue
    elapsed = time.perf_counter() - start
    for p in procs:
        p.join()
    latencies = [x for g in gathered for x in g[0]]
    return {
        "seconds": elapsed,
        "latencies": latencies,
        "stored": sum(g[1] for g in gathered),
        "duplicates": sum(g[2] for g in gathered),
        "failures": sum(g[3] for g in gathered),
    }


def check_store(url: str, expected: int) -> dict[str, int]:
    from sqlalchemy import text

    from kizuna.db import make_engine, usage_months

    engine = make_engine(url)
    with engine.connect() as conn:
        # the monthly rollup the database keeps (triggers on usage_daily) agrees with the days
        drift = usage_months.differences(conn, limit=5)
        assert not drift, f"usage_monthly differs from usage_daily: {drift}"
        rows = conn.execute(text("SELECT count(*), count(DISTINCT message_id) FROM usage_events")).one()
        events_metric = conn.execute(text("SELECT coalesce(sum(value), 0) FROM usage_daily WHERE metric = 'events'"))
        total = int(events_metric.scalar() or 0)
        parked = int(conn.execute(text("SELECT count(*) FROM ingest_parked")).scalar() or 0)
    engine.dispose()
    return {"sent_distinct": expected, "stored": int(rows[0]), "stored_distinct": int(rows[1]),
            "rolled_up_events": total, "parked": parked,
            "lost": expected - int(rows[1]), "duplicated": int(rows[0]) - int(rows[1])}  # fmt: skip


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def one_store(kind: str, url: str, folder: Path, args: argparse.Namespace, batches: list[bytes], n: int,
              kill: bool) -> dict[str, Any]:  # fmt: skip
    key = prepare_store(url, folder, args.accounts, args.users)
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    port = _free_port()
    server = start_server(url, port)
    kills: list[float] = []
    state = {"server": server}

    def progress(fraction: float) -> None:
        if kill and len(kills) < 2 and fraction >= (len(kills) + 1) / 3:
            state["server"].send_signal(signal.SIGKILL)
            state["server"].wait()
            kills.append(fraction)
            state["server"] = start_server(url, port)

    try:
        load = run_load(port, auth, batches, args.clients, 1 if kill else 2, retry=kill, on_progress=progress)
    finally:
        _stop(state["server"])
    check = check_store(url, n)
    lat = load["latencies"]
    result = {
        "store": kind,
        "mode": "kill and restart twice" if kill else "every batch sent twice",
        "events_per_second": round(n / load["seconds"]),
        "requests_per_second": round(len(lat) / load["seconds"]),
        "p50_ms": round(percentile(lat, 0.5) * 1000, 1),
        "p99_ms": round(percentile(lat, 0.99) * 1000, 1),
        "seconds": round(load["seconds"], 1),
        "answers_stored": load["stored"],
        "answers_duplicates": load["duplicates"],
        "failed_requests": load["failures"],
        **check,
        "ok": check["lost"] == 0
        and check["duplicated"] == 0
        and check["rolled_up_events"] == n
        and load["failures"] == 0,
    }
    if kill:
        result["killed_at_progress"] = [round(k, 2) for k in kills]
    return result


def in_process(kind: str, url: str, folder: Path, args: argparse.Namespace, batches: list[bytes],
               n: int) -> dict[str, Any]:  # fmt: skip
    """The store's side alone: each batch read as the API reads it (``read_request``) and handed to
    the app's ingestion writer (group commit, rollups journaled under load, the key's revocation
    checked per commit) from ``--clients`` threads, every batch twice (the second a duplicate the
    writer finds by its message ids). No HTTP, no uvicorn: what the server costs beyond the
    sandbox's per-request price, comparable across machines whose loopback differs."""
    from concurrent.futures import ThreadPoolExecutor

    from sqlalchemy import text

    from kizuna.db import make_engine
    from kizuna.jobs.usage_writer import start_writer
    from kizuna.services.usage.payload import parse_body, read_request
    from kizuna.settings import Settings

    prepare_store(url, folder, args.accounts, args.users)
    settings = Settings(database_url=url)
    engine = make_engine(url)
    with engine.connect() as conn:
        key_id = int(conn.execute(text("SELECT id FROM api_keys WHERE name = 'benchmark'")).scalar_one())
    writer = start_writer(engine, settings.run_context().rollup, defer_above=settings.rollup_defer_rate)
    zone = settings.zone
    stored = duplicates = 0

    def send(indices: list[int]) -> tuple[int, int]:
        got = dup = 0
        for i in indices:
            for _copy in range(2):
                messages, problems = read_request("batch", parse_body(batches[i]), source="benchmark",
                                                  received_at=datetime.now(UTC), zone=zone, body=batches[i])  # fmt: skip
                assert not problems, problems
                outcome = writer.submit(messages, key_id=key_id).result()
                got += outcome.stored
                dup += outcome.duplicates
        return got, dup

    start = time.perf_counter()
    cpu = time.process_time()
    with ThreadPoolExecutor(args.clients) as pool:
        for got, dup in pool.map(send, [list(range(c, len(batches), args.clients)) for c in range(args.clients)]):
            stored += got
            duplicates += dup
    writer.close()
    seconds = time.perf_counter() - start
    cpu = time.process_time() - cpu
    engine.dispose()
    check = check_store(url, n)
    return {
        "store": kind, "mode": "in process: writer only, every batch twice",
        "events_per_second": round(n / seconds), "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu, 1), "cpu_us_per_event": round(cpu / n * 1e6, 1),
        "answers_stored": stored, "answers_duplicates": duplicates, **check,
        "ok": check["lost"] == 0 and check["duplicated"] == 0 and check["rolled_up_events"] == n,
    }  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks ingest")
    parser.add_argument("--events", type=int, default=1_000_000, help="distinct events to send")
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--users", type=int, default=5, help="contacts per account")
    parser.add_argument("--stores", default="sqlite,postgres", help="sqlite, postgres or both (comma-separated)")
    parser.add_argument("--kill", action="store_true", help="also the run that kills the server twice")
    parser.add_argument("--kill-events", type=int, default=None, help="events in the kill run (default --events)")
    parser.add_argument("--in-process", action="store_true",
                        help="also each store's writer alone, without HTTP (read_request + the ingestion writer)")
    args = parser.parse_args(argv)

    batches = make_batches(args.events, args.batch, args.accounts, args.users)
    runs: list[dict[str, Any]] = []

    port = _free_port()
    floor = start_floor(port)
    try:
        base = run_load(port, "", batches, args.clients, 2)
    finally:
        _stop(floor)
    baseline = {"events_per_second": round(args.events / base["seconds"]),
                "p50_ms": round(percentile(base["latencies"], 0.5) * 1000, 1),
                "p99_ms": round(percentile(base["latencies"], 0.99) * 1000, 1)}  # fmt: skip
    print(f"baseline (parse-only endpoint): {baseline}", flush=True)

    pg = None
    try:
        for kind in [s.strip() for s in args.stores.split(",") if s.strip()]:
            modes: list[bool | None] = [False, True] if args.kill else [False]
            if args.in_process:
                modes.append(None)
            for kill in modes:
                folder = Path(tempfile.mkdtemp(prefix=f"kizuna-ingest-{kind}-"))
                if kind == "sqlite":
                    url = f"sqlite:///{folder / 'bench.db'}"
                else:
                    if pg is None:
                        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
                        from tests.pgserver import PostgresServer

                        pg = PostgresServer.start()
                    url = pg.create_database(f"bench_{len(runs)}")
                n = args.events if not kill else (args.kill_events or args.events)
                chosen = batches if n == args.events else make_batches(n, args.batch, args.accounts, args.users, 2)
                if kill is None:
                    result = in_process(kind, url, folder, args, chosen, n)
                else:
                    result = one_store(kind, url, folder, args, chosen, n, kill)
                result["ratio_to_baseline"] = round(result["events_per_second"] / baseline["events_per_second"], 2)
                print(result, flush=True)
                runs.append(result)
    finally:
        if pg is not None:
            pg.stop()
    return {
        "events": args.events,
        "batch": args.batch,
        "clients": args.clients,
        "baseline_parse_only": baseline,
        "runs": runs,
        "target": "≥ 20,000 events/s on SQLite, zero lost, zero duplicated",
    }
