"""Touch tiers, lifecycle stages, customer fit and at-risk flags: computed for ``as_of``
by the daily pipeline, overridden by leads, kept with their history.

Rules live in ``kizuna.domain.segments`` and are configured by ``segments.toml``
(``kizuna.domain.segments_config``); ``docs/segments.md`` explains both. The results
are written to indexed columns of ``accounts`` (``touch_tier``, ``lifecycle_stage``,
``at_risk``, ``fit_score``, ``fit_band``), so the accounts list filters on them with
no join. Every change of tier or stage opens a period in ``segment_changes``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from kizuna.db import Session
from kizuna.db.queries import segments as q
from kizuna.db.queries import subscriptions as subs_q
from kizuna.domain.health import HealthGrade
from kizuna.domain.segments import (
    OVERRIDABLE,
    REASON_FIT,
    REASON_OVERRIDE_REMOVED,
    REASON_OWNER,
    REASON_TIER_LTV,
    REASON_TIER_MRR,
    BandChurn,
    Dimension,
    FitBand,
    FitInputs,
    LifecycleStage,
    LtvSource,
    RiskFacts,
    SegmentsConfig,
    StageFacts,
    TierBasis,
    TouchTier,
    assign_tiers,
    at_risk_reasons,
    decide_stage,
    expected_ltv,
    fit_band,
    fit_parts,
    fit_score,
    order_bands,
    tier_like,
)
from kizuna.domain.segments_config import default_segments_config, parse_segments_config
from kizuna.domain.subscriptions import summarize
from kizuna.domain.usage import METRIC_ACTIVE_USERS, METRIC_LOGINS
from kizuna.errors import ConfigurationError, InvalidInput, NotFound
from kizuna.i18n import _

MAX_REASON = 1000
_LIVE = ("active", "trial")

# --- configuration ------------------------------------------------------------------------

# A cache of parsed files by (path, modification time): not configuration state — which
# file is used comes from the caller's run context (``RunContext.segments()``).
_cache: dict[tuple[str, float], SegmentsConfig] = {}


def load_config(path: Path | None = None) -> SegmentsConfig:
    """The configuration in ``path`` (``KIZUNA_SEGMENTS_CONFIG``), else the shipped
    default. A bad file raises ``ConfigurationError`` naming the file, key and why."""
    if path is None:
        return default_segments_config()
    try:
        stamp = path.stat().st_mtime
    except OSError:
        raise ConfigurationError(
            _("{file}: the segments configuration file does not exist").format(file=path),
            code="invalid_segments_config",
        ) from None
    key = (str(path), stamp)
    if key not in _cache:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(
                _("{file}: cannot be read: {reason}").format(file=path, reason=exc), code="invalid_segments_config"
            ) from None
        _cache[key] = parse_segments_config(text, str(path))
    return _cache[key]


def _config(cfg: SegmentsConfig | None) -> SegmentsConfig:
    return cfg if cfg is not None else default_segments_config()


# --- history --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Change:
    value: str | None
    since: date  # for an account's first period: when the rules say it began
    reason: str
    set_by: str | None = None


def _sync_history(
    session: Session, dimension: Dimension, changes: Mapping[int, _Change], as_of: date, *, only: bool = False
) -> int:
    """Close each account's current period whose value differs and open a new one;
    returns how many accounts' periods changed."""
    open_rows = q.open_changes(session, dimension, list(changes) if only else None)
    closes: list[tuple[int, date]] = []
    inserts: list[dict[str, Any]] = []
    changed = 0
    for account_id, change in changes.items():
        current = open_rows.get(account_id)
        if current is not None and current[1] == change.value:
            continue
        if current is None and change.value is None:
            continue
        changed += 1
        start = as_of
        if current is not None:
            start = max(as_of, current[2])
            closes.append((current[0], start))
        else:
            start = min(change.since, as_of)
        if change.value is not None:
            inserts.append({"account_id": account_id, "dimension": dimension, "value": change.value,
                            "from_on": start, "to_on": None, "reason": change.reason, "set_by": change.set_by})  # fmt: skip
    q.close_changes(session, closes)
    q.add_changes(session, inserts)
    return changed


def _value(v: Any) -> str | None:
    return None if v is None else str(getattr(v, "value", v))


# --- touch tiers ------------------------------------------------------------------------------


