"""Import in the browser: upload, column mapping with suggestions, saved mappings, the
dry run's counts and problems, the import itself, and who may do it (real app, real
SQLite and PostgreSQL, real multipart requests)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kizuna.db import session_scope
from kizuna.db.models import Account
from kizuna.main import create_app
from kizuna.settings import Settings
from tests.conftest import make_user, sign_in

DATA = Path(__file__).parent / "data" / "import_ja"
ACCOUNTS_JA = (DATA / "取引先.csv").read_text(encoding="utf-8")
LEAD = "lead@kizuna.example"


@pytest.fixture
def app_settings(store_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=store_url, upload_dir=tmp_path / "uploads", upload_max_bytes=64 * 1024)


def _upload(client: TestClient, csrf: str, content: bytes, *, name: str = "取引先.csv", entity: str = "accounts",
            follow: bool = False):  # type: ignore[no-untyped-def]  # fmt: skip
    return client.post("/imports", data={"csrf_token": csrf, "entity": entity},
                       files={"file": (name, content, "text/csv")}, follow_redirects=follow)  # fmt: skip


def _targets(page: str) -> list[tuple[str, str]]:
    """(file column, selected target) per row of the mapping table, as the browser shows them."""
    rows = re.findall(r'<th scope="row" data-testid="map-header">(.*?)</th>.*?<select name="target"(.*?)</select>',
                      page, re.S)  # fmt: skip
    out = []
    for header, select in rows:
        chosen = re.search(r'<option value="([^"]*)" selected>', select)
        out.append((header, chosen.group(1) if chosen else ""))
    return out


def _token(location: str) -> str:
    match = re.match(r"^/imports/([0-9a-f]{32})/mapping$", location)
    assert match, location
    return match.group(1)


def _accounts(app: FastAPI) -> dict[str, tuple[str, str | None, int | None]]:
    with session_scope(app.state.kizuna.engine) as session:
        return {a.external_id: (a.name, a.domain, a.employee_count) for a in session.query(Account)}


@pytest.mark.parametrize("encoding", ["utf-8", "cp932"])
def test_a_japanese_header_csv_maps_checks_imports_and_its_mapping_is_reused(
    app: FastAPI, client: TestClient, encoding: str
) -> None:
    make_user(app, LEAD, "lead")
    csrf = sign_in(client, LEAD)
    response = _upload(client, csrf, ACCOUNTS_JA.encode(encoding))
    assert response.status_code == 303
    token = _token(response.headers["location"])
    page = client.get(f"/imports/{token}/mapping")
    assert page.status_code == 200
    assert _targets(page.text) == [
        ("取引先コード", "external_id"), ("会社名", "name"), ("ドメイン", "domain"), ("業種", "industry"),
        ("従業員数", "employee_count"), ("担当者メール", "owner_email"), ("備考", ""),
    ]  # fmt: skip
    assert "株式会社あおば商会" in page.text  # the preview
    # the dry run: three new rows, nothing written yet; the mapping is saved under a name
    targets = [t for _h, t in _targets(page.text)]
    check = client.post(f"/imports/{token}/check", data={"csrf_token": csrf, "target": targets,
                                                          "mapping_name": "Sansan 取引先"})  # fmt: skip
    assert check.status_code == 200, check.text
    assert re.search(r'data-testid="check-new">3<', check.text)
    assert re.search(r'data-testid="check-refused">0<', check.text)
    assert _accounts(app) == {}
    done = client.post(f"/imports/{token}/run", data={"csrf_token": csrf})
    assert done.status_code == 200, done.text
    assert re.search(r'data-testid="done-new">3<', done.text)
    assert _accounts(app) == {
        "JA-1": ("株式会社あおば商会", "aoba.example.co.jp", 1500),
        "JA-2": ("ひかり電機株式会社", "hikari-denki.example", 820),
        "JA-3": ("合同会社つばさ", "tsubasa.example", 15),
    }
    # the next export with the same columns (in another order) finds the saved mapping
    lines = ACCOUNTS_JA.splitlines()
    reordered = "\n".join(",".join(reversed(line.split(","))) for line in lines[:1]) + "\n"
    second = _upload(client, csrf, (reordered + "紹介,,15,IT・通信,tsubasa.example,合同会社つばさ（改）,JA-3\n")
                     .encode(encoding), follow=True)  # fmt: skip
    assert second.status_code == 200
    assert "Using the saved mapping “Sansan 取引先”" in second.text
    assert dict(_targets(second.text))["会社名"] == "name"
    assert 'data-testid="map-how">saved mapping' in second.text


def _signed_in_lead(app: FastAPI, client: TestClient) -> tuple[str, str]:
    make_user(app, LEAD, "lead")
    csrf = sign_in(client, LEAD)
    token = _token(_upload(client, csrf, ACCOUNTS_JA.encode()).headers["location"])
    return csrf, token


GOOD = ["external_id", "name", "domain", "industry", "employee_count", "owner_email", ""]


@pytest.mark.parametrize(
    ("targets", "message"),
    [
        (
            ["external_id", "name", "domain", "name", "employee_count", "owner_email", ""],
            "name: fed by more than one column: 会社名, 業種; ignore all but one",
        ),
        (
            ["external_id", "", "domain", "industry", "employee_count", "owner_email", ""],
            "name: required column is not mapped from any column",
        ),
        (
            ["external_id", "name", "domain", "industry", "headcount", "owner_email", ""],
            "従業員数: mapped to &#39;headcount&#39;, which is not a column of accounts",
        ),
    ],
    ids=["mapped-twice", "required-missing", "unknown-target"],
)
def test_a_bad_mapping_is_shown_on_the_mapping_page_and_nothing_is_checked(
    app: FastAPI, client: TestClient, targets: list[str], message: str
) -> None:
    csrf, token = _signed_in_lead(app, client)
    response = client.post(f"/imports/{token}/check", data={"csrf_token": csrf, "target": targets,
                                                             "mapping_name": "broken"})  # fmt: skip
    assert response.status_code == 422
    problems = re.search(r'data-testid="mapping-problems">(.*?)</div>', response.text, re.S)
    assert problems
    text = re.sub(r"<[^>]+>", "", problems.group(1))
    assert message in text
    # the user's choices stay on the page, and no mapping was saved
    assert [t for _h, t in _targets(response.text)] == targets
    assert "broken" not in client.get("/imports").text.split('data-testid="saved-mappings"')[1]


def test_the_dry_run_counts_new_updated_unchanged_and_refused_rows_and_pages_the_problems(
    app: FastAPI, client: TestClient
) -> None:
    csrf, token = _signed_in_lead(app, client)
    client.post(f"/imports/{token}/check", data={"csrf_token": csrf, "target": GOOD})
    assert client.post(f"/imports/{token}/run", data={"csrf_token": csrf}).status_code == 200
    header = ACCOUNTS_JA.splitlines()[0]
    rows = [
        'JA-1,株式会社あおば商会,aoba.example.co.jp,卸売,"1,500",lead@kizuna.example,',  # unchanged
        "JA-2,ひかり電機株式会社,hikari-denki.example,製造,900,,",  # updated (820 → 900)
        "JA-9,新規株式会社,new.example,製造,10,,",  # new
        "JA-10,,bad domain,製造,-5,,",  # refused: three problems on line 5
    ] + [f"JA-{i},会社{i},c{i}.example,製造,abc,," for i in range(100, 160)]  # refused: 60 more
    body = (header + "\n" + "\n".join(rows) + "\n").encode()
    token = _token(_upload(client, csrf, body).headers["location"])
    check = client.post(f"/imports/{token}/check", data={"csrf_token": csrf, "target": GOOD}, follow_redirects=True)
    assert check.status_code == 200
    counts = {k: re.search(rf'data-testid="check-{k}">([\d,]+)<', check.text).group(1)  # type: ignore[union-attr]
              for k in ("rows", "new", "updated", "unchanged", "refused")}  # fmt: skip
    assert counts == {"rows": "64", "new": "1", "updated": "1", "unchanged": "1", "refused": "61"}
    assert "取引先.csv:5: name: required, but empty" in check.text
    assert "取引先.csv:5: domain: not a domain name: &#39;bad domain&#39;" in check.text
    assert "Page 1 of 2" in check.text
    second = client.get(f"/imports/{token}/check?page=2")
    assert "取引先.csv:64: employee_count: not a whole number: &#39;abc&#39;" in second.text
    assert 'data-testid="import-submit"' not in second.text  # no import while a row is refused
    # nothing of the dry run was written
    assert _accounts(app)["JA-2"][2] == 820
    assert "JA-9" not in _accounts(app)


def test_an_oversized_upload_is_refused_and_nothing_is_kept(app: FastAPI, client: TestClient, tmp_path: Path) -> None:
    make_user(app, LEAD, "lead")
    csrf = sign_in(client, LEAD)
    big = (ACCOUNTS_JA + "JA-4,大きな会社,big.example,製造,1,,x\n" * 3000).encode()
    assert len(big) > 64 * 1024
    response = _upload(client, csrf, big)
    assert response.status_code == 413
    assert "larger than the upload limit of 0.1 MB" in response.text
    assert not (tmp_path / "uploads").exists() or list((tmp_path / "uploads").iterdir()) == []


def test_an_oversized_upload_without_a_length_is_cut_off_while_streaming(tmp_path: Path, sqlite_url: str) -> None:
    app = create_app(Settings(database_url=sqlite_url, upload_dir=tmp_path / "up", upload_max_bytes=2048))
    with TestClient(app, headers={"Accept-Language": "en"}) as client:
        make_user(app, LEAD, "lead")
        csrf = sign_in(client, LEAD)
        big = ACCOUNTS_JA.encode() * 10  # under the envelope allowance, over the limit
        response = _upload(client, csrf, big)
        assert response.status_code == 413
        assert "larger than the upload limit" in response.text
        assert [p.name for p in (tmp_path / "up").iterdir()] == []


@pytest.mark.parametrize("role", ["csm", "viewer"])
def test_csms_and_viewers_cannot_import(app: FastAPI, client: TestClient, role: str) -> None:
    make_user(app, "someone@kizuna.example", role)
    csrf = sign_in(client, "someone@kizuna.example")
    assert client.get("/imports").status_code == 403
    assert _upload(client, csrf, ACCOUNTS_JA.encode()).status_code == 403
    assert 'href="/imports"' not in client.get("/").text
    assert _accounts(app) == {}


def test_an_upload_without_the_csrf_token_is_refused(app: FastAPI, client: TestClient) -> None:
    make_user(app, LEAD, "lead")
    sign_in(client, LEAD)
    assert 'href="/imports"' in client.get("/").text
    response = _upload(client, "", ACCOUNTS_JA.encode())
    assert response.status_code == 403
    assert "the form has expired" in response.text


def test_another_users_upload_is_not_found(app: FastAPI, client: TestClient) -> None:
    csrf, token = _signed_in_lead(app, client)
    make_user(app, "admin@kizuna.example", "admin")
    client.post("/logout", data={"csrf_token": csrf})
    csrf = sign_in(client, "admin@kizuna.example")
    assert client.get(f"/imports/{token}/mapping").status_code == 404
    assert client.post(f"/imports/{token}/run", data={"csrf_token": csrf}).status_code == 404


def test_a_json_lines_upload_is_mapped_and_imported(app: FastAPI, client: TestClient) -> None:
    make_user(app, LEAD, "lead")
    csrf = sign_in(client, LEAD)
    body = (
        '{"顧客ID": "J-1", "会社名": "ジェイ株式会社", "従業員数": 30}\n'
        '{"顧客ID": "J-2", "会社名": "ケイ株式会社", "メモ": "x"}\n'
    ).encode()
    token = _token(_upload(client, csrf, body, name="顧客.jsonl").headers["location"])
    page = client.get(f"/imports/{token}/mapping")
    assert _targets(page.text) == [("顧客ID", "external_id"), ("会社名", "name"), ("従業員数", "employee_count"),
                                   ("メモ", "")]  # fmt: skip
    targets = [t for _h, t in _targets(page.text)]
    check = client.post(f"/imports/{token}/check", data={"csrf_token": csrf, "target": targets})
    assert re.search(r'data-testid="check-new">2<', check.text), check.text
    assert client.post(f"/imports/{token}/run", data={"csrf_token": csrf}).status_code == 200
    assert _accounts(app) == {"J-1": ("ジェイ株式会社", None, 30), "J-2": ("ケイ株式会社", None, None)}


@pytest.mark.parametrize(("locale", "shown"), [("en", "similar name ("), ("ja", "似た列名（")])
def test_a_column_matched_by_a_similar_name_shows_its_score_in_both_languages(
    app: FastAPI, client: TestClient, locale: str, shown: str
) -> None:
    make_user(app, LEAD, "lead", locale=locale)
    csrf = sign_in(client, LEAD)
    token = _token(_upload(client, csrf, b"External ID,Compnay Name\nX-1,Aoba\n", name="accounts.csv").headers["location"])
    page = client.get(f"/imports/{token}/mapping")
    assert page.status_code == 200, page.text[-500:]
    assert dict(_targets(page.text))["Compnay Name"] == "name"
    how = re.findall(r'data-testid="map-how">([^<]*)<', page.text)
    assert len(how) == 2, how
    assert how[1].startswith(shown), how
    assert re.fullmatch(r".*\D(8\d|9\d)[%％][)）]", how[1]), how[1]
