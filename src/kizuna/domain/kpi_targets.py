"""KPI targets (目標値): what a team aims for, shown on the KPI page's tiles.

Written as one line, e.g. ``KIZUNA_KPI_TARGETS="nrr_12m >= 100%, logo_churn_rate <= 1%"``
(items separated by commas or semicolons):
a headline key, ``>=`` or ``<=``, and a number — with ``%`` for rates (100% = 1.0),
plain for counts, scores and money (money in major units of the report's currency, e.g.
yen). An empty value sets no target.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Each KPI a target can be set for, with its kind: ``percent`` (a fraction, written with
#: ``%``), ``money`` (major units), ``number`` or ``score``.
TARGET_KINDS: dict[str, str] = {
    "mrr": "money", "arr": "money", "paying_accounts": "number", "net_change": "money",
    "nrr": "percent", "grr": "percent", "nrr_12m": "percent", "grr_12m": "percent",
    "logo_churn_rate": "percent", "revenue_churn_rate": "percent", "nps": "score",
    "onboarding_completion_rate": "percent", "upsell_rate": "percent", "cross_sell_rate": "percent",
    "tickets_per_account": "number", "median_frt_hours": "number", "top_20_share": "percent",
    "ltv": "money", "ltv_cac": "number", "at_risk_accounts": "number",
}  # fmt: skip
#: The targets in force unless set otherwise: NRR at least 100 % and GRR at least 90 %
#: over 12 months, logo churn at most 1 % a month.
DEFAULT_TARGETS = "nrr_12m >= 100%, grr_12m >= 90%, logo_churn_rate <= 1%"

#: Items are separated by commas or semicolons (a comma inside a number, 150,000, is not one).
_SEPARATOR = re.compile(r"[;,](?=\s*[A-Za-z])")
_ITEM = re.compile(r"^\s*([a-z0-9_]+)\s*(>=|<=|≥|≤)\s*([-+]?[0-9][0-9,]*(?:\.[0-9]+)?)\s*(%?)\s*$")


@dataclass(frozen=True)
class Target:
    key: str
    op: str  # ">=" or "<="
    value: float  # a fraction for percent kinds, major units for money
    kind: str

    def met(self, actual: float | None) -> bool | None:
        """Whether ``actual`` (same units as ``value``) meets the target; None if unknown."""
        if actual is None:
            return None
        return actual >= self.value if self.op == ">=" else actual <= self.value

    def to_dict(self) -> dict[str, object]:
        return {"key": self.key, "op": self.op, "value": self.value, "kind": self.kind}


def parse_targets(text: str | None) -> dict[str, Target]:
    """``"nrr_12m >= 100%, …"`` as targets by key; a bad item raises ``ValueError``
    naming it and the reason."""
    out: dict[str, Target] = {}
    for position, raw in enumerate(_SEPARATOR.split(text or ""), start=1):
        item = raw.strip()
        if not item:
            continue
        match = _ITEM.match(item)
        if not match:
            raise ValueError(
                f"KPI target {position} ({item[:60]!r}) is not like 'nrr_12m >= 100%' "
                "(a KPI, >= or <=, a number, % for rates)"
            )
        key, op, number, percent = match.groups()
        if key not in TARGET_KINDS:
            raise ValueError(f"KPI target {position}: unknown KPI {key!r}; one of: {', '.join(TARGET_KINDS)}")
        kind = TARGET_KINDS[key]
        if kind == "percent" and not percent:
            raise ValueError(f"KPI target {position} ({key}): a rate is written with %, e.g. {key} {op} {number}%")
        if kind != "percent" and percent:
            raise ValueError(f"KPI target {position} ({key}): not a rate, write the number without %")
        if key in out:
            raise ValueError(f"KPI target {position}: {key} has a target already")
        value = float(number.replace(",", ""))
        out[key] = Target(key, {"≥": ">=", "≤": "<="}.get(op, op), value / 100 if percent else value, kind)
    return out