def recompute_tiers(session: Session, as_of: date, cfg: SegmentsConfig | None = None) -> int:
    """Each live account's touch tier by the rules; a lead's override wins. Returns
    the accounts whose tier changed."""
    config = _config(cfg).tiers
    facts = q.account_facts(session)
    fitted = _fitted_values(session, config)
    values: dict[int, float] = {}
    for f in facts:
        if _value(f["status"]) in _LIVE:
            mrr = int(f["mrr"] or 0)
            if config.basis is TierBasis.MRR:
                values[f["id"]] = float(mrr)
            elif f["id"] in fitted:
                values[f["id"]] = fitted[f["id"]]
            else:
                values[f["id"]] = expected_ltv(mrr, f["plan_code"], config.ltv)
    rule = assign_tiers(values, config)
    manual = q.overrides(session, Dimension.TIER)
    reason = REASON_TIER_MRR if config.basis is TierBasis.MRR else REASON_TIER_LTV
    rows: list[dict[str, Any]] = []
    changes: dict[int, _Change] = {}
    for f in facts:
        account_id = f["id"]
        rule_tier = _value(rule.get(account_id))
        tier = manual.get(account_id, rule_tier)
        if (tier, rule_tier) != (_value(f["touch_tier"]), _value(f["touch_tier_rule"])):
            rows.append({"account_id": account_id, "touch_tier": tier, "touch_tier_rule": rule_tier})
        since = f["customer_since"] or as_of
        changes[account_id] = _Change(tier, since, reason if account_id not in manual else "")
    q.write_columns(session, ("touch_tier", "touch_tier_rule"), rows)
    _backfill_churned(session, facts, values, rule, config, as_of)
    _sync_history(session, Dimension.TIER, {a: c for a, c in changes.items() if a not in manual}, as_of)
    return len(rows)


def _fitted_values(session: Session, config: Any) -> dict[int, float]:
    """Account id → its residual value from the daily ltv step, when the tiers go by a
    fitted LTV (issue 21); empty otherwise."""
    if config.basis is not TierBasis.LTV or config.ltv.source is not LtvSource.FITTED:
        return {}
    from kizuna.services import ltv_accounts

    return {a: float(residual) for a, (_ltv, residual) in ltv_accounts.values_by_account(session).items()
            if residual is not None}  # fmt: skip


def _churned_without_history(
    session: Session, facts: list[dict[str, Any]], dimension: Dimension, as_of: date
) -> dict[int, dict[str, Any]]:
    """Churned accounts with no period of ``dimension`` before they churned (they left
    before the history began: an import of past years, the demo)."""
    first = q.first_periods(session, dimension)
    return {
        f["id"]: f for f in facts
        if f["customer_since"] is not None and f["churned_on"] is not None
        and f["customer_since"] < f["churned_on"] <= as_of and first.get(f["id"], f["churned_on"]) >= f["churned_on"]
    }  # fmt: skip


def _lines_of(session: Session, todo: Mapping[int, Any]) -> Iterable[tuple[int, list[Any]]]:
    # by id while the list is short (a bound parameter each), else every account's lines
    for account_id, lines in subs_q.lines_by_account(session, only=sorted(todo) if len(todo) <= 5_000 else None):
        if account_id in todo:
            yield account_id, lines


def _backfill_churned(
    session: Session, facts: list[dict[str, Any]], values: Mapping[int, float], rule: Mapping[int, TouchTier],
    config: Any, as_of: date,
) -> None:
    """A churned account without a tier period before it churned gets one, from its
    ``customer_since`` to its ``churned_on``: the tier its last MRR would have beside
    today's accounts. So the KPIs by tier keep its churn in a tier, not in no tier."""
    todo = _churned_without_history(session, facts, Dimension.TIER, as_of)
    if not todo:
        return
    reason = REASON_TIER_MRR if config.basis is TierBasis.MRR else REASON_TIER_LTV
    rows = []
    for account_id, lines in _lines_of(session, todo):
        f = todo[account_id]
        mrr = summarize(lines, f["churned_on"] - timedelta(days=1)).mrr
        value = float(mrr) if config.basis is TierBasis.MRR else expected_ltv(mrr, f["plan_code"], config.ltv)
        rows.append({"account_id": account_id, "dimension": Dimension.TIER, "value": tier_like(value, values, rule, config).value,
                     "from_on": f["customer_since"], "to_on": f["churned_on"], "reason": reason, "set_by": None})  # fmt: skip
    q.add_changes(session, rows)


# --- what the subscription lines say ---------------------------------------------------------


