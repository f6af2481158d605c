"""Writers wait, not fail (issue 12), on PostgreSQL: the test of test_concurrent_writes.py
(a real ``kizuna serve``, 16 writing threads, two imports at once) in a module of its own, so
that the SQLite and the PostgreSQL runs go to both test workers (loadscope sends a module to one)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.test_concurrent_writes import served, sixteen_writers_and_two_imports

pytestmark = pytest.mark.postgres
__all__ = ["served"]  # the fixture, used by the test below


@pytest.fixture
def store_url(postgres: Any, postgres_template: str) -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw")
    return str(postgres.create_database(f"kizuna_{worker}_concurrent", template=postgres_template))


def test_sixteen_writers_and_two_imports_get_no_5xx_and_lose_nothing(
    served: tuple[str, str, str], tmp_path: Path
) -> None:
    sixteen_writers_and_two_imports(served, tmp_path)
