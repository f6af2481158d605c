"""Renewals (契約更新, issue 16 item 3): the renewal pipeline, its forecast, the renewal
rate KPI, and the CSM's stages and calls.

The daily job's ``renewals`` step writes one row per (account, term end) of the main
committed term (``kizuna.domain.renewals.terms``): the next one of each paying account
(the same date as the account's ``renewal_on``, so the list, the home page and the
``renewal_in_days`` trigger agree), and the ones that came in the last
``LOOKBACK_DAYS``, with their outcome detected on the term end day. See ``docs/renewals.md``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from kizuna.db import Session
from kizuna.db.queries import renewals as q
from kizuna.db.queries import subscriptions as subs_q
from kizuna.domain.renewals import (
    CLOSED_STAGES,
    CSM_STAGES,
    KEPT_STAGES,
    LOOKBACK_DAYS,
    MIN_SEGMENT_HISTORY,
    OPEN_STAGES,
    ProbabilitySource,
    RenewalStage,
    at_risk,
    expected,
    renewal_probability_from_churn,
    terms,
)
from kizuna.domain.segments import TouchTier
from kizuna.domain.subscriptions import add_months, earns_on
from kizuna.errors import Conflict, InvalidInput, NotFound
from kizuna.i18n import N_, _

__all__ = ["CSM_STAGES", "forecast", "history", "pipeline", "rates", "set_call", "set_stage", "step"]

MAX_REASON = 1000
RATE_DIMENSIONS = ("month", "tier", "owner")
TIERS = tuple(t.value for t in TouchTier)
#: Each stage and probability source as shown (English msgids, translated when shown).
STAGE_LABELS = {"upcoming": N_("upcoming"), "in_discussion": N_("in discussion"), "committed": N_("committed"),
                "renewed": N_("renewed"), "downsold": N_("downsold"), "churned": N_("churned")}  # fmt: skip
SOURCE_LABELS = {"outcome": N_("outcome"), "csm": N_("CSM's call"), "churn_model": N_("churn model"),
                 "ltv": N_("LTV retention"), "segment": N_("tier history"), "none": N_("no source")}  # fmt: skip


# --------------------------------------------------------------------------- the daily step


def step(session: Session, as_of: date, lookback_days: int = LOOKBACK_DAYS) -> int:
    """Bring the pipeline up to ``as_of``: add each account's next renewal, detect the
    outcome of each term that ended (renewed, downsold, churned), keep the CSM's stage and
    call on a renewal whose term end moved, and drop rows the lines no longer support.
    Idempotent. Returns the rows written or changed."""
    since = as_of - timedelta(days=lookback_days)
    facts = q.account_facts(session)
    existing = q.stored(session, since)
    computed: dict[tuple[int, date], Any] = {}
    earning: dict[int, bool] = {}
    for account_id, lines in subs_q.lines_by_account(session):
        earning[account_id] = any(earns_on(ln, as_of) for ln in lines)
        for term in terms(lines, as_of, lookback_days):
            computed[(account_id, term.term_end)] = term
    leftover_open: dict[int, dict[str, Any]] = {}
    for key, stored_row in list(existing.items()):
        if key not in computed and stored_row["stage"] in OPEN_STAGES:
            leftover_open.setdefault(key[0], stored_row)
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for key, term in computed.items():
        account_id, term_end = key
        owner_id, tier = facts.get(account_id, (None, None))
        old = existing.pop(key) if key in existing else None
        if old is None and term.stage is None and account_id in leftover_open:
            old = leftover_open.pop(account_id)  # its term end moved: the CSM's stage and call go with it
            existing.pop((account_id, old["term_end"]), None)
        if term.stage is None:
            kept = old is not None and old["stage"] in OPEN_STAGES
            stage, source = (old["stage"], old["stage_source"]) if kept and old else (RenewalStage.UPCOMING, "default")
            detected_on = None
        else:
            stage, source = term.stage, "detected"
            same = old is not None and old["stage"] == term.stage and old["detected_on"] is not None
            detected_on = old["detected_on"] if same and old else as_of
            if old is not None and old["stage"] in CLOSED_STAGES:
                owner_id, tier = old["owner_id"], old["touch_tier"]  # as they were when it closed
        row = {"account_id": account_id, "term_end": term_end, "currency": term.currency, "arr_due": term.arr_due,
               "arr_after": term.arr_after, "owner_id": owner_id, "touch_tier": tier, "stage": str(stage),
               "stage_source": source, "detected_on": detected_on, "updated_on": as_of}  # fmt: skip
        if old is None:
            inserts.append(row)
        elif any(old[k] != row[k] for k in row if k != "updated_on"):
            updates.append({**row, "id": old["id"]})
    deletes: list[int] = []
    for (account_id, _term_end), old in existing.items():
        if old["stage"] in OPEN_STAGES and not earning.get(account_id, False):
            # a committed term cancelled before its end: churned, in the month it was due
            updates.append({**{k: old[k] for k in ("account_id", "term_end", "currency", "arr_due", "owner_id",
                                                   "touch_tier", "id")},
                            "arr_after": 0, "stage": str(RenewalStage.CHURNED), "stage_source": "detected",
                            "detected_on": as_of, "updated_on": as_of})  # fmt: skip
        elif old["stage"] == RenewalStage.CHURNED and not earning.get(account_id, False):
            continue
        else:
            deletes.append(int(old["id"]))
    q.delete_rows(session, deletes)
    q.update_rows(session, updates)
    q.insert_rows(session, inserts)
    return len(inserts) + len(updates) + len(deletes)


# --------------------------------------------------------------------------- read models


@dataclass(frozen=True)
class RenewalRow:
    """One renewal as the page, the API and the CLI show it."""

    id: int
    account_id: int
    external_id: str
    name: str
    term_end: date
    month: str  # YYYY-MM of the term end
    currency: str
    arr_due: int  # minor units per year
    arr_after: int | None  # the ARR kept on the term end day (closed renewals)
    owner_id: int | None
    owner_name: str | None
    tier: str | None
    health_grade: str | None
    stage: str
    stage_source: str  # default | csm | detected
    detected_on: date | None
    probability: float | None
    probability_source: str
    expected_arr: int | None  # ARR × probability (closed: the ARR kept, at most the ARR due)
    at_risk: bool
    call_probability: float | None
    call_reason: str | None
    call_by: str | None
    call_at: datetime | None

    @property
    def closed(self) -> bool:
        return self.stage in CLOSED_STAGES


@dataclass(frozen=True)
class ForecastLine:
    """The renewals of one month (or all months) in one currency: due, expected, at risk."""

    month: str  # YYYY-MM, or "" for the total
    currency: str
    renewals: int
    arr_due: int
    expected_arr: int  # Σ expected over the renewals that have a probability
    unpriced_arr: int  # ARR due of renewals with no probability at all (no source)
    at_risk: int
    at_risk_arr: int
    stages: dict[str, int] = field(default_factory=dict)  # stage → renewals


@dataclass(frozen=True)
class Forecast:
    as_of: date
    start: date
    end: date
    months: list[ForecastLine]
    totals: list[ForecastLine]  # one per currency, largest ARR due first


@dataclass(frozen=True)
class RateLine:
    """The renewal rate of closed renewals in one group (a month, a tier, an owner) and currency."""

    key: str
    currency: str
    due: int  # renewals closed
    kept: int  # renewed or downsold (logos kept)
    churned: int
    arr_due: int
    arr_renewed: int  # Σ min(ARR kept, ARR due): gross, at most 100 %
    arr_expansion: int  # Σ max(ARR kept − ARR due, 0): uplift at renewal

    @property
    def arr_rate(self) -> float | None:
        return self.arr_renewed / self.arr_due if self.arr_due else None

    @property
    def logo_rate(self) -> float | None:
        return self.kept / self.due if self.due else None


def _month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def segment_rates(session: Session, as_of: date) -> tuple[dict[str | None, float], float | None]:
    """Each touch tier's share of renewals kept (renewed or downsold) among those closed in
    the last ``LOOKBACK_DAYS`` (a tier with fewer than ``MIN_SEGMENT_HISTORY``: none), and the book's."""
    by_tier: dict[str | None, list[int]] = defaultdict(lambda: [0, 0])
    for tier, stage, n in q.closed_counts(session, as_of - timedelta(days=LOOKBACK_DAYS), as_of):
        by_tier[tier][1] += n
        if stage in KEPT_STAGES:
            by_tier[tier][0] += n
    rates = {t: kept / n for t, (kept, n) in by_tier.items() if n >= MIN_SEGMENT_HISTORY}
    kept_all, n_all = sum(v[0] for v in by_tier.values()), sum(v[1] for v in by_tier.values())
    return rates, (kept_all / n_all if n_all else None)