@dataclass(frozen=True)
class _LineFacts:
    mrr_before: int
    seats: int | None
    last_plan_id: int | None


def _line_facts(session: Session, as_of: date, lookback_days: int) -> dict[int, _LineFacts]:
    """MRR ``lookback_days`` ago, seats bought on the live plan, and the latest plan
    (also for churned accounts, whose plan column is empty), per account."""
    before = as_of - timedelta(days=lookback_days)
    seats = q.live_plan_seats(session, as_of)
    out: dict[int, _LineFacts] = {}
    for account_id, lines in subs_q.lines_by_account(session):
        plans = [ln for ln in lines if ln.is_plan and ln.started_on <= as_of]
        last = max(plans, key=lambda ln: ln.started_on).product_id if plans else None
        out[account_id] = _LineFacts(summarize(lines, before).mrr, seats.get(account_id), last)
    return out


# --- lifecycle stages -------------------------------------------------------------------------


def recompute_stages(session: Session, as_of: date, cfg: SegmentsConfig | None = None) -> int:
    """Each account's lifecycle stage by the rules (``decide_stage``); an override wins.
    Returns the accounts whose stage changed."""
    config = _config(cfg).stages
    facts = q.account_facts(session)
    milestones = q.milestone_progress(session)
    terms = q.live_terms(session, as_of)
    trials = q.trial_starts(session)
    lines = _line_facts(session, as_of, config.expansion_lookback_days)
    peaks = q.usage_totals(session, METRIC_ACTIVE_USERS, as_of - timedelta(days=29), as_of, peak=True)
    manual = q.overrides(session, Dimension.STAGE)
    rows: list[dict[str, Any]] = []
    changes: dict[int, _Change] = {}
    for f in facts:
        account_id = f["id"]
        total, done, last_done = milestones.get(account_id, (0, 0, None))
        yearly, any_term = terms.get(account_id, (None, None))
        line = lines.get(account_id)
        decision = decide_stage(StageFacts(
            status=_value(f["status"]) or "prospect", customer_since=f["customer_since"], churned_on=f["churned_on"],
            trial_started_on=trials.get(account_id), milestones_total=total, milestones_done=done,
            milestones_done_on=_day(last_done), yearly_renewal_on=yearly, renewal_on=any_term,
            mrr=int(f["mrr"] or 0), mrr_before=line.mrr_before if line else 0, seats=line.seats if line else None,
            peak_active_users=peaks.get(account_id),
        ), as_of, config)  # fmt: skip
        rule_stage = _value(decision.stage)
        stage = manual.get(account_id, rule_stage)
        if (stage, rule_stage) != (_value(f["lifecycle_stage"]), _value(f["lifecycle_stage_rule"])):
            rows.append({"account_id": account_id, "lifecycle_stage": stage, "lifecycle_stage_rule": rule_stage})
        if account_id not in manual:
            changes[account_id] = _Change(stage, decision.since, decision.reason)
    q.write_columns(session, ("lifecycle_stage", "lifecycle_stage_rule"), rows)
    _backfill_churned_stages(session, facts, milestones, config, as_of)
    _sync_history(session, Dimension.STAGE, changes, as_of)
    return len(rows)


def _backfill_churned_stages(
    session: Session, facts: list[dict[str, Any]], milestones: Mapping[int, tuple[int, int, Any]], config: Any,
    as_of: date,
) -> None:
    """A churned account without a stage period before it churned gets one, up to its
    ``churned_on``: the stage the rules give on its last paying day from its lines (a
    yearly line ending that day: renewal) and its milestones. So the KPIs by stage count
    its churn in the stage it left from, not in "churned"."""
    todo = _churned_without_history(session, facts, Dimension.STAGE, as_of)
    rows = []
    for account_id, lines in _lines_of(session, todo):
        f = todo[account_id]
        churned_on = f["churned_on"]
        day = churned_on - timedelta(days=1)
        ends = [ln for ln in lines if ln.ended_on == churned_on]
        total, done, last_done = milestones.get(account_id, (0, 0, None))
        last_day = _day(last_done)
        done_by = done if last_day is None or last_day <= day else 0
        decision = decide_stage(StageFacts(
            status="active", customer_since=f["customer_since"], churned_on=None, milestones_total=total,
            milestones_done=done_by, milestones_done_on=last_day if done_by else None,
            yearly_renewal_on=churned_on if any(ln.term_months >= 12 for ln in ends) else None,
            renewal_on=churned_on if ends else None, mrr=summarize(lines, day).mrr,
            mrr_before=summarize(lines, day - timedelta(days=config.expansion_lookback_days)).mrr,
        ), day, config)  # fmt: skip
        if decision.stage is None:
            continue
        rows.append({"account_id": account_id, "dimension": Dimension.STAGE, "value": decision.stage.value,
                     "from_on": min(decision.since, day), "to_on": churned_on, "reason": decision.reason,
                     "set_by": None})  # fmt: skip
    q.add_changes(session, rows)


