"""What every JSON answer promises: one error shape (``kizuna.errors.ErrorBody``) on
``/api/…`` and ``/v1/…`` with a stable code per error class; an OpenAPI schema for every
JSON 200 (none a bare object); and a ``Principal`` made of plain values."""

from __future__ import annotations

import dataclasses
import enum
import gzip
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.requests import Request

from kizuna.domain.auth import Permission
from kizuna.errors import ErrorCode
from kizuna.http.auth import SESSION_COOKIE, Principal, resolve_principal
from kizuna.http.errors import ErrorBody, ErrorDetail
from kizuna.main import create_app
from kizuna.settings import Settings
from tests.conftest import make_api_key, make_user, sign_in

DETAIL_KEYS = {"code", "message", "field"}


@pytest.fixture
def app(sqlite_url: str) -> FastAPI:
    return create_app(Settings(database_url=sqlite_url))


@pytest.fixture
def client(app: FastAPI) -> Any:
    with TestClient(app, base_url="http://testserver", headers={"Accept-Language": "en"}) as c:
        yield c


def _api_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"errors"}, body
    assert body["errors"], body
    for item in body["errors"]:
        assert set(item) == DETAIL_KEYS, item
    assert body["errors"][0]["code"] == code, body
    ErrorBody.model_validate(body)
    return body


def _tracking_error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert {"success", "code", "message", "errors"} <= set(body), body
    assert set(body) - {"success", "code", "message", "errors"} <= {"rejected", "stored", "duplicates", "parked"}
    assert body["success"] is False
    assert body["code"] == code == body["errors"][0]["code"], body
    for item in body["errors"]:
        assert set(item) == DETAIL_KEYS, item
    return body


def test_the_api_answers_every_error_class_in_one_shape(app: FastAPI, client: TestClient) -> None:
    write = {"Authorization": f"Bearer {make_api_key(app, 'write')}"}
    read = {"Authorization": f"Bearer {make_api_key(app, 'read')}"}
    _api_error(client.get("/api/accounts"), 401, ErrorCode.NOT_AUTHENTICATED)
    _api_error(client.post("/api/accounts", json={"external_id": "A", "name": "A"}, headers=read), 403,
               ErrorCode.PERMISSION_DENIED)  # fmt: skip
    _api_error(client.get("/api/accounts/999", headers=write), 404, ErrorCode.ACCOUNT_NOT_FOUND)
    _api_error(client.get("/api/nothing-here", headers=write), 404, ErrorCode.NOT_FOUND)
    body = _api_error(client.get("/api/accounts?per_page=0", headers=write), 422, ErrorCode.INVALID_INPUT)
    assert body["errors"][0]["field"] == "per_page"
    assert client.post("/api/accounts", json={"external_id": "A", "name": "A"}, headers=write).status_code == 201
    body = _api_error(client.post("/api/accounts", json={"external_id": "A", "name": "B"}, headers=write), 409,
                      ErrorCode.CONFLICT)  # fmt: skip
    _api_error(client.post("/api/accounts", content=b'{"name": "a", "name": "b"}',
                           headers={**write, "Content-Type": "application/json"}), 422, ErrorCode.DUPLICATE_KEY)  # fmt: skip
    _api_error(client.post("/api/accounts", content=b"x" * 1_100_000,
                           headers={**write, "Content-Type": "application/json"}), 413, ErrorCode.PAYLOAD_TOO_LARGE)  # fmt: skip
    _api_error(client.delete("/api/home", headers=write), 405, ErrorCode.METHOD_NOT_ALLOWED)
    make_user(app, "lead@kizuna.example", "lead")
    csrf = sign_in(client, "lead@kizuna.example")
    body = _api_error(client.put("/api/health/scorecards", json={"source": "[grades\n"},
                                 headers={"X-CSRF-Token": csrf}), 422, ErrorCode.INVALID_SCORECARD)  # fmt: skip
    assert "TOML" in body["errors"][0]["message"]


