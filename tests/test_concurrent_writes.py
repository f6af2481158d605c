"""Writers wait, not fail (issue 12): a real ``kizuna serve`` on a SQLite file (and on
PostgreSQL), 16 threads writing through the REST API while ``kizuna import`` runs twice
at the same time. No answer is a 5xx, and every acknowledged write is in the store
afterwards."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from kizuna.db import ensure_schema, make_engine, session_scope
from kizuna.domain.auth import ApiKeyScope
from kizuna.services import auth

THREADS = 16
ROUNDS = 20  # each round: one POST (a new account) and one PATCH (the thread's own account)
IMPORT_ROWS = 4000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")}
    env.update(KIZUNA_DATABASE_URL=url, LANG="C.UTF-8", KIZUNA_LANGUAGE="en")
    return env


@pytest.fixture
def served(store_url: str, tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """(base URL, API key, store URL) of a real ``kizuna serve`` (two worker processes)
    on the module's ``store_url``: a SQLite file, or PostgreSQL."""
    url = store_url
    engine = make_engine(url)
    ensure_schema(engine)
    with session_scope(engine) as session:
        key, _record = auth.create_api_key(session, name="load", scope=ApiKeyScope.WRITE)
    engine.dispose()
    port = _free_port()
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "kizuna", "serve", "--port", str(port), "--workers", "2"],
        env=_env(url), stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"{base}/login", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "kizuna serve did not start"
            time.sleep(0.2)
        yield base, key, url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _write_import_file(path: Path, prefix: str) -> Path:
    rows = [f"{prefix}-{i},Import {prefix} {i},,製造業,{i % 500 + 1},,,," for i in range(IMPORT_ROWS)]
    path.write_text("external_id,name,domain,industry,employee_count,owner_email,parent_external_id,"
                    "custom.region,custom.source\n" + "\n".join(rows) + "\n", encoding="utf-8")  # fmt: skip
    return path


@pytest.fixture
def store_url(sqlite_url: str) -> str:
    """A SQLite file (PostgreSQL: test_concurrent_writes_postgres.py, a module of its own so
    that the two can run on both test workers at once)."""
    return sqlite_url


def test_sixteen_writers_and_two_imports_get_no_5xx_and_lose_nothing(
    served: tuple[str, str, str], tmp_path: Path
) -> None:
    sixteen_writers_and_two_imports(served, tmp_path)


def sixteen_writers_and_two_imports(served: tuple[str, str, str], tmp_path: Path) -> None:
    """The test itself, on the store ``served`` serves."""
    base, key, url = served
    headers = {"Authorization": f"Bearer {key}", "Accept-Language": "en"}
    statuses: Counter[int] = Counter()
    acknowledged_posts: list[str] = []
    last_name: dict[int, str] = {}  # account id → the name of the last acknowledged PATCH
    bodies_5xx: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS + 1)

    def writer(n: int) -> None:
        with httpx.Client(base_url=base, headers=headers, timeout=120) as client:
            own = client.post("/api/accounts", json={"external_id": f"W{n}", "name": f"writer {n}"})
            start.wait(timeout=300)
            with lock:
                statuses[own.status_code] += 1
                if own.status_code != 201:
                    bodies_5xx.append(own.text[:300])
                    return
            own_id = own.json()["id"]
            for i in range(ROUNDS):
                for method, path, body in (
                    ("POST", "/api/accounts", {"external_id": f"W{n}-{i}", "name": f"w{n} r{i}"}),
                    ("PATCH", f"/api/accounts/{own_id}", {"name": f"writer {n} v{i}", "employee_count": i}),
                ):
                    response = client.request(method, path, json=body)
                    with lock:
                        statuses[response.status_code] += 1
                        if response.status_code >= 500:
                            bodies_5xx.append(response.text[:300])
                        elif response.status_code in (200, 201):
                            if method == "POST":
                                acknowledged_posts.append(body["external_id"])
                            else:
                                last_name[own_id] = body["name"]
                        else:
                            assert response.status_code == 409, response.text
                            assert response.json()["errors"][0]["code"] == "conflict"
                            assert response.headers["Retry-After"] == "1"

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    files = [_write_import_file(tmp_path / f"import-{p}.csv", p) for p in ("IA", "IB")]
    start.wait(timeout=300)
    imports = [
        subprocess.Popen(
            [sys.executable, "-m", "kizuna", "import", "accounts", str(f)],
            env=_env(url),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for f in files
    ]
    for t in threads:
        t.join(600)
    outcomes = [p.communicate(timeout=600) for p in imports]

    attempted = THREADS * (ROUNDS * 2 + 1)  # the first POST of each thread creates its own account
    patches_ok = statuses[200]
    print(f"\nwrites attempted {attempted}, acknowledged {statuses[200] + statuses[201]} "
          f"(POST {statuses[201]}, PATCH {patches_ok}), answers {dict(statuses)}")  # fmt: skip
    assert bodies_5xx == []
    assert sum(statuses.values()) == attempted

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            stored = {
                r[0] for r in conn.execute(text("SELECT external_id FROM accounts WHERE external_id LIKE 'W%-%'"))
            }
            names = dict(conn.execute(text("SELECT id, name FROM accounts WHERE external_id NOT LIKE '%-%'")).all())
            imported = {p: conn.execute(text("SELECT count(*) FROM accounts WHERE external_id LIKE :p"),
                                        {"p": f"{p}-%"}).scalar_one() for p in ("IA", "IB")}  # fmt: skip
    finally:
        engine.dispose()
    print(f"stored: POSTed accounts {len(stored)}, imported {imported}")
    assert set(acknowledged_posts) <= stored  # every acknowledged write is stored …
    assert stored == set(acknowledged_posts)  # … and nothing unacknowledged half-went in
    for account_id, name in last_name.items():
        assert names[account_id] == name
    for (out, err), proc, prefix in zip(outcomes, imports, ("IA", "IB"), strict=True):
        if proc.returncode == 0:
            assert imported[prefix] == IMPORT_ROWS, out + err
        else:  # it waited the busy timeout out: a plain message, nothing written
            assert "another import (or another write) holds the store" in err
            assert "SQL" not in err
            assert "Traceback" not in err
            assert imported[prefix] == 0
        print(f"import {prefix}: exit {proc.returncode}, {imported[prefix]} rows")
