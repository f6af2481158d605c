"""Upsell and cross-sell opportunities (issue 16 items 4 and 5): the daily
``opportunities`` step, the read models the page, the 360 section, the API and the CLI
show, the CSM's status changes, and the recommender's evaluation on the store.

The step reads each account's signals (:class:`kizuna.domain.opportunities.AccountSignals`),
asks the recommender (:mod:`kizuna.analytics.recommend`) which plan (upsell) or add-on
(cross-sell) to propose, and keeps one live opportunity per (account, type, product):
a new one is opened — or recorded as suppressed with the reason when the account is
unhappy — an existing one follows the account (suppressed while unhappy, open again when
not); one whose product the account then buys is won, one whose account churns or that
waits ``expire_days`` without a purchase is lost. Re-running the step for a day changes
nothing. See ``docs/opportunities.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np

from kizuna.analytics import recommend
from kizuna.db import Session
from kizuna.db.queries import opportunities as q
from kizuna.db.queries import segments as seg_q
from kizuna.domain.enums import LABELS
from kizuna.domain.opportunities import (
    CLOSE_REASONS,
    LOST_CHURNED,
    LOST_NO_PURCHASE,
    REASONS,
    SUPPRESSIONS,
    WON_PURCHASE,
    AccountSignals,
    Detected,
    OpportunityConfig,
    OpportunityStatus,
    OpportunityType,
    Signal,
    detect,
    price_for,
    suppression,
)
from kizuna.domain.usage import METRIC_ACTIVE_USERS
from kizuna.errors import Conflict, InvalidInput, NotFound
from kizuna.i18n import N_, _

STATUSES = tuple(s.value for s in OpportunityStatus)
TYPES = tuple(t.value for t in OpportunityType)
#: What a CSM may set: the status → the statuses it may come from.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "won": ("open", "suppressed"),
    "lost": ("open", "suppressed"),
    "dismissed": ("open", "suppressed"),
    "open": ("dismissed",),  # undo a dismissal
}
TYPE_LABELS = {"upsell": N_("upsell"), "cross_sell": N_("cross-sell")}
STATUS_LABELS = {"open": N_("open"), "suppressed": N_("suppressed"), "won": N_("won"), "lost": N_("lost"),
                 "dismissed": N_("dismissed")}  # fmt: skip
MAX_REASON = 500


# --------------------------------------------------------------------------- the daily step


@dataclass(frozen=True)
class _Product:
    id: int
    name: str
    kind: str
    rank: int
    list_price: int
    currency: str
    seats_included: int | None
    active: bool


def _v(value: Any) -> str | None:
    return None if value is None else str(getattr(value, "value", value))


def _earning_start(line: Mapping[str, Any]) -> date | None:
    if _v(line["status"]) == "trial":
        return None
    start: date = line["started_on"]
    if line["trial_ends_on"] is not None and line["trial_ends_on"] > start:
        start = line["trial_ends_on"]
    return start


def _live(line: Mapping[str, Any], as_of: date) -> bool:
    """Earning on ``as_of``, or in a trial that has started."""
    if line["ended_on"] is not None and line["ended_on"] <= as_of:
        return False
    if _v(line["status"]) == "trial":
        return bool(line["started_on"] <= as_of)
    start = _earning_start(line)
    return start is not None and start <= as_of and _v(line["status"]) == "active"


@dataclass
class _Inputs:
    products: dict[int, _Product]
    accounts: list[dict[str, Any]]
    lines: dict[int, list[dict[str, Any]]]
    holdings: recommend.Holdings
    scores: np.ndarray  # accounts (holdings rows) × products (holdings columns)
    popularity: np.ndarray

    columns: dict[int, int]  # product id → its column


def _inputs(session: Session, as_of: date) -> _Inputs:
    products = {p["id"]: _Product(p["id"], p["name"], _v(p["kind"]) or "plan", int(p["rank"] or 0),
                                  int(p["list_price"] or 0), p["currency"], p["seats_included"], bool(p["is_active"]))
                for p in q.products(session)}  # fmt: skip
    lines: dict[int, list[dict[str, Any]]] = {}
    pairs: list[tuple[int, int]] = []
    for account_id, account_lines in q.lines(session):
        for ln in account_lines:  # each line's status, earning start and liveness, once
            ln["status"] = _v(ln["status"])
            ln["start"] = _earning_start(ln)
            ln["live"] = _live(ln, as_of)
        lines[account_id] = account_lines
        pairs.extend((account_id, ln["product_id"]) for ln in account_lines if ln["live"])
    holdings = recommend.Holdings.from_pairs(pairs, list(products))
    similarity = recommend.cosine_similarity(holdings.matrix)
    return _Inputs(products, q.accounts(session), lines, holdings, recommend.scores(holdings.matrix, similarity),
                   recommend.popularity(holdings.matrix),
                   {int(p): i for i, p in enumerate(holdings.product_ids)})  # fmt: skip


def _signals(inputs: _Inputs, session: Session, as_of: date) -> dict[int, AccountSignals]:
    seats = seg_q.live_plan_seats(session, as_of)
    peaks = seg_q.usage_totals(session, METRIC_ACTIVE_USERS, as_of - timedelta(days=29), as_of, peak=True)
    before = seg_q.usage_totals(session, METRIC_ACTIVE_USERS, as_of - timedelta(days=59), as_of - timedelta(days=30),
                                peak=True)  # fmt: skip
    answers = q.latest_answers(session, as_of)
    escalations = q.open_escalations(session, as_of)
    out: dict[int, AccountSignals] = {}
    for a in inputs.accounts:
        account_id = a["id"]
        account_lines = inputs.lines.get(account_id, [])
        trial_ends = [ln["trial_ends_on"] for ln in account_lines if ln["status"] == "trial"
                      and ln["trial_ends_on"] is not None and ln["live"]
                      and inputs.products.get(ln["product_id"], _NONE).kind == "plan"]  # fmt: skip
        purchases = [(start, ln) for ln in account_lines if (start := ln["start"]) is not None
                     and start <= as_of and ln["live"]]  # fmt: skip
        purchase = None
        if purchases:
            start, ln = max(purchases, key=lambda p: (p[0], p[1]["product_id"]))
            purchase = (inputs.products[ln["product_id"]].name, (as_of - start).days)
        renewal = a["renewal_on"]
        term = a["contract_term_months"]
        out[account_id] = AccountSignals(
            account_id=account_id, status=_v(a["status"]) or "prospect",
            trial_ends_in=min((d - as_of).days for d in trial_ends) if trial_ends else None,
            renewal_in=(renewal - as_of).days if renewal is not None and (term or 0) >= 12 else None,
            seats=seats.get(account_id), peak_active_users=peaks.get(account_id),
            peak_active_users_before=before.get(account_id), purchase=purchase,
            csat=answers.get((account_id, "csat")), nps=answers.get((account_id, "nps")),
            health_grade=_v(a["health_grade"]), open_escalations=escalations.get(account_id, 0),
        )  # fmt: skip
    return out


_NONE = _Product(0, "", "", 0, 0, "", None, False)


@dataclass(frozen=True)
class _Proposal:
    product: _Product
    score: float
    value: int | None
    currency: str | None


def _proposal(inputs: _Inputs, row: int | None, account: Mapping[str, Any], d: Detected, seats: int | None,
              as_of: date) -> _Proposal | None:  # fmt: skip
    """The product to propose for this signal (the recommender's best of the candidates)
    and its MRR uplift in the account's currency (None when it is priced in another)."""
    currency = account["currency"]
    account_lines = [ln for ln in inputs.lines.get(account["id"], []) if ln["live"]]
    held = {ln["product_id"] for ln in account_lines}
    if d.signal is Signal.TRIAL_ENDING:
        trials = sorted((ln for ln in account_lines if ln["status"] == "trial"
                         and inputs.products.get(ln["product_id"], _NONE).kind == "plan"),
                        key=lambda ln: (-inputs.products[ln["product_id"]].rank, ln["product_id"]))  # fmt: skip
        if not trials:
            return None
        product = inputs.products[trials[0]["product_id"]]
        units = int(trials[0]["quantity"] or 1) * (product.seats_included or 1)
        value = price_for(product.list_price, product.seats_included, True, units)
        return _Proposal(product, 0.0, value if product.currency == currency else None, currency)
    columns = inputs.columns
    if d.type is OpportunityType.UPSELL:
        plan = inputs.products.get(account["plan_id"]) if account["plan_id"] is not None else None
        if plan is None:
            return None
        candidates = [p for p in inputs.products.values() if p.kind == "plan" and p.active and p.rank > plan.rank
                      and p.id not in held]  # fmt: skip
    else:
        candidates = [p for p in inputs.products.values() if p.kind == "addon" and p.active and p.id not in held]
    same = [p for p in candidates if p.currency == currency]
    candidates = same or candidates
    if not candidates:
        return None

    def order(p: _Product) -> tuple[float, float, int, int]:
        col = columns[p.id]
        score = float(inputs.scores[row, col]) if row is not None else 0.0
        return (-score, -float(inputs.popularity[col]), p.rank, p.id)

    best = min(candidates, key=order)
    score = -order(best)[0]
    if best.currency != currency:
        return _Proposal(best, score, None, currency)
    if d.type is OpportunityType.UPSELL:
        current = sum(ln["monthly_amount"] for ln in account_lines
                      if inputs.products.get(ln["product_id"], _NONE).kind == "plan"
                      and ln["status"] == "active" and ln["currency"] == currency)  # fmt: skip
        value = max(price_for(best.list_price, best.seats_included, True, seats) - current, 0)
    else:
        value = price_for(best.list_price, best.seats_included, False, seats)
    return _Proposal(best, score, value, currency)


def _won(inputs: _Inputs, row: Mapping[str, Any], as_of: date) -> dict[str, Any] | None:
    """The purchase that wins the opportunity: a line on its product that started earning
    on or after the day it was detected."""
    for ln in inputs.lines.get(row["account_id"], []):
        start = ln["start"]
        if ln["product_id"] == row["product_id"] and start is not None and row["detected_on"] <= start <= as_of \
                and (ln["ended_on"] is None or ln["ended_on"] > start):  # fmt: skip
            return ln
    return None


def run_step(session: Session, as_of: date, cfg: OpportunityConfig | None = None) -> int:
    """Bring the opportunities up to ``as_of`` (the daily job's ``opportunities`` step).
    Returns the live (open or suppressed) opportunities."""
    cfg = cfg or OpportunityConfig()
    inputs = _inputs(session, as_of)
    signals = _signals(inputs, session, as_of)
    seats = seg_q.live_plan_seats(session, as_of)
    rows_of = {int(a): i for i, a in enumerate(inputs.holdings.account_ids)}
    accounts = {a["id"]: a for a in inputs.accounts}

    # what today's signals propose: (account, type, product) → the first signal naming it
    wanted: dict[tuple[int, str, int], tuple[Detected, _Proposal]] = {}
    for account_id, s in signals.items():
        for d in detect(s, as_of, cfg):
            proposal = _proposal(inputs, rows_of.get(account_id), accounts[account_id], d, seats.get(account_id), as_of)
            if proposal is None:
                continue
            wanted.setdefault((account_id, d.type.value, proposal.product.id), (d, proposal))

    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    deletes: list[int] = []
    seen: set[tuple[int, str, int]] = set()
    for row in q.live(session):
        key = (row["account_id"], _v(row["type"]) or "", row["product_id"])
        seen.add(key)
        account = accounts.get(row["account_id"])
        won = _won(inputs, row, as_of)
        if won is not None:
            start = won["start"]
            updates.append({"id": row["id"], "status": OpportunityStatus.WON, "closed_on": start,
                            "close_reason": WON_PURCHASE, "close_params": {"day": start.isoformat() if start else ""},
                            "won_mrr": won["monthly_amount"]})  # fmt: skip
            continue
        status = _v(account["status"]) if account else "churned"
        if status in ("churned", "prospect"):
            updates.append({"id": row["id"], "status": OpportunityStatus.LOST, "closed_on": as_of,
                            "close_reason": LOST_CHURNED, "close_params": {}})  # fmt: skip
            continue
        held_back = suppression(signals[row["account_id"]], cfg)
        hit = wanted.get(key)
        if hit is None and _v(row["status"]) == "suppressed" and held_back is None:
            deletes.append(row["id"])  # never offered, and the moment has passed
            continue
        if hit is None and _v(row["status"]) == "open" and (as_of - row["detected_on"]).days > cfg.expire_days:
            updates.append({"id": row["id"], "status": OpportunityStatus.LOST, "closed_on": as_of,
                            "close_reason": LOST_NO_PURCHASE, "close_params": {"days": cfg.expire_days}})  # fmt: skip
            continue
        change: dict[str, Any] = {
            "status": OpportunityStatus.SUPPRESSED if held_back else OpportunityStatus.OPEN,
            "suppressed_reason": held_back.value if held_back else None,
            "owner_id": account["owner_id"] if account else row["owner_id"],
        }
        if hit is not None:
            d, proposal = hit
            change.update({"signal": d.signal.value, "reason_params": _params(d, proposal), "score": proposal.score,
                           "value": proposal.value, "currency": proposal.currency, "last_seen_on": as_of})  # fmt: skip
        if any(_v(row[k]) != _v(v) if k in ("status",) else row[k] != v for k, v in change.items()):
            updates.append({"id": row["id"], **change})
    blocked = q.closed_since(session, as_of - timedelta(days=cfg.cooldown_days))
    for key, (d, proposal) in wanted.items():
        if key in seen or key in blocked:
            continue
        held_back = suppression(signals[key[0]], cfg)
        inserts.append({
            "account_id": key[0], "type": d.type, "product_id": key[2], "signal": d.signal.value,
            "reason_params": _params(d, proposal), "score": proposal.score, "value": proposal.value,
            "currency": proposal.currency,
            "status": OpportunityStatus.SUPPRESSED if held_back else OpportunityStatus.OPEN,
            "suppressed_reason": held_back.value if held_back else None, "owner_id": accounts[key[0]]["owner_id"],
            "detected_on": as_of, "last_seen_on": as_of, "close_params": {},
        })  # fmt: skip
    q.delete_rows(session, deletes)
    q.update_rows(session, updates)
    q.insert_rows(session, inserts)
    return len(seen) - len(deletes) - sum(1 for u in updates if u.get("closed_on") is not None) + len(inserts)


def _params(d: Detected, proposal: _Proposal) -> dict[str, Any]:
    return {**d.params, "product": proposal.product.name}


# --------------------------------------------------------------------------- read models


@dataclass(frozen=True)
class OpportunityView:
    """One opportunity as the page, the 360 section, the API and the CLI show it."""

    id: int
    account_id: int
    account_name: str
    account_external_id: str
    type: str  # upsell, cross_sell
    product_id: int
    product_code: str
    product_name: str
    signal: str
    reason: str  # the sentence, in the caller's language
    value: int | None  # MRR uplift, minor units of ``currency``
    currency: str | None
    score: float | None
    status: str  # open, suppressed, won, lost, dismissed
    suppressed_reason: str | None  # the key: health_red, detractor, escalation
    suppressed_because: str | None  # … in the caller's language
    owner_id: int | None
    owner_name: str | None
    detected_on: date
    last_seen_on: date
    closed_on: date | None
    close_reason: str | None  # the CSM's words (dismissed) or the job's, in the caller's language
    closed_by_name: str | None
    won_mrr: int | None


def reason_text(signal: str, params: Mapping[str, Any]) -> str:
    """The reason sentence in the active language (an unknown signal read back from the
    store gets no sentence of its own)."""
    template = REASONS.get(signal)
    if template is None:
        return ""
    values = {k: params.get(k, "") for k in ("days", "product", "used", "seats", "share", "growth", "before", "after",
                                             "bought", "score", "day")}  # fmt: skip
    return _(template).format(**values)


def _close_text(reason: str | None, params: Mapping[str, Any], status: str) -> str | None:
    if reason is None:
        return None
    if status != "dismissed" and reason in CLOSE_REASONS:
        return _(reason).format(days=params.get("days", ""), day=params.get("day", ""))
    return reason  # a CSM's own words: user data, shown as is


def _view(r: Mapping[str, Any]) -> OpportunityView:
    status = _v(r["status"]) or "open"
    suppressed = r["suppressed_reason"]
    return OpportunityView(
        id=r["id"], account_id=r["account_id"], account_name=r["account_name"],
        account_external_id=r["account_external_id"], type=_v(r["type"]) or "", product_id=r["product_id"],
        product_code=r["product_code"], product_name=r["product_name"], signal=r["signal"],
        reason=reason_text(r["signal"], {**(r["reason_params"] or {}), "product": r["product_name"]}),
        value=r["value"], currency=r["currency"], score=r["score"], status=status, suppressed_reason=suppressed,
        suppressed_because=_(SUPPRESSIONS[suppressed]) if suppressed in SUPPRESSIONS else None,
        owner_id=r["owner_id"], owner_name=r["owner_name"], detected_on=r["detected_on"],
        last_seen_on=r["last_seen_on"], closed_on=r["closed_on"],
        close_reason=_close_text(r["close_reason"], r["close_params"] or {}, status),
        closed_by_name=r["closed_by_name"], won_mrr=r["won_mrr"],
    )  # fmt: skip


def check_filters(type: str | None, status: str | None) -> None:
    if type and type not in TYPES:
        raise InvalidInput(_("unknown opportunity type {value!r}; known types: {known}").format(
            value=type[:50], known=", ".join(TYPES)), code="invalid_opportunity_type", field="type")  # fmt: skip
    if status and status not in STATUSES:
        raise InvalidInput(_("unknown opportunity status {value!r}; known statuses: {known}").format(
            value=status[:50], known=", ".join(STATUSES)), code="invalid_opportunity_status", field="status")  # fmt: skip


def list_opportunities(session: Session, *, type: str | None = None, status: str | None = None,
                       owner_id: int | None = None, account_id: int | None = None, limit: int | None = None,
                       offset: int = 0) -> list[OpportunityView]:  # fmt: skip
    """Opportunities, the largest MRR uplift first; filters as the page's."""
    check_filters(type, status)
    rows = q.listing(session, type=type or None, status=status or None, owner_id=owner_id, account_id=account_id,
                     limit=limit, offset=offset)  # fmt: skip
    return [_view(r) for r in rows]


def for_account(session: Session, account_id: int) -> list[OpportunityView]:
    """The account's opportunities for its 360 page: live ones first."""
    views = list_opportunities(session, account_id=account_id)
    return sorted(views, key=lambda v: (v.status not in ("open", "suppressed"), v.status != "open"))


def get(session: Session, opportunity_id: int) -> OpportunityView:
    row = q.one(session, opportunity_id)
    if row is None:
        raise NotFound(_("no opportunity with id {id}").format(id=opportunity_id), code="opportunity_not_found",
                       field="id")  # fmt: skip
    return _view(row)


@dataclass(frozen=True)
class PipelineCell:
    type: str
    status: str
    count: int
    value: dict[str, int]  # currency → summed MRR uplift


def pipeline(session: Session, owner_id: int | None = None) -> list[PipelineCell]:
    """Opportunities and their summed MRR uplift by type and status (every pair, zeros too)."""
    cells = {(t, s): PipelineCell(t, s, 0, {}) for t in TYPES for s in STATUSES}
    for t, s, currency, n, value in q.pipeline(session, owner_id):
        if (t, s) not in cells:
            continue
        cell = cells[(t, s)]
        merged = dict(cell.value)
        if currency:
            merged[currency] = merged.get(currency, 0) + value
        cells[(t, s)] = PipelineCell(t, s, cell.count + n, merged)
    return list(cells.values())


def owners(session: Session) -> list[tuple[int, str]]:
    return q.owners(session)


def set_status(session: Session, opportunity_id: int, status: str, *, reason: str | None = None,
               user_id: int | None = None, today: date) -> OpportunityView:  # fmt: skip
    """A CSM marks an opportunity won, lost or dismissed (a dismissal needs a reason), or
    reopens a dismissed one. Refusals name the field."""
    if status not in TRANSITIONS:
        raise InvalidInput(_("status must be one of: {known}; not {value!r}").format(
            known=", ".join(TRANSITIONS), value=str(status)[:50]), code="invalid_opportunity_status", field="status")  # fmt: skip
    text = (reason or "").strip()
    if status == "dismissed" and not text:
        raise InvalidInput(_("a dismissal needs a reason"), code="dismiss_reason_required", field="reason")
    if len(text) > MAX_REASON:
        raise InvalidInput(_("the reason is longer than {n} characters").format(n=MAX_REASON),
                           code="invalid_input", field="reason")  # fmt: skip
    current = get(session, opportunity_id)
    if current.status not in TRANSITIONS[status]:
        raise Conflict(_("an opportunity that is {current} cannot become {status}").format(
            current=_(STATUS_LABELS[current.status]), status=_(STATUS_LABELS[status])),
            code="opportunity_status_conflict", field="status")  # fmt: skip
    if status == "open":
        values: dict[str, Any] = {"status": status, "closed_on": None, "close_reason": None, "close_params": {},
                                  "closed_by_id": None}  # fmt: skip
    else:
        values = {"status": status, "closed_on": today, "close_reason": text or None, "close_params": {},
                  "closed_by_id": user_id}  # fmt: skip
    if status == "open" and q.live_exists(session, current.account_id, current.type, current.product_id):
        raise Conflict(_("the account already has a live opportunity for this product"),
                       code="opportunity_status_conflict", field="status")  # fmt: skip
    q.set_status(session, opportunity_id, values)
    return get(session, opportunity_id)


def open_types(session: Session) -> dict[int, set[str]]:
    """Account id → the types of its open opportunities (the playbook trigger's fact)."""
    return q.open_types(session)


def label(value: str) -> str:
    """A type or status as people read it (translated)."""
    return _(TYPE_LABELS.get(value) or STATUS_LABELS.get(value) or LABELS.get(value, value))


# --------------------------------------------------------------------------- evaluation


def evaluate(session: Session, as_of: date, k: int = 3) -> recommend.Evaluation:
    """Hide each account's latest purchase among its live lines (the latest start; ties:
    the higher product id) and rank the rest by co-occurrence and by popularity."""
    products = [p["id"] for p in q.products(session)]
    pairs: list[tuple[int, int]] = []
    latest: dict[int, int] = {}
    for account_id, account_lines in q.lines(session):
        live = [ln for ln in account_lines if _live(ln, as_of)]
        pairs.extend((account_id, ln["product_id"]) for ln in live)
        if live:
            latest[account_id] = max(live, key=lambda ln: (ln["started_on"], ln["product_id"]))["product_id"]
    return recommend.evaluate(recommend.Holdings.from_pairs(pairs, products), latest, k)
