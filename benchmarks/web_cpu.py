"""Server CPU per page: the accounts list and the 360 page, in process (issue 19).

The ``web`` benchmark's latencies under four clients depend on how much CPU each page
costs the server (two cores shared by the server's processes and the load generator).
This one measures that cost directly and steadily: it builds the app
(:func:`kizuna.main.create_app`) on a store (``--db``, e.g. the one ``web`` built),
signs in through the real sign-in form, and sends each kind of request ``--requests``
times, one at a time, through ``httpx.ASGITransport`` — no sockets, no other process —
timing each with the process's CPU clock (``time.process_time``: every thread of the
process, so the thread pool that runs the page is counted). The kinds are the ``web``
benchmark's: the first page, the filtered and sorted page, a deep page, a search and
360 pages, plus a static file (the floor: the ASGI stack and the client). Reported per
kind: CPU ms per request (median and mean) and wall ms.

``--profile N``: also profile N requests of each kind with cProfile (the thread pool
replaced by direct calls for that run, so one profiler sees the whole request) and print
the top functions by cumulative and own time.

``--dump DIR``: write the HTML of a fixed request of each kind in Japanese and English
to DIR (to compare the pages byte for byte before and after a change; the CSRF token
differs per session).

    python -m benchmarks web_cpu -- --db /tmp/bench.db [--requests 40] [--profile 10]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import random
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from benchmarks.web import PASSWORD, request_kinds
from benchmarks.web_store import ensure_store

EMAIL = "bench@kizuna.example"


def dumped(accounts: int) -> dict[str, str]:
    """One fixed request per kind (and a few more filters), for ``--dump``."""
    return {
        "first": "/accounts",
        "filtered": "/accounts?status=active&sort=renewal&renewal=90",
        "deep": f"/accounts?page={max(1, accounts // 50 * 3 // 4)}",
        "search": "/accounts?q=商事",
        "search-deep": "/accounts?q=株式会社&page=5&sort=name",
        "owner": "/accounts?owner=none&health=red",
        "sorted": "/accounts?sort=-trend&page=2",
        "htmx-page": "/accounts?page=3",
        "account": f"/accounts/{max(1, accounts * 2 // 5)}",
    }


def _app(db: Path) -> Any:
    from kizuna.main import create_app
    from kizuna.settings import Settings

    return create_app(Settings(database_url=f"sqlite:///{db}"))


async def _signed_in(app: Any, language: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver",
                               headers={"Accept-Language": language}, timeout=120)  # fmt: skip
    form = await client.get("/login")
    token = re.search(r'action="/login".*?name="csrf_token" value="([^"]+)"', form.text, re.S)
    assert token, "the sign-in form carries a CSRF token"
    login = await client.post("/login", data={"email": EMAIL, "password": PASSWORD, "csrf_token": token.group(1)})
    if login.status_code != 303 or "kizuna_session" not in client.cookies:
        raise RuntimeError(
            f"sign-in as {EMAIL} failed ({login.status_code}): create the user with `kizuna users create`"
        )
    return client


def _kinds(accounts: int, rng: random.Random) -> dict[str, Callable[[], str]]:
    """``web``'s kinds, and a search whose count of matches is not kept from an earlier
    request (the first page of a new search: the counts kept are dropped before each)."""
    kinds = request_kinds(accounts, rng)
    kinds[UNKEPT] = kinds["list: search"]
    return kinds


UNKEPT = "list: search, count not kept"


async def _measure(app: Any, accounts: int, requests: int) -> dict[str, dict[str, float]]:
    client = await _signed_in(app, "ja")
    out: dict[str, dict[str, float]] = {}
    counts = getattr(app.state.kizuna, "counts", None)
    drawn: dict[str, tuple[list[str], list[str]]] = {}
    try:
        for name, make in request_kinds(accounts, random.Random(7)).items():
            drawn[name] = ([make() for _ in range(3)], [make() for _ in range(requests)])
        drawn[UNKEPT] = drawn["list: search"]  # the same searches
        for name, (warm, timed) in drawn.items():
            for path in warm:  # warm: templates compiled, caches filled
                (await client.get(path)).raise_for_status()
            cpu, wall = [], []
            for path in timed:
                if name == UNKEPT and counts is not None:
                    counts.clear()
                c0, w0 = time.process_time(), time.perf_counter()
                response = await client.get(path)
                cpu.append((time.process_time() - c0) * 1000)
                wall.append((time.perf_counter() - w0) * 1000)
                if response.status_code != 200:
                    raise RuntimeError(f"{path}: {response.status_code}")
            out[name] = {
                "cpu_ms_median": round(statistics.median(cpu), 1),
                "cpu_ms_mean": round(statistics.fmean(cpu), 1),
                "wall_ms_median": round(statistics.median(wall), 1),
            }
    finally:
        await client.aclose()
    return out


def _direct_calls() -> Callable[[], None]:
    """Run what goes to the thread pool in the calling thread (one profiler sees it all);
    returns the undo."""
    import fastapi.dependencies.utils
    import fastapi.routing

    import kizuna.http.middleware

    async def direct(func: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return func(*args, **kwargs)

    modules = (fastapi.routing, fastapi.dependencies.utils, kizuna.http.middleware)
    saved = [m.run_in_threadpool for m in modules]
    for m in modules:
        m.run_in_threadpool = direct  # type: ignore[attr-defined]

    def undo() -> None:
        for m, original in zip(modules, saved, strict=True):
            m.run_in_threadpool = original  # type: ignore[attr-defined]

    return undo


async def _profile(app: Any, accounts: int, requests: int, top: int) -> dict[str, str]:
    client = await _signed_in(app, "ja")
    undo = _direct_calls()
    out: dict[str, str] = {}
    try:
        for name, make in _kinds(accounts, random.Random(11)).items():
            if name.startswith("static"):
                continue
            paths = [make() for _ in range(requests)]
            await client.get(paths[0])
            profiler = cProfile.Profile()
            profiler.enable()
            for path in paths:
                await client.get(path)
            profiler.disable()
            text = io.StringIO()
            stats = pstats.Stats(profiler, stream=text)
            stats.sort_stats("cumulative").print_stats(top)
            stats.sort_stats("tottime").print_stats(top)
            out[name] = _by_package(stats, requests) + text.getvalue()
    finally:
        undo()
        await client.aclose()
    return out


def _by_package(stats: pstats.Stats, requests: int) -> str:
    """Own time per package (the templates, Jinja, SQLAlchemy, Babel…), ms per request
    under the profiler (inflated by it, but the shares are what to cut)."""
    totals: dict[str, float] = {}
    for (filename, _line, function), row in stats.stats.items():  # type: ignore[attr-defined]
        if "/templates/" in filename:
            key = "templates"
        elif "site-packages/" in filename:
            key = filename.split("site-packages/")[1].split("/")[0]
        elif "/kizuna/" in filename:
            key = "kizuna." + filename.split("/kizuna/")[1].split("/")[0]
        elif filename == "~":
            key = function.split(" of ")[-1] if "sqlite3" in function else "builtins"
        else:
            key = "stdlib"
        totals[key] = totals.get(key, 0.0) + row[2]
    lines = [f"{ms / requests * 1000:8.1f} ms  {key}" for key, ms in sorted(totals.items(), key=lambda kv: -kv[1])]
    return "own time per package, ms per request (profiled)\n" + "\n".join(lines[:15]) + "\n"


async def _dump(app: Any, accounts: int, directory: Path) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for language in ("ja", "en"):
        client = await _signed_in(app, language)
        try:
            for name, path in dumped(accounts).items():
                headers = {"HX-Request": "true", "HX-Target": "accounts-results"} if name.startswith("htmx") else {}
                response = await client.get(path, headers=headers)
                response.raise_for_status()
                target = directory / f"{name}.{language}.html"
                target.write_text(response.text)
                written.append(str(target))
        finally:
            await client.aclose()
    return written


def main(argv: list[str] | None = None) -> dict[str, object]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks web_cpu")
    parser.add_argument("--db", type=Path, help="reuse this demo store (built as `web` builds it if missing)")
    parser.add_argument("--accounts", type=int, default=100_000, help="accounts in the store")
    parser.add_argument("--months", type=int, default=6, help="months of history of a store built here")
    parser.add_argument("--copies", type=int, default=1,
                        help="build the store as a demo of accounts/copies accounts copied this many times "
                        "(benchmarks/web_store.py); e.g. --accounts 100000 --copies 100")  # fmt: skip
    parser.add_argument("--source", type=Path, help="with --copies: copy this store (not written) instead of building one")
    parser.add_argument("--requests", type=int, default=40, help="timed requests per kind")
    parser.add_argument("--profile", type=int, default=0, help="also profile this many requests per kind")
    parser.add_argument("--top", type=int, default=40, help="functions shown per profile")
    parser.add_argument("--dump", type=Path, help="write each kind's HTML (ja, en) here")
    args = parser.parse_args(argv)
    db = args.db or Path(tempfile.mkdtemp(prefix="kizuna-web-cpu-")) / "bench.db"
    made = ensure_store(db, args.accounts, args.months, args.copies, args.source)
    app = _app(db)
    result: dict[str, object] = {"accounts": args.accounts, "requests_per_kind": args.requests, "store": made}
    if args.dump:
        result["dumped"] = asyncio.run(_dump(app, args.accounts, args.dump))
    result["cpu"] = asyncio.run(_measure(app, args.accounts, args.requests))
    if args.profile:
        for name, text in asyncio.run(_profile(app, args.accounts, args.profile, args.top)).items():
            print(f"==== profile: {name} ({args.profile} requests)\n{text}", flush=True)
    result["target"] = "server CPU ≤ 25 ms per list page (first, filtered, deep, search)"
    cpu: Any = result["cpu"]
    result["met"] = all(v["cpu_ms_median"] <= 25 for k, v in cpu.items() if k.startswith("list:"))
    return result


if __name__ == "__main__":
    import json

    print(json.dumps(main(), indent=2, ensure_ascii=False))
