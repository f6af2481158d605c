"""Importers: every entity's good and bad input, on SQLite and PostgreSQL."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from kizuna.db import make_engine, session_scope
from kizuna.errors import ImportRejected
from kizuna.services.imports import ENTITIES, ParseContext, import_file
from kizuna.services.imports.runner import ImportSummary
from tests.cli import run_cli

DATA = Path(__file__).parent / "data" / "import"
CTX = ParseContext(ZoneInfo("Asia/Tokyo"), "JPY")
ORDER = list(ENTITIES)


def load(url: str, entity: str, path: Path, **kw: object) -> ImportSummary:
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            return import_file(session, entity, path, ctx=CTX, **kw)  # type: ignore[arg-type]
    finally:
        engine.dispose()


def load_all(url: str) -> dict[str, ImportSummary]:
    return {name: load(url, name, DATA / f"{name}.csv") for name in ORDER}


def frame(url: str, table: str) -> pd.DataFrame:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return pd.read_sql(f"SELECT * FROM {table} ORDER BY 1", conn)
    finally:
        engine.dispose()


def counts(url: str) -> dict[str, int]:
    return {name: len(frame(url, name)) for name in ORDER}


def rejected(url: str, entity: str, path: Path, **kw: object) -> list[str]:
    with pytest.raises(ImportRejected) as info:
        load(url, entity, path, **kw)
    return [str(e) for e in info.value.errors]


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture
def loaded(store_url: str) -> str:
    load_all(store_url)
    return store_url


def test_every_entity_imports_and_reads_back(loaded: str) -> None:
    assert counts(loaded) == {
        "users": 3, "products": 3, "accounts": 3, "contacts": 3, "subscriptions": 5, "usage_events": 3,
        "usage_daily": 4, "tickets": 2, "survey_responses": 3, "activities": 2, "onboarding_milestones": 2,
        "success_goals": 1, "tasks": 2,
    }  # fmt: skip
    accounts = frame(loaded, "accounts").set_index("external_id")
    # the URL-ish domain was normalised; the parent link and custom fields kept
    assert accounts.loc["ACC-2", "domain"] == "sakura-logi.co.jp"
    assert accounts.loc["ACC-2", "parent_id"] == accounts.loc["ACC-1", "id"]
    assert accounts.loc["ACC-1", "employee_count"] == 1200
    subs = frame(loaded, "subscriptions").set_index("external_id")
    assert subs.loc["SUB-2", "monthly_amount"] == 1_176_000  # "¥1,176,000"
    assert subs.loc["SUB-5", "monthly_amount"] == 10_000  # "10,000円"
    assert str(subs.loc["SUB-1", "started_on"]).startswith("2024-04-01")  # 2024/04/01
    contacts = frame(loaded, "contacts").set_index("external_id")
    assert contacts.loc["CON-1", "email"] == "i.tanaka@sakura-shoji.co.jp"
    assert bool(contacts.loc["CON-3", "is_champion"]) is True
    activities = frame(loaded, "activities").set_index("external_id")
    assert "\n" in activities.loc["ACT-1", "summary"]  # a quoted multi-line CSV field


def test_times_without_offset_are_read_in_the_configured_zone(loaded: str) -> None:
    import kizuna

    events = kizuna.connect(loaded).usage_events().set_index("message_id")
    # "2026/11/21 10:00" in Asia/Tokyo is 01:00 UTC
    assert events.loc["m-3", "timestamp"] == pd.Timestamp(datetime(2026, 11, 21, 1, 0, tzinfo=UTC))
    assert events.loc["m-1", "timestamp"] == pd.Timestamp(datetime(2026, 11, 20, 0, 0, tzinfo=UTC))
    assert events.loc["m-3", "source"] == "segment"
    assert events.loc["m-1", "source"] == "import"


def test_reimporting_the_same_files_changes_nothing(loaded: str) -> None:
    before = {name: frame(loaded, name) for name in ORDER}
    again = load_all(loaded)
    for name, summary in again.items():
        assert (summary.inserted, summary.updated) == (0, 0), name
        assert summary.unchanged == summary.rows
        pd.testing.assert_frame_equal(frame(loaded, name), before[name], obj=name)


def test_a_changed_row_is_updated_in_place(loaded: str, tmp_path: Path) -> None:
    text = (DATA / "accounts.csv").read_text().replace("合同会社みなと", "合同会社みなと(新社名)")
    summary = load(loaded, "accounts", write(tmp_path, "accounts.csv", text))
    assert (summary.inserted, summary.updated, summary.unchanged) == (0, 1, 2)
    accounts = frame(loaded, "accounts").set_index("external_id")
    assert accounts.loc["ACC-3", "name"] == "合同会社みなと(新社名)"
    assert len(accounts) == 3


def test_bad_rows_are_all_reported_and_nothing_is_written(loaded: str, tmp_path: Path) -> None:
    before = counts(loaded)
    path = write(tmp_path, "subs.csv", (
        "external_id,account_external_id,product_code,quantity,monthly_amount,status,started_on,ended_on\n"
        "SUB-10,ACC-1,plan-pro,2,50000,active,2026-01-01,\n"  # good
        "SUB-11,ACC-404,plan-pro,2,50000,active,2026-01-01,\n"  # unknown account
        "SUB-12,ACC-1,plan-gold,2,50000,active,2026-01-01,\n"  # unknown product
        "SUB-13,ACC-1,plan-pro,-1,¥12.5,paused,2026-13-01,\n"  # three bad fields
        "SUB-14,ACC-1,plan-pro,1,50000,canceled,2026-02-01,2026-01-01\n"  # ends before start
        "SUB-15,ACC-1,plan-pro,1,50000,canceled,2026-02-01,\n"  # canceled needs ended_on
        "SUB-10,ACC-1,plan-pro,2,50000,active,2026-01-01,\n"  # duplicate
    ))  # fmt: skip
    problems = rejected(loaded, "subscriptions", path)
    p = str(path)
    assert problems == [
        f"{p}:3: account_external_id: no account with external_id 'ACC-404'; import it first",
        f"{p}:4: product_code: no product with code 'plan-gold'; import it first",
        f"{p}:5: quantity: must be at least 0",
        f"{p}:5: monthly_amount: amount '¥12.5' is finer than JPY allows (no minor unit)",
        f"{p}:5: status: 'paused' is not one of: trial, active, canceled, expired",
        f"{p}:5: started_on: no such date: '2026-13-01'",
        f"{p}:6: ended_on: is before started_on",
        f"{p}:7: ended_on: required when status is canceled (the day it stopped earning)",
        f"{p}:8: external_id: SUB-10 appears more than once in the file (also on line 2)",
    ]
    assert counts(loaded) == before  # not even the good row went in


def test_header_problems_stop_the_import_before_any_row(sqlite_url: str, tmp_path: Path) -> None:
    path = write(tmp_path, "accounts.csv", "external_id,nmae,region\nA,x,y\n")
    assert rejected(sqlite_url, "accounts", path) == [
        f"{path}:1: name: required column is missing",
        f"{path}:1: nmae: unknown column; expected one of: domain, employee_count, external_id, industry, "
        "name, owner_email, parent_external_id (custom fields are columns named custom.<name>)",
        f"{path}:1: region: unknown column; expected one of: domain, employee_count, external_id, industry, "
        "name, owner_email, parent_external_id (custom fields are columns named custom.<name>)",
    ]


@pytest.mark.parametrize(
    ("entity", "header", "row", "expected"),
    [
        ("users", "email,name,role", "not-an-email,X,boss", ["email: not an email address: 'not-an-email'", "role: 'boss' is not one of: admin, lead, csm, viewer"]),
        ("products", "code,name,kind,list_price,currency", "p,P,bundle,-5,YEN", ["kind: 'bundle' is not one of: plan, addon", "list_price: must not be negative", "currency: unknown currency 'YEN' (an ISO 4217 code such as JPY)"]),
        ("accounts", "external_id,name,employee_count,owner_email", "A9,X,many,ghost@example.com", ["employee_count: not a whole number: 'many'", "owner_email: no user with email 'ghost@example.com'; import it first"]),
        ("contacts", "external_id,account_external_id,name,is_champion", "C9,ACC-1,X,maybe", ["is_champion: not true/false: 'maybe' (use true, false, 1, 0, yes or no)"]),
        ("usage_events", "message_id,account_external_id,event,timestamp,properties", "m9,ACC-1,Signed In,yesterday,[1]", ["timestamp: not a date and time: 'yesterday' (use 2024-09-18T10:00:00+09:00 or 2024/09/18 10:00)", "properties: must be a JSON object ({...})"]),
        ("usage_daily", "account_external_id,day,metric,value", "ACC-1,2026-11-20,logins,NaN", ["value: not a finite number: 'NaN'"]),
        ("subscriptions", "external_id,account_external_id,product_code,monthly_amount,status,started_on,term_months", "S9,ACC-1,plan-pro,1000,active,2026-01-01,0", ["term_months: must be at least 1"]),
        ("subscriptions", "external_id,account_external_id,product_code,monthly_amount,status,started_on,term_months", "S9,ACC-1,plan-pro,1000,active,2026-01-01,121", ["term_months: must be at most 120"]),
        ("subscriptions", "external_id,account_external_id,product_code,monthly_amount,status,started_on,term_months", "S9,ACC-1,plan-pro,1000,active,2026-01-01,annual", ["term_months: not a whole number: 'annual'"]),
        ("tickets", "external_id,account_external_id,status,opened_at,resolved_at,csat", "T9,ACC-1,solved,2026-11-02T00:00:00Z,2026-11-01T00:00:00Z,6", ["csat: must be at most 5"]),
        ("tickets", "external_id,account_external_id,status,opened_at,resolved_at", "T9,ACC-1,solved,2026-11-02T00:00:00Z,2026-11-01T00:00:00Z", ["resolved_at: is before opened_at"]),
        ("survey_responses", "external_id,account_external_id,kind,score,answered_at", "S9,ACC-1,nps,11,2026-11-01", ["score: a NPS score must be from 0 to 10"]),
        ("survey_responses", "external_id,account_external_id,kind,score,answered_at", "S9,ACC-1,csat,0,2026-11-01", ["score: a CSAT score must be from 1 to 5"]),
        ("activities", "external_id,account_external_id,kind,occurred_at", "AC9,ACC-1,lunch,", ["kind: 'lunch' is not one of: meeting, call, email, note", "occurred_at: required, but empty"]),
        ("onboarding_milestones", "external_id,account_external_id,name,due_on", "O9,ACC-1,Kickoff,2026-02-30", ["due_on: no such date: '2026-02-30'"]),
        ("success_goals", "external_id,account_external_id,title,status", "G9,ACC-1,Goal,done", ["status: 'done' is not one of: not_started, on_track, at_risk, achieved, missed"]),
        ("tasks", "external_id,title,assignee_email,due_on", "TK9,Call,nobody@kizuna-demo.example,2026/12/01 10:30", ["assignee_email: no user with email 'nobody@kizuna-demo.example'; import it first", "due_on: a date is expected, not a time: '2026/12/01 10:30'"]),
    ],
)  # fmt: skip
def test_each_entity_refuses_bad_values(
    loaded: str, tmp_path: Path, entity: str, header: str, row: str, expected: list[str]
) -> None:
    before = counts(loaded)
    path = write(tmp_path, f"{entity}.csv", f"{header}\n{row}\n")
    assert sorted(rejected(loaded, entity, path)) == sorted(f"{path}:2: {e}" for e in expected)
    assert counts(loaded) == before


def test_japanese_excel_files_in_cp932_are_detected(sqlite_url: str, tmp_path: Path) -> None:
    text = "external_id,name,industry\nA1,株式会社髙橋製作所,製造業\nA2,ﾃｽﾄ商事,卸売\n"
    path = write(tmp_path, "accounts.csv", text, encoding="cp932")
    assert load(sqlite_url, "accounts", path).inserted == 2
    names = frame(sqlite_url, "accounts")["name"].tolist()
    assert names == ["株式会社髙橋製作所", "ﾃｽﾄ商事"]


def test_utf8_with_bom_is_read_and_the_bom_is_not_part_of_the_first_column(sqlite_url: str, tmp_path: Path) -> None:
    path = write(tmp_path, "accounts.csv", "\ufeffexternal_id,name\nA1,株式会社テスト\n")
    assert load(sqlite_url, "accounts", path).inserted == 1


def test_a_wrong_encoding_is_reported_with_its_line(sqlite_url: str, tmp_path: Path) -> None:
    path = write(tmp_path, "accounts.csv", "external_id,name\nA1,株式会社テスト\n", encoding="cp932")
    problems = rejected(sqlite_url, "accounts", path, encoding="utf-8")
    # the bad bytes are on line 2 (the text stream read them with the header: it said line 1)
    assert problems == [f"{path}:2: bytes that are not valid utf-8 text; give the right --encoding"]
    # the encoding given by its Japanese-Excel name works
    assert load(sqlite_url, "accounts", path, encoding="Shift_JIS").inserted == 1


def test_dry_run_checks_but_writes_nothing(loaded: str, tmp_path: Path) -> None:
    path = write(tmp_path, "accounts.csv", "external_id,name\nNEW-1,新規株式会社\n")
    engine = make_engine(loaded)
    with session_scope(engine) as session:
        summary = import_file(session, "accounts", path, ctx=CTX, dry_run=True)
    assert summary.rows == 1
    assert summary.dry_run
    assert "NEW-1" not in frame(loaded, "accounts")["external_id"].tolist()


def test_json_lines_import_with_typed_values_and_bad_lines(sqlite_url: str, tmp_path: Path) -> None:
    good = write(tmp_path, "accounts.jsonl", (
        '{"external_id": "J1", "name": "株式会社ジェイ", "employee_count": 30, "custom_fields": {"tier": "gold"}}\n'
        '\n'
        '{"external_id": "J2", "name": "J2 Inc.", "domain": "j2.example"}\n'
    ))  # fmt: skip
    assert load(sqlite_url, "accounts", good).inserted == 2
    accounts = frame(sqlite_url, "accounts").set_index("external_id")
    assert accounts.loc["J1", "employee_count"] == 30
    bad = write(tmp_path, "more.jsonl", (
        '{"external_id": "J3", "name": "ok"}\n'
        '{"external_id": "J4", "name": \n'
        '[1, 2]\n'
        '{"external_id": "J5", "name": "x", "colour": "red"}\n'
        '{"external_id": "J6", "name": "x", "employee_count": true}\n'
    ))  # fmt: skip
    problems = rejected(sqlite_url, "accounts", bad)
    assert problems[0].startswith(f"{bad}:2: not valid JSON:")
    assert problems[1:] == [
        f"{bad}:3: each line must be a JSON object",
        f"{bad}:4: colour: unknown column; expected one of: custom_fields, domain, employee_count, external_id, "
        "industry, name, owner_email, parent_external_id (custom fields are columns named custom.<name>)",
        f"{bad}:5: employee_count: not a whole number: True",
    ]
    assert len(frame(sqlite_url, "accounts")) == 2


def test_events_are_immutable_a_resent_message_id_is_ignored(loaded: str, tmp_path: Path) -> None:
    path = write(tmp_path, "ev.csv", (
        "message_id,account_external_id,event,timestamp\n"
        "m-1,ACC-1,Something Else,2026-11-22T00:00:00Z\n"
        "m-4,ACC-1,Signed In,2026-11-22T00:00:00Z\n"
    ))  # fmt: skip
    summary = load(loaded, "usage-events", path)
    assert (summary.inserted, summary.unchanged) == (1, 1)
    events = frame(loaded, "usage_events").set_index("message_id")
    assert events.loc["m-1", "event"] == "Signed In"


def test_the_cli_prints_every_problem_as_file_line_column_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIZUNA_DATABASE_URL", f"sqlite:///{tmp_path / 'k.db'}")
    path = write(tmp_path, "accounts.csv", "external_id,name,employee_count\nA1,,x\nA1,B,3\n")
    result = run_cli(capsys, "import", "accounts", str(path))
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert lines == [
        f"{path}:2: name: required, but empty",
        f"{path}:2: employee_count: not a whole number: 'x'",
        f"{path}:3: external_id: A1 appears more than once in the file (also on line 2)",
        "Error: 3 problems found in 2 rows; nothing was imported",
    ]
    ok = write(tmp_path, "ok.csv", "external_id,name\nA1,株式会社OK\n")
    result = run_cli(capsys, "import", "accounts", str(ok))
    assert result.code == 0, result.err
    assert "ok.csv" in result.out
    assert frame(f"sqlite:///{tmp_path / 'k.db'}", "accounts")["name"].tolist() == ["株式会社OK"]


def test_the_cli_imports_a_whole_folder_in_dependency_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "k.db"
    monkeypatch.setenv("KIZUNA_DATABASE_URL", f"sqlite:///{db}")
    folder = tmp_path / "export"
    shutil.copytree(DATA, folder)
    result = run_cli(capsys, "import", "all", str(folder))
    assert result.code == 0, result.err
    assert counts(f"sqlite:///{db}")["subscriptions"] == 5


def test_the_cli_speaks_japanese(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIZUNA_DATABASE_URL", f"sqlite:///{tmp_path / 'k.db'}")
    path = write(tmp_path, "accounts.csv", "external_id,name\nA1,\n")
    result = run_cli(capsys, "--lang", "ja", "import", "accounts", str(path))
    assert result.code == 1
    assert f"{path}:2: name: 必須ですが空です" in result.err
    assert "エラー" in result.err


def test_an_unknown_entity_or_missing_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KIZUNA_DATABASE_URL", f"sqlite:///{tmp_path / 'k.db'}")
    result = run_cli(capsys, "import", "acounts", str(DATA / "accounts.csv"))
    assert result.code == 1
    assert "unknown entity 'acounts'; did you mean accounts? One of: users, products, accounts" in result.err
    result = run_cli(capsys, "import", "accounts", str(tmp_path / "nope.csv"))
    assert result.code == 1
    assert "no such file" in result.err


def test_dates_in_every_accepted_style(sqlite_url: str, tmp_path: Path) -> None:
    path = write(tmp_path, "ob.csv", (
        "external_id,account_external_id,name,due_on\n"
        "O1,A,a,2024-09-18\nO2,A,b,2024/09/18\nO3,A,c,2024/9/8\nO4,A,d,2024年9月18日\nO5,A,e,2024-09-18T00:00:00\n"
    ))  # fmt: skip
    load(sqlite_url, "accounts", write(tmp_path, "a.csv", "external_id,name\nA,x\n"))
    load(sqlite_url, "onboarding-milestones", path)
    due = [
        d.date() if hasattr(d, "date") else d
        for d in pd.to_datetime(frame(sqlite_url, "onboarding_milestones")["due_on"])
    ]
    assert due == [date(2024, 9, 18), date(2024, 9, 18), date(2024, 9, 8), date(2024, 9, 18), date(2024, 9, 18)]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_large_files_are_parsed_in_a_second_process_with_the_same_outcome(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    from kizuna.services.imports import runner

    load(sqlite_url, "accounts", write(tmp_path, "a.csv", "external_id,name\nA,x\n"))
    if fmt == "csv":
        bad = (
            "message_id,account_external_id,event,timestamp\n"
            + "".join(f"m{i},{'A' if i % 997 else 'Z'},Signed In,2026-01-01T00:00:{i % 60:02d}Z\n" for i in range(5000))
            + "m7,A,Signed In,2026-01-01\n"
        )
    else:
        bad = (
            "".join(
                f'{{"message_id": "m{i}", "account_external_id": "{"A" if i % 997 else "Z"}", "event": "e", '
                f'"timestamp": "2026-01-01T00:00:00Z"}}\n'
                for i in range(5000)
            )
            + '{"message_id": "m7", "account_external_id": "A", "event": "e", "timestamp": "2026-01-01"}\n'
        )
    path = write(tmp_path, f"ev.{fmt}", bad)
    in_process = rejected(sqlite_url, "usage-events", path)
    monkeypatch.setattr(runner, "PARALLEL_FROM_BYTES", 0)
    assert rejected(sqlite_url, "usage-events", path) == in_process
    assert len(in_process) == 7  # 6 unknown accounts (i = 0, 997, …, 4985) and one repeated message id
    header = 1 if fmt == "csv" else 0
    last, first = 5001 + header, 8 + header
    assert (
        in_process[-1]
        == f"{path}:{last}: source, message_id: import, m7 appears more than once in the file (also on line {first})"
    )
    good = write(tmp_path, f"good.{fmt}", bad.replace(",Z,", ",A,").replace('"Z"', '"A"').rsplit("\n", 2)[0] + "\n")
    summary = load(sqlite_url, "usage-events", good)
    assert summary.inserted == 5000
    assert summary.rows == 5000


def test_importing_subscriptions_refreshes_the_account_summaries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'k.db'}"
    monkeypatch.setenv("KIZUNA_DATABASE_URL", url)
    assert run_cli(capsys, "import", "all", str(DATA)).code == 0
    accounts = frame(url, "accounts").set_index("external_id")
    assert accounts.loc["ACC-1", "status"] == "active"
    assert accounts.loc["ACC-1", "mrr"] == 1_176_000 + 20_000
    assert accounts.loc["ACC-2", "status"] == "churned"
