"""Helpers for benchmarks: run a command in a child process and measure it."""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


@dataclass
class Measured:
    seconds: float
    peak_rss_mb: float
    stdout: str
    #: user + system CPU of the child and its children (a parsing worker): under load, a
    #: steadier measure of the work done than the wall time
    cpu_seconds: float = 0.0


def run_measured(args: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> Measured:
    """Run ``args`` in a child process; wall time and the child's peak resident memory.

    Peak RSS comes from ``wait4``'s rusage of that one child, so it is not mixed with
    other children of this process.
    """
    # the child's output goes to files, not pipes: a pipe nobody reads while the child runs
    # blocks a child that writes more than its buffer (64 KiB), and the wait below never ends
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        start = time.perf_counter()
        proc = subprocess.Popen(args, env={**os.environ, **(env or {})}, cwd=cwd, stdout=out_file, stderr=err_file)
        _pid, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        out_file.seek(0)
        err_file.seek(0)
        out = out_file.read().decode(errors="replace")
        err = err_file.read().decode(errors="replace")
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise RuntimeError(f"{' '.join(args)} failed with {code}:\n{out}\n{err}")
    return Measured(elapsed, usage.ru_maxrss / 1024, out, usage.ru_utime + usage.ru_stime)


def python(*code_args: str) -> list[str]:
    return [sys.executable, *code_args]


def machine() -> dict[str, object]:
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}


def save(name: str, result: dict[str, object]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **result}, indent=2, ensure_ascii=False))
    return path


def self_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