def test_the_tracking_api_answers_errors_in_the_same_shape(app: FastAPI, client: TestClient) -> None:
    ingest = {"Authorization": f"Bearer {make_api_key(app, 'ingest')}"}
    read = {"Authorization": f"Bearer {make_api_key(app, 'read')}"}
    event = {"userId": "U-1", "event": "Signed In"}
    _tracking_error(client.post("/v1/track", json=event), 401, ErrorCode.NOT_AUTHENTICATED)
    _tracking_error(client.post("/v1/track", json=event, headers=read), 403, ErrorCode.PERMISSION_DENIED)
    _tracking_error(client.post("/v1/track", content=b"{not json", headers={**ingest, "Content-Type": "application/json"}),
                    400, "malformed_json")  # fmt: skip
    body = _tracking_error(client.post("/v1/track", json={"event": "x"}, headers=ingest), 400, "missing_user")
    assert body["rejected"] == 1
    assert body["stored"] == 0
    _tracking_error(client.post("/v1/track", content=b"x" * 40_000, headers={**ingest, "Content-Type": "application/json"}),
                    413, ErrorCode.PAYLOAD_TOO_LARGE)  # fmt: skip
    _tracking_error(client.post("/v1/track", content=gzip.compress(b"{}"),
                                headers={**ingest, "Content-Type": "application/json", "Content-Encoding": "br"}),
                    415, ErrorCode.UNSUPPORTED_MEDIA_TYPE)  # fmt: skip


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _bare_objects(schema: dict[str, Any], spec: dict[str, Any], where: str, seen: frozenset[str]) -> list[str]:
    """Where ``schema`` allows an object of any keys and any values."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        if name in seen:
            return []
        return _bare_objects(_resolve(schema, spec), spec, f"{where}→{name}", seen | {name})
    found = []
    extra = schema.get("additionalProperties")
    if schema.get("type") == "object" and not schema.get("properties") and extra in (None, True, {}):
        found.append(where)
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for i, sub in enumerate(schema.get(key, [])):
            found += _bare_objects(sub, spec, f"{where}.{key}[{i}]", seen)
    for name, sub in schema.get("properties", {}).items():
        found += _bare_objects(sub, spec, f"{where}.{name}", seen)
    if isinstance(schema.get("items"), dict):
        found += _bare_objects(schema["items"], spec, f"{where}[]", seen)
    if isinstance(extra, dict):
        found += _bare_objects(extra, spec, f"{where}{{}}", seen)
    return found


def test_every_json_answer_has_a_schema_and_none_is_a_bare_object(app: FastAPI) -> None:
    spec = app.openapi()
    missing, bare, checked = [], [], 0
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status, response in operation.get("responses", {}).items():
                if not status.startswith("2"):
                    continue
                content = response.get("content", {})
                if "application/json" not in content:
                    if status != "204" and not any(t.startswith("text/") for t in content):
                        missing.append(f"{method.upper()} {path} {status}")
                    continue
                schema = content["application/json"].get("schema")
                if not schema or schema == {}:
                    missing.append(f"{method.upper()} {path} {status}")
                    continue
                checked += 1
                bare += _bare_objects(schema, spec, f"{method.upper()} {path} {status}", frozenset())
    assert checked > 40
    assert not missing, f"JSON answers without a schema: {missing}"
    assert not bare, f"bare objects (any keys, any values) in: {bare}"
    for twin in ("/api/home", "/api/kpis", "/api/kpis/ltv", "/api/kpis/accounts", "/api/health/summary",
                 "/api/health/accounts/{account_id}", "/api/health/backtest", "/api/segments/fit"):  # fmt: skip
        schema = _resolve(spec["paths"][twin]["get"]["responses"]["200"]["content"]["application/json"]["schema"], spec)
        assert schema.get("properties"), twin


def test_the_tracking_errors_are_documented_with_their_shape(app: FastAPI) -> None:
    spec = app.openapi()
    for status in ("400", "401", "403", "413"):
        schema = _resolve(spec["paths"]["/v1/track"]["post"]["responses"][status]["content"]["application/json"]["schema"],
                          spec)  # fmt: skip
        assert {"success", "code", "message", "errors"} <= set(schema["properties"]), status
    item = _resolve(spec["components"]["schemas"]["ErrorBody"]["properties"]["errors"]["items"], spec)
    assert set(item["properties"]) == DETAIL_KEYS
    assert set(ErrorDetail.model_fields) == DETAIL_KEYS


def _is_plain(value: Any) -> bool:
    if value is None or isinstance(value, str | int | float | bool | enum.Enum):
        return True
    return isinstance(value, frozenset) and all(_is_plain(v) for v in value)


def _principal(app: FastAPI, headers: list[tuple[bytes, bytes]]) -> Principal | None:
    scope = {"type": "http", "method": "GET", "path": "/", "query_string": b"", "headers": headers, "app": app}
    return resolve_principal(Request(scope), app.state.kizuna)


def test_the_principal_carries_plain_values(app: FastAPI, client: TestClient) -> None:
    make_user(app, "lead@kizuna.example", "lead", name="鈴木 花子", locale="ja")
    sign_in(client, "lead@kizuna.example")
    cookie = client.cookies.get(SESSION_COOKIE)
    assert cookie
    person = _principal(app, [(b"cookie", f"{SESSION_COOKIE}={cookie}".encode())])
    assert person is not None
    values = {f.name: getattr(person, f.name) for f in dataclasses.fields(person)}
    assert all(_is_plain(v) for v in values.values()), values
    assert (person.email, person.name, person.role, person.language) == ("lead@kizuna.example", "鈴木 花子", "lead", "ja")
    assert person.is_user
    assert not person.is_api_key
    assert person.csrf_token
    assert Permission.MANAGE in person.permissions
    assert person.label == "鈴木 花子"

    key = make_api_key(app, "read")
    machine = _principal(app, [(b"authorization", f"Bearer {key}".encode())])
    assert machine is not None
    assert all(_is_plain(getattr(machine, f.name)) for f in dataclasses.fields(machine))
    assert (machine.user_id, machine.api_key_name, machine.scope) == (None, "test read", "read")
    assert machine.api_key_id is not None
    assert machine.permissions == frozenset({Permission.READ})
    assert machine.label == "API key test read"
    assert _principal(app, [(b"authorization", b"Bearer kz_nope")]) is None


def test_http_auth_imports_no_tables() -> None:
    import kizuna.http.auth as module

    source = Path(str(module.__file__)).read_text(encoding="utf-8")
    assert "kizuna.db" not in source


def test_one_account_header_shape_everywhere(app: FastAPI, client: TestClient) -> None:
    from kizuna.api.routers.customer360 import Account360HeaderOut
    from kizuna.api.schemas.accounts import AccountHeaderOut, AccountOut
    from kizuna.services.accounts import AccountHeader, AccountRow
    from kizuna.services.customer360 import Account360Header
    from kizuna.services.records import AccountDetail

    header = [f.name for f in dataclasses.fields(AccountHeader)]
    assert list(AccountHeaderOut.model_fields) == header
    for extension in (AccountRow, AccountDetail, Account360Header):
        assert issubclass(extension, AccountHeader)
        assert [f.name for f in dataclasses.fields(extension)][: len(header)] == header
    assert issubclass(AccountOut, AccountHeaderOut)
    assert issubclass(Account360HeaderOut, AccountHeaderOut)

    write = {"Authorization": f"Bearer {make_api_key(app, 'write')}"}
    made = client.post("/api/accounts", json={"external_id": "ACC-9", "name": "Acme", "domain": "acme.example",
                                             "custom_fields": {"区分": "A", "seats": 3}}, headers=write)  # fmt: skip
    assert made.status_code == 201, made.text
    one = client.get(f"/api/accounts/{made.json()['id']}", headers=write).json()
    listed = client.get("/api/accounts", headers=write).json()["items"][0]
    c360 = client.get(f"/api/accounts/{one['id']}/360", headers=write).json()["account"]
    for answer in (listed, c360):
        assert {k: answer[k] for k in header} == {k: one[k] for k in header}
    assert one["name"] == "Acme"
    assert one["status"] == "prospect"
    assert one["mrr"] == 0
    assert one["custom_fields"] == {"区分": "A", "seats": 3}
