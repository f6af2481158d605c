"""The accounts list's filter menus are kept per process while the store is unchanged
(issue 19), and shown afresh after any committed change: by the app itself, or by
another connection (a second server process, the CLI). Real SQLite stores and real
HTTP through the app.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update

from kizuna.db import StoreVersion, make_engine, session_scope
from kizuna.db.models import Account, Product
from kizuna.domain.enums import ProductKind
from kizuna.settings import Settings
from tests.conftest import make_user, sign_in

#: The cache exists on SQLite only (PostgreSQL has no store version: nothing is kept).
pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


def menu(page: str, name: str) -> list[str]:
    """The options of the filter form's ``<select name=…>``, as the reader sees them."""
    form = page.split('id="account-filters"', 1)[1].split("</form>", 1)[0]
    select = re.search(rf'<select name="{name}".*?</select>', form, re.S)
    assert select, f"the filter form has a {name} menu"
    return [" ".join(o.split()) for o in re.findall(r"<option[^>]*>(.*?)</option>", select.group(0), re.S)]


def bulk_menu(page: str) -> list[str]:
    select = re.search(r'<select name="owner" required data-testid="bulk-owner-select">.*?</select>', page, re.S)
    assert select, "a lead or admin sees the bulk owner form"
    return re.findall(r"<option[^>]*>(.*?)</option>", select.group(0), re.S)


@pytest.fixture
def admin(app: FastAPI, client: TestClient) -> str:
    make_user(app, "admin@kizuna.example", "admin", name="管理者")
    with app.state.kizuna.unit_of_work() as session:
        session.add_all([Account(external_id=f"A-{i}", name=f"取引先{i}", custom_fields={}) for i in range(1, 4)])
        session.add(Product(code="basic", name="Basic", kind=ProductKind.PLAN, currency="JPY"))
    return sign_in(client, "admin@kizuna.example")


def test_an_owner_given_accounts_through_the_page_is_in_the_owner_menu_at_once(
    app: FastAPI, client: TestClient, admin: str
) -> None:
    first = client.get("/accounts").text
    assert menu(first, "owner") == ["Anyone", "Unowned"]  # nobody owns an account yet
    assert bulk_menu(first) == ["Choose…", "Nobody (unowned)", "管理者 (admin)"]
    new_csm = make_user(app, "csm2@kizuna.example", "csm", name="鈴木 一郎")
    ids = re.findall(r'name="account" value="(\d+)"', first)[:2]
    done = client.post("/accounts/owner", data={"csrf_token": admin, "owner": str(new_csm), "account": ids,
                                                "next": "/accounts"}, follow_redirects=False)  # fmt: skip
    assert done.status_code == 303, done.text
    again = client.get("/accounts").text
    assert menu(again, "owner") == ["Anyone", "Unowned", "鈴木 一郎 (2)"]
    assert bulk_menu(again) == ["Choose…", "Nobody (unowned)", "管理者 (admin)", "鈴木 一郎 (CSM)"]


def test_a_plan_renamed_by_another_connection_shows_its_new_name(
    app: FastAPI, client: TestClient, admin: str, app_settings: Settings
) -> None:
    assert menu(client.get("/accounts").text, "plan") == ["Any plan", "Basic"]
    assert menu(client.get("/accounts?status=active").text, "plan") == ["Any plan", "Basic"]  # kept
    other = make_engine(app_settings.database_url)  # as another server process or the CLI would
    try:
        with session_scope(other) as session:
            session.execute(update(Product).where(Product.code == "basic").values(name="ベーシック"))
    finally:
        other.dispose()
    assert menu(client.get("/accounts").text, "plan") == ["Any plan", "ベーシック"]


def test_the_store_version_moves_with_each_commit_and_a_replaced_file(app_settings: Settings, tmp_path: Path) -> None:
    version = StoreVersion(app_settings.database_url)
    engine = make_engine(app_settings.database_url)
    try:
        before = version.current()
        assert before is not None
        assert version.current() == before  # nothing written: the same
        with session_scope(engine) as session:  # a transaction that changes no row
            session.execute(update(Account).where(Account.id == -1).values(name="x"))
        after_empty = version.current()
        with session_scope(engine) as session:
            session.add(Account(external_id="V-1", name="版", custom_fields={}))
        after_write = version.current()
        assert after_write != after_empty
        path = Path(engine.url.database or "")
        copy = tmp_path / "copy.db"
        shutil.copyfile(path, copy)
        shutil.move(copy, path)  # the store replaced by another file (a copy put in its place)
        assert version.current() not in (after_write, None)
    finally:
        engine.dispose()
    assert StoreVersion("sqlite://").current() is None  # in memory: nothing to key a cache on


def total(page: str) -> int:
    """The count the list shows ("Showing 1–3 of 3"), as its data attribute."""
    found = re.search(r'data-testid="account-count" data-total="(\d+)"', page)
    assert found, "the list shows its count"
    return int(found.group(1))


def test_the_count_of_a_search_is_kept_and_counted_afresh_after_any_change(
    app: FastAPI, client: TestClient, admin: str, app_settings: Settings
) -> None:
    """Issue 19: the count of matches is kept per search and filters while the store is
    unchanged (paging and sorting reuse it), and never shown stale."""
    assert total(client.get("/accounts?q=取引先").text) == 3
    assert total(client.get("/accounts?q=取引先&sort=name").text) == 3  # the same count, kept
    assert total(client.get("/accounts?q=取引先2").text) == 1
    other = make_engine(app_settings.database_url)  # as another server process or the CLI would
    try:
        with session_scope(other) as session:
            session.add(Account(external_id="A-9", name="取引先9", custom_fields={}))
    finally:
        other.dispose()
    page = client.get("/accounts?q=取引先&sort=name").text
    assert total(page) == 4
    assert "Showing 1–4 of 4" in page
    assert total(client.get("/accounts?q=取引先2").text) == 1
    # a change made through the page itself: two accounts given an owner
    assert total(client.get("/accounts?owner=none").text) == 4
    ids = re.findall(r'name="account" value="(\d+)"', client.get("/accounts").text)[:2]
    done = client.post("/accounts/owner", data={"csrf_token": admin, "owner": str(make_user(app, "c@kizuna.example",
                       "csm", name="CSM")), "account": ids, "next": "/accounts"}, follow_redirects=False)  # fmt: skip
    assert done.status_code == 303, done.text
    assert total(client.get("/accounts?owner=none").text) == 2
