"""Lifetime value per account (顧客生涯価値, issue 21): the daily ``ltv`` step fits the
retention of each segment (sBG, Fader & Hardie) on the store's own contract history and
scores every running account's residual value (DERL × payment per term × margin); the
read models the 360 header, the list, the LTV page, the CLI and the API show.

An account's contract runs from its first earning day (``customer_since``) to its churn
day; its term is its main line's (1 month: monthly evergreen, 12: annual, …) and renews at
each term's end. The segment is its plan (or touch tier, industry, nothing — a setting)
× its term. See ``docs/ltv.md``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from kizuna.analytics import ltv_accounts as model
from kizuna.analytics.ltv_models import SBGFit
from kizuna.db import Session
from kizuna.db.queries import ltv as q
from kizuna.db.queries import subscriptions as subs_q
from kizuna.domain.subscriptions import AccountStatus, earning_start, summarize
from kizuna.errors import NotFound
from kizuna.i18n import _
from kizuna.services.context import LtvSettings

POOLED = model.POOLED
DAYS_PER_MONTH = 365.25 / 12


@dataclass(frozen=True)
class SegmentFitView:
    """One segment's retention fit as the LTV page shows it."""

    segment: str  # a plan code, tier, industry (user data, shown as is); "*": pooled; "": every account
    term_months: int
    as_of: date
    contracts: int
    cohorts: int
    churned: int
    alpha: float | None
    beta: float | None
    log_likelihood: float | None
    pooled: bool
    reason: str  # an English catalogue message
    observed: tuple[float, ...]
    fitted: tuple[float, ...]

    @property
    def mean_churn(self) -> float | None:
        if self.alpha is None or self.beta is None:
            return None
        return self.alpha / (self.alpha + self.beta)

    @property
    def constant(self) -> bool:
        """Too few ended contracts with this term, even pooled: α, β stand for a constant churn rate."""
        return self.reason == model.REASON_CONSTANT


@dataclass(frozen=True)
class AccountLtvView:
    """One account's lifetime value and everything it is made of."""

    account_id: int
    external_id: str
    name: str
    as_of: date
    segment: str
    term_months: int
    renewals: int  # renewals made so far (tenure in terms)
    pooled: bool  # its segment borrows the pooled fit of its term
    reason: str  # why that fit (an English catalogue message)
    alpha: float | None
    beta: float | None
    retention: float | None  # the probability it renews at its next renewal
    derl: float | None  # expected further payments, discounted
    payment: int  # per term: MRR × term months (ARR for annual terms)
    mrr: int
    currency: str
    discount_rate: float  # per term
    annual_discount_rate: float
    margin: float
    revenue_to_date: int
    residual_value: int | None  # DERL × payment × margin
    ltv: int | None  # revenue to date × margin + residual value

    @property
    def realised(self) -> int:
        return round(self.revenue_to_date * self.margin)

    @property
    def constant(self) -> bool:
        """Its term has too few ended contracts for sBG: a constant churn rate per renewal."""
        return self.reason == model.REASON_CONSTANT


# --------------------------------------------------------------------------- contracts


def _label(segment_by: str, plan: str | None, facts: dict[str, Any] | None) -> str:
    if segment_by == "none":
        return ""
    if segment_by == "plan":
        return plan or "-"
    value = (facts or {}).get("touch_tier" if segment_by == "tier" else "industry")
    return str(getattr(value, "value", value)) if value is not None else "-"


def _revenue_to_date(lines: list[Any], currency: str | None, as_of: date) -> int:
    total = 0.0
    for ln in lines:
        start = earning_start(ln)
        if start is None or ln.currency != currency or start > as_of:
            continue
        end = min(ln.ended_on or as_of, as_of)
        total += max((end - start).days, 0) / DAYS_PER_MONTH * ln.monthly_amount
    return round(total)


