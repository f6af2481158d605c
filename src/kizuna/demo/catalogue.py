"""What the demo vendor sells: four plans by rank and a handful of add-ons, in yen."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Plan:
    id: int
    code: str
    name: str
    rank: int
    price: int  # yen per month: per seat, or for the whole plan when not per_seat
    per_seat: bool
    min_seats: int
    max_seats: int
    description: str

    def quantity(self, seats: int) -> int:
        return seats if self.per_seat else 1

    def amount(self, seats: int, discount: float = 0.0) -> int:
        """Monthly amount in yen, rounded to ¥10."""
        gross = self.price * self.quantity(seats)
        return round(gross * (1.0 - discount) / 10.0) * 10


@dataclass(frozen=True)
class Addon:
    id: int
    code: str
    name: str
    price: int  # yen per unit per month
    min_rank: int
    weight: float  # how often it is chosen for a cross-sell
    max_units: int
    description: str


PLANS: tuple[Plan, ...] = (
    Plan(1, "plan-starter", "ライト (Starter)", 1, 9_800, False, 1, 5,
         "小規模チーム向け。5ユーザーまで月額9,800円。"),
    Plan(2, "plan-standard", "スタンダード (Standard)", 2, 2_980, True, 10, 80,
         "1ユーザーあたり月額2,980円（10ユーザーから）。ワークフローと外部連携に対応。"),
    Plan(3, "plan-pro", "プロ (Pro)", 3, 4_980, True, 20, 600,
         "1ユーザーあたり月額4,980円（20ユーザーから）。高度な権限管理と監査ログ。"),
    Plan(4, "plan-enterprise", "エンタープライズ (Enterprise)", 4, 7_980, True, 100, 5_000,
         "1ユーザーあたり月額7,980円（100ユーザーから）。専任CSと個別契約。"),
)  # fmt: skip

ADDONS: tuple[Addon, ...] = (
    Addon(5, "addon-analytics", "高度な分析 (Advanced Analytics)", 30_000, 2, 3.0, 1,
          "コホート分析と予測レポート。"),
    Addon(6, "addon-api", "API連携 (API Access)", 20_000, 2, 2.5, 1, "REST APIとWebhook。"),
    Addon(7, "addon-sso", "SSO", 50_000, 3, 1.5, 1, "SAML / OIDC によるシングルサインオン。"),
    Addon(8, "addon-storage", "追加ストレージ (Extra Storage)", 5_000, 1, 2.0, 5, "100GB単位の追加容量。"),
    Addon(9, "addon-premium-support", "プレミアムサポート (Premium Support)", 100_000, 3, 1.0, 1,
          "専用窓口と1時間以内の初回応答。"),
)  # fmt: skip

PLAN_BY_RANK: dict[int, Plan] = {p.rank: p for p in PLANS}
ADDON_BY_CODE: dict[str, Addon] = {a.code: a for a in ADDONS}
API_ADDON = ADDON_BY_CODE["addon-api"].id
TOP_RANK = max(PLAN_BY_RANK)


def product_rows(launched: datetime) -> list[dict[str, Any]]:
    """The catalogue as ``products`` rows, all launched at ``launched``."""
    rows: list[dict[str, Any]] = []
    for plan in PLANS:
        rows.append({
            "id": plan.id, "code": plan.code, "name": plan.name, "kind": "plan", "rank": plan.rank,
            "list_price": plan.price, "currency": "JPY",
            "seats_included": None if plan.per_seat else plan.max_seats,
            "description": plan.description, "is_active": True, "created_at": launched, "updated_at": launched,
        })  # fmt: skip
    for addon in ADDONS:
        rows.append({
            "id": addon.id, "code": addon.code, "name": addon.name, "kind": "addon", "rank": 0,
            "list_price": addon.price, "currency": "JPY", "seats_included": None,
            "description": addon.description, "is_active": True, "created_at": launched, "updated_at": launched,
        })  # fmt: skip
    return rows
