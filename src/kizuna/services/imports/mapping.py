"""Column mapping: which column of an uploaded file feeds which column of an entity.

A CSV exported from a Japanese CRM or spreadsheet names its columns 取引先名, 会社名,
メールアドレス, 月額…; the importer reads ``name``, ``email``, ``monthly_amount``. A
:class:`ColumnMapping` says, per file header, which entity column it is (or that it is
ignored); :func:`suggest` proposes one from the entity spec's column names, the
catalogue's translated column labels and the documented synonym list below
(``docs/import.md`` lists the same table), with fuzzy matching for near misses.

The same mapping drives the web upload and ``kizuna import --map MAPPING.toml``.
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kizuna.errors import InvalidInput, RowError
from kizuna.i18n import N_, _, language
from kizuna.services.imports.readers import Record
from kizuna.services.imports.specs import EntitySpec, entity

#: Header names (Japanese and English) that mean a column, whatever the entity.
#: Keyed by the importer's column name; documented in docs/import.md.
COMMON_SYNONYMS: dict[str, tuple[str, ...]] = {
    "external_id": ("id", "ID", "外部ID", "管理番号", "レコードID", "record id", "source id"),
    "account_external_id": (
        "取引先ID",
        "取引先コード",
        "顧客ID",
        "顧客コード",
        "会社ID",
        "account id",
        "company id",
        "customer id",
    ),
    "contact_external_id": ("担当者ID", "連絡先ID", "contact id"),
    "name": ("名前", "氏名", "名称", "name"),
    "email": ("メールアドレス", "メール", "Eメール", "e-mail", "mail", "email address"),
    "currency": ("通貨", "通貨コード", "currency code"),
    "status": ("ステータス", "状態", "status"),
    "subject": ("件名", "タイトル", "subject"),
    "kind": ("種別", "種類", "区分", "type"),
    "due_on": ("期限", "期日", "期限日", "due date"),
    "completed_at": ("完了日時", "完了日", "completed"),
    "description": ("説明", "詳細", "備考"),
    "role": ("役割", "役職", "権限", "role"),
}

#: Per entity: header names for its own columns (these win over the common ones).
ENTITY_SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = {
    "accounts": {
        "external_id": ("取引先ID", "取引先コード", "顧客ID", "顧客コード", "会社ID", "account id", "customer id"),
        "name": ("取引先名", "会社名", "企業名", "顧客名", "法人名", "社名", "account name", "company name", "company"),
        "domain": ("ドメイン", "Webサイト", "ウェブサイト", "ホームページ", "URL", "website"),
        "industry": ("業種", "業界", "industry"),
        "employee_count": ("従業員数", "社員数", "employees", "number of employees"),
        "owner_email": ("担当者", "担当者メール", "担当CSM", "担当営業", "所有者", "owner", "account owner", "csm"),
        "parent_external_id": ("親取引先ID", "親会社ID", "親会社コード", "parent id", "parent account id"),
    },
    "contacts": {
        "name": ("担当者名", "氏名", "名前", "contact name", "full name"),
        "role": ("役職", "部署・役職", "title", "job title"),
        "is_champion": ("キーパーソン", "チャンピオン", "champion"),
    },
    "products": {
        "code": ("商品コード", "製品コード", "プランコード", "品番", "sku", "product code"),
        "name": ("商品名", "製品名", "プラン名", "product name"),
        "kind": ("商品種別", "製品種別"),
        "list_price": ("定価", "単価", "価格", "price", "unit price"),
        "seats_included": ("含まれる席数", "標準ID数", "seats"),
        "rank": ("ランク", "順位"),
        "is_active": ("販売中", "有効", "active"),
    },
    "subscriptions": {
        "external_id": ("契約ID", "契約番号", "契約明細ID", "subscription id", "contract id"),
        "product_code": ("プラン", "プランコード", "商品コード", "製品コード", "plan", "product", "sku"),
        "quantity": ("数量", "ライセンス数", "席数", "ID数", "seats", "qty", "quantity"),
        "monthly_amount": ("月額", "月額料金", "月額費用", "MRR", "monthly fee", "monthly amount", "amount"),
        "billing_interval": ("請求サイクル", "支払サイクル", "請求間隔", "billing"),
        "status": ("契約ステータス", "契約状態"),
        "started_on": ("契約開始日", "開始日", "利用開始日", "start date", "contract start"),
        "trial_ends_on": ("トライアル終了日", "試用終了日", "trial end"),
        "current_term_end": ("契約終了日", "更新日", "契約更新日", "次回更新日", "renewal date", "term end"),
        "canceled_at": ("解約申込日", "解約申請日", "解約受付日", "cancellation requested"),
        "ended_on": ("解約日", "終了日", "利用終了日", "end date", "churn date"),
        "cancel_reason": ("解約理由", "cancel reason", "churn reason"),
    },
    "usage_daily": {
        "day": ("日付", "日", "date"),
        "metric": ("指標", "メトリクス", "項目"),
        "value": ("値", "数値", "件数"),
    },
    "usage_events": {
        "message_id": ("メッセージID", "イベントID", "event id"),
        "event": ("イベント", "イベント名", "event name"),
        "timestamp": ("日時", "発生日時", "タイムスタンプ", "time"),
        "properties": ("プロパティ",),
    },
    "tickets": {
        "external_id": ("チケットID", "問い合わせID", "ticket id", "case id"),
        "subject": ("件名", "問い合わせ件名", "タイトル"),
        "priority": ("優先度", "重要度", "priority"),
        "channel": ("チャネル", "受付チャネル", "経路", "channel"),
        "opened_at": ("受付日時", "起票日時", "作成日時", "created at", "opened"),
        "first_response_at": ("初回回答日時", "一次回答日時", "first response"),
        "resolved_at": ("解決日時", "完了日時", "クローズ日時", "closed at", "resolved"),
        "message_count": ("メッセージ数", "やり取り回数"),
        "csat": ("満足度", "CSAT"),
    },
    "survey_responses": {
        "score": ("スコア", "点数", "評価"),
        "comment": ("コメント", "自由回答", "ご意見"),
        "answered_at": ("回答日時", "回答日", "answered"),
    },
    "activities": {
        "author_email": ("記録者", "作成者", "対応者", "author"),
        "occurred_at": ("実施日時", "日時", "活動日", "date"),
        "summary": ("内容", "本文", "メモ", "notes"),
    },
    "onboarding_milestones": {"name": ("マイルストーン", "ステップ名", "項目"), "position": ("順番", "並び順")},
    "success_goals": {
        "title": ("目標", "ゴール", "目標名", "goal"),
        "metric": ("指標", "KPI"),
        "baseline_value": ("基準値", "開始時"),
        "target_value": ("目標値", "target"),
        "current_value": ("現在値", "実績", "current"),
    },
    "tasks": {
        "title": ("タスク名", "件名", "タイトル", "task"),
        "assignee_email": ("担当者", "担当者メール", "assignee"),
        "priority": ("優先度",),
        "due_on": ("期限", "期日"),
        "source": ("発生元",),
    },
    "users": {"name": ("氏名", "名前", "ユーザー名"), "locale": ("言語", "language"), "is_active": ("有効", "active")},
}

#: English labels of the web's column headings (their Japanese comes from the catalogue).
CATALOGUE_LABELS: dict[str, tuple[str, ...]] = {
    "name": (N_("Name"),),
    "email": (N_("Email"),),
    "industry": (N_("Industry"),),
    "owner_email": (N_("Owner"),),
    "product_code": (N_("Plan"), N_("Product")),
    "quantity": (N_("Quantity"),),
    "status": (N_("Status"),),
    "subject": (N_("Subject"),),
    "started_on": (N_("Started"),),
    "current_term_end": (N_("Renewal"),),
    "monthly_amount": (N_("MRR"),),
}

#: Custom fields are columns named ``custom.<name>`` (as in ``runner``, which imports this module).
CUSTOM_PREFIX = "custom."

#: A fuzzy match must be at least this similar (difflib ratio on the normalised names).
FUZZY_CUTOFF = 0.8

_SEPARATORS = re.compile(r"[\s_\-・/（）()「」\[\].:：]+")


def normalize(header: str) -> str:
    """The form headers are compared in: NFKC (full-width → half-width), lower case,
    without spaces, underscores, hyphens, brackets or ・."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", header).strip().lower())


