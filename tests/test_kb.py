"""The knowledge base (issue 17, item 4): ``kizuna kb import DIR`` of Markdown files with
front matter (all or nothing, the bad file and field named), public article pages that
cannot inject script, and a search that finds two-character Japanese words."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from kizuna.main import create_app
from kizuna.settings import Settings
from tests.cli import run_cli
from tests.test_tasks import sql


def _md(title: str, slug: str, body: str, *, language: str = "ja", category: str = "導入") -> str:
    return f"---\ntitle: {title}\ncategory: {category}\nlanguage: {language}\nslug: {slug}\n---\n{body}\n"


@pytest.fixture
def app(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[FastAPI]:
    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'k.db'}"))
    monkeypatch.setenv("KIZUNA_DATABASE_URL", str(app.state.kizuna.settings.database_url))
    monkeypatch.setenv("KIZUNA_LANGUAGE", "en")
    yield app
    app.state.kizuna.engine.dispose()


def _folder(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "kb"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


ARTICLES = {
    "csv.md": _md("CSV で取引先を取り込む", "import-accounts-csv", "取引先の一覧を **CSV** で取り込みます。\n\n[手順](/kb/setup)"),
    "setup.md": _md("初期設定", "setup", "管理者が最初に行う設定です。導入の流れ。"),
    "hostile.md": _md("<script>alert(1)</script> Safety", "safety",
                      "<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>\n\n[click](javascript:alert(1)) "
                      "[ok](https://kizuna.example/help)", language="en", category="security"),
}  # fmt: skip


def test_import_then_search_two_character_japanese_words_and_read_an_article(
    app: FastAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    done = run_cli(capsys, "kb", "import", str(_folder(tmp_path, ARTICLES)))
    assert done.code == 0, done.err
    assert "3 articles added, 0 replaced" in done.out
    again = run_cli(capsys, "kb", "import", str(_folder(tmp_path, ARTICLES)))
    assert "0 articles added, 3 replaced" in again.out
    assert sql(app, "SELECT count(*) FROM kb_articles")[0][0] == 3
    client = TestClient(app)
    # two-character words: 導入 in one article's text, 取引 in the other's title, 設定 in a title and text
    def slugs(q: str) -> list[str]:
        return [a["slug"] for a in client.get("/kb", params={"q": q}, headers={"Accept": "application/json"})
                .json()["articles"]]  # fmt: skip

    assert slugs("導入") == ["setup"]
    assert slugs("取引") == ["import-accounts-csv"]
    assert slugs("管理者 が") == []  # the words must appear together
    assert slugs("管理者が") == ["setup"]
    assert [a["slug"] for a in client.get("/kb", params={"q": "設定"}, headers={"Accept": "application/json"})
            .json()["articles"]] == ["setup"]  # fmt: skip
    assert client.get("/kb", params={"q": "csv"}, headers={"Accept": "application/json"}).json()["articles"][0][
        "slug"] == "import-accounts-csv"
    assert client.get("/kb", params={"q": "存在しない"}, headers={"Accept": "application/json"}).json()["articles"] == []
    page = client.get("/kb", params={"q": "導入"}, headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert "1 articles for “導入”" in page.text
    assert 'href="/kb/setup"' in page.text
    # no sign-in; Markdown rendered
    article = client.get("/kb/import-accounts-csv")
    assert article.status_code == 200
    assert "<strong>CSV</strong>" in article.text
    assert '<a href="/kb/setup" rel="noopener noreferrer nofollow">手順</a>' in article.text
    assert client.get("/kb/nothing").status_code == 404


def test_an_article_cannot_inject_script(app: FastAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "kb", "import", str(_folder(tmp_path, ARTICLES))).code == 0
    text = TestClient(app).get("/kb/safety").text
    body = text[text.index('data-testid="kb-article"'):]
    assert "<script>alert" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "onerror" not in body.replace("&lt;img src=x onerror=alert(1)&gt;", "")
    assert 'href="javascript' not in body
    assert '<a href="https://kizuna.example/help" rel="noopener noreferrer nofollow">ok</a>' in body


@pytest.mark.parametrize(
    ("name", "text", "why"),
    [
        ("a.md", "no front matter", "a.md: front matter: the file must begin with a front matter block"),
        ("b.md", "---\ntitle: T\ncategory: c\nlanguage: ja\n---\nx", "b.md: slug: is missing"),
        ("c.md", _md("T", "c", "x", language="fr"), "c.md: language: must be ja or en, not 'fr'"),
        ("d.md", _md("T", "Bad Slug", "x"), "d.md: slug: a slug is 1–120 lower-case letters"),
        ("e.md", _md("T", "e", "x").replace("slug: e", "slug: e\nauthor: me"), "e.md: author: unknown field"),
        ("f.md", _md("T", "setup", "x"), "setup.md: slug: the same slug as f.md"),
    ],
)
def test_bad_front_matter_names_the_file_and_field_and_imports_nothing(
    app: FastAPI, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, text: str, why: str
) -> None:
    folder = _folder(tmp_path, {**ARTICLES, name: text})
    done = run_cli(capsys, "kb", "import", str(folder))
    assert done.code != 0
    assert why in " ".join(done.err.split())
    assert sql(app, "SELECT count(*) FROM kb_articles")[0][0] == 0
