"""A throwaway PostgreSQL server for tests and benchmarks, from the machine's binaries.

``initdb`` into a temporary folder, start on a free loopback port, trust auth, and
stop and delete it all at the end. The folder is in memory (``/dev/shm``) when there is room:
the tests give each test a database of its own (~12 MB, ~650 files, copied from a template)
and keep them all until the server stops: on disk, deleting the folder then took 15–25 s
of waiting on the disk at the end of each test process (the last test's "teardown"), and
the copies' writes slowed each test's setup. As root (CI), the server runs as the ``postgres``
system user, because PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    pass


def find_bindir() -> Path:
    for candidate in [
        os.environ.get("KIZUNA_PG_BINDIR"),
        *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True),
    ]:
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    raise PostgresUnavailable("no PostgreSQL server binaries (initdb) found; `make test` installs them with apt")


#: Room the server's folder may take in memory: the whole suite's databases of one test process, twice over.
SHM_NEEDED = 4 << 30


def scratch_dir() -> str | None:
    """``/dev/shm`` when it is a writable memory file system with room to spare, else the temp dir (None)."""
    try:
        stat = os.statvfs("/dev/shm")
    except OSError:
        return None
    return "/dev/shm" if stat.f_bavail * stat.f_frsize >= SHM_NEEDED and os.access("/dev/shm", os.W_OK) else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    bindir: Path
    root: Path
    port: int
    _as_user: list[str]

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self._as_user, *args], check=True, capture_output=True, text=True)

    @classmethod
    def start(cls) -> PostgresServer:
        bindir = find_bindir()
        root = Path(tempfile.mkdtemp(prefix="kizuna-pg-", dir=scratch_dir()))
        as_user: list[str] = []
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            if runuser is None:
                raise PostgresUnavailable("running as root without runuser; cannot start PostgreSQL")
            shutil.chown(root, "postgres", "postgres")
            as_user = [runuser, "-u", "postgres", "--"]
        server = cls(bindir, root, _free_port(), as_user)
        data = root / "data"
        try:
            server._run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                        "--encoding=UTF8", "--locale=C", "--no-sync")  # fmt: skip
            options = (
                f"-p {server.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100"
            )
            server._run(
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(root / "log"),
                "-w",
                "-t",
                "60",
                "start",
            )
        except subprocess.CalledProcessError as exc:
            log = (root / "log").read_text() if (root / "log").exists() else ""
            shutil.rmtree(root, ignore_errors=True)
            raise PostgresUnavailable(f"PostgreSQL did not start: {exc.stderr}\n{log}") from exc
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", server.port)) == 0:
                    return server
            time.sleep(0.1)
        server.stop()
        raise PostgresUnavailable("PostgreSQL did not accept connections within 30 s")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def create_database(self, name: str, template: str | None = None) -> str:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            sql = f'CREATE DATABASE "{name}"'
            if template:
                sql += f' TEMPLATE "{template}"'
                # PostgreSQL 15+ copies a template through the WAL by default, writing each page twice;
                # a file copy writes it once (and the template is small: its checkpoints are short)
                if int(conn.execute("SHOW server_version_num").fetchone()[0]) >= 150000:  # type: ignore[index]
                    sql += " STRATEGY FILE_COPY"
            conn.execute(sql)
        return self.url(name)