def contracts(session: Session, as_of: date, segment_by: str = "plan") -> pd.DataFrame:
    """One row per account that has paid by ``as_of``: its segment, term, start, end (churn
    day), payment per term, MRR, currency and revenue to date."""
    codes = q.product_codes(session)
    facts = q.account_facts(session)
    rows: list[tuple[Any, ...]] = []
    for account_id, lines in subs_q.lines_by_account(session):
        now = summarize(lines, as_of)
        if now.customer_since is None or now.status in (AccountStatus.PROSPECT, AccountStatus.TRIAL):
            continue
        last = now
        if now.status is AccountStatus.CHURNED and now.churned_on is not None:
            last = summarize(lines, max(now.churned_on - timedelta(days=1), now.customer_since))
        term = last.contract_term_months or 1
        plan = codes.get(last.plan_product_id) if last.plan_product_id is not None else None
        rows.append((
            account_id, _label(segment_by, plan, facts.get(account_id)), term, now.customer_since,
            now.churned_on if now.status is AccountStatus.CHURNED else None, last.mrr * term, last.mrr,
            last.currency or "", _revenue_to_date(lines, last.currency, as_of),
        ))  # fmt: skip
    return pd.DataFrame(rows, columns=[*model.CONTRACT_COLUMNS[:5], "payment", "mrr", "currency", "revenue_to_date"])


@dataclass(frozen=True)
class HistoryStart:
    """The day the store's contract history begins (None: every contract is seen from its
    start), and whether it was inferred from the data rather than set."""

    day: date | None
    inferred: bool


def history_start(session: Session, settings: LtvSettings | None = None) -> HistoryStart:
    """Where the contract history begins: ``KIZUNA_LTV_OBSERVED_FROM`` when set; else the
    store's first usage day, or its first churn day when that is earlier (a store that
    recorded a churn has seen contracts end since then); without usage, none. Earlier
    contracts are then taken as the survivors to that day (left truncation: a company that
    imports the customers it still has never recorded the earlier churns). The day never
    follows a recorded churn, so conditioning on it never reads an outcome."""
    settings = settings or LtvSettings()
    if settings.observed_from is not None:
        return HistoryStart(settings.observed_from, inferred=False)
    usage = q.first_usage_day(session)
    if usage is None:
        return HistoryStart(None, inferred=False)
    churn = q.first_churn_day(session)
    return HistoryStart(min(usage, churn) if churn is not None else usage, inferred=True)


def _options(settings: LtvSettings, observed_from: date | None) -> model.LtvOptions:
    return model.LtvOptions(annual_discount_rate=settings.annual_discount_rate, margin=settings.margin,
                            min_cohorts=settings.min_cohorts, observed_from=observed_from)  # fmt: skip


# --------------------------------------------------------------------------- the daily step


def refit_step(session: Session, as_of: date, settings: LtvSettings | None = None) -> int:
    """Fit every segment's retention on the contract history up to ``as_of`` and score
    each running account; replaces yesterday's figures. Returns the accounts scored."""
    settings = settings or LtvSettings()
    options = _options(settings, history_start(session, settings).day)
    frame = contracts(session, as_of, settings.segment_by)
    fits = model.fit_segments(frame, as_of, options) if len(frame) else {}
    q.replace_fits(session, [
        {"segment": f.segment, "term_months": f.term_months, "as_of": as_of, "contracts": f.contracts,
         "cohorts": f.cohorts, "churned": f.churned, "alpha": f.alpha, "beta": f.beta,
         "log_likelihood": f.log_likelihood, "pooled": f.pooled, "reason": f.reason, "observed": list(f.observed)}
        for f in fits.values()
    ])  # fmt: skip
    if not len(frame):
        q.replace_values(session, [])
        return 0
    scored = model.score(frame, fits, as_of, options)
    extra = frame.set_index("account_id")[["mrr", "revenue_to_date"]]
    scored = scored.join(extra, on="account_id")
    rows = []
    for r in scored.to_dict("records"):
        residual = None if pd.isna(r["residual_value"]) else int(r["residual_value"])
        revenue = int(r["revenue_to_date"])
        rows.append({
            "account_id": int(r["account_id"]), "as_of": as_of, "segment": r["segment"],
            "term_months": int(r["term_months"]), "renewals": int(r["renewals"]), "pooled": bool(r["pooled"]),
            "alpha": _float(r["alpha"]), "beta": _float(r["beta"]), "retention": _float(r["retention"]),
            "derl": _float(r["derl"]), "payment": int(r["payment"]), "mrr": int(r["mrr"]), "currency": r["currency"],
            "discount_rate": float(r["discount_rate"]), "margin": options.margin,
            "revenue_to_date": revenue, "residual_value": residual,
            "ltv": None if residual is None else round(revenue * options.margin) + residual,
        })  # fmt: skip
    q.replace_values(session, rows)
    return len(rows)