def _day(value: datetime | date | None) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    return value


# --- customer fit ---------------------------------------------------------------------------


def _fit_inputs(f: Mapping[str, Any], plan_code: str | None) -> FitInputs:
    custom = f.get("custom_fields") or {}
    use_case = custom.get("use_case") if isinstance(custom, dict) else None
    return FitInputs(f.get("industry") or None, f.get("employee_count"), plan_code,
                     str(use_case).strip() or None if use_case is not None else None)  # fmt: skip


def recompute_fit(session: Session, as_of: date, cfg: SegmentsConfig | None = None) -> int:
    """Each account's fit score (0–100) and band against the ideal customer profile.
    The plan is the current one, or for a churned account the last it had."""
    config = _config(cfg).fit
    products = q.product_info(session)
    lines = _line_facts(session, as_of, 1)
    rows: list[dict[str, Any]] = []
    changes: dict[int, _Change] = {}
    for f in q.account_facts(session):
        plan_code = f["plan_code"]
        if plan_code is None and (line := lines.get(f["id"])) is not None and line.last_plan_id is not None:
            plan_code = products.get(line.last_plan_id, (None, None))[0]
        score = fit_score(_fit_inputs(f, plan_code), config)
        band = _value(fit_band(score, config))
        if (score, band) != (f["fit_score"], _value(f["fit_band"])):
            rows.append({"account_id": f["id"], "fit_score": score, "fit_band": band})
        changes[f["id"]] = _Change(band, f["customer_since"] or as_of, REASON_FIT)
    written = q.write_columns(session, ("fit_score", "fit_band"), rows)
    _sync_history(session, Dimension.FIT, changes, as_of)
    return written


def record_owners(session: Session, as_of: date, account_ids: Sequence[int] | None = None) -> int:
    """Close the owner period of each account whose owner changed and open one for the new
    owner (none: no period), dated ``as_of``; an account's first period is dated from its
    ``customer_since``. Called where the owner changes (imports, the bulk assignment, the
    API) and by the daily job, so that the KPIs can break down by the owner an account had
    at the start of a month (``account_ids``: only these accounts)."""
    changes = {
        account_id: _Change(None if owner is None else str(owner), since or as_of, REASON_OWNER)
        for account_id, owner, since in q.owner_facts(session, account_ids)
    }
    return _sync_history(session, Dimension.OWNER, changes, as_of, only=account_ids is not None)


def churn_by_fit(session: Session, as_of: date) -> list[BandChurn]:
    """Of the accounts that were customers by ``as_of``, how many churned by then, per
    fit band (None: no fit data) — which profiles do not succeed."""
    rows = q.churn_by_fit_band(session, as_of)
    return order_bands(BandChurn(FitBand(b) if b else None, n, c) for b, n, c in rows)


# --- at risk --------------------------------------------------------------------------------


def recompute_at_risk(
    session: Session, as_of: date, cfg: SegmentsConfig | None = None, *, usage_stale: bool = False
) -> int:
    """The at-risk flag of each live customer (``at_risk_reasons``): red health, a
    sharp fall of the health score, or logins down against its own baseline (not judged
    while the usage feed is late: ``usage_stale``). Runs after the health scores.
    Returns the accounts flagged."""
    config = _config(cfg).at_risk
    recent_first = as_of - timedelta(days=config.login_recent_days - 1)
    base_last = recent_first - timedelta(days=1)
    base_first = base_last - timedelta(days=config.login_baseline_days - 1)
    recent = q.usage_totals(session, METRIC_LOGINS, recent_first, as_of)
    # a late feed's missing logins are not a drop: no baseline, so nobody is judged on it
    baseline = {} if usage_stale else q.usage_totals(session, METRIC_LOGINS, base_first, base_last)
    before = q.health_scores_on(session, as_of - timedelta(days=config.health_drop_days))
    rows: list[dict[str, Any]] = []
    flagged = 0
    for f in q.account_facts(session):
        account_id = f["id"]
        risky = False
        if _value(f["status"]) in _LIVE:
            risky = bool(at_risk_reasons(RiskFacts(
                health_grade=_value(f["health_grade"]), health_score=f["health_score"],
                health_score_before=before.get(account_id), recent_logins=recent.get(account_id, 0.0),
                baseline_logins=baseline.get(account_id, 0.0),
            ), config))  # fmt: skip
        flagged += risky
        if risky != bool(f["at_risk"]):
            rows.append({"account_id": account_id, "at_risk": risky})
    q.write_columns(session, ("at_risk",), rows)
    return flagged


