"""Web latency benchmark: the accounts list and the account 360 page under load.

Builds (or reuses) a demo company of N accounts, starts ``kizuna serve`` on loopback,
signs in, and sends requests from C concurrent clients: the first page of the
accounts list, a filtered and sorted page, a deep page, a search, and 360 pages of
random accounts. Reports p50/p95/p99 per kind. Baseline in the same run: a static
file from the same server (the HTTP floor), so each figure is also a ratio.
Target (issue 3): p95 < 150 ms for each kind at 100,000 accounts.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from benchmarks.common import run_measured

PASSWORD = "benchmark-password-1"
#: The kinds issue 3 sets the p95 target for (search is measured and reported too).
TARGETED = ("list: first page", "list: filtered + sorted", "list: deep page", "360 page")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _kizuna(*args: str) -> list[str]:
    return [sys.executable, "-m", "kizuna", *args]


def build(db: Path, accounts: int, months: int) -> float:
    env = {"KIZUNA_DATABASE_URL": f"sqlite:///{db}"}
    m = run_measured(
        _kizuna("demo", "--accounts", str(accounts), "--months", str(months), "--no-serve", "--reset"), env
    )
    run_measured(
        _kizuna("users", "create", "--email", "bench@kizuna.example", "--role", "admin"), {**env, "KIZUNA_PASSWORD": PASSWORD}
    )
    return m.seconds


def sign_in(base: str, email: str, password: str) -> dict[str, str]:
    """Sign in through the form as a browser does (its CSRF token from GET /login); the session cookie."""
    form = httpx.get(f"{base}/login", timeout=60)
    token = re.search(r'action="/login".*?name="csrf_token" value="([^"]+)"', form.text, re.S)
    assert token, "the sign-in form carries a CSRF token"
    login = httpx.post(f"{base}/login", data={"email": email, "password": password, "csrf_token": token.group(1)},
                       cookies=form.cookies, follow_redirects=False, timeout=60)  # fmt: skip
    return {"kizuna_session": login.cookies["kizuna_session"]}


SEARCHES = ("株式会社", "co.jp", "商事", "テック")


def request_kinds(accounts: int, rng: random.Random) -> dict[str, Callable[[], str]]:
    """Each kind of request and how to make its next path (``web`` and ``web_cpu`` send the same)."""
    total_pages = max(1, accounts // 50)
    return {
        "static (baseline)": lambda: "/static/kizuna.css",
        "list: first page": lambda: "/accounts",
        "list: filtered + sorted": lambda: "/accounts?status=active&sort=renewal&renewal=90",
        "list: deep page": lambda: f"/accounts?page={rng.randrange(max(1, total_pages // 2), total_pages + 1)}",
        "list: search": lambda: f"/accounts?q={rng.choice(SEARCHES)}",
        "360 page": lambda: f"/accounts/{rng.randrange(1, accounts + 1)}",
    }


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks web")
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--months", type=int, default=6)
    parser.add_argument("--requests", type=int, default=200, help="requests per kind")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--db", type=Path, help="reuse this demo database (built if missing)")
    parser.add_argument("--copies", type=int, default=1,
                        help="build the store as a demo of accounts/copies accounts copied this many times "
                        "(benchmarks/web_store.py); e.g. --accounts 100000 --copies 100")  # fmt: skip
    parser.add_argument("--source", type=Path, help="with --copies: copy this store (not written) instead of building one")
    parser.add_argument("--workers", type=int, default=1, help="server processes (kizuna serve --workers)")
    args = parser.parse_args(argv)

    db = args.db or Path(tempfile.mkdtemp(prefix="kizuna-web-")) / "bench.db"
    from benchmarks.web_store import ensure_store

    made = ensure_store(db, args.accounts, args.months, args.copies, args.source)
    port = _free_port()
    # no scheduler in the server: its outbox delivery on start (seconds of CPU, writes
    # that make each process read its kept menus and counts again) is not a page's cost
    env = {**os.environ, "KIZUNA_DATABASE_URL": f"sqlite:///{db}", "KIZUNA_SCHEDULER": "false"}
    # the server's output to a file: a pipe nobody reads while it serves would block it
    # once full (its access log)
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in the finally below)
    server = subprocess.Popen(
        _kizuna("serve", "--port", str(port), "--workers", str(args.workers)),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        # a loaded machine may take minutes to start two workers
        deadline = time.monotonic() + 600
        while True:
            try:
                httpx.get(f"{base}/login", timeout=10)
                break
            except httpx.HTTPError:
                if server.poll() is not None or time.monotonic() > deadline:
                    server.kill()
                    server.wait(timeout=30)
                    log.seek(0)
                    out = log.read().decode(errors="replace")
                    raise RuntimeError(f"server did not start:\n{out}") from None
                time.sleep(0.2)
        cookies = sign_in(base, "bench@kizuna.example", PASSWORD)
        first = httpx.get(f"{base}/accounts", cookies=cookies, timeout=30)
        ids = [int(i) for i in re.findall(r'href="/accounts/(\d+)"', first.text)]
        kinds = request_kinds(args.accounts, random.Random(7))
        results: dict[str, dict[str, float]] = {}
        with httpx.Client(base_url=base, cookies=cookies, timeout=60) as client:
            for name, make in kinds.items():
                paths = [make() for _ in range(args.requests)]
                client.get(paths[0])  # warm

                def timed(path: str) -> float:
                    start = time.perf_counter()
                    response = client.get(path)
                    elapsed = (time.perf_counter() - start) * 1000
                    if response.status_code != 200:
                        raise RuntimeError(f"{path}: {response.status_code}")
                    return elapsed

                with ThreadPoolExecutor(args.clients) as pool:
                    times = list(pool.map(timed, paths))
                results[name] = {
                    "p50_ms": round(statistics.median(times), 1),
                    "p95_ms": round(percentile(times, 0.95), 1),
                    "p99_ms": round(percentile(times, 0.99), 1),
                }
        floor = results["static (baseline)"]["p50_ms"]
        for r in results.values():
            r["p50_vs_static"] = round(r["p50_ms"] / floor, 1) if floor else None
        return {
            "accounts": args.accounts,
            "months": args.months,
            "clients": args.clients,
            "server_workers": args.workers,
            "requests_per_kind": args.requests,
            "store": made,
            "first_page_ids_seen": len(ids),
            "latency": results,
            "target": "p95 < 150 ms for the list's first, filtered and deep pages and the 360 page",
            "met": all(r["p95_ms"] < 150 for k, r in results.items() if k in TARGETED),
        }
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


if __name__ == "__main__":
    import json

    print(json.dumps(main(), indent=2, ensure_ascii=False))