@dataclass(frozen=True)
class Suggestion:
    """What one file column most likely is: ``target`` (None: no idea, or ignored) and why."""

    header: str
    target: str | None
    how: str  # "saved", "exact", "synonym", "fuzzy", "none"
    score: float = 0.0


@dataclass
class ColumnMapping:
    """File header → entity column; ``""`` means the column is ignored. Headers that
    are not in the mapping keep their own name."""

    entity: str
    columns: dict[str, str] = field(default_factory=dict)
    name: str = ""

    def target(self, header: str) -> str:
        return self.columns.get(header, header)

    def renamed(self, headers: list[str]) -> list[str]:
        """The columns the importer sees: targets, ignored ones left out."""
        return [t for h in headers if (t := self.target(h))]


def _targets(spec: EntitySpec) -> list[str]:
    return spec.columns + ([spec.self_ref.column] if spec.self_ref else [])


def header_names(spec: EntitySpec) -> list[tuple[str, str]]:
    """``(header name, entity column)`` pairs this entity recognises, in priority order:
    the column names, the entity's own synonyms, the catalogue's labels (English and
    Japanese), the common synonyms."""
    targets = _targets(spec)
    own = ENTITY_SYNONYMS.get(spec.name, {})
    pairs = [(column, column) for column in targets]
    pairs += [(name, column) for column in targets for name in own.get(column, ())]
    for column in targets:
        for label in CATALOGUE_LABELS.get(column, ()):
            pairs.append((label, column))
            with language("ja"):
                pairs.append((_(label), column))
        pairs += [(name, column) for name in COMMON_SYNONYMS.get(column, ())]
    return pairs


