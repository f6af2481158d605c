"""A real ``kizuna serve`` on a fresh SQLite store and a real Chromium page for the browser
tests: the store is filled by the ``kizuna`` commands a user would run."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PASSWORD = "correct-horse-battery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def live_server(folder: Path, commands: Sequence[Sequence[str]], **settings: str) -> Iterator[str]:
    """Run each of ``commands`` (``kizuna`` arguments), then serve; yields the base URL.
    ``settings`` are extra ``KIZUNA_*`` variables (``TODAY="2026-12-05"``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")}
    env.update(KIZUNA_DATABASE_URL=f"sqlite:///{folder / 'kizuna.db'}", KIZUNA_PASSWORD=PASSWORD, LANG="C.UTF-8")
    env.update({f"KIZUNA_{k}": v for k, v in settings.items()})
    for args in commands:
        done = subprocess.run([sys.executable, "-m", "kizuna", *args], env=env, capture_output=True, text=True,
                              timeout=180)  # fmt: skip
        assert done.returncode == 0, f"`kizuna {' '.join(args)}` failed:\n{done.stdout}\n{done.stderr}"
    port = free_port()
    with (folder / "server.log").open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "kizuna", "serve", "--port", str(port)], env=env,
                                   stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                pytest.fail((folder / "server.log").read_text(encoding="utf-8", errors="replace"))
            try:
                with urllib.request.urlopen(f"{base}/login", timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                pytest.fail("`kizuna serve` did not answer within 90 s")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def chromium_page(base: str, locale: str = "ja-JP", width: int = 1280) -> Iterator[object]:
    """A Chromium tab on ``base`` (Playwright's ``Page``)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(base_url=base, locale=locale, viewport={"width": width, "height": 900})
        context.set_default_timeout(10_000)
        tab = context.new_page()
        try:
            yield tab
        finally:
            context.close()
            browser.close()