@dataclass(frozen=True)
class SegmentChanges:
    """What a recompute changed: accounts whose tier, stage or fit changed; accounts at risk."""

    tiers: int
    stages: int
    fit: int
    at_risk: int


def recompute_all(session: Session, as_of: date, cfg: SegmentsConfig | None = None) -> SegmentChanges:
    """Tiers, stages, fit and at-risk for ``as_of`` (what ``kizuna segments recompute`` runs)."""
    config = _config(cfg)
    return SegmentChanges(
        tiers=recompute_tiers(session, as_of, config),
        stages=recompute_stages(session, as_of, config),
        fit=recompute_fit(session, as_of, config),
        at_risk=recompute_at_risk(session, as_of, config),
    )


# --- overrides --------------------------------------------------------------------------------

_COLUMN = {Dimension.TIER: "touch_tier", Dimension.STAGE: "lifecycle_stage"}
_ENUM: dict[Dimension, Any] = {Dimension.TIER: TouchTier, Dimension.STAGE: LifecycleStage}


def parse_dimension(text: str) -> Dimension:
    try:
        dimension = Dimension(text.strip().lower())
        if dimension not in OVERRIDABLE:
            raise ValueError(text)
        return dimension
    except ValueError:
        raise InvalidInput(
            _("must be tier or stage, not {value!r}").format(value=text[:40]), field="dimension"
        ) from None


def parse_value(dimension: Dimension, text: str) -> str:
    enum = _ENUM[dimension]
    try:
        return str(enum(text.strip().lower()).value)
    except ValueError:
        field = "tier" if dimension is Dimension.TIER else "stage"
        raise InvalidInput(
            _("{field} must be one of: {choices}; not {value!r}").format(
                field=field, choices=", ".join(e.value for e in enum), value=text[:40]),
            field=field,
        ) from None  # fmt: skip


def _account(session: Session, account_id: int) -> dict[str, Any]:
    row = q.account_segments(session, account_id) if 0 < account_id < 2**31 else None
    if row is None:
        raise NotFound(_("no account with id {id}").format(id=account_id), code="account_not_found")
    return row


def find_account(session: Session, key: str) -> int:
    """An account by id, external id, exact or partial name (for the command line;
    ``services.accounts.find_account``)."""
    from kizuna.services.accounts import find_account as find

    return find(session, key)


def set_override(
    session: Session, account_id: int, dimension: Dimension, value: str, reason: str, *, set_by: str,
    set_by_id: int | None, as_of: date,
) -> None:  # fmt: skip
    """Set the account's tier or stage by hand; it stays until removed, whatever the
    rules say. ``reason`` is required (shown in the history)."""
    value = parse_value(dimension, value)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("give a reason for the override"), field="reason")
    if len(reason) > MAX_REASON:
        raise InvalidInput(_("the reason is longer than {n} characters").format(n=MAX_REASON), field="reason")
    _account(session, account_id)
    q.put_override(session, account_id, dimension, value, reason, set_by, set_by_id)
    q.write_columns(session, (_COLUMN[dimension],), [{"account_id": account_id, _COLUMN[dimension]: value}])
    _sync_history(session, dimension, {account_id: _Change(value, as_of, reason, set_by)}, as_of)


def clear_override(session: Session, account_id: int, dimension: Dimension, *, set_by: str, as_of: date) -> bool:
    """Remove the override: the value the rules gave at the last recompute returns at
    once. False when there was none."""
    row = _account(session, account_id)
    if not q.remove_override(session, account_id, dimension):
        return False
    column = _COLUMN[dimension]
    rule_value = _value(row[f"{column}_rule"])
    q.write_columns(session, (column,), [{"account_id": account_id, column: rule_value}])
    _sync_history(session, dimension, {account_id: _Change(rule_value, as_of, REASON_OVERRIDE_REMOVED, set_by)}, as_of)
    return True


