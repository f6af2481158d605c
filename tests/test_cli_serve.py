"""``kizuna serve`` and ``kizuna demo`` say plainly when they cannot listen, before any work."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.cli import run_cli


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port some other program is listening on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.bind(("127.0.0.1", 0))
        other.listen(1)
        yield other.getsockname()[1]


def _is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_serve_on_a_taken_port_names_it_and_a_free_one(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, taken_port: int
) -> None:
    monkeypatch.setenv("KIZUNA_DATABASE_URL", f"sqlite:///{tmp_path / 'k.db'}")
    result = run_cli(capsys, "serve", "--port", str(taken_port))
    assert result.code == 1
    assert f"Port {taken_port} on 127.0.0.1 is already in use by another program." in result.err
    suggested = int(result.err.split("--port ")[-1].rstrip(".\n "))
    assert suggested > taken_port
    assert _is_free(suggested)
    assert "Errno" not in result.err
    assert "Traceback" not in result.err
    assert "Kizuna is at" not in result.out  # no banner for a server that never started


def test_demo_checks_the_port_before_building_anything(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, taken_port: int
) -> None:
    store = tmp_path / "demo.db"
    monkeypatch.setenv("KIZUNA_DATABASE_URL", f"sqlite:///{store}")
    result = run_cli(capsys, "demo", "--accounts", "20", "--port", str(taken_port))
    assert result.code == 1
    assert f"Port {taken_port} on 127.0.0.1 is already in use" in result.err
    if store.exists():  # nothing was simulated
        with sa.create_engine(f"sqlite:///{store}").connect() as db:
            tables = set(sa.inspect(db).get_table_names())
            assert "accounts" not in tables or db.execute(sa.text("select count(*) from accounts")).scalar() == 0


def test_an_address_that_cannot_be_listened_on_is_named(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KIZUNA_DATABASE_URL", f"sqlite:///{tmp_path / 'k.db'}")
    result = run_cli(capsys, "serve", "--host", "192.0.2.1", "--port", "8123")  # TEST-NET-1: not ours
    assert result.code == 1
    assert "Cannot listen on 192.0.2.1:8123" in result.err


@pytest.mark.parametrize("port", ["0", "65536", "http"])
def test_a_port_outside_its_range_is_refused(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, port: str
) -> None:
    monkeypatch.setenv("KIZUNA_DATABASE_URL", f"sqlite:///{tmp_path / 'k.db'}")
    result = run_cli(capsys, "serve", "--port", port)
    assert result.code == 2
    assert "--port" in result.err