def synonyms(spec: EntitySpec) -> dict[str, str]:
    """Normalised header name → entity column, for this entity (the first claim wins)."""
    out: dict[str, str] = {}
    for name, column in header_names(spec):
        out.setdefault(normalize(name), column)
    return out


def suggest(spec: EntitySpec, headers: list[str], saved: ColumnMapping | None = None) -> list[Suggestion]:
    """One suggestion per header; no entity column is suggested twice (the closer match wins)."""
    table = synonyms(spec)
    targets = set(_targets(spec))
    names = list(table)
    found: list[Suggestion] = []
    for header in headers:
        if saved is not None and header in saved.columns:
            target = saved.columns[header]
            found.append(Suggestion(header, target or None, "saved", 1.0))
            continue
        key = normalize(header)
        if header in targets or (header.startswith(CUSTOM_PREFIX) and spec.custom_fields):
            found.append(Suggestion(header, header, "exact", 1.0))
        elif key in table:
            found.append(Suggestion(header, table[key], "synonym", 0.99))
        else:
            close = difflib.get_close_matches(key, names, n=1, cutoff=FUZZY_CUTOFF) if key else []
            if close:
                score = difflib.SequenceMatcher(None, key, close[0]).ratio()
                found.append(Suggestion(header, table[close[0]], "fuzzy", round(score, 2)))
            else:
                found.append(Suggestion(header, None, "none"))
    # a target claimed twice keeps its best claimant; the others become "no idea"
    best: dict[str, int] = {}
    for i, s in enumerate(found):
        if s.target is None:
            continue
        j = best.get(s.target)
        if j is None or s.score > found[j].score:
            best[s.target] = i
    return [
        s if s.target is None or best[s.target] == i else Suggestion(s.header, None, "none")
        for i, s in enumerate(found)
    ]


def from_suggestions(spec: EntitySpec, suggestions: list[Suggestion]) -> ColumnMapping:
    return ColumnMapping(spec.name, {s.header: s.target or "" for s in suggestions})