def _rows(session: Session, as_of: date, raw: list[dict[str, Any]]) -> list[RenewalRow]:
    churn = q.churn_probabilities(session, as_of)
    retention = q.ltv_retention(session)
    tier_rates, book_rate = segment_rates(session, as_of)
    out: list[RenewalRow] = []
    for r in raw:
        stage = RenewalStage(r["stage"])
        grade = str(r["health_grade"]) if r["health_grade"] is not None else None
        p: float | None
        if stage in CLOSED_STAGES:
            kept = min(int(r["arr_after"] or 0), int(r["arr_due"]))
            exp: int | None = kept
            p, source = (kept / r["arr_due"] if r["arr_due"] else 0.0), ProbabilitySource.OUTCOME
        else:
            account_id = int(r["account_id"])
            tier = r["touch_tier"]
            if r["call_probability"] is not None:
                p, source = float(r["call_probability"]), ProbabilitySource.CSM
            elif account_id in churn:
                p, source = renewal_probability_from_churn(churn[account_id]), ProbabilitySource.CHURN_MODEL
            elif account_id in retention:
                p, source = retention[account_id], ProbabilitySource.LTV
            elif tier in tier_rates or book_rate is not None:
                p, source = tier_rates.get(tier, book_rate), ProbabilitySource.SEGMENT
            else:
                p, source = None, ProbabilitySource.NONE
            exp = expected(int(r["arr_due"]), p)
        out.append(RenewalRow(
            id=int(r["id"]), account_id=int(r["account_id"]), external_id=r["external_id"], name=r["name"],
            term_end=r["term_end"], month=_month(r["term_end"]), currency=r["currency"], arr_due=int(r["arr_due"]),
            arr_after=r["arr_after"], owner_id=r["owner_id"], owner_name=r["owner_name"], tier=r["touch_tier"],
            health_grade=grade, stage=str(stage), stage_source=r["stage_source"], detected_on=r["detected_on"],
            probability=p, probability_source=str(source), expected_arr=exp, at_risk=at_risk(stage, p, grade),
            call_probability=r["call_probability"], call_reason=r["call_reason"], call_by=r["call_by"],
            call_at=r["call_at"],
        ))  # fmt: skip
    return out


