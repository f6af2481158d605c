"""Column mapping: suggestions from Japanese and English header names, the checks on a
mapping, mapping files (``kizuna import --map``), saved mappings on the command line, and
the dry run's real counts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from kizuna.db import make_engine, session_scope
from kizuna.services.imports import entity, saved
from kizuna.services.imports import mapping as m
from tests.cli import run_cli

DATA = Path(__file__).parent / "data" / "import_ja"


def _suggested(entity_name: str, headers: list[str]) -> dict[str, tuple[str | None, str]]:
    return {s.header: (s.target, s.how) for s in m.suggest(entity(entity_name), headers)}


def test_japanese_crm_headers_are_suggested_their_columns() -> None:
    assert _suggested(
        "subscriptions",
        ["契約ID", "取引先コード", "プラン", "数量", "月額", "ステータス", "契約開始日", "解約日", "更新日", "メモ"],
    ) == {
        "契約ID": ("external_id", "synonym"),
        "取引先コード": ("account_external_id", "synonym"),
        "プラン": ("product_code", "synonym"),
        "数量": ("quantity", "synonym"),
        "月額": ("monthly_amount", "synonym"),
        "ステータス": ("status", "synonym"),
        "契約開始日": ("started_on", "synonym"),
        "解約日": ("ended_on", "synonym"),
        "更新日": ("current_term_end", "synonym"),
        "メモ": (None, "none"),
    }
    # the same word means the entity's own column first: 会社名 is an account's name
    assert _suggested("contacts", ["氏名", "メールアドレス", "取引先ID", "役職"]) == {
        "氏名": ("name", "synonym"),
        "メールアドレス": ("email", "synonym"),
        "取引先ID": ("account_external_id", "synonym"),
        "役職": ("role", "synonym"),
    }
    # the catalogue's Japanese label of a web column heading (担当CSM) counts too
    assert _suggested("accounts", ["担当CSM"])["担当CSM"] == ("owner_email", "synonym")


def test_near_misses_full_width_and_case_are_matched_and_a_column_is_suggested_once() -> None:
    got = _suggested("accounts", ["External ID", "Compnay Name", "ＤＯＭＡＩＮ", "employee-count", "会社名"])
    assert got["External ID"] == ("external_id", "synonym")
    assert got["ＤＯＭＡＩＮ"] == ("domain", "synonym")
    assert got["employee-count"] == ("employee_count", "synonym")
    # 会社名 is a known name; the misspelt English one would feed the same column: only one wins
    assert got["会社名"] == ("name", "synonym")
    assert got["Compnay Name"] == (None, "none")
    alone = m.suggest(entity("accounts"), ["Compnay Name"])[0]
    assert (alone.target, alone.how) == ("name", "fuzzy")
    assert 0.8 <= alone.score < 1


def test_a_saved_mapping_wins_over_the_suggestions() -> None:
    start = m.ColumnMapping("accounts", {"担当者メール": "", "会社名": "name"})
    got = _suggested_from(start, ["会社名", "担当者メール", "業種"])
    assert got == {"会社名": ("name", "saved"), "担当者メール": (None, "saved"), "業種": ("industry", "synonym")}


def _suggested_from(start: m.ColumnMapping, headers: list[str]) -> dict[str, tuple[str | None, str]]:
    return {s.header: (s.target, s.how) for s in m.suggest(entity("accounts"), headers, start)}


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        ({"a": "external_id", "b": "name", "c": "name"}, ["f.csv:1: name: fed by more than one column: b, c; ignore all but one"]),
        ({"a": "external_id", "b": "", "c": "domain"}, ["f.csv:1: name: required column is not mapped from any column"]),
        ({"a": "external_id", "b": "name", "c": "headcount"},
         ["f.csv:1: c: mapped to 'headcount', which is not a column of accounts; expected one of: domain, "
          "employee_count, external_id, industry, name, owner_email, parent_external_id"]),
        ({"a": "external_id", "b": "name", "c": "custom.region"}, []),
    ],
    ids=["twice", "required-missing", "unknown-target", "custom-field"],
)  # fmt: skip
def test_a_mapping_is_checked_against_the_entity(columns: dict[str, str], expected: list[str]) -> None:
    problems = m.check(entity("accounts"), ["a", "b", "c"], m.ColumnMapping("accounts", columns), label="f.csv")
    assert [str(p) for p in problems] == expected


def test_a_mapping_file_round_trips_and_bad_ones_say_why(tmp_path: Path) -> None:
    mapping = m.ColumnMapping("accounts", {'会社名 "正式"': "name", "back\\slash": "", "取引先コード": "external_id"},
                              "Sansan 取引先")  # fmt: skip
    path = tmp_path / "map.toml"
    path.write_text(m.dump(mapping), encoding="utf-8")
    assert m.load(path) == mapping
    assert m.load(path, entity_name="accounts") == mapping
    with pytest.raises(Exception, match="maps columns of accounts, not contacts"):
        m.load(path, entity_name="contacts")
    path.write_text('entity = "accounts"\n', encoding="utf-8")
    with pytest.raises(Exception, match=r"needs a \[columns\] table"):
        m.load(path)
    path.write_text("entity = \n", encoding="utf-8")
    with pytest.raises(Exception, match="not a readable TOML mapping"):
        m.load(path)


def _counts(out: str) -> list[str]:
    """The numbers of the first data row of the CLI's table: rows, new, updated, unchanged."""
    row = next(line for line in out.splitlines() if line.startswith("│"))
    return [c.strip() for c in row.strip("│").split("│")][2:]


