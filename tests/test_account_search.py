"""Searching accounts through the bigram index (issue 19), on SQLite and PostgreSQL:
two-character Japanese words, one character (the scan), any case, and an index kept in
step with renames, deletions, bulk imports and migrations by the database's triggers."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from kizuna.db import bigrams, make_engine
from kizuna.db.models import Account
from kizuna.db.schema import current_revision, head_revision, upgrade
from kizuna.services.imports import ParseContext, import_file

ACCOUNTS = [
    ("ACC-1", "株式会社さくら商事", "sakura-shoji.example"),
    ("ACC-2", "ひかり商事株式会社", "hikari.example"),
    ("ACC-3", "株式会社もみじ食品", "momiji-foods.example"),
    ("ACC-4", "Acme Tech Ltd.", "acme-tech.example"),
    ("ACC-5", "事商", None),  # the same two characters the other way round: not a match for 商事
    ("ACC-6", "商", None),  # one character: no bigram at all
]


def names(response: Any) -> set[str]:
    assert response.status_code == 200, response.text
    return {a["name"] for a in response.json()["items"]}


def ids_by_key(api: TestClient) -> dict[str, int]:
    return {a["external_id"]: a["id"] for a in api.get("/api/accounts", params={"per_page": 100}).json()["items"]}


def create_all(api: TestClient) -> dict[str, int]:
    for key, name, domain in ACCOUNTS:
        r = api.post("/api/accounts", json={"external_id": key, "name": name, "domain": domain})
        assert r.status_code == 201, r.text
    return ids_by_key(api)


def bigrams_of(app: FastAPI, account_id: int) -> set[str]:
    with app.state.kizuna.unit_of_work() as session:
        rows = session.execute(text("SELECT bigram FROM account_bigrams WHERE account_id = :a"), {"a": account_id})
        return {r[0] for r in rows}


def test_a_two_character_japanese_word_is_found_through_the_index(app: FastAPI, api: TestClient) -> None:
    create_all(api)
    assert names(api.get("/api/accounts", params={"q": "商事"})) == {"株式会社さくら商事", "ひかり商事株式会社"}
    assert names(api.get("/api/accounts", params={"q": "食品"})) == {"株式会社もみじ食品"}
    assert names(api.get("/api/accounts", params={"q": "さくら商事"})) == {"株式会社さくら商事"}
    assert names(api.get("/api/accounts", params={"q": "事商"})) == {"事商"}
    assert names(api.get("/api/accounts", params={"q": "物産"})) == set()
    with app.state.kizuna.unit_of_work() as session:  # read from the index, not by testing every name
        assert bigrams.narrowest(session, "商事") == "商事"
        assert bigrams.narrowest(session, "物産") == "物産"  # under no account: nothing to check


def test_one_character_falls_back_to_scanning_the_names(app: FastAPI, api: TestClient) -> None:
    create_all(api)
    with app.state.kizuna.unit_of_work() as session:
        assert bigrams.narrowest(session, "商") is None
    assert names(api.get("/api/accounts", params={"q": "商"})) == {
        "株式会社さくら商事",
        "ひかり商事株式会社",
        "事商",
        "商",
    }
    in_name_or_domain = {"株式会社さくら商事", "Acme Tech Ltd.", "ひかり商事株式会社", "株式会社もみじ食品"}
    assert names(api.get("/api/accounts", params={"q": "a"})) == in_name_or_domain


def test_ascii_in_any_case_matches_names_and_domains(api: TestClient) -> None:
    create_all(api)
    assert names(api.get("/api/accounts", params={"q": "aCmE tEcH"})) == {"Acme Tech Ltd."}
    assert names(api.get("/api/accounts", params={"q": "TECH LTD"})) == {"Acme Tech Ltd."}
    assert names(api.get("/api/accounts", params={"q": "MOMIJI-FOODS"})) == {"株式会社もみじ食品"}
    assert names(api.get("/api/accounts", params={"q": "ACC-3"})) == {"株式会社もみじ食品"}  # the exact external id
    assert names(api.get("/api/accounts", params={"q": "tech.co"})) == set()  # every bigram is there, not in a row


def test_a_renamed_account_is_found_by_its_new_name_only(app: FastAPI, api: TestClient) -> None:
    ids = create_all(api)
    r = api.patch(
        f"/api/accounts/{ids['ACC-1']}", json={"name": "株式会社さくら物産", "domain": "sakura-bussan.example"}
    )
    assert r.status_code == 200, r.text
    assert names(api.get("/api/accounts", params={"q": "商事"})) == {"ひかり商事株式会社"}
    assert names(api.get("/api/accounts", params={"q": "物産"})) == {"株式会社さくら物産"}
    assert names(api.get("/api/accounts", params={"q": "bussan"})) == {"株式会社さくら物産"}
    assert names(api.get("/api/accounts", params={"q": "shoji"})) == set()
    assert "商事" not in bigrams_of(app, ids["ACC-1"])
    assert {"物産", "bu", "n."} <= bigrams_of(app, ids["ACC-1"])
    # a change of something else leaves the index alone
    assert api.patch(f"/api/accounts/{ids['ACC-2']}", json={"industry": "小売"}).status_code == 200
    assert names(api.get("/api/accounts", params={"q": "ひかり"})) == {"ひかり商事株式会社"}


def test_a_deleted_account_leaves_the_index(app: FastAPI, api: TestClient) -> None:
    ids = create_all(api)
    assert bigrams_of(app, ids["ACC-2"])
    assert api.delete(f"/api/accounts/{ids['ACC-2']}").status_code == 204
    assert bigrams_of(app, ids["ACC-2"]) == set()
    assert names(api.get("/api/accounts", params={"q": "商事"})) == {"株式会社さくら商事"}


def test_the_web_list_searches_with_the_index(app: FastAPI, client: TestClient, csm: str, tmp_path: Path) -> None:
    """Accounts written by the bulk importer (not the ORM) are indexed too."""
    csv = tmp_path / "accounts.csv"
    csv.write_text(
        "external_id,name,domain\n" + "".join(f"{k},{n},{d or ''}\n" for k, n, d in ACCOUNTS), encoding="utf-8"
    )
    with app.state.kizuna.unit_of_work() as session:
        import_file(session, "accounts", csv, ctx=ParseContext(ZoneInfo("Asia/Tokyo"), "JPY"))
    page = client.get("/accounts", params={"q": "商事"}).text
    assert "株式会社さくら商事" in page
    assert "ひかり商事株式会社" in page
    assert "株式会社もみじ食品" not in page
    assert "事商" not in page


def test_the_migration_indexes_existing_accounts_and_lost_triggers_come_back(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        _downgrade_to_0015(engine)  # back to before the index, then accounts in the store
        with Session(engine) as session:
            session.add_all(Account(external_id=k, name=n, domain=d) for k, n, d in ACCOUNTS)
            session.commit()
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        with Session(engine) as session:
            assert bigrams.narrowest(session, "商事") == "商事"
            assert _indexed(session, "商事") == {"株式会社さくら商事", "ひかり商事株式会社"}
        # a migration that rebuilds `accounts` (SQLite: copy, drop, rename) drops its triggers
        with engine.begin() as conn:
            bigrams.drop_triggers(conn)
            conn.exec_driver_sql("DELETE FROM account_bigrams")
        with Session(engine) as session:  # written while the triggers were missing
            session.add(Account(external_id="ACC-7", name="みなと商事"))
            session.commit()
        upgrade(engine)  # any later upgrade puts them back and rebuilds the index
        with Session(engine) as session:
            assert _indexed(session, "商事") == {"株式会社さくら商事", "ひかり商事株式会社", "みなと商事"}
            session.add(Account(external_id="ACC-8", name="うみ商事"))
            session.commit()
            assert "うみ商事" in _indexed(session, "商事")
    finally:
        engine.dispose()


def _indexed(session: Session, gram: str) -> set[str]:
    rows = session.execute(text("SELECT a.name FROM account_bigrams b JOIN accounts a ON a.id = b.account_id "
                                "WHERE b.bigram = :g"), {"g": gram})  # fmt: skip
    return {r[0] for r in rows}


def _downgrade_to_0015(engine: Any) -> None:
    from alembic import command

    from kizuna.db.schema import alembic_config

    with engine.begin() as conn:
        cfg = alembic_config(engine)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0015")