def month_window(as_of: date, start: str | None = None, months: int = 3) -> tuple[date, date]:
    """[first day of ``start`` (YYYY-MM; default: ``as_of``'s month), last day of the
    ``months``-th month]. A bad ``start`` or ``months`` is an ``InvalidInput`` naming it."""
    if not 1 <= months <= 36:
        raise InvalidInput(_("months must be from 1 to 36"), field="months")
    if start:
        try:
            year, month = (int(p) for p in start.split("-"))
            first = date(year, month, 1)
        except ValueError:
            raise InvalidInput(_("start must be a month as YYYY-MM, not {value!r}").format(value=start),
                               field="start") from None  # fmt: skip
        if not 1900 <= year <= 2200:
            raise InvalidInput(_("start must be a month as YYYY-MM, not {value!r}").format(value=start), field="start")
    else:
        first = as_of.replace(day=1)
    return first, add_months(first, months) - timedelta(days=1)


@dataclass(frozen=True)
class PipelineFilter:
    owner_id: int | None = None
    tier: str | None = None
    account_id: int | None = None


def pipeline(session: Session, as_of: date, start: date | None, end: date | None,
             filters: PipelineFilter | None = None) -> list[RenewalRow]:  # fmt: skip
    """The renewals with a term end in [start, end], each with its probability, the source
    of that probability, its expected ARR and whether it is at risk."""
    f = filters or PipelineFilter()
    raw = q.pipeline(session, start, end, owner_id=f.owner_id, tier=f.tier, account_id=f.account_id)
    return _rows(session, as_of, raw)


