"""A real ``kizuna serve`` for the tracking API's client tests: a subprocess on a free
loopback port over an SQLite file, driven with the real command line (keys created and
revoked with ``kizuna apikey``), the store read back with ``sqlite3``."""

from __future__ import annotations

import hashlib
import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

SRC = Path(__file__).resolve().parents[1] / "src"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class KizunaServer:
    def __init__(self, folder: Path, **settings: str) -> None:
        self.folder = folder
        self.db = folder / "kizuna.db"
        self.env = {
            **os.environ,
            "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
            "KIZUNA_DATABASE_URL": f"sqlite:///{self.db}",
            "KIZUNA_LANGUAGE": "en",
            **{f"KIZUNA_{k.upper()}": v for k, v in settings.items()},
        }
        self.processes: list[subprocess.Popen[bytes]] = []
        self.port = 0

    def cli(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "kizuna", *args], env=self.env, capture_output=True,
                              text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def key(self, scope: str = "ingest", name: str = "client") -> str:
        out = self.cli("apikey", "create", "--name", name, "--scope", scope)
        return next(token for token in out.split() if token.startswith("kz_"))

    def key_id(self, key: str) -> int:
        digest = hashlib.sha256(key.encode()).hexdigest()
        return int(self.rows("SELECT id FROM api_keys WHERE key_hash = ?", (digest,))[0][0])

    def serve(self, *args: str) -> str:
        """Start a server (another one on the same store when called again); its base URL."""
        port = free_port()
        log = (self.folder / f"serve-{port}.log").open("wb")
        process = subprocess.Popen([sys.executable, "-m", "kizuna", "serve", "--port", str(port), *args],
                                   env=self.env, stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        self.processes.append(process)
        deadline = time.monotonic() + 60
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((self.folder / f"serve-{port}.log").read_text())
            time.sleep(0.1)
        self.port = port
        return f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()

    def rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.db, timeout=30) as conn:
            return [tuple(r) for r in conn.execute(sql, params)]

    def events(self) -> list[tuple[str, str]]:
        """``(message_id, event)`` of every stored and parked event."""
        stored = self.rows("SELECT message_id, event FROM usage_events")
        return stored + self.rows("SELECT message_id, event FROM ingest_parked")

    def pid_rss_kib(self, process: subprocess.Popen[bytes]) -> int:
        """Resident memory of a server process (its children too: uvicorn may fork)."""
        total = 0
        for pid in [process.pid, *_children(process.pid)]:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except FileNotFoundError:
                continue
            total += int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))
        return total


def _children(pid: int) -> list[int]:
    try:
        found = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return []
    out = [int(c) for c in found]
    for child in list(out):
        out.extend(_children(child))
    return out