def _float(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else float(value)


# --------------------------------------------------------------------------- read models


def segment_fits(session: Session) -> list[SegmentFitView]:
    """The last refit's segments, pooled ones first within each term."""
    out = []
    for r in q.fits(session):
        observed = tuple(float(v) for v in (r["observed"] or []))
        fitted: tuple[float, ...] = ()
        if r["alpha"] is not None and r["beta"] is not None:
            sbg = SBGFit(r["alpha"], r["beta"], 0.0, 0, True, 0)
            fitted = tuple(float(v) for v in sbg.survival(np.arange(max(len(observed), 2))))
        out.append(SegmentFitView(
            r["segment"], r["term_months"], r["as_of"], r["contracts"], r["cohorts"], r["churned"], r["alpha"],
            r["beta"], r["log_likelihood"], r["pooled"], known_reason(r["reason"]), observed, fitted,
        ))  # fmt: skip
    out.sort(key=lambda f: (f.term_months, f.segment != POOLED, f.segment))
    return out


def _view(row: dict[str, Any], reasons: dict[tuple[str, int], str]) -> AccountLtvView:
    term = int(row["term_months"])
    return AccountLtvView(
        account_id=row["account_id"], external_id=row["external_id"], name=row["name"], as_of=row["as_of"],
        segment=row["segment"], term_months=term, renewals=row["renewals"], pooled=row["pooled"],
        reason=reasons.get((row["segment"], term), model.REASON_OWN), alpha=row["alpha"], beta=row["beta"],
        retention=row["retention"], derl=row["derl"], payment=row["payment"], mrr=row["mrr"],
        currency=row["currency"], discount_rate=row["discount_rate"],
        annual_discount_rate=float((1 + row["discount_rate"]) ** (12 / term) - 1), margin=row["margin"],
        revenue_to_date=row["revenue_to_date"], residual_value=row["residual_value"], ltv=row["ltv"],
    )  # fmt: skip


KNOWN_REASONS = frozenset({model.REASON_OWN, model.REASON_FEW_COHORTS, model.REASON_NO_CHURN, model.REASON_FEW_CHURNS,
                           model.REASON_NO_RENEWAL, model.REASON_POOLED, model.REASON_UNFITTABLE,
                           model.REASON_CONSTANT})


def known_reason(text: str) -> str:
    """A stored reason only when it is one of the catalogue's (the pages translate it, and a
    translated string is trusted HTML: nothing read back from the store may reach it)."""
    return text if text in KNOWN_REASONS else model.REASON_OWN


def _reasons(session: Session) -> dict[tuple[str, int], str]:
    return {(r["segment"], r["term_months"]): known_reason(r["reason"]) for r in q.fits(session)}


def account_ltv(session: Session, account_id: int) -> AccountLtvView | None:
    """The account's lifetime value as of the last refit (None: not a running paying
    account then, or the daily job has not run)."""
    row = q.value_of(session, account_id)
    return _view(row, _reasons(session)) if row is not None else None


def require_account_ltv(session: Session, account_id: int) -> AccountLtvView:
    """Like :func:`account_ltv`, a ``NotFound`` naming why when there is none."""
    from kizuna.db.queries import accounts as accounts_q

    if accounts_q.account_row(session, account_id) is None:
        raise NotFound(_("no account with id {id}").format(id=account_id), code="account_not_found", field="id")
    view = account_ltv(session, account_id)
    if view is None:
        raise NotFound(_("account {id} has no lifetime value: it is not a paying account, or the daily job "
                         "has not run since it started paying").format(id=account_id),
                       code="ltv_not_available", field="id")  # fmt: skip
    return view


def accounts_ltv(session: Session) -> list[AccountLtvView]:
    """Every scored account, the largest lifetime value first."""
    reasons = _reasons(session)
    return [_view(r, reasons) for r in q.values(session)]


def values_by_account(session: Session) -> dict[int, tuple[int | None, int | None]]:
    """Account id → (lifetime value, residual value) from the last refit, for the tiers."""
    return q.residual_values(session)


# --------------------------------------------------------------------------- backtest


def backtest(session: Session, cutoff: date, as_of: date, settings: LtvSettings | None = None) -> list[model.BacktestRow]:
    """Fit on the contract history seen at ``cutoff``, predict each then-running account's
    renewals up to ``as_of``, compare (see :func:`kizuna.analytics.ltv_accounts.backtest`)."""
    settings = settings or LtvSettings()
    frame = contracts(session, as_of, settings.segment_by)
    if not len(frame):
        return []
    return model.backtest(frame, cutoff, as_of, _options(settings, history_start(session, settings).day))
