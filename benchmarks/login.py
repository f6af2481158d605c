"""Login flood benchmark (issue 12): does a flood of failed sign-ins take the server down?

Builds (or reuses) a small demo store, starts a real ``kizuna serve`` on loopback and signs
in. Then, twice — first with no flood (the baseline), then during the flood — a prober
asks for ``/api/home`` one request after another while a sampler reads the server's
resident memory every 20 ms. The flood is ``--attempts`` failed sign-ins (default 80),
``--concurrency`` at a time (default 40), each with a different made-up email (so only
the per-address throttle and the bound on password hashes stand in its way).

Reports the peak server RSS and the ``/api/home`` p50/p95 with and without the flood, the
flood's answers by status, and its duration. Targets: peak RSS < 500 MB, p95 < 300 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil

from benchmarks.common import run_measured
from benchmarks.web import _free_port, percentile, sign_in

PASSWORD = "benchmark-password-1"
EMAIL = "bench@kizuna.example"


def _kizuna(*args: str) -> list[str]:
    return [sys.executable, "-m", "kizuna", *args]


def _build(db: Path, accounts: int) -> None:
    env = {"KIZUNA_DATABASE_URL": f"sqlite:///{db}"}
    run_measured(_kizuna("demo", "--accounts", str(accounts), "--months", "6", "--no-serve", "--reset"), env)
    run_measured(_kizuna("users", "create", "--email", EMAIL, "--role", "admin"), {**env, "KIZUNA_PASSWORD": PASSWORD})


class Sampler(threading.Thread):
    """The server's peak RSS (its process and children) while running."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.peak = 0
        self.stop = threading.Event()

    def rss(self) -> int:
        total = self.process.memory_info().rss
        for child in self.process.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
        return int(total)

    def run(self) -> None:
        while not self.stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(0.02)


def _probe(base: str, cookies: dict[str, str], until: threading.Event, minimum: int) -> list[float]:
    """``/api/home`` one after another until ``until`` is set (and at least ``minimum`` times)."""
    timings: list[float] = []
    with httpx.Client(base_url=base, cookies=cookies, timeout=60) as client:
        while not until.is_set() or len(timings) < minimum:
            start = time.perf_counter()
            r = client.get("/api/home")
            timings.append((time.perf_counter() - start) * 1000)
            assert r.status_code == 200, r.text
    return timings


def _flood(base: str, attempts: int, concurrency: int) -> tuple[Counter[int], float]:
    form = httpx.get(f"{base}/login", timeout=10)
    token = form.cookies["kizuna_login_csrf"]

    def one(n: int) -> int:
        data = {"email": f"nobody{n}@example.com", "password": f"wrong-password-{n}", "csrf_token": token}
        r = httpx.post(f"{base}/login", data=data, cookies={"kizuna_login_csrf": token}, timeout=60,
                       follow_redirects=False)  # fmt: skip
        return r.status_code

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        statuses = Counter(pool.map(one, range(attempts)))
    return statuses, time.perf_counter() - start


def _phase(base: str, cookies: dict[str, str], pid: int, flood: tuple[int, int] | None) -> dict[str, object]:
    sampler = Sampler(pid)
    sampler.start()
    done = threading.Event()
    result: dict[str, object] = {}
    timings: list[float] = []
    prober = threading.Thread(target=lambda: timings.extend(_probe(base, cookies, done, 50)))
    prober.start()
    if flood is not None:
        statuses, seconds = _flood(base, *flood)
        result["flood_answers"] = {str(k): v for k, v in sorted(statuses.items())}
        result["flood_seconds"] = round(seconds, 2)
    else:
        time.sleep(1.0)
    done.set()
    prober.join()
    sampler.stop.set()
    sampler.join()
    result.update({
        "home_requests": len(timings),
        "home_p50_ms": round(percentile(timings, 0.50), 1),
        "home_p95_ms": round(percentile(timings, 0.95), 1),
        "home_max_ms": round(max(timings), 1),
        "peak_rss_mb": round(sampler.peak / 1e6, 1),
    })  # fmt: skip
    return result


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks login")
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--attempts", type=int, default=80)
    parser.add_argument("--concurrency", type=int, default=40)
    parser.add_argument("--db", type=Path, help="reuse this demo database (built if missing)")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="kizuna-login-bench-"))
    db = args.db or work / "kizuna.db"
    if not db.exists():
        _build(db, args.accounts)
    port = _free_port()
    env = {**os.environ, "KIZUNA_DATABASE_URL": f"sqlite:///{db}"}
    env.pop("KIZUNA_PASSWORD", None)
    server = subprocess.Popen(_kizuna("serve", "--port", str(port)), env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)  # fmt: skip
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
        cookies = sign_in(base, EMAIL, PASSWORD)
        for _ in range(20):  # warm up: the first requests load the analytics modules
            httpx.get(f"{base}/api/home", cookies=cookies, timeout=60)
        baseline = _phase(base, cookies, server.pid, None)
        flood = _phase(base, cookies, server.pid, (args.attempts, args.concurrency))
    finally:
        server.terminate()
        server.wait(10)
    return {
        "accounts": args.accounts,
        "attempts": args.attempts,
        "concurrency": args.concurrency,
        "baseline": baseline,
        "flood": flood,
        "p95_ratio": round(float(flood["home_p95_ms"]) / max(float(baseline["home_p95_ms"]), 0.1), 2),  # type: ignore[arg-type]
        "targets": {"peak_rss_mb": 500, "home_p95_ms": 300},
        "load_average_1m": round(os.getloadavg()[0], 1),  # a shared machine: read the figures against it
    }
