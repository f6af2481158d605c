"""The REST API under /api/: CRUD of the seven customer resources, filters, sorts,
pages, the importer's rules, references, keys, sizes, authorization and CSRF — every
error in the documented shape with its status and code, never a 500.

The core CRUD and the account-summary tests run on SQLite and PostgreSQL; the rest on
SQLite only (``sqlite_only``), which keeps the module quick.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any, get_args

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Enum, String

from kizuna.api.schemas import accounts as account_schemas
from kizuna.api.schemas import activities as activity_schemas
from kizuna.api.schemas import contacts as contact_schemas
from kizuna.api.schemas import products as product_schemas
from kizuna.api.schemas import subscriptions as subscription_schemas
from kizuna.api.schemas import survey_responses as survey_schemas
from kizuna.api.schemas import tickets as ticket_schemas
from kizuna.db import models
from kizuna.services import records
from kizuna.services.accounts import ACCOUNT_SORTS
from kizuna.settings import Settings
from tests.conftest import make_api_key, make_user, sign_in

sqlite_only = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


#: The day the app takes as today (an injected clock: ``KIZUNA_TODAY``), not the machine's.
TODAY = date(2026, 11, 20)


@pytest.fixture
def app_settings(store_url: str) -> Settings:
    return Settings(database_url=store_url, today=TODAY)


def today() -> date:
    return TODAY


# --- helpers ---------------------------------------------------------------------------


def errors(response: Any, status: int) -> list[dict[str, Any]]:
    """The documented error shape, with the expected status."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"errors"}, body
    assert body["errors"], body
    for e in body["errors"]:
        assert set(e) == {"code", "message", "field"}, e
        assert isinstance(e["code"], str)
        assert isinstance(e["message"], str)
        assert e["message"]
    return body["errors"]


def fails(response: Any, status: int, code: str, field: str | None = "?") -> dict[str, Any]:
    """The response is an error with ``code`` (and ``field``, unless "?") among its errors."""
    found = errors(response, status)
    for e in found:
        if e["code"] == code and (field == "?" or e["field"] == field):
            return e
    raise AssertionError(f"no {code!r} on {field!r} in {found}")


