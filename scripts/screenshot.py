"""Take the README's screenshot of the account 360 page, in Japanese, at 1280×900.

    .venv/bin/python scripts/screenshot.py kizuna.db
    .venv/bin/python scripts/screenshot.py /tmp/shot.db --account 42 --out docs/images/account-360.png
    .venv/bin/python scripts/screenshot.py kizuna-demo.db --phone --language en --out docs/images/account-360-phone-en.png

DATABASE is an SQLite file (copied first, so that the sign-in user the script adds
never lands in your store) or a SQLAlchemy URL together with ``--email`` and
``KIZUNA_PASSWORD`` of an existing user. Without ``--account``, the page is the
active account with the largest MRR. The real server (``kizuna serve``) is started on
a free port and Debian's Chromium is driven with Playwright.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
SHOT_EMAIL = "screenshot@kizuna.invalid"
SHOT_PASSWORD = "screenshot-only-password"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def kizuna(env: dict[str, str], *args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "kizuna", *args], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"`kizuna {' '.join(args)}` failed:\n{done.stdout}{done.stderr}")


def wait_until_up(base: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            sys.exit(f"`kizuna serve` exited with {process.returncode}:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(f"{base}/login", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            sys.exit(f"`kizuna serve` did not answer in {timeout:.0f} s:\n{log.read_text(errors='replace')}")
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("database", help="an SQLite file, or a SQLAlchemy URL (then --email is needed)")
    parser.add_argument("--account", type=int, help="the account's id (default: the active one with the largest MRR)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "account-360.png")
    parser.add_argument("--email", help="sign in as this existing user (password in KIZUNA_PASSWORD)")
    parser.add_argument("--language", default="ja", choices=("ja", "en"))
    parser.add_argument("--full-page", action="store_true", help="the whole page, not only the first 900 pixels")
    parser.add_argument("--phone", action="store_true", help="a phone's screen (390×844 at 2× pixels), not 1280×900")
    args = parser.parse_args(argv)

    from playwright.sync_api import expect, sync_playwright

    work = Path(tempfile.mkdtemp(prefix="kizuna-shot-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIZUNA_")}
    if "://" in args.database:
        if not args.email or not os.environ.get("KIZUNA_PASSWORD"):
            sys.exit("with a database URL, give --email and KIZUNA_PASSWORD of an existing user")
        env["KIZUNA_DATABASE_URL"] = args.database
        email, password = args.email, os.environ["KIZUNA_PASSWORD"]
    else:
        source = Path(args.database)
        if not source.is_file():
            sys.exit(f"no such SQLite file: {source}")
        copy = work / "kizuna.db"
        with sqlite3.connect(source) as src, sqlite3.connect(copy) as dst:
            src.backup(dst)  # a consistent copy, WAL included
        env["KIZUNA_DATABASE_URL"] = f"sqlite:///{copy}"
        email, password = SHOT_EMAIL, SHOT_PASSWORD
        kizuna({**env, "KIZUNA_PASSWORD": password}, "users", "create", "--email", email, "--name", "佐藤 健",
               "--role", "csm", "--locale", args.language)  # fmt: skip

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = work / "server.log"
    with log.open("wb") as out:
        server = subprocess.Popen([sys.executable, "-m", "kizuna", "serve", "--port", str(port)], env=env, stdout=out,
                                  stderr=subprocess.STDOUT)  # fmt: skip
    try:
        wait_until_up(base, server, log)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            locale = "ja-JP" if args.language == "ja" else "en-US"
            viewport = {"width": 390, "height": 844} if args.phone else {"width": 1280, "height": 900}
            context = browser.new_context(base_url=base, locale=locale, viewport=viewport,  # type: ignore[arg-type]
                                          device_scale_factor=2 if args.phone else 1)  # fmt: skip
            page = context.new_page()
            page.goto("/login")
            page.fill("input[name=email]", email)
            page.fill("input[name=password]", password)
            page.click("form[action='/login'] button[type=submit]")
            page.wait_for_load_state("networkidle")
            if page.url.rstrip("/").endswith("/login"):
                sys.exit(f"could not sign in as {email}")
            account = args.account
            if account is None:
                page.goto("/accounts?status=active&sort=-mrr")
                link = page.locator("[data-testid=account-row] td.name a").first.get_attribute("href") or ""
                match = re.fullmatch(r"/accounts/(\d+)", link)
                if not match:
                    sys.exit("no active account to show; give --account")
                account = int(match.group(1))
            page.goto(f"/accounts/{account}")
            expect(page.locator("canvas[data-chart]")).to_have_attribute("data-drawn", "1")
            page.evaluate("document.fonts.ready")
            page.wait_for_timeout(300)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out), full_page=args.full_page)
            browser.close()
        print(f"{args.out} (account {account}, {args.language})")
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    main()