def check(spec: EntitySpec, headers: list[str], mapping: ColumnMapping, *, label: str) -> list[RowError]:
    """Problems with a mapping for a file with ``headers``: an unknown target, an entity
    column fed by two file columns, a required column fed by none, a header the file lacks."""
    problems: list[RowError] = []
    targets = set(_targets(spec))
    present = set(headers)
    for header, target in mapping.columns.items():
        if header not in present:
            continue  # a saved mapping may know more columns than this file has
        if target and target not in targets and not (spec.custom_fields and target.startswith(CUSTOM_PREFIX)
                                                     and len(target) > len(CUSTOM_PREFIX)):  # fmt: skip
            problems.append(RowError(label, 1, header, _("mapped to {target!r}, which is not a column of {entity}; "
                                                         "expected one of: {columns}").format(
                target=target, entity=spec.name, columns=", ".join(sorted(targets)))))  # fmt: skip
    fed: dict[str, list[str]] = {}
    for header in headers:
        target = mapping.target(header)
        if target:
            fed.setdefault(target, []).append(header)
    for target, sources in fed.items():
        if len(sources) > 1:
            problems.append(RowError(label, 1, target, _("fed by more than one column: {columns}; ignore all but one")
                                     .format(columns=", ".join(sources))))  # fmt: skip
    for fd in spec.fields:
        if fd.required and fd.column not in fed:
            problems.append(RowError(label, 1, fd.column, _("required column is not mapped from any column")))
    return problems


def apply(records: Iterator[Record], mapping: ColumnMapping) -> Iterator[Record]:
    """The records with their values under the entity's column names (ignored ones dropped)."""
    rename = mapping.columns
    for record in records:
        values = record.values
        if values is None or not rename:
            yield record
            continue
        out: dict[str, Any] = {}
        for header, value in values.items():
            target = rename.get(header, header)
            if target:
                out[target] = value
        yield Record(record.line, out)


# --- mapping files (kizuna import --map MAPPING.toml) --------------------------------------


def load(path: Path, *, entity_name: str | None = None) -> ColumnMapping:
    """Read a mapping file::

    entity = "accounts"
    name = "Salesforce export"
    [columns]
    "取引先名" = "name"
    "備考" = ""          # ignored
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InvalidInput(_("no such file: {path}").format(path=path), field="map") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidInput(_("{path}: not a readable TOML mapping: {why}").format(path=path, why=exc),
                           field="map") from None  # fmt: skip
    columns = data.get("columns")
    if not isinstance(columns, dict) or not all(isinstance(v, str) for v in columns.values()):
        raise InvalidInput(
            _('{path}: needs a [columns] table of "file column" = "entity column" (or "" to ignore)').format(path=path),
            field="map",
        )
    name = data.get("entity") or entity_name
    if not isinstance(name, str) or not name:
        raise InvalidInput(_('{path}: says no entity (entity = "accounts")').format(path=path), field="map")
    spec = entity(name)
    if entity_name is not None and entity(entity_name).name != spec.name:
        raise InvalidInput(_("{path} maps columns of {mapped}, not {wanted}").format(
            path=path, mapped=spec.name, wanted=entity(entity_name).name), field="map")  # fmt: skip
    return ColumnMapping(spec.name, {str(k): v.strip() for k, v in columns.items()}, str(data.get("name") or ""))


def _toml_string(value: str) -> str:
    # JSON string escapes are TOML basic-string escapes; TOML also forbids a raw DEL.
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")


def dump(mapping: ColumnMapping) -> str:
    """The mapping as the TOML :func:`load` reads."""
    lines = [f"entity = {_toml_string(mapping.entity)}"]
    if mapping.name:
        lines.append(f"name = {_toml_string(mapping.name)}")
    lines += ["", '# file column = entity column ("" ignores the column)', "[columns]"]
    lines += [f"{_toml_string(k)} = {_toml_string(v)}" for k, v in mapping.columns.items()]
    return "\n".join(lines) + "\n"