def create(api: TestClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(path, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def ids(response: Any) -> list[int]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def make_owner(app: FastAPI) -> int:
    """A CSM without a password (hashing one costs more than the rest of a test)."""
    from kizuna.domain.enums import UserRole
    from kizuna.services import auth

    with app.state.kizuna.unit_of_work() as session:
        return auth.create_user(session, email="owner@kizuna.example", name="Owner", role=UserRole.CSM).id


@pytest.fixture
def world(app: FastAPI, api: TestClient) -> dict[str, Any]:
    """Two accounts (one owned), a plan and an add-on, a contact at each account."""
    owner = make_owner(app)
    acme = create(api, "/api/accounts", {"external_id": "ACC-1", "name": "Acme 株式会社", "domain": "acme.co.jp",
                                         "owner_id": owner, "industry": "製造"})  # fmt: skip
    beta = create(api, "/api/accounts", {"external_id": "ACC-2", "name": "Beta", "custom_fields": {"tier": "gold"}})
    pro = create(api, "/api/products", {"code": "plan-pro", "name": "Pro", "kind": "plan", "rank": 2,
                                        "list_price": 50000})  # fmt: skip
    sso = create(api, "/api/products", {"code": "addon-sso", "name": "SSO", "kind": "addon", "rank": 1})
    yamada = create(api, "/api/contacts", {"external_id": "CON-1", "account_id": acme["id"], "name": "山田 太郎",
                                           "email": "Yamada@Acme.co.jp"})  # fmt: skip
    suzuki = create(api, "/api/contacts", {"external_id": "CON-2", "account_id": beta["id"], "name": "鈴木"})
    return {"owner": owner, "acme": acme["id"], "beta": beta["id"], "pro": pro["id"], "sso": sso["id"],
            "yamada": yamada["id"], "suzuki": suzuki["id"]}  # fmt: skip


# --- CRUD of every resource, on both backends --------------------------------------------

CRUD: dict[str, tuple[Any, dict[str, Any], dict[str, Any]]] = {
    # path: (body for create, given the world; what the create returns beyond the body; a patch)
    "accounts": (
        lambda w: {"external_id": "NEW-1", "name": "New Co", "domain": "HTTPS://www.new.example/about",
                   "employee_count": 40, "owner_id": w["owner"], "parent_id": w["acme"], "custom_fields": {"n": 1}},
        {"domain": "new.example", "status": "prospect", "mrr": 0, "owner_name": "Owner"},
        {"name": "Renamed Co", "industry": "SaaS", "domain": None},
    ),
    "contacts": (
        lambda w: {"external_id": "NEW-1", "account_id": w["acme"], "name": "伊藤", "email": "Ito@Acme.co.jp",
                   "is_champion": True},
        {"email": "ito@acme.co.jp", "role": None},
        {"role": "決裁者", "is_champion": False},
    ),
    "products": (
        lambda w: {"code": "NEW-1", "name": "Team", "kind": "plan", "list_price": 1250, "currency": "usd"},
        {"currency": "USD", "rank": 0, "is_active": True, "seats_included": None},
        {"is_active": False, "description": "Legacy plan", "list_price": 990},
    ),
    "subscriptions": (
        lambda w: {"external_id": "NEW-1", "account_id": w["beta"], "product_id": w["pro"], "monthly_amount": 30000,
                   "status": "active", "started_on": "2024-04-01", "current_term_end": "2099-03-31"},
        {"quantity": 1, "currency": "JPY", "billing_interval": "month", "ended_on": None},
        {"quantity": 5, "monthly_amount": 45000, "cancel_reason": "none yet"},
    ),
    "tickets": (
        lambda w: {"external_id": "NEW-1", "account_id": w["acme"], "contact_id": w["yamada"], "status": "open",
                   "subject": "ログインできない", "opened_at": "2024-09-18T10:00:00+09:00"},
        {"opened_at": "2024-09-18T01:00:00Z", "priority": "normal", "channel": "email", "message_count": 1},
        {"status": "solved", "resolved_at": "2024-09-19T00:30:00Z", "csat": 5},
    ),
    "survey-responses": (
        lambda w: {"external_id": "NEW-1", "account_id": w["acme"], "contact_id": w["yamada"], "kind": "nps",
                   "score": 9, "answered_at": "2024-09-18T10:00:00Z"},
        {"answered_at": "2024-09-18T10:00:00Z", "comment": None},
        {"comment": "サポートが丁寧", "score": 10},
    ),
    "activities": (
        lambda w: {"external_id": "NEW-1", "account_id": w["acme"], "contact_id": w["yamada"], "kind": "meeting",
                   "occurred_at": "2024-09-18T14:00:00+09:00", "subject": "QBR"},
        {"occurred_at": "2024-09-18T05:00:00Z", "author_id": None, "summary": None},
        {"summary": "Renewal looks safe.", "kind": "call"},
    ),
}  # fmt: skip


@pytest.mark.parametrize("path", list(CRUD))
def test_create_get_list_update_delete(api: TestClient, world: dict[str, Any], path: str) -> None:
    make_body, derived, patch = CRUD[path]
    body = make_body(world)
    key = "code" if path == "products" else "external_id"
    created = create(api, f"/api/{path}", body)
    expected = {**body, **derived}
    assert {k: created[k] for k in expected} == expected
    assert isinstance(created["id"], int)
    assert created["created_at"].endswith("Z")

    record = f"/api/{path}/{created['id']}"
    assert api.get(record).json() == created
    listed = api.get(f"/api/{path}", params={key: "NEW-1"}).json()
    assert listed["total"] == 1
    assert listed["items"] == [created]

    updated = api.patch(record, json=patch)
    assert updated.status_code == 200, updated.text
    after = updated.json()
    for field, value in patch.items():
        assert after[field] == value, field
    untouched = {k: v for k, v in created.items() if k not in patch and k not in ("updated_at", "status", "mrr")}
    assert {k: after[k] for k in untouched} == untouched
    assert api.get(record).json() == after

    deleted = api.delete(record)
    assert deleted.status_code == 204
    assert deleted.content == b""
    noun = path.rstrip("s").replace("-", "_").replace("activitie", "activity")
    fails(api.get(record), 404, f"{noun}_not_found", None)
    fails(api.patch(record, json=patch), 404, f"{noun}_not_found")
    fails(api.delete(record), 404, f"{noun}_not_found")
    assert api.get(f"/api/{path}", params={key: "NEW-1"}).json()["total"] == 0


# --- accounts: the list service, derived summaries, cascades --------------------------------


def test_a_monthly_line_is_no_renewal_and_terms_have_a_range(api: TestClient, world: dict[str, Any]) -> None:
    soon = (today() + timedelta(days=5)).isoformat()
    line = create(api, "/api/subscriptions", {
        "external_id": "SUB-M", "account_id": world["acme"], "product_id": world["pro"], "monthly_amount": 30000,
        "status": "active", "started_on": "2024-01-01", "current_term_end": soon,
    })  # fmt: skip
    assert line["term_months"] is None  # inferred from monthly billing: 1
    acme = api.get(f"/api/accounts/{world['acme']}").json()
    assert (acme["renewal_on"], acme["contract_term_months"]) == (None, 1)
    assert ids(api.get("/api/accounts", params={"renewal_within_days": 30})) == []
    assert api.get("/api/home").json()["renewals_90d"] == 0
    assert api.get("/api/home").json()["monthly_evergreen"] == 1
    patched = api.patch(f"/api/subscriptions/{line['id']}", json={"term_months": 12})
    assert patched.status_code == 200, patched.text
    acme = api.get(f"/api/accounts/{world['acme']}").json()
    assert (acme["renewal_on"], acme["contract_term_months"]) == (soon, 12)
    assert ids(api.get("/api/accounts", params={"renewal_within_days": 30})) == [world["acme"]]
    for bad in (0, 121, -12, "twelve"):
        fails(api.patch(f"/api/subscriptions/{line['id']}", json={"term_months": bad}), 422, "invalid_input",
              "term_months")  # fmt: skip


def test_accounts_list_filters_sorts_and_summaries(api: TestClient, world: dict[str, Any]) -> None:
    renewal = (today() + timedelta(days=30)).isoformat()
    line = create(api, "/api/subscriptions", {
        "external_id": "SUB-1", "account_id": world["acme"], "product_id": world["pro"], "monthly_amount": 50000,
        "status": "active", "started_on": "2024-01-01", "current_term_end": renewal, "term_months": 12,
    })  # fmt: skip
    acme = api.get(f"/api/accounts/{world['acme']}").json()
    assert (acme["status"], acme["mrr"], acme["currency"], acme["plan_name"], acme["renewal_on"]) == (
        "active", 50000, "JPY", "Pro", renewal)  # fmt: skip
    assert acme["owner_name"] == "Owner"
    assert acme["contract_term_months"] == 12

    a, b = world["acme"], world["beta"]
    listing = api.get("/api/accounts").json()
    assert listing["total"] == 2
    assert [x["id"] for x in listing["items"]] == [a, b]  # -mrr by default
    assert listing["items"][1]["custom_fields"] == {"tier": "gold"}
    assert ids(api.get("/api/accounts", params={"status": "active"})) == [a]
    assert ids(api.get("/api/accounts", params={"status": "prospect"})) == [b]
    assert ids(api.get("/api/accounts", params={"owner_id": world["owner"]})) == [a]
    assert ids(api.get("/api/accounts", params={"unowned": "true"})) == [b]
    assert ids(api.get("/api/accounts", params={"plan_id": world["pro"]})) == [a]
    assert ids(api.get("/api/accounts", params={"renewal_within_days": 60})) == [a]
    assert ids(api.get("/api/accounts", params={"renewal_within_days": 10})) == []
    assert ids(api.get("/api/accounts", params={"q": "beta"})) == [b]
    assert ids(api.get("/api/accounts", params={"q": "ACC-1"})) == [a]
    assert ids(api.get("/api/accounts", params={"sort": "name"})) == [a, b]
    assert ids(api.get("/api/accounts", params={"sort": "-name"})) == [b, a]
    assert ids(api.get("/api/accounts", params={"sort": "mrr"})) == [b, a]
    assert ids(api.get("/api/accounts", params={"external_id": "ACC-2"})) == [b]
    assert api.get("/api/accounts", params={"external_id": "nope"}).json() == {
        "items": [], "total": 0, "page": 1, "per_page": 50}  # fmt: skip
    fails(api.get("/api/accounts", params={"external_id": "ACC-2", "status": "active"}), 422, "invalid_input",
          "external_id")  # fmt: skip
    fails(api.get("/api/accounts", params={"sort": "bogus"}), 422, "invalid_input", "sort")
    fails(api.get("/api/accounts", params={"status": "bogus"}), 422, "invalid_input", "status")
    fails(api.get("/api/accounts", params={"renewal_within_days": 4000}), 422, "invalid_input", "renewal_within_days")

    # cancelling the line churns the account; deleting it leaves a prospect
    ended = today().isoformat()
    changed = api.patch(f"/api/subscriptions/{line['id']}", json={"status": "canceled", "ended_on": ended})
    assert changed.status_code == 200, changed.text
    acme = api.get(f"/api/accounts/{a}").json()
    assert (acme["status"], acme["mrr"], acme["churned_on"]) == ("churned", 0, ended)
    assert api.delete(f"/api/subscriptions/{line['id']}").status_code == 204
    assert api.get(f"/api/accounts/{a}").json()["status"] == "prospect"


def test_deleting_an_account_deletes_its_dependants(api: TestClient, world: dict[str, Any]) -> None:
    a, b = world["acme"], world["beta"]
    create(api, "/api/subscriptions", {"external_id": "SUB-1", "account_id": b, "product_id": world["pro"],
                                       "monthly_amount": 1, "status": "active", "started_on": "2024-01-01"})  # fmt: skip
    ticket = create(api, "/api/tickets", {"external_id": "T-1", "account_id": b, "status": "open",
                                          "opened_at": "2024-01-02T00:00:00Z"})  # fmt: skip
    assert api.patch(f"/api/accounts/{a}", json={"parent_id": b}).status_code == 200
    assert api.delete(f"/api/accounts/{b}").status_code == 204
    fails(api.get(f"/api/accounts/{b}"), 404, "account_not_found")
    fails(api.get(f"/api/contacts/{world['suzuki']}"), 404, "contact_not_found")
    fails(api.get(f"/api/tickets/{ticket['id']}"), 404, "ticket_not_found")
    assert api.get("/api/subscriptions", params={"account_id": b}).json()["total"] == 0
    assert api.get(f"/api/accounts/{a}").json()["parent_id"] is None
    assert api.get(f"/api/contacts/{world['yamada']}").status_code == 200
    assert api.delete(f"/api/products/{world['pro']}").status_code == 204  # no longer in use


@sqlite_only
def test_account_references_and_rules(api: TestClient, world: dict[str, Any]) -> None:
    a, b = world["acme"], world["beta"]
    fails(api.post("/api/accounts", json={"external_id": "X", "name": "X", "owner_id": 999}), 422, "unknown_user",
          "owner_id")  # fmt: skip
    fails(api.post("/api/accounts", json={"external_id": "X", "name": "X", "parent_id": 999}), 422,
          "unknown_account", "parent_id")  # fmt: skip
    fails(api.post("/api/accounts", json={"external_id": "ACC-1", "name": "Again"}), 409, "conflict", "external_id")
    fails(api.patch(f"/api/accounts/{b}", json={"external_id": "ACC-1"}), 409, "conflict", "external_id")
    assert api.patch(f"/api/accounts/{a}", json={"external_id": "ACC-1"}).status_code == 200  # its own key
    fails(api.post("/api/accounts", json={"external_id": "X", "name": "X", "domain": "not a domain"}), 422,
          "invalid_input", "domain")  # fmt: skip
    fails(api.patch(f"/api/accounts/{a}", json={"parent_id": a}), 422, "invalid_input", "parent_id")
    assert api.patch(f"/api/accounts/{a}", json={"parent_id": b}).status_code == 200
    fails(api.patch(f"/api/accounts/{b}", json={"parent_id": a}), 422, "invalid_input", "parent_id")  # a loop
    fails(api.patch(f"/api/accounts/{a}", json={"custom_fields": {"nested": {"no": 1}}}), 422, "invalid_input")
    fails(api.patch(f"/api/accounts/{a}", json={"custom_fields": None}), 422, "invalid_input", "custom_fields")
    replaced = api.patch(f"/api/accounts/{b}", json={"custom_fields": {"tier": "silver", "seats": 12, "vip": True}})
    assert replaced.json()["custom_fields"] == {"tier": "silver", "seats": 12, "vip": True}
    for field in ("status", "mrr", "plan_id"):  # derived: not writable
        fails(api.patch(f"/api/accounts/{a}", json={field: None}), 422, "invalid_input", field)


# --- products -----------------------------------------------------------------------------


@sqlite_only
def test_products_keys_in_use_and_kind_changes(api: TestClient, world: dict[str, Any]) -> None:
    fails(api.post("/api/products", json={"code": "plan-pro", "name": "Dup", "kind": "plan"}), 409, "conflict", "code")
    fails(api.patch(f"/api/products/{world['sso']}", json={"code": "plan-pro"}), 409, "conflict", "code")
    fails(api.post("/api/products", json={"code": "x", "name": "X", "kind": "plan", "currency": "XXX"}), 422,
          "invalid_input", "currency")  # fmt: skip
    fails(api.post("/api/products", json={"code": "x", "name": "X", "kind": "bundle"}), 422, "invalid_input", "kind")
    fails(api.post("/api/products", json={"code": "x", "name": "X", "kind": "plan", "list_price": -1}), 422,
          "invalid_input", "list_price")  # fmt: skip
    create(api, "/api/subscriptions", {"external_id": "SUB-1", "account_id": world["acme"], "product_id": world["pro"],
                                       "monthly_amount": 50000, "status": "active", "started_on": "2024-01-01"})  # fmt: skip
    fails(api.delete(f"/api/products/{world['pro']}"), 409, "product_in_use", None)
    assert api.get(f"/api/accounts/{world['acme']}").json()["plan_id"] == world["pro"]
    assert api.patch(f"/api/products/{world['pro']}", json={"kind": "addon"}).status_code == 200
    assert api.get(f"/api/accounts/{world['acme']}").json()["plan_id"] is None  # no plan any more

    assert ids(api.get("/api/products")) == [world["sso"], world["pro"]]  # rank
    assert ids(api.get("/api/products", params={"sort": "-rank"})) == [world["pro"], world["sso"]]
    assert ids(api.get("/api/products", params={"code": "addon-sso"})) == [world["sso"]]
    assert ids(api.get("/api/products", params={"kind": "plan"})) == []
    assert ids(api.get("/api/products", params={"is_active": "true", "sort": "name"})) == [world["pro"], world["sso"]]


# --- subscriptions: the importer's rules ------------------------------------------------------


@sqlite_only
def test_subscription_rules_and_moves(api: TestClient, world: dict[str, Any]) -> None:
    base = {"external_id": "SUB-1", "account_id": world["acme"], "product_id": world["pro"], "monthly_amount": 50000,
            "status": "active", "started_on": "2024-04-01"}  # fmt: skip
    e = fails(api.post("/api/subscriptions", json={**base, "status": "canceled", "ended_on": "2024-03-01"}), 422,
              "invalid_input", "ended_on")  # fmt: skip
    assert "started_on" in e["message"]
    fails(api.post("/api/subscriptions", json={**base, "status": "canceled"}), 422, "invalid_input", "ended_on")
    fails(api.post("/api/subscriptions", json={**base, "ended_on": "2024-05-01"}), 422, "invalid_input", "ended_on")
    fails(api.post("/api/subscriptions", json={**base, "trial_ends_on": "2024-01-01"}), 422, "invalid_input",
          "trial_ends_on")  # fmt: skip
    fails(api.post("/api/subscriptions", json={**base, "product_id": 999}), 422, "unknown_product", "product_id")
    fails(api.post("/api/subscriptions", json={**base, "account_id": 999}), 422, "unknown_account", "account_id")
    fails(api.post("/api/subscriptions", json={**base, "monthly_amount": 10**14}), 422, "invalid_input",
          "monthly_amount")  # fmt: skip
    fails(api.post("/api/subscriptions", json={k: v for k, v in base.items() if k != "started_on"}), 422,
          "invalid_input", "started_on")  # fmt: skip
    line = create(api, "/api/subscriptions", base)
    fails(api.post("/api/subscriptions", json=base), 409, "conflict", "external_id")
    ended = api.patch(f"/api/subscriptions/{line['id']}", json={"status": "expired", "ended_on": "2024-06-01"})
    assert ended.status_code == 200, ended.text
    # the rules are checked on the result of a partial update
    fails(api.patch(f"/api/subscriptions/{line['id']}", json={"started_on": "2024-07-01"}), 422, "invalid_input",
          "ended_on")  # fmt: skip
    fails(api.patch(f"/api/subscriptions/{line['id']}", json={"status": "active"}), 422, "invalid_input", "ended_on")
    assert api.patch(f"/api/subscriptions/{line['id']}", json={"status": "active", "ended_on": None}).status_code == 200
    assert api.get(f"/api/accounts/{world['acme']}").json()["mrr"] == 50000

    moved = api.patch(f"/api/subscriptions/{line['id']}", json={"account_id": world["beta"]})
    assert moved.status_code == 200
    assert api.get(f"/api/accounts/{world['acme']}").json()["mrr"] == 0  # both accounts refreshed
    assert api.get(f"/api/accounts/{world['beta']}").json()["mrr"] == 50000

    other = create(api, "/api/subscriptions", {**base, "external_id": "SUB-2", "monthly_amount": 9000,
                                               "current_term_end": "2099-01-01", "product_id": world["sso"]})  # fmt: skip
    assert ids(api.get("/api/subscriptions", params={"sort": "-monthly_amount"})) == [line["id"], other["id"]]
    assert ids(api.get("/api/subscriptions", params={"sort": "current_term_end"})) == [other["id"], line["id"]]
    assert ids(api.get("/api/subscriptions", params={"sort": "-current_term_end"})) == [other["id"], line["id"]]
    assert ids(api.get("/api/subscriptions", params={"account_id": world["acme"]})) == [other["id"]]
    assert ids(api.get("/api/subscriptions", params={"product_id": world["sso"]})) == [other["id"]]
    assert ids(api.get("/api/subscriptions", params={"status": "canceled"})) == []


# --- tickets, survey responses, activities ---------------------------------------------------


@sqlite_only
def test_ticket_rules_filters_and_times(api: TestClient, world: dict[str, Any]) -> None:
    base = {"external_id": "T-1", "account_id": world["acme"], "status": "open", "opened_at": "2024-09-18T10:00:00"}
    fails(api.post("/api/tickets", json={**base, "resolved_at": "2024-09-17T10:00:00+09:00"}), 422, "invalid_input",
          "resolved_at")  # fmt: skip
    fails(api.post("/api/tickets", json={**base, "first_response_at": "2024-09-18T09:00:00"}), 422, "invalid_input",
          "first_response_at")  # fmt: skip
    fails(api.post("/api/tickets", json={**base, "csat": 6}), 422, "invalid_input", "csat")
    fails(api.post("/api/tickets", json={**base, "contact_id": world["suzuki"]}), 422, "contact_not_on_account",
          "contact_id")  # fmt: skip
    fails(api.post("/api/tickets", json={**base, "contact_id": 999}), 422, "unknown_contact", "contact_id")
    fails(api.post("/api/tickets", json={**base, "opened_at": "0001-01-01T00:00:00+09:00"}), 422,
          "date_out_of_range", "opened_at")  # fmt: skip
    first = create(api, "/api/tickets", {**base, "contact_id": world["yamada"]})
    assert first["opened_at"] == "2024-09-18T01:00:00Z"  # no offset: read in KIZUNA_TIMEZONE (Asia/Tokyo)
    fails(api.patch(f"/api/tickets/{first['id']}", json={"account_id": world["beta"]}), 422, "contact_not_on_account",
          "contact_id")  # fmt: skip
    assert api.patch(f"/api/tickets/{first['id']}", json={"status": "pending"}).status_code == 200
    second = create(api, "/api/tickets", {**base, "external_id": "T-2", "opened_at": "2024-10-01T00:00:00Z",
                                          "priority": "urgent"})  # fmt: skip
    assert ids(api.get("/api/tickets")) == [second["id"], first["id"]]  # newest first
    assert ids(api.get("/api/tickets", params={"sort": "opened_at"})) == [first["id"], second["id"]]
    assert ids(api.get("/api/tickets", params={"status": "pending"})) == [first["id"]]
    assert ids(api.get("/api/tickets", params={"priority": "urgent"})) == [second["id"]]
    assert ids(api.get("/api/tickets", params={"contact_id": world["yamada"]})) == [first["id"]]
    assert ids(api.get("/api/tickets", params={"account_id": world["beta"]})) == []


@sqlite_only
def test_survey_scores_follow_the_kind(api: TestClient, world: dict[str, Any]) -> None:
    base = {"external_id": "S-1", "account_id": world["acme"], "kind": "nps", "score": 9,
            "answered_at": "2024-09-18T10:00:00+09:00"}  # fmt: skip
    fails(api.post("/api/survey-responses", json={**base, "score": 11}), 422, "invalid_input", "score")
    e = fails(api.post("/api/survey-responses", json={**base, "kind": "csat", "score": 7}), 422, "invalid_input",
              "score")  # fmt: skip
    assert e["message"] == "a CSAT score must be from 1 to 5"
    fails(api.post("/api/survey-responses", json={**base, "kind": "csi"}), 422, "invalid_input", "kind")
    e = fails(api.post("/api/survey-responses", json={**base, "kind": "ces", "score": 8}), 422, "invalid_input",
              "score")  # fmt: skip
    assert e["message"] == "a CES score must be from 1 to 7"
    nps = create(api, "/api/survey-responses", base)
    fails(api.patch(f"/api/survey-responses/{nps['id']}", json={"kind": "csat"}), 422, "invalid_input", "score")
    csat = api.patch(f"/api/survey-responses/{nps['id']}", json={"kind": "csat", "score": 4})
    assert csat.status_code == 200, csat.text
    other = create(api, "/api/survey-responses", {**base, "external_id": "S-2", "score": 3,
                                                  "answered_at": "2024-09-19T10:00:00Z"})  # fmt: skip
    assert ids(api.get("/api/survey-responses")) == [other["id"], nps["id"]]
    assert ids(api.get("/api/survey-responses", params={"kind": "csat"})) == [nps["id"]]
    assert ids(api.get("/api/survey-responses", params={"sort": "score"})) == [other["id"], nps["id"]]


@sqlite_only
def test_activities_are_logged_through_the_timeline_service(app: FastAPI, client: TestClient,
                                                            world: dict[str, Any]) -> None:  # fmt: skip
    api_key = {"Authorization": client.headers["Authorization"]}
    base = {"account_id": world["acme"], "kind": "call", "occurred_at": "2024-09-18T10:00:00+09:00"}
    fails(client.post("/api/activities", json=base), 422, "activity_empty", "summary")
    fails(client.post("/api/activities", json={**base, "subject": "x", "contact_id": world["suzuki"]}), 422,
          "contact_not_on_account", "contact_id")  # fmt: skip
    fails(client.post("/api/activities", json={**base, "subject": "x", "author_id": 999}), 422, "unknown_user",
          "author_id")  # fmt: skip
    by_key = create(client, "/api/activities", {**base, "subject": "Kickoff"})
    assert by_key["external_id"].startswith("ACT-")
    assert by_key["author_id"] is None  # an API key is nobody
    fails(client.post("/api/activities", json={**base, "subject": "x", "external_id": by_key["external_id"]}), 409,
          "conflict", "external_id")  # fmt: skip
    fails(client.patch(f"/api/activities/{by_key['id']}", json={"subject": None}), 422, "activity_empty", "summary")
    fails(client.patch(f"/api/activities/{by_key['id']}", json={"occurred_at": "1860-01-01T00:00:00Z"}), 422,
          "occurred_at_out_of_range", "occurred_at")  # fmt: skip

    del client.headers["Authorization"]
    csm = make_user(app, "sato@kizuna.example", "csm", name="佐藤")
    token = sign_in(client, "sato@kizuna.example")
    mine = client.post("/api/activities", json={**base, "summary": "Called about renewal"},
                       headers={"X-CSRF-Token": token})  # fmt: skip
    assert mine.status_code == 201, mine.text
    assert mine.json()["author_id"] == csm  # the signed-in user wrote it
    assert ids(client.get("/api/activities", params={"author_id": csm})) == [mine.json()["id"]]
    assert ids(client.get("/api/activities", params={"kind": "meeting"}, headers=api_key)) == []
    assert ids(client.get("/api/activities", params={"sort": "id"})) == [by_key["id"], mine.json()["id"]]


# --- pages ----------------------------------------------------------------------------------


@sqlite_only
def test_pages_are_bounded_and_stable(api: TestClient, world: dict[str, Any]) -> None:
    for i in range(5):
        create(api, "/api/contacts", {"external_id": f"P-{i}", "account_id": world["beta"], "name": "Same name"})
    seen: list[int] = []
    for page in (1, 2, 3):
        body = api.get("/api/contacts", params={"account_id": world["beta"], "sort": "name", "per_page": 2,
                                                "page": page}).json()  # fmt: skip
        assert (body["total"], body["page"], body["per_page"]) == (6, page, 2)
        seen += [item["id"] for item in body["items"]]
    assert len(seen) == len(set(seen)) == 6  # ties broken by id: no repeats, none missed
    assert api.get("/api/contacts", params={"page": 99}).json()["items"] == []
    assert ids(api.get("/api/contacts", params={"email": "YAMADA@acme.co.jp"})) == [world["yamada"]]
    assert ids(api.get("/api/contacts", params={"is_champion": "false", "account_id": world["acme"]})) == [
        world["yamada"]]  # fmt: skip
    for params, field in (({"per_page": 201}, "per_page"), ({"per_page": 0}, "per_page"), ({"page": 0}, "page"),
                          ({"page": "two"}, "page"), ({"sort": "email"}, "sort"), ({"account_id": "x"}, "account_id"),
                          ({"account_id": 2**40}, "account_id"), ({"external_id": ""}, "external_id")):  # fmt: skip
        fails(api.get("/api/contacts", params=params), 422, "invalid_input", field)
    assert api.get("/api/contacts", params={"per_page": 200}).status_code == 200


# --- bad input: every answer in the documented shape, never a 500 (both backends) -------------


def test_bad_input_is_refused_in_the_documented_shape(api: TestClient, world: dict[str, Any]) -> None:
    a = world["acme"]
    good = {"external_id": "C-9", "account_id": a, "name": "Good"}
    fails(api.post("/api/contacts", json={**good, "account_id": "abc"}), 422, "invalid_input", "account_id")
    fails(api.post("/api/contacts", json={**good, "name": 42}), 422, "invalid_input", "name")
    fails(api.post("/api/contacts", json={**good, "is_champion": "maybe"}), 422, "invalid_input", "is_champion")
    fails(api.post("/api/contacts", json={**good, "nickname": "x"}), 422, "invalid_input", "nickname")
    fails(api.post("/api/contacts", json={**good, "name": "x" * 201}), 422, "invalid_input", "name")
    fails(api.post("/api/contacts", json={**good, "name": "   "}), 422, "invalid_input", "name")
    fails(api.post("/api/contacts", json={**good, "external_id": "x" * 129}), 422, "invalid_input", "external_id")
    fails(api.post("/api/contacts", json={**good, "email": "not-an-email"}), 422, "invalid_input", "email")
    fails(api.post("/api/contacts", json={**good, "name": "nul\x00byte"}), 422, "invalid_input", "name")
    fails(api.post("/api/contacts", json={**good, "account_id": 999}), 422, "unknown_account", "account_id")
    fails(api.post("/api/contacts", json={**good, "account_id": 2**31}), 422, "invalid_input", "account_id")
    fails(api.post("/api/contacts", json={**good, "account_id": 2**70}), 422, "invalid_input", "account_id")
    fails(api.post("/api/contacts", json={"account_id": a}), 422, "invalid_input", "external_id")
    fails(api.post("/api/contacts", json=[good]), 422, "invalid_input")
    fails(api.post("/api/contacts", content=b"{not json", headers={"Content-Type": "application/json"}), 422,
          "invalid_input")  # fmt: skip
    fails(api.post("/api/contacts", content=b"name=x", headers={"Content-Type": "text/plain"}), 422, "invalid_input")
    json_type = {"Content-Type": "application/json"}
    fails(api.post("/api/contacts", content=b'{"name": "\xff"}', headers=json_type), 400, "bad_request")  # not UTF-8
    fails(api.post("/api/contacts", content=b"[" * 100_000, headers=json_type), 400, "bad_request")  # too deep
    fails(api.put(f"/api/contacts/{world['yamada']}", json=good), 405, "method_not_allowed")
    fails(api.post("/api/accounts", json={"external_id": "A", "name": "A", "employee_count": 2**31}), 422,
          "invalid_input", "employee_count")  # fmt: skip
    fails(api.post("/api/tickets", json={"external_id": "T", "account_id": a, "status": "open",
                                         "opened_at": "2024-02-30T00:00:00Z"}), 422, "invalid_input", "opened_at")  # fmt: skip
    fails(api.post("/api/subscriptions", json={"external_id": "S", "account_id": a, "product_id": world["pro"],
                                               "monthly_amount": 1.5, "status": "active", "started_on": "2024-01-01"}),
          422, "invalid_input", "monthly_amount")  # fmt: skip
    fails(api.patch(f"/api/contacts/{world['yamada']}", json={"name": None}), 422, "invalid_input", "name")
    fails(api.patch(f"/api/contacts/{world['yamada']}", json={"id": 5}), 422, "invalid_input", "id")
    assert api.patch(f"/api/contacts/{world['yamada']}", json={}).json()["name"] == "山田 太郎"  # nothing to change
    for path in ("/api/contacts/0", "/api/contacts/abc", f"/api/contacts/{2**40}"):
        fails(api.get(path), 422, "invalid_input", "contact_id")
    for tail in ("ltv", "churn", "360", "timeline"):  # past SQLite's integers: a 422, not an OverflowError's 500
        fails(api.get(f"/api/accounts/{2**70}/{tail}"), 422, "invalid_input", "account_id")
    fails(api.get("/api/contacts", params={"external_id": "nul\x00"}), 422, "invalid_input", "external_id")
    fails(api.get("/api/accounts", params={"q": "nul\x00"}), 422, "invalid_input", "q")
    assert api.get("/api/accounts", params={"q": "100%_\\"}).json()["total"] == 0

    # sizes: a body over 1 MB is refused before it is read, with or without Content-Length
    big = {**good, "custom": "x" * 1_100_000}
    fails(api.post("/api/contacts", json=big), 413, "payload_too_large", None)
    fails(api.patch(f"/api/accounts/{a}", json={"custom_fields": {"k": "x" * 1_100_000}}), 413, "payload_too_large")
    chunks = (b" " * 65536 for _ in range(20))
    fails(api.post("/api/contacts", content=chunks, headers={"Content-Type": "application/json"}), 413,
          "payload_too_large")  # fmt: skip
    assert api.get(f"/api/contacts/{world['yamada']}").status_code == 200  # and the app carries on


# --- who may do what ------------------------------------------------------------------------


@sqlite_only
def test_authorization_by_key_scope_role_and_csrf(app: FastAPI, client: TestClient) -> None:
    body = {"external_id": "A-1", "name": "Acme"}
    response = client.get("/api/accounts")
    fails(response, 401, "not_authenticated", None)
    assert response.headers["WWW-Authenticate"] == "Bearer"
    fails(client.post("/api/accounts", json=body), 401, "not_authenticated")
    fails(client.get("/api/accounts", headers={"Authorization": "Bearer kz_wrong_key"}), 401, "not_authenticated")

    read = {"Authorization": f"Bearer {make_api_key(app, 'read')}"}
    assert client.get("/api/accounts", headers=read).status_code == 200
    fails(client.post("/api/accounts", json=body, headers=read), 403, "permission_denied", None)
    fails(client.delete("/api/accounts/1", headers=read), 403, "permission_denied")
    ingest = {"Authorization": f"Bearer {make_api_key(app, 'ingest')}"}
    fails(client.get("/api/accounts", headers=ingest), 403, "permission_denied")
    fails(client.post("/api/accounts", json=body, headers=ingest), 403, "permission_denied")
    write = {"Authorization": f"Bearer {make_api_key(app, 'write')}"}
    created = client.post("/api/accounts", json=body, headers=write)  # keys need no CSRF token
    assert created.status_code == 201
    record = f"/api/accounts/{created.json()['id']}"

    make_user(app, "viewer@kizuna.example", "viewer")
    token = sign_in(client, "viewer@kizuna.example")
    assert client.get(record).status_code == 200  # a viewer reads
    fails(client.patch(record, json={"name": "x"}, headers={"X-CSRF-Token": token}), 403, "permission_denied")
    client.post("/logout", data={"csrf_token": token})

    make_user(app, "csm@kizuna.example", "csm")
    token = sign_in(client, "csm@kizuna.example")
    fails(client.patch(record, json={"name": "No token"}), 403, "csrf_failed")
    fails(client.patch(record, json={"name": "Forged"}, headers={"X-CSRF-Token": "forged"}), 403, "csrf_failed")
    fails(client.delete(record), 403, "csrf_failed")
    renamed = client.patch(record, json={"name": "With token"}, headers={"X-CSRF-Token": token})
    assert renamed.status_code == 200
    assert renamed.json()["name"] == "With token"
    assert client.delete(record, headers={"X-CSRF-Token": token}).status_code == 204


# --- the OpenAPI description agrees with the code ----------------------------------------------

RESOURCES = {
    # kind: (model, create schema, update schema, sort type)
    "account": (models.Account, account_schemas.AccountCreate, account_schemas.AccountUpdate,
                account_schemas.AccountSort),
    "contact": (models.Contact, contact_schemas.ContactCreate, contact_schemas.ContactUpdate,
                contact_schemas.ContactSort),
    "product": (models.Product, product_schemas.ProductCreate, product_schemas.ProductUpdate,
                product_schemas.ProductSort),
    "subscription": (models.Subscription, subscription_schemas.SubscriptionCreate,
                     subscription_schemas.SubscriptionUpdate, subscription_schemas.SubscriptionSort),
    "ticket": (models.Ticket, ticket_schemas.TicketCreate, ticket_schemas.TicketUpdate, ticket_schemas.TicketSort),
    "survey_response": (models.SurveyResponse, survey_schemas.SurveyResponseCreate,
                        survey_schemas.SurveyResponseUpdate, survey_schemas.SurveyResponseSort),
    "activity": (models.Activity, activity_schemas.ActivityCreate, activity_schemas.ActivityUpdate,
                 activity_schemas.ActivitySort),
}  # fmt: skip


@pytest.mark.parametrize("kind", list(RESOURCES))
def test_schemas_follow_the_stored_columns_and_the_services_sorts(kind: str) -> None:
    model, create_schema, update_schema, sort = RESOURCES[kind]
    allowed = ACCOUNT_SORTS if kind == "account" else records.sorts(kind)
    assert set(get_args(sort)) == set(allowed)
    assert set(create_schema.model_fields) == set(update_schema.model_fields)
    for schema in (create_schema, update_schema):
        properties = schema.model_json_schema()["properties"]
        for column in model.__table__.columns:
            if column.name not in properties or isinstance(column.type, Enum):
                continue
            if isinstance(column.type, String) and column.type.length:
                prop = properties[column.name]
                limits = [prop.get("maxLength")] + [o.get("maxLength") for o in prop.get("anyOf", [])]
                assert column.type.length in limits, (schema.__name__, column.name)
            if not column.nullable and schema is update_schema:
                assert column.name in update_schema.not_null, (schema.__name__, column.name)


@sqlite_only
def test_every_operation_is_documented(app: FastAPI) -> None:
    spec = app.openapi()
    resources = ["accounts", "contacts", "products", "subscriptions", "tickets", "survey-responses", "activities"]
    for name in resources:
        listing = spec["paths"][f"/api/{name}"]
        assert set(listing) == {"get", "post"}
        params = {p["name"] for p in listing["get"]["parameters"]}
        assert {"page", "per_page", "sort"} <= params
        assert ("code" if name == "products" else "external_id") in params
        one = next(p for p in spec["paths"] if p.startswith(f"/api/{name}/{{") and p.endswith("}"))
        assert set(spec["paths"][one]) == {"get", "patch", "delete"}
        for operation in [*listing.values(), *spec["paths"][one].values()]:
            assert operation["summary"]
            error = operation["responses"]["422" if "422" in operation["responses"] else "401"]
            assert error["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}


@sqlite_only
def test_two_apps_in_one_process_each_answer_from_their_own_store(
    app: FastAPI, api: TestClient, sqlite_template: Path, tmp_path: Path
) -> None:
    """The routes are included once per process and shared by every app (``kizuna.main``):
    each app still reads its own store, keys and settings — the handlers take their app from
    the request, never from the inclusion that first built them."""
    from kizuna.main import create_app
    from tests.conftest import migrated_sqlite

    other = create_app(Settings(database_url=migrated_sqlite(sqlite_template, tmp_path / "other.db")))
    with TestClient(other, headers={"Accept-Language": "en"}) as second:
        second.headers["Authorization"] = f"Bearer {make_api_key(other, 'write')}"
        assert api.post("/api/accounts", json={"external_id": "A-1", "name": "一つ目"}).status_code == 201
        assert second.post("/api/accounts", json={"external_id": "B-1", "name": "二つ目"}).status_code == 201
        assert second.post("/api/accounts", json={"external_id": "B-2", "name": "三つ目"}).status_code == 201
        assert [a["external_id"] for a in api.get("/api/accounts").json()["items"]] == ["A-1"]
        assert sorted(a["external_id"] for a in second.get("/api/accounts").json()["items"]) == ["B-1", "B-2"]
        # a key is one store's: the first app's key means nothing to the second
        r = second.get("/api/accounts", headers={"Authorization": api.headers["Authorization"]})
        assert (r.status_code, r.json()["errors"][0]["code"]) == (401, "not_authenticated")
    assert other.router.routes[-1] is app.router.routes[-1]  # the very same inclusion, not a copy