def _line(month: str, currency: str, rows: list[RenewalRow]) -> ForecastLine:
    stages: dict[str, int] = defaultdict(int)
    for r in rows:
        stages[r.stage] += 1
    return ForecastLine(
        month=month, currency=currency, renewals=len(rows), arr_due=sum(r.arr_due for r in rows),
        expected_arr=sum(r.expected_arr for r in rows if r.expected_arr is not None),
        unpriced_arr=sum(r.arr_due for r in rows if r.expected_arr is None),
        at_risk=sum(1 for r in rows if r.at_risk), at_risk_arr=sum(r.arr_due for r in rows if r.at_risk),
        stages=dict(stages),
    )  # fmt: skip


def summarize_rows(rows: list[RenewalRow], as_of: date, start: date, end: date) -> Forecast:
    """Add the rows up by month and currency (a currency is never summed into another)."""
    by_month: dict[tuple[str, str], list[RenewalRow]] = defaultdict(list)
    by_currency: dict[str, list[RenewalRow]] = defaultdict(list)
    for r in rows:
        by_month[(r.month, r.currency)].append(r)
        by_currency[r.currency].append(r)
    months = [_line(m, c, rs) for (m, c), rs in sorted(by_month.items())]
    totals = sorted((_line("", c, rs) for c, rs in by_currency.items()), key=lambda x: (-x.arr_due, x.currency))
    return Forecast(as_of=as_of, start=start, end=end, months=months, totals=totals)


def forecast(session: Session, as_of: date, start: date, end: date, filters: PipelineFilter | None = None) -> Forecast:
    """Expected renewing ARR = Σ ARR due × renewal probability, with ARR at risk, by month."""
    return summarize_rows(pipeline(session, as_of, start, end, filters), as_of, start, end)


def rates(session: Session, as_of: date, by: str, start: date, end: date) -> list[RateLine]:
    """The renewal rate KPI of the renewals closed with a term end in [start, end], by
    month, touch tier or owner (as they were when the renewal closed)."""
    if by not in RATE_DIMENSIONS:
        raise InvalidInput(_("by must be one of {choices}, not {value!r}").format(
            choices=", ".join(RATE_DIMENSIONS), value=by), field="by")  # fmt: skip
    rows = [r for r in pipeline(session, as_of, start, end) if r.closed]
    groups: dict[tuple[str, str], list[RenewalRow]] = defaultdict(list)
    for r in rows:
        key = r.month if by == "month" else (r.tier or "") if by == "tier" else (r.owner_name or "")
        groups[(key, r.currency)].append(r)
    out = []
    for (key, currency), rs in sorted(groups.items()):
        out.append(RateLine(
            key=key, currency=currency, due=len(rs), kept=sum(1 for r in rs if r.stage in KEPT_STAGES),
            churned=sum(1 for r in rs if r.stage == RenewalStage.CHURNED), arr_due=sum(r.arr_due for r in rs),
            arr_renewed=sum(min(r.arr_after or 0, r.arr_due) for r in rs),
            arr_expansion=sum(max((r.arr_after or 0) - r.arr_due, 0) for r in rs),
        ))  # fmt: skip
    return out