@pytest.mark.parametrize("encoding", ["utf-8", "cp932"])
def test_kizuna_import_map_imports_japanese_headers_and_the_dry_run_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, encoding: str
) -> None:
    monkeypatch.setenv("KIZUNA_DATABASE_URL", f"sqlite:///{tmp_path / 'k.db'}")
    monkeypatch.setenv("COLUMNS", "120")
    csv = tmp_path / "取引先.csv"
    csv.write_bytes((DATA / "取引先.csv").read_text(encoding="utf-8").encode(encoding))
    mapping = tmp_path / "sansan.toml"
    mapping.write_text(m.dump(m.ColumnMapping("accounts", {
        "取引先コード": "external_id", "会社名": "name", "ドメイン": "domain", "業種": "industry",
        "従業員数": "employee_count", "担当者メール": "", "備考": "",
    })), encoding="utf-8")  # fmt: skip
    refused = run_cli(capsys, "import", "accounts", str(csv))
    assert refused.code == 1
    assert "取引先.csv:1: 会社名: unknown column" in refused.err
    dry = run_cli(capsys, "import", "accounts", str(csv), "--map", str(mapping), "--dry-run")
    assert dry.code == 0, dry.err
    assert _counts(dry.out) == ["3", "3", "0", "0"]
    done = run_cli(capsys, "import", "accounts", str(csv), "--map", str(mapping))
    assert done.code == 0, done.err
    assert _counts(done.out) == ["3", "3", "0", "0"]
    text = (DATA / "取引先.csv").read_text(encoding="utf-8").replace(",820,", ",900,") + "JA-4,新規,new.example,,,,\n"
    csv.write_bytes(text.encode(encoding))
    dry = run_cli(capsys, "import", "accounts", str(csv), "--map", str(mapping), "--dry-run")
    assert _counts(dry.out) == ["4", "1", "1", "2"]
    engine = make_engine(f"sqlite:///{tmp_path / 'k.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("select count(*) from accounts").scalar() == 3  # the dry run wrote nothing
    engine.dispose()


def test_a_dry_run_of_a_whole_folder_sees_the_files_before(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIZUNA_DATABASE_URL", f"sqlite:///{tmp_path / 'k.db'}")
    monkeypatch.setenv("COLUMNS", "160")
    result = run_cli(capsys, "import", "all", str(Path(__file__).parent / "data" / "import"), "--dry-run")
    assert result.code == 0, result.err
    contacts = next(line for line in result.out.splitlines() if "contacts.csv" in line)
    assert [c.strip() for c in contacts.strip("│").split("│")][2:] == ["3", "3", "0", "0"]
    engine = make_engine(f"sqlite:///{tmp_path / 'k.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("select count(*) from accounts").scalar() == 0
    engine.dispose()


def test_saved_mappings_are_listed_shown_and_exported_for_the_command_line(
    sqlite_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIZUNA_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("COLUMNS", "120")
    headers = ["取引先コード", "会社名", "備考"]
    engine = make_engine(sqlite_url)
    with session_scope(engine) as session:
        saved.save(session, m.ColumnMapping("accounts", {"取引先コード": "external_id", "会社名": "name", "備考": ""}),
                   "Sansan 取引先", headers)  # fmt: skip
        saved.save(session, m.ColumnMapping("contacts", {"取引先コード": "account_external_id"}), "Sansan 取引先",
                   ["取引先コード"])  # fmt: skip
    with session_scope(engine) as session:
        # the same columns in another order, width and case find it
        found = saved.for_headers(session, "accounts", ["備考", "会社名", "取引先コード"])
        assert found is not None
        assert found.name == "Sansan 取引先"
        assert saved.for_headers(session, "accounts", ["会社名"]) is None
    engine.dispose()
    listed = run_cli(capsys, "import", "mappings", "list")
    assert listed.code == 0
    assert re.search(r"Sansan 取引先\s*│\s*accounts\s*│\s*3", listed.out)
    ambiguous = run_cli(capsys, "import", "mappings", "show", "Sansan 取引先")
    assert ambiguous.code == 1
    assert "2 entities have a mapping called 'Sansan 取引先': give --entity (accounts, contacts)" in ambiguous.err
    shown = run_cli(capsys, "import", "mappings", "show", "Sansan 取引先", "--entity", "accounts")
    assert re.search(r"備考\s*│\s*\(ignored\)", shown.out)
    out = tmp_path / "sansan.toml"
    exported = run_cli(capsys, "import", "mappings", "export", "Sansan 取引先", "--entity", "accounts", "-o", str(out))
    assert exported.code == 0, exported.err
    assert m.load(out) == m.ColumnMapping("accounts", {"取引先コード": "external_id", "会社名": "name", "備考": ""},
                                          "Sansan 取引先")  # fmt: skip
    missing = run_cli(capsys, "import", "mappings", "export", "nope")
    assert missing.code == 1
    assert "no saved mapping called 'nope'" in missing.err


def test_a_mapped_file_parsed_in_the_worker_process_gives_the_same_rows(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zoneinfo import ZoneInfo

    from kizuna.services.imports import ParseContext, import_file, parallel, runner

    if not parallel.available():
        pytest.skip("no fork or a single core: large files are parsed in-process")
    monkeypatch.setattr(runner, "PARALLEL_FROM_BYTES", 0)  # every file counts as large
    mapping = m.ColumnMapping("accounts", {"取引先コード": "external_id", "会社名": "name", "ドメイン": "domain",
                                           "業種": "industry", "従業員数": "employee_count", "担当者メール": "",
                                           "備考": ""})  # fmt: skip
    engine = make_engine(sqlite_url)
    ctx = ParseContext(ZoneInfo("Asia/Tokyo"), "JPY")
    with session_scope(engine) as session:
        summary = import_file(session, "accounts", DATA / "取引先.csv", ctx=ctx, mapping=mapping, label="取引先.csv")
    assert (summary.rows, summary.inserted) == (3, 3)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql("select external_id, name, employee_count from accounts order by 1").all()
    assert [tuple(r) for r in rows] == [("JA-1", "株式会社あおば商会", 1500), ("JA-2", "ひかり電機株式会社", 820),
                                        ("JA-3", "合同会社つばさ", 15)]  # fmt: skip
    engine.dispose()
