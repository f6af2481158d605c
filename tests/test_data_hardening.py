"""Issue 12, the data path: one date range on every input path, rows already stored
outside it, and the small importer and API points."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from kizuna.db import make_engine
from tests.cli import run_cli
from tests.conftest import make_api_key
from tests.test_imports import load, load_all, rejected, write

OUT_OF_RANGE = "is outside the accepted range 1900-01-01 … 2200-12-31"


def _sql(url: str, statement: str) -> None:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def _errors(response: object) -> list[tuple[str, str | None]]:
    body = response.json()  # type: ignore[attr-defined]
    return [(e["code"], e["field"]) for e in body["errors"]]


# --- rows already in a store outside the range -------------------------------------------


@pytest.fixture
def broken_store(store_url: str) -> str:
    """The sample data, with a subscription started on 0001-01-01 and a ticket opened in
    2999 written straight into the store (as before the range was enforced)."""
    load_all(store_url)
    _sql(store_url, "UPDATE subscriptions SET started_on = '0001-01-01' WHERE external_id = 'SUB-1'")
    _sql(store_url, "UPDATE tickets SET opened_at = '2999-01-01 00:00:00' WHERE id = (SELECT min(id) FROM tickets)")
    return store_url


def test_pages_json_and_the_pipeline_survive_stored_dates_outside_the_range(
    broken_store: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from kizuna.main import create_app
    from kizuna.settings import Settings

    app = create_app(Settings(database_url=broken_store))
    with TestClient(app, headers={"Accept-Language": "en"}, raise_server_exceptions=False) as client:
        client.headers["Authorization"] = f"Bearer {make_api_key(app, 'write')}"
        account = client.get("/api/accounts", params={"external_id": "ACC-1"}).json()["items"][0]["id"]
        body = client.get(f"/api/accounts/{account}/360")
        assert body.status_code == 200, body.text
        started = {s["external_id"]: s["started_on"] for s in body.json()["subscriptions"]}
        assert started["SUB-1"] == "1900-01-01"  # read as the range's first day
        assert client.get(f"/api/accounts/{account}/timeline").status_code == 200
        page = client.get(f"/accounts/{account}")
        assert page.status_code == 200, page.text[:500]
        assert "株式会社さくら商事" in page.text
        sub = client.get("/api/subscriptions", params={"external_id": "SUB-1"})
        assert sub.status_code == 200
        assert sub.json()["items"][0]["started_on"] == "1900-01-01"

    monkeypatch.setenv("KIZUNA_DATABASE_URL", broken_store)
    result = run_cli(capsys, "pipeline", "run", "--as-of", "2026-11-30")
    assert result.code == 0, result.err
    assert "2 stored dates are outside the accepted range" in result.err
    assert "health scores" in result.out

    result = run_cli(capsys, "db", "check")
    assert result.code == 1
    lines = [" ".join(line.replace("│", " ").split()) for line in result.out.splitlines()]
    assert "subscriptions 1 started_on 0001-01-01" in lines
    assert any(line.startswith("tickets 1 opened_at 2999-01-01") for line in lines)
    assert "2 stored values are outside the accepted range." in result.err


def test_db_check_passes_on_a_clean_store(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    load_all(sqlite_url)
    monkeypatch.setenv("KIZUNA_DATABASE_URL", sqlite_url)
    result = run_cli(capsys, "db", "check")
    assert result.code == 0, result.out
    assert "No stored date is outside 1900-01-01 … 2200-12-31." in result.out


# --- every input path refuses dates outside the range ------------------------------------


def test_the_timeline_cursor_before_the_range_is_a_422(client: TestClient, app: FastAPI) -> None:
    client.headers["Authorization"] = f"Bearer {make_api_key(app, 'write')}"
    account = client.post("/api/accounts", json={"external_id": "A-1", "name": "Acme"}).json()["id"]
    for before in ("0001-01-01", "0001-01-01T00:00:00-05:00", "9999-12-31T23:59:59+00:00~task~1"):
        response = client.get(f"/api/accounts/{account}/timeline", params={"before": before})
        assert response.status_code == 422, response.text
        assert _errors(response) == [("date_out_of_range", "before")]
        assert OUT_OF_RANGE in response.json()["errors"][0]["message"]
    assert client.get(f"/api/accounts/{account}/timeline", params={"before": "2026-01-01"}).status_code == 200


def test_the_api_refuses_dates_outside_the_range_naming_the_field(client: TestClient, app: FastAPI) -> None:
    client.headers["Authorization"] = f"Bearer {make_api_key(app, 'write')}"
    account = client.post("/api/accounts", json={"external_id": "A-1", "name": "Acme"}).json()["id"]
    product = client.post("/api/products", json={"code": "p", "name": "Plan", "kind": "plan"}).json()["id"]
    base = {"external_id": "S-1", "account_id": account, "product_id": product, "monthly_amount": 1000,
            "status": "active", "started_on": "2026-01-01"}  # fmt: skip
    for field, value in (("started_on", "0001-01-01"), ("current_term_end", "2201-01-01"),
                         ("trial_ends_on", "1899-12-31")):  # fmt: skip
        response = client.post("/api/subscriptions", json={**base, field: value})
        assert response.status_code == 422, response.text
        assert _errors(response) == [("date_out_of_range", field)]
    created = client.post("/api/subscriptions", json={**base, "started_on": "1900-01-01"})
    assert created.status_code == 201, created.text
    patched = client.patch(f"/api/subscriptions/{created.json()['id']}", json={"started_on": "0001-01-01"})
    assert _errors(patched) == [("date_out_of_range", "started_on")]
    ticket = {
        "external_id": "T-1",
        "account_id": account,
        "subject": "x",
        "status": "open",
        "opened_at": "0001-01-01T00:00:00-05:00",
    }
    assert _errors(client.post("/api/tickets", json=ticket)) == [("date_out_of_range", "opened_at")]
    activity = {"account_id": account, "kind": "note", "subject": "x", "occurred_at": "0001-01-01T09:00:00+09:00"}
    # An activity's time keeps its published code, on the common range.
    assert _errors(client.post("/api/activities", json=activity)) == [("occurred_at_out_of_range", "occurred_at")]
    ok = client.post("/api/activities", json={**activity, "occurred_at": "1950-01-01T09:00:00+09:00"})
    assert ok.status_code == 201, ok.text  # 1970 no longer the first year
    for url in ("/api/kpis", "/api/segments/fit"):
        response = client.get(url, params={"as_of": "0001-01-01"})
        assert _errors(response) == [("date_out_of_range", "as_of")], url


def test_the_web_activity_form_refuses_a_time_outside_the_range(app: FastAPI, client: TestClient, csm: str) -> None:
    client.headers["Authorization"] = f"Bearer {make_api_key(app, 'write')}"
    account = client.post("/api/accounts", json={"external_id": "A-1", "name": "Acme"}).json()["id"]
    del client.headers["Authorization"]
    response = client.post(f"/accounts/{account}/activities", data={
        "kind": "note", "subject": "hello", "occurred_at": "0001-01-01T00:00", "csrf_token": csm,
    }, headers={"HX-Request": "true"})  # fmt: skip
    assert response.status_code == 422, response.text
    assert "0001-01-01 is outside the accepted range 1900-01-01 … 2200-12-31" in response.text


def test_imports_refuse_dates_outside_the_range_with_file_line_column(sqlite_url: str, tmp_path: Path) -> None:
    load_all(sqlite_url)
    path = write(tmp_path, "subs.csv", (
        "external_id,account_external_id,product_code,quantity,monthly_amount,status,started_on,canceled_at,ended_on\n"
        "SUB-10,ACC-1,plan-pro,2,50000,active,0001-01-01,,\n"
        "SUB-11,ACC-1,plan-pro,2,50000,canceled,2026/01/01,0001-01-01T00:00:00+09:00,2201年1月1日\n"
        "SUB-12,ACC-1,plan-pro,2,50000,active,1900-01-01,,\n"
    ))  # fmt: skip
    p = str(path)
    assert rejected(sqlite_url, "subscriptions", path) == [
        f"{p}:2: started_on: 0001-01-01 {OUT_OF_RANGE}",
        f"{p}:3: canceled_at: 0001-01-01 {OUT_OF_RANGE}",
        f"{p}:3: ended_on: 2201-01-01 {OUT_OF_RANGE}",
    ]
    lines = write(tmp_path, "tickets.jsonl", json.dumps(
        {"external_id": "T-9", "account_external_id": "ACC-1", "subject": "x", "status": "open",
         "opened_at": "2999-05-01 10:00"}
    ) + "\n")  # fmt: skip
    assert rejected(sqlite_url, "tickets", lines) == [f"{lines}:1: opened_at: 2999-05-01 {OUT_OF_RANGE}"]


def test_cli_as_of_outside_the_range(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KIZUNA_DATABASE_URL", sqlite_url)
    result = run_cli(capsys, "pipeline", "run", "--as-of", "0001-01-01")
    assert result.code == 1
    assert "--as-of: 0001-01-01 is outside the accepted range" in result.err


# --- the importer's small points ---------------------------------------------------------


def test_an_empty_currency_cell_takes_the_default(sqlite_url: str, tmp_path: Path) -> None:
    path = write(tmp_path, "products.csv", 'code,name,kind,rank,currency,list_price\np1,Plan,plan,1,,"1,000"\n')
    summary = load(sqlite_url, "products", path)
    assert summary.inserted == 1
    engine = make_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT currency, list_price FROM products")).one() == ("JPY", 1000)
    engine.dispose()


def test_nul_characters_are_refused_with_file_line_column(sqlite_url: str, tmp_path: Path) -> None:
    path = write(tmp_path, "accounts.csv", "external_id,name,custom.note\nA-1,Acme,fine\nA-2,Ac\x00me,x\x00y\n")
    assert rejected(sqlite_url, "accounts", path) == [
        f"{path}:3: name: must not contain NUL characters",
        f"{path}:3: custom.note: must not contain NUL characters",
    ]
    lines = write(tmp_path, "accounts.jsonl", json.dumps({"external_id": "A-3", "name": "Acme\u0000"}) + "\n")
    assert rejected(sqlite_url, "accounts", lines) == [f"{lines}:1: name: must not contain NUL characters"]


def test_a_utf8_bom_file_with_cp932_bytes_further_down_is_blamed_on_that_line(sqlite_url: str, tmp_path: Path) -> None:
    head = "\ufeffexternal_id,name\n".encode()
    good = b"".join(f"A-{i},Acme {i}\n".encode() for i in range(1, 400))  # well past the text stream's chunk
    bad = "A-999,株式会社さくら\n".encode("cp932")
    path = tmp_path / "accounts.csv"
    path.write_bytes(head + good + bad + b"A-1000,After\n")
    assert rejected(sqlite_url, "accounts", path) == [
        f"{path}:401: bytes that are not valid utf-8-sig text; give the right --encoding"
    ]


# --- exports neutralise formulas --------------------------------------------------------

HOSTILE = {
    "F-1": '=HYPERLINK("http://evil.example","Click")',
    "F-2": "-2+3+cmd|' /C calc'!A0",
    "F-3": "@SUM(1+1)*cmd|' /C calc'!A0",
    "F-4": "+81 3 1234 5678",
    "F-5": "'=already quoted",
    "F-6": "plain 株式会社",
}


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_exports_neutralise_formulas_and_import_them_back_unchanged(
    app: FastAPI, client: TestClient, store_url: str, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    client.headers["Authorization"] = f"Bearer {make_api_key(app, 'write')}"
    for key, name in HOSTILE.items():
        custom = {"delta": -5, "formula": "=1+1", "minus": "-cmd"}
        response = client.post("/api/accounts", json={"external_id": key, "name": name, "custom_fields": custom})
        assert response.status_code == 201, response.text
    monkeypatch.setenv("KIZUNA_DATABASE_URL", store_url)
    assert run_cli(capsys, "export", "--bom", str(tmp_path / "safe")).code == 0
    assert run_cli(capsys, "export", "--raw", str(tmp_path / "raw")).code == 0

    def cells(folder: str) -> dict[str, dict[str, str]]:
        with (tmp_path / folder / "accounts.csv").open(encoding="utf-8-sig", newline="") as fh:
            return {row["external_id"]: row for row in csv.DictReader(fh)}

    safe, raw = cells("safe"), cells("raw")
    assert safe["F-1"]["name"] == '\'=HYPERLINK("http://evil.example","Click")'
    assert safe["F-2"]["name"] == "'-2+3+cmd|' /C calc'!A0"
    assert safe["F-3"]["name"] == "'@SUM(1+1)*cmd|' /C calc'!A0"
    assert safe["F-4"]["name"] == "'+81 3 1234 5678"
    assert safe["F-5"]["name"] == "''=already quoted"  # one more quote, so that import can drop exactly one
    assert safe["F-6"]["name"] == "plain 株式会社"
    assert (safe["F-1"]["custom.delta"], safe["F-1"]["custom.formula"], safe["F-1"]["custom.minus"]) == (
        "-5", "'=1+1", "'-cmd",
    )  # a number is data; text is neutralised  # fmt: skip
    assert {k: row["name"] for k, row in raw.items()} == HOSTILE
    assert raw["F-1"]["custom.formula"] == "=1+1"

    # Round trip: the neutralised export imports back as the original text.
    other = tmp_path / "other.db"
    monkeypatch.setenv("KIZUNA_DATABASE_URL", f"sqlite:///{other}")
    result = run_cli(capsys, "import", "accounts", str(tmp_path / "safe" / "accounts.csv"))
    assert result.code == 0, result.err
    engine = make_engine(f"sqlite:///{other}")
    with engine.connect() as conn:
        names = dict(conn.execute(text("SELECT external_id, name FROM accounts")).all())
        customs = conn.execute(text("SELECT custom_fields FROM accounts WHERE external_id = 'F-1'")).scalar_one()
    engine.dispose()
    assert names == HOSTILE
    assert json.loads(customs) == {"delta": "-5", "formula": "=1+1", "minus": "-cmd"}


# --- strict types and duplicate keys at the API door --------------------------------------


def test_the_api_refuses_booleans_as_integers_text_as_scores_and_duplicate_keys(
    client: TestClient, app: FastAPI
) -> None:
    client.headers["Authorization"] = f"Bearer {make_api_key(app, 'write')}"
    account = client.post("/api/accounts", json={"external_id": "A-1", "name": "Acme"}).json()["id"]
    assert _errors(client.post("/api/accounts", json={"external_id": "A-2", "name": "B", "employee_count": True})) == [
        ("invalid_input", "employee_count")
    ]
    survey = {"external_id": "S-1", "account_id": account, "kind": "nps", "score": 9,
              "answered_at": "2026-01-01T00:00:00Z"}  # fmt: skip
    assert _errors(client.post("/api/survey-responses", json={**survey, "score": "5"})) == [("invalid_input", "score")]
    assert _errors(client.post("/api/survey-responses", json={**survey, "score": True})) == [("invalid_input", "score")]
    assert _errors(client.post("/api/survey-responses", json={**survey, "account_id": True})) == [
        ("invalid_input", "account_id")
    ]
    created = client.post("/api/survey-responses", json=survey)
    assert created.status_code == 201, created.text
    assert created.json()["score"] == 9
    assert (
        client.get("/api/survey-responses", params={"account_id": str(account)}).json()["total"] == 1
    )  # queries: text

    json_headers = {"Content-Type": "application/json"}
    twice = client.post("/api/accounts", content=b'{"external_id": "A-3", "name": "Good", "name": "Evil"}',
                        headers=json_headers)  # fmt: skip
    assert twice.status_code == 422
    assert _errors(twice) == [("duplicate_key", "name")]
    nested = client.patch(f"/api/accounts/{account}", content=b'{"custom_fields": {"tier": "a", "tier": "b"}}',
                          headers=json_headers)  # fmt: skip
    assert _errors(nested) == [("duplicate_key", "tier")]
    assert client.get("/api/accounts", params={"external_id": "A-3"}).json()["total"] == 0  # nothing written
    assert client.get(f"/api/accounts/{account}").json()["custom_fields"] == {}