def renewal_row(session: Session, as_of: date, renewal_id: int) -> RenewalRow:
    """One renewal as the pipeline shows it (a ``NotFound`` when there is none)."""
    rows = _rows(session, as_of, q.pipeline(session, None, None, renewal_id=renewal_id))
    if not rows:
        raise NotFound(_("no renewal with id {id}").format(id=renewal_id), code="renewal_not_found")
    return rows[0]


def account_renewals(session: Session, as_of: date, account_id: int) -> list[RenewalRow]:
    """An account's renewals, the next one last (the 360 page)."""
    return pipeline(session, as_of, None, None, PipelineFilter(account_id=account_id))


# --------------------------------------------------------------------------- the CSM's stage and call


def _open_row(session: Session, renewal_id: int, as_of: date) -> dict[str, Any]:
    row = q.renewal(session, renewal_id)
    if row is None:
        raise NotFound(_("no renewal with id {id}").format(id=renewal_id), code="renewal_not_found")
    if row["stage"] in CLOSED_STAGES or row["term_end"] <= as_of:
        raise Conflict(_("this renewal is closed ({stage}): its outcome comes from the subscriptions").format(
            stage=row["stage"]), code="renewal_closed", field="stage")  # fmt: skip
    return row


def set_stage(session: Session, renewal_id: int, stage: str, actor: str, as_of: date) -> None:
    """The CSM moves an open renewal to upcoming, in discussion or committed (audited)."""
    if stage not in {str(s) for s in CSM_STAGES}:
        raise InvalidInput(_("stage must be one of {choices}, not {value!r}").format(
            choices=", ".join(str(s) for s in CSM_STAGES), value=stage), field="stage")  # fmt: skip
    row = _open_row(session, renewal_id, as_of)
    q.set_stage(session, renewal_id, stage, actor, datetime.now(UTC), row)


def set_call(session: Session, renewal_id: int, probability: float | None, reason: str, actor: str,
             as_of: date) -> None:  # fmt: skip
    """The CSM's call: the renewal's probability (0–1) with a reason, which overrides every
    model; ``None`` clears it (with a reason too). Audited: who, when, why."""
    if probability is not None and not 0 <= probability <= 1:
        raise InvalidInput(_("probability must be from 0 to 1"), field="probability")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("give a reason for the call"), field="reason")
    if len(reason) > MAX_REASON:
        raise InvalidInput(_("the reason is longer than {n} characters").format(n=MAX_REASON), field="reason")
    row = _open_row(session, renewal_id, as_of)
    q.set_call(session, renewal_id, probability, reason, actor, datetime.now(UTC), row)


@dataclass(frozen=True)
class Change:
    kind: str
    stage: str | None
    probability: float | None
    reason: str | None
    actor: str
    at: datetime


def history(session: Session, renewal_id: int) -> list[Change]:
    row = q.renewal(session, renewal_id)
    if row is None:
        raise NotFound(_("no renewal with id {id}").format(id=renewal_id), code="renewal_not_found")
    return [Change(c["kind"], c["stage"], c["probability"], c["reason"], c["actor"], c["at"])
            for c in q.changes(session, row["account_id"], row["term_end"])]  # fmt: skip


def tier_of(tier: str | None) -> str | None:
    """A touch tier filter (high, low, tech); unknown is an ``InvalidInput`` naming ``tier``."""
    if tier is None or not tier.strip():
        return None
    if tier.strip() not in TIERS:
        raise InvalidInput(_("tier must be one of {choices}").format(choices=", ".join(TIERS)), field="tier")
    return tier.strip()


def owner_id_of(session: Session, owner: str | None) -> int | None:
    """An owner given by email or id (a filter); unknown is an ``InvalidInput`` naming ``owner``."""
    if owner is None or not owner.strip():
        return None
    owner = owner.strip()
    ids = q.owner_ids(session)
    if owner.isdecimal() and int(owner) in ids.values():
        return int(owner)
    if owner in ids:
        return ids[owner]
    raise InvalidInput(_("no user {owner!r}").format(owner=owner), field="owner")