# --- one account ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Override:
    value: str
    reason: str
    set_by: str
    set_at: datetime


@dataclass(frozen=True)
class Period:
    dimension: Dimension
    value: str
    from_on: date
    to_on: date | None
    reason: str
    set_by: str | None

    def days(self, as_of: date) -> int:
        return max(0, ((self.to_on or as_of) - self.from_on).days)


@dataclass(frozen=True)
class AccountSegments:
    """An account's segments as the 360 page and ``/api/accounts/{id}/segments/history`` show them."""

    account_id: int
    as_of: date
    touch_tier: TouchTier | None
    touch_tier_rule: TouchTier | None
    tier_override: Override | None
    lifecycle_stage: LifecycleStage | None
    lifecycle_stage_rule: LifecycleStage | None
    stage_override: Override | None
    stage_since: date | None
    at_risk: bool
    fit_score: float | None
    fit_band: FitBand | None
    health_score: float | None
    health_grade: HealthGrade | None
    health_as_of: date | None
    history: tuple[Period, ...]

    @property
    def days_in_stage(self) -> int | None:
        return None if self.stage_since is None else max(0, (self.as_of - self.stage_since).days)

    @property
    def tier_history(self) -> tuple[Period, ...]:
        return tuple(p for p in self.history if p.dimension is Dimension.TIER)

    @property
    def stage_history(self) -> tuple[Period, ...]:
        return tuple(p for p in self.history if p.dimension is Dimension.STAGE)


def _enum_or_none(enum: Any, value: Any) -> Any:
    return None if value is None else enum(_value(value))


def account_segments(session: Session, account_id: int, *, as_of: date) -> AccountSegments:
    row = _account(session, account_id)
    overrides = {
        Dimension(str(_value(o["dimension"]))): Override(o["value"], o["reason"], o["set_by"], o["set_at"])
        for o in q.account_overrides(session, account_id)
    }
    history = tuple(
        Period(Dimension(str(_value(h["dimension"]))), h["value"], h["from_on"], h["to_on"], h["reason"], h["set_by"])
        for h in q.account_history(session, account_id)
    )
    stage_open = next((p for p in history if p.dimension is Dimension.STAGE and p.to_on is None), None)
    return AccountSegments(
        account_id=account_id, as_of=as_of,
        touch_tier=_enum_or_none(TouchTier, row["touch_tier"]),
        touch_tier_rule=_enum_or_none(TouchTier, row["touch_tier_rule"]),
        tier_override=overrides.get(Dimension.TIER),
        lifecycle_stage=_enum_or_none(LifecycleStage, row["lifecycle_stage"]),
        lifecycle_stage_rule=_enum_or_none(LifecycleStage, row["lifecycle_stage_rule"]),
        stage_override=overrides.get(Dimension.STAGE),
        stage_since=stage_open.from_on if stage_open is not None else None,
        at_risk=bool(row["at_risk"]), fit_score=row["fit_score"], fit_band=_enum_or_none(FitBand, row["fit_band"]),
        health_score=row["health_score"], health_grade=_enum_or_none(HealthGrade, row["health_grade"]),
        health_as_of=row["health_as_of"], history=history,
    )  # fmt: skip


@dataclass(frozen=True)
class SegmentCounts:
    """The segments summary: accounts per touch tier, lifecycle stage and fit band (key
    None: none yet), and how many are at risk."""

    touch_tier: dict[str | None, int]
    lifecycle_stage: dict[str | None, int]
    fit_band: dict[str | None, int]
    at_risk: int


def segment_counts(session: Session) -> SegmentCounts:
    """How many accounts are in each tier, stage and fit band, and how many are at risk."""
    risk = q.counts_by(session, "at_risk")
    return SegmentCounts(q.counts_by(session, "touch_tier"), q.counts_by(session, "lifecycle_stage"),
                         q.counts_by(session, "fit_band"), sum(n for v, n in risk.items() if v in ("True", "1")))  # fmt: skip


__all__ = [
    "AccountSegments",
    "Override",
    "Period",
    "SegmentChanges",
    "SegmentCounts",
    "account_segments",
    "churn_by_fit",
    "clear_override",
    "find_account",
    "fit_parts",
    "load_config",
    "parse_dimension",
    "parse_value",
    "recompute_all",
    "recompute_at_risk",
    "recompute_fit",
    "recompute_stages",
    "recompute_tiers",
    "segment_counts",
    "set_override",
]
