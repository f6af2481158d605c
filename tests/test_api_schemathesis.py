"""Schemathesis over the app's OpenAPI schema: whatever a client sends that the schema
describes (and a good deal that it does not), no operation answers with a 5xx, and every
answer is documented: its status code, content type and body match the schema.

SQLite only (the per-backend behaviour is in ``test_api.py``); a write-scoped API key;
a small seeded store, so that ids 1 and 2 exist and requests reach the services;
bounded, derandomised examples so that the run is quick and repeatable.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from kizuna.main import create_app
from kizuna.settings import Settings
from tests.conftest import make_api_key, migrated_sqlite

SEED: list[tuple[str, dict[str, Any]]] = [
    ("/api/accounts", {"external_id": "ACC-1", "name": "Acme 株式会社", "domain": "acme.co.jp"}),
    ("/api/accounts", {"external_id": "ACC-2", "name": "Beta", "custom_fields": {"tier": "gold"}}),
    ("/api/products", {"code": "plan-pro", "name": "Pro", "kind": "plan", "rank": 2, "list_price": 50000}),
    ("/api/products", {"code": "addon-sso", "name": "SSO", "kind": "addon", "rank": 1}),
    ("/api/contacts", {"external_id": "CON-1", "account_id": 1, "name": "山田", "email": "yamada@acme.co.jp"}),
    ("/api/contacts", {"external_id": "CON-2", "account_id": 2, "name": "鈴木"}),
    ("/api/subscriptions", {"external_id": "SUB-1", "account_id": 1, "product_id": 1, "monthly_amount": 50000,
                            "status": "active", "started_on": "2024-01-01", "current_term_end": "2099-12-31"}),
    ("/api/subscriptions", {"external_id": "SUB-2", "account_id": 2, "product_id": 2, "monthly_amount": 5000,
                            "status": "canceled", "started_on": "2024-01-01", "ended_on": "2024-06-01"}),
    ("/api/tickets", {"external_id": "T-1", "account_id": 1, "contact_id": 1, "status": "open",
                      "opened_at": "2024-09-18T10:00:00+09:00"}),
    ("/api/survey-responses", {"external_id": "S-1", "account_id": 1, "kind": "nps", "score": 9,
                               "answered_at": "2024-09-18T10:00:00Z"}),
    ("/api/activities", {"external_id": "ACT-1", "account_id": 1, "kind": "call", "subject": "Kickoff",
                         "occurred_at": "2024-09-18T10:00:00+09:00"}),
]  # fmt: skip


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> Iterator[tuple[FastAPI, str]]:
    url = migrated_sqlite(sqlite_template, tmp_path_factory.mktemp("schemathesis") / "kizuna.db")
    app = create_app(Settings(database_url=url))
    key = make_api_key(app, "write")
    with TestClient(app, headers={"Authorization": f"Bearer {key}"}) as client:
        for url_path, body in SEED:
            response = client.post(url_path, json=body)
            assert response.status_code == 201, response.text
    yield app, key
    app.state.kizuna.engine.dispose()


#: The coverage phase sends every boundary value the schema defines (longest strings,
#: largest numbers, earliest dates…) — the valid ones, which reach the database, where
#: server errors hide; invalid input is exercised by the fuzzing phase (both modes) and
#: by test_api.py. Its invalid cases alone would double the run time.
#:
#: The fuzzing phase sends 12 random cases an operation; 4 to the two that compute the whole
#: KPI report on every call (``GET /api/kpis``, ``/api/kpis/ltv``: 2–5 s of CPU each, up to 120
#: months): they took 60 % of this test's time. Their coverage phase still sends every
#: boundary (1 and 120 months, the first and last day, every ``by`` shape); the report's
#: figures are checked by test_metrics.py and test_analytics_parity.py.
CONFIG = {
    "generation": {"max-examples": 12},
    "phases": {"coverage": {"generation": {"mode": "positive"}}},
    "operations": [{"include-path-regex": "^/api/kpis(/ltv)?$", "generation": {"max-examples": 4}}],
}


@pytest.fixture(scope="module")
def api_schema(seeded: tuple[FastAPI, str]) -> Any:
    app, _key = seeded
    app.openapi()  # built once here: on a busy machine, building it inside the loader's 10 s can time out
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=schemathesis.Config.from_dict(CONFIG))


@pytest.fixture
def bearer(seeded: tuple[FastAPI, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {seeded[1]}"}


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    """Schemathesis 4's lazy loader reads ``Node._nodeid``, which pytest 9 no longer has."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


schema = schemathesis.pytest.from_fixture("api_schema")

#: No 5xx; and every answer is one the schema documents: its status code, content type and body.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@schema.parametrize()
@settings(derandomize=True, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_no_operation_answers_with_a_server_error(case: Any, bearer: dict[str, str]) -> None:
    # the read deadline is the answer's correctness, not its speed: a 120-month KPI report took
    # more than the default 10 s on a machine loaded with other test runs
    case.call_and_validate(headers=bearer, checks=CHECKS, timeout=120)
