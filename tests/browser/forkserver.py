"""A fork server for the browser tests' ``kizuna`` processes: one Python process per test
process imports the app once (``kizuna.cli`` and ``kizuna.main``: ~3.5 s of CPU, paid by
every ``python -m kizuna`` again), then forks a child for each server or command, which
runs ``kizuna.cli.main`` exactly as ``python -m kizuna`` does — in its own process, with
its own environment, output and exit code — already imported.

A fork of a process that runs no thread is a copy of it (what ``gunicorn --preload`` does):
the server imports nothing at import time that reads the environment, opens the store or
starts a thread (checked at start: one thread). The fork server reaps its children, so their
CPU is counted in the test process's children's (``/usr/bin/time`` on pytest shows it).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

#: The fork server: reads one job a line on stdin (JSON: commands, env, out, err, status),
#: answers the child's pid on stdout. A child runs each command of ``commands`` (``kizuna``
#: arguments) in order; the first that fails ends it with its exit code (its error in
#: ``err``); its exit code is written to ``status`` just before it ends.
FORK_SERVER = r"""
import json, os, signal, sys, threading, traceback
import ibis, kizuna.cli, kizuna.main, uvicorn  # what the commands and servers import: once, here
from kizuna.cli import main
assert threading.active_count() == 1, "a fork server must run no thread"

def reap(_signum, _frame):
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return

def child(job):
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    for fd, path in ((1, job["out"]), (2, job["err"])):
        os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644), fd)
    os.environ.clear()
    os.environ.update(job["env"])
    code = 0
    try:
        for args in job["commands"]:
            print("$ kizuna " + " ".join(args), flush=True)
            try:
                main(args)
            except SystemExit as exc:
                if exc.code not in (None, 0):
                    print(f"`kizuna {' '.join(args)}` failed (exit {exc.code})", file=sys.stderr, flush=True)
                    raise
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    with open(job["status"] + ".part", "w") as fh:
        fh.write(str(code))
    os.rename(job["status"] + ".part", job["status"])
    # out of the fork server's loop and through the interpreter's own ending, as `python -m
    # kizuna` ends: the store's connections close (SQLite folds its WAL into the file)
    raise SystemExit(code)

signal.signal(signal.SIGCHLD, reap)
print("ready", flush=True)
for line in sys.stdin:
    job = json.loads(line)
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        child(job)
    print(pid, flush=True)
"""


class ForkServer:
    """The fork server of this test process (``fork_server()``), started once."""

    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-c", FORK_SERVER], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)  # fmt: skip
        self.lock = threading.Lock()
        self.ready = False

    def start(self, commands: Sequence[Sequence[str]], env: dict[str, str], out: Path, err: Path,
              status: Path) -> int:  # fmt: skip
        """Fork a child running ``commands``; its pid."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        job = {"commands": [list(c) for c in commands], "env": env, "out": str(out), "err": str(err),
               "status": str(status)}  # fmt: skip
        with self.lock:
            if not self.ready:
                answer = self.process.stdout.readline().strip()
                if answer != "ready":
                    raise RuntimeError(f"the fork server did not start (exit {self.process.poll()}): {answer!r}")
                self.ready = True
            self.process.stdin.write(json.dumps(job) + "\n")
            self.process.stdin.flush()
            return int(self.process.stdout.readline())

    def close(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


_server: ForkServer | None = None


def fork_server() -> ForkServer:
    """This test process's fork server (started at the first call: its imports run while the
    caller goes on; stopped when the process exits)."""
    global _server
    if _server is None or _server.process.poll() is not None:
        _server = ForkServer()
        atexit.register(_server.close)
    return _server


class Child:
    """A forked ``kizuna`` process: ``poll()`` and ``wait()`` as ``subprocess.Popen``'s
    (its exit code is the one it wrote to ``status``; killed by a signal: ``-signal``)."""

    def __init__(self, pid: int, status: Path) -> None:
        self.pid = pid
        self.status = status
        self.returncode: int | None = None

    def _alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        # a zombie not yet reaped by the fork server is dead too
        try:
            with open(f"/proc/{self.pid}/stat", encoding="ascii") as fh:
                return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
        except FileNotFoundError:
            return False

    def poll(self) -> int | None:
        if self.returncode is None and self.status.exists():
            while self._alive():  # written just before it ends
                time.sleep(0.01)
            self.returncode = int(self.status.read_text())
        elif self.returncode is None and not self._alive():
            self.returncode = int(self.status.read_text()) if self.status.exists() else -signal.SIGTERM
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"kizuna (pid {self.pid})", timeout or 0)
            time.sleep(0.05)
        assert self.returncode is not None
        return self.returncode

    def terminate(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)

    def _signal(self, number: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, number)


def spawn(commands: Sequence[Sequence[str]], env: dict[str, str], out: Path, err: Path | None = None) -> Child:
    """Run ``commands`` (``kizuna`` arguments) in a child of the fork server, with ``env`` as
    its whole environment, its output appended to ``out`` (and its errors to ``err``, else
    ``out`` too)."""
    status = out.with_name(f"{out.name}.{time.monotonic_ns()}.exit")
    pid = fork_server().start(commands, env, out, err or out, status)
    return Child(pid, status)
