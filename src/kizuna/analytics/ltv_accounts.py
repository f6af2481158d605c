"""Lifetime value per account from the store's own contract history (顧客生涯価値).

A subscription business is a contractual setting: each account's contract renews at the
end of each term (monthly evergreen: every month; annual: every year) or ends. The
shifted-beta-geometric model (sBG, Fader & Hardie 2007) fits that: each account has its
own churn probability θ per renewal, θ ~ Beta(α, β) across the accounts of a segment.
Survivors are the loyal ones, so an account that has renewed many times is worth more
than a new one at the same MRR. Its residual value is

    DERL(d | n renewals) × payment per term × margin     (Fader & Hardie 2010)

where DERL counts the expected further payments from the next renewal on, each later one
discounted by ``d`` per term. Pure: contracts in (one row per account), figures out; the
``as_of`` day is passed in.

Contracts are grouped into segments (plan × term by default, settable by the caller);
a segment with too few start cohorts (or no churn, no renewal) borrows the pooled fit of
all the segments with its term, and says so; a term with too few ended contracts even
pooled uses a constant churn rate per renewal (an sBG fit on a handful of churns does
worse than it), and says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import betaln

from kizuna.analytics.ltv_models import SBGFit, fit_sbg_tenures, observed_survival
from kizuna.domain.subscriptions import add_months
from kizuna.errors import InvalidInput
from kizuna.i18n import N_, _

#: The columns a contracts frame has (one row per account).
CONTRACT_COLUMNS = ("account_id", "segment", "term_months", "started_on", "ended_on", "payment", "currency")
#: Every segment label's pooled stand-in (all the plans with one term).
POOLED = "*"

REASON_OWN = N_("fitted on its own contract history")
REASON_FEW_COHORTS = N_("too few start cohorts: the pooled fit of its term is used")
REASON_NO_CHURN = N_("no contract ended yet: the pooled fit of its term is used")
REASON_FEW_CHURNS = N_("too few contracts ended: the pooled fit of its term is used")
REASON_NO_RENEWAL = N_("no contract renewed yet: the pooled fit of its term is used")
REASON_POOLED = N_("the pooled fit of every segment with this term")
REASON_UNFITTABLE = N_("no fit: no contract with this term has both renewed and ended")
REASON_CONSTANT = N_("too few contracts with this term ended, even pooled: a constant churn rate per renewal is used")
#: α + β of the constant churn rate c written as an sBG fit (α = c·K, β = (1 − c)·K): sBG's
#: limit as α, β → ∞ with the mean c, so every formula (survival, DERL, the backtest's
#: log-likelihood) gives the constant rate's figures to within ~1e-6.
CONSTANT_SIZE = 1e8


@dataclass(frozen=True)
class LtvOptions:
    """How the residual value is computed: the yearly discount rate (a term's is
    ``(1 + rate) ** (term / 12) - 1``), the gross margin, and when a segment is fitted on
    its own (enough distinct start months, contracts and ended contracts: with a handful of
    churns the two parameters run to an extreme — α, β → 0, "each account leaves at once
    or never" — that the held-out renewals punish)."""

    annual_discount_rate: float = 0.10
    margin: float = 0.8
    min_cohorts: int = 3
    min_contracts: int = 20
    min_churned: int = 20  # ten ended contracts per parameter of sBG (α, β)
    #: The day the contract history begins (None: every contract is seen from its start).
    #: Contracts that started before it are conditioned on having survived to it (left
    #: truncation): a store that never recorded the earlier churns holds only survivors.
    observed_from: date | None = None

    def __post_init__(self) -> None:
        if not 0 < self.annual_discount_rate <= 10:
            raise InvalidInput(_("the discount rate must be > 0 and at most 10 (1000%)"), field="discount_rate")
        if not 0 <= self.margin <= 1:
            raise InvalidInput(_("the margin must be a fraction from 0 to 1"), field="margin")
        if self.min_cohorts < 1 or self.min_contracts < 1:
            raise InvalidInput(_("the minimum cohorts and contracts must be at least 1"), field="min_cohorts")
        if self.min_churned < 1:
            raise InvalidInput(_("the minimum of ended contracts must be at least 1"), field="min_churned")

    def term_discount_rate(self, term_months: int) -> float:
        return float((1 + self.annual_discount_rate) ** (term_months / 12) - 1)


@dataclass(frozen=True)
class SegmentFit:
    """The retention model of one segment (plan × term, …): its own sBG fit, or the
    pooled one of its term when it has too little history (``pooled`` with the reason)."""

    segment: str
    term_months: int
    contracts: int
    cohorts: int
    churned: int
    alpha: float | None
    beta: float | None
    log_likelihood: float | None
    pooled: bool
    reason: str  # an English catalogue message, translated when shown
    observed: tuple[float, ...] = field(default=())  # Kaplan–Meier survival at renewal 0, 1, …

    @property
    def fitted(self) -> bool:
        return self.alpha is not None and self.beta is not None

    @property
    def constant(self) -> bool:
        """The term has too few ended contracts for sBG: α, β stand for a constant churn rate."""
        return self.reason == REASON_CONSTANT

    def model(self) -> SBGFit:
        if self.alpha is None or self.beta is None:  # pragma: no mutate (α and β are None together)
            raise InvalidInput(_("this segment has no fit"), field="segment")
        # converged/iterations describe an optimiser run: nothing reads them off this model
        return SBGFit(self.alpha, self.beta, self.log_likelihood or 0.0, self.contracts, True, 0)  # pragma: no mutate

    def fitted_survival(self, periods: int) -> tuple[float, ...]:
        if not self.fitted:
            return ()
        return tuple(float(v) for v in self.model().survival(np.arange(periods + 1)))

    @property
    def mean_churn(self) -> float | None:
        """E[θ] = α / (α + β): the churn probability of a new contract at its first renewal."""
        if self.alpha is None or self.beta is None:
            return None
        return self.alpha / (self.alpha + self.beta)


# --------------------------------------------------------------------------- tenure


def _int(value: Any) -> int:
    """A whole number from a pandas group key or count (typed loosely by pandas)."""
    return int(value)


def full_months(start: pd.Series, end: pd.Series) -> npt.NDArray[np.int64]:
    """Whole months from ``start`` to ``end`` (the largest m with add_months(start, m) ≤
    end, clipping to the month's last day as contracts do: 1/31 + 1 month = 2/28)."""
    s, e = pd.to_datetime(start), pd.to_datetime(end)
    diff = (e.dt.year - s.dt.year) * 12 + (e.dt.month - s.dt.month)
    landed = np.minimum(s.dt.day, e.dt.days_in_month)
    return np.asarray(diff - (landed > e.dt.day).astype(int), dtype=np.int64)


def tenure(contracts: pd.DataFrame, as_of: date, observed_from: date | None = None) -> pd.DataFrame:
    """The contracts started by ``as_of``, with ``renewals`` (made by ``as_of``: renewal
    dates on or before it, and before the contract's end) and ``churned`` (ended by then)
    and ``cohort`` (the start month), and ``entered``: the renewals made before
    ``observed_from`` (0 without it, or for a contract started on or after it)."""
    day = pd.Timestamp(as_of)
    frame = contracts[pd.to_datetime(contracts["started_on"]) <= day].copy()
    started = pd.to_datetime(frame["started_on"])
    ended = pd.to_datetime(frame["ended_on"])
    churned = (ended.notna() & (ended <= day)).to_numpy()
    last_day = (ended - pd.Timedelta(days=1)).where(pd.Series(churned, index=frame.index), day)
    months = np.maximum(full_months(started, last_day), 0)
    frame["renewals"] = months // frame["term_months"].to_numpy(dtype=np.int64)
    frame["churned"] = churned
    frame["cohort"] = started.dt.year * 12 + started.dt.month
    # how many renewal dates fell on or before as_of (whether or not the contract made them)
    frame["renewal_dates"] = np.maximum(full_months(started, pd.Series(day, index=frame.index)), 0) // frame[
        "term_months"
    ].to_numpy(dtype=np.int64)
    frame["entered"] = 0
    if observed_from is not None and len(frame):
        first = pd.Timestamp(observed_from)
        before = np.maximum(full_months(started, pd.Series(first, index=frame.index)), 0)
        before = before // frame["term_months"].to_numpy(dtype=np.int64)
        frame["entered"] = np.where((started < first).to_numpy(), np.minimum(before, frame["renewals"].to_numpy()), 0)
    return frame


# --------------------------------------------------------------------------- fitting


def _try_fit(renewals: npt.NDArray[np.float64], churned: npt.NDArray[np.bool_], entered: pd.Series) -> SBGFit | None:
    if not churned.any() or float(renewals.max(initial=0)) == 0:
        return None
    return fit_sbg_tenures(renewals, churned, entered.to_numpy(dtype=np.float64))


def constant_churn(renewals: npt.ArrayLike, churned: npt.ArrayLike, entered: npt.ArrayLike) -> float | None:
    """The constant churn rate per renewal: contracts ended ÷ renewal dates reached inside
    the history (renewals made since the history began, plus the ends) — its maximum
    likelihood. None without an end or without a renewal inside the history."""
    ended = int(np.count_nonzero(churned))
    made = float(np.sum(np.asarray(renewals, dtype=np.float64) - np.asarray(entered, dtype=np.float64)))
    return ended / (made + ended) if ended and made > 0 else None


def _constant_fit(churn: float, ended: int, made: float) -> SBGFit:
    """The constant rate as an sBG fit (see :data:`CONSTANT_SIZE`), with its own log-likelihood."""
    ll = ended * np.log(churn) + made * np.log1p(-churn)
    return SBGFit(churn * CONSTANT_SIZE, (1 - churn) * CONSTANT_SIZE, float(ll), 0, True, 0)


def fit_segments(contracts: pd.DataFrame, as_of: date, options: LtvOptions | None = None) -> dict[tuple[str, int], SegmentFit]:
    """One :class:`SegmentFit` per (segment, term) and one pooled (``POOLED``, term) per term."""
    opts = options or LtvOptions()
    frame = tenure(contracts, as_of, opts.observed_from)
    out: dict[tuple[str, int], SegmentFit] = {}
    for term, by_term in frame.groupby("term_months", sort=True):
        n = by_term["renewals"].to_numpy(dtype=np.float64)
        c = by_term["churned"].to_numpy(dtype=bool)
        e = by_term["entered"].to_numpy(dtype=np.float64)
        pooled_fit = _try_fit(n, c, by_term["entered"]) if int(c.sum()) >= opts.min_churned else None
        pooled_reason = REASON_POOLED
        churn = constant_churn(n, c, e) if pooled_fit is None else None
        if churn is not None:  # too few ends even pooled: sBG on them loses to the constant rate
            pooled_fit, pooled_reason = _constant_fit(churn, int(c.sum()), float((n - e).sum())), REASON_CONSTANT
        pooled = SegmentFit(
            POOLED, _int(term), len(by_term), _int(by_term["cohort"].nunique()), int(c.sum()),
            pooled_fit.alpha if pooled_fit else None, pooled_fit.beta if pooled_fit else None,
            pooled_fit.log_likelihood if pooled_fit else None, True,
            pooled_reason if pooled_fit else REASON_UNFITTABLE,
            tuple(float(v) for v in observed_survival(n, c, by_term["entered"].to_numpy())),
        )  # fmt: skip
        out[(POOLED, _int(term))] = pooled
        for segment, group in by_term.groupby("segment", sort=True):
            gn = group["renewals"].to_numpy(dtype=np.float64)
            gc = group["churned"].to_numpy(dtype=bool)
            cohorts = _int(group["cohort"].nunique())
            observed = tuple(float(v) for v in observed_survival(gn, gc, group["entered"].to_numpy()))
            reason = REASON_OWN
            if pooled.constant:
                reason = REASON_CONSTANT
            elif cohorts < opts.min_cohorts or len(group) < opts.min_contracts:
                reason = REASON_FEW_COHORTS
            elif not gc.any():
                reason = REASON_NO_CHURN
            elif int(gc.sum()) < opts.min_churned:
                reason = REASON_FEW_CHURNS
            elif float(gn.max(initial=0)) == 0:
                reason = REASON_NO_RENEWAL
            own = _try_fit(gn, gc, group["entered"]) if reason == REASON_OWN else None
            if own is not None:
                fit = SegmentFit(str(segment), _int(term), len(group), cohorts, int(gc.sum()), own.alpha, own.beta,
                                 own.log_likelihood, False, REASON_OWN, observed)  # fmt: skip
            else:
                fit = SegmentFit(str(segment), _int(term), len(group), cohorts, int(gc.sum()), pooled.alpha,
                                 pooled.beta, pooled.log_likelihood, True,
                                 reason if pooled.fitted else REASON_UNFITTABLE, observed)  # fmt: skip
            out[(str(segment), _int(term))] = fit
    return out


# --------------------------------------------------------------------------- scoring


def derl(alpha: float, beta: float, renewals: npt.ArrayLike, discount_rate: float) -> npt.NDArray[np.float64]:
    """Discounted expected residual lifetime in payments (see :meth:`SBGFit.derl`)."""
    return SBGFit(alpha, beta, 0.0, 0, True, 0).derl(renewals, discount_rate)


def score(
    contracts: pd.DataFrame, fits: Mapping[tuple[str, int], SegmentFit], as_of: date, options: LtvOptions | None = None
) -> pd.DataFrame:
    """The residual value of every running contract: one row per account with its
    segment, term, renewals made, whether its segment uses the pooled fit, α, β, the
    probability of its next renewal, DERL, payment per term, the term's discount rate and
    the residual value (minor units, rounded; None without a fit)."""
    opts = options or LtvOptions()
    frame = tenure(contracts, as_of)
    frame = frame[~frame["churned"].to_numpy(dtype=bool)]
    columns = ["account_id", "segment", "term_months", "renewals", "pooled", "alpha", "beta", "retention", "derl",
               "payment", "currency", "discount_rate", "residual_value"]  # fmt: skip
    parts = []
    for (segment, term), group in frame.groupby(["segment", "term_months"], sort=False):
        fit = fits.get((str(segment), _int(term))) or fits.get((POOLED, _int(term)))
        part = pd.DataFrame({
            "account_id": group["account_id"].to_numpy(), "segment": str(segment), "term_months": _int(term),
            "renewals": group["renewals"].to_numpy(dtype=np.int64), "payment": group["payment"].to_numpy(dtype=np.int64),
            "currency": group["currency"].to_numpy(),
        })  # fmt: skip
        rate = opts.term_discount_rate(_int(term))
        part["discount_rate"] = rate
        part["pooled"] = bool(fit.pooled) if fit is not None else True
        if fit is not None and fit.alpha is not None and fit.beta is not None:
            n = part["renewals"].to_numpy(dtype=np.float64)
            part["alpha"], part["beta"] = fit.alpha, fit.beta
            part["retention"] = (fit.beta + n) / (fit.alpha + fit.beta + n)
            part["derl"] = derl(fit.alpha, fit.beta, n, rate)
            part["residual_value"] = np.rint(part["derl"] * part["payment"] * opts.margin).astype("Int64")
        else:
            for name in ("alpha", "beta", "retention", "derl"):
                part[name] = np.nan
            part["residual_value"] = pd.array([pd.NA] * len(part), dtype="Int64")
        parts.append(part[columns])
    if not parts:
        return pd.DataFrame({name: [] for name in columns})
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------- backtest


@dataclass(frozen=True)
class BacktestRow:
    """Predicted vs actual renewals since the cutoff of one segment's surviving contracts."""

    segment: str
    term_months: int
    contracts: int  # running at the cutoff, with at least one renewal date since
    actual: float  # mean renewals made since the cutoff
    predicted_sbg: float
    predicted_baseline: float
    mae_sbg: float
    mae_baseline: float
    baseline_churn: float  # the constant churn rate per renewal, from the history up to the cutoff
    pooled: bool
    #: The aggregate yardstick (Fader & Hardie): survivors by tenure band and renewal period.
    holdout: HoldOut | None = None
    #: Too few ended contracts with this term even pooled: "sBG" is the constant rate (a tie).
    constant: bool = False

    @property
    def sbg_wins(self) -> bool:
        return self.mae_sbg < self.mae_baseline


#: Tenure bands at the cutoff (renewals made; ``None``: no upper end): the "cohorts" of the
#: survivor table — contracts with the same tenure share a start period.
TENURE_BANDS: tuple[tuple[int, int | None], ...] = ((0, 0), (1, 2), (3, 5), (6, 11), (12, 23), (24, None))


def band_label(low: int, high: int | None) -> str:
    """``"0"``, ``"1-2"``, ``"24+"``: a tenure band as the table shows it."""
    if high is None:
        return f"{low}+"
    return str(low) if low == high else f"{low}-{high}"


def tenure_band(renewals: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """The index in :data:`TENURE_BANDS` of each tenure (renewals made)."""
    # the dtypes only document: searchsorted of ints or floats gives the same indices
    lows = np.array([low for low, _high in TENURE_BANDS], dtype=np.float64)  # pragma: no mutate
    return np.asarray(np.searchsorted(lows, np.asarray(renewals, dtype=np.float64), side="right") - 1, dtype=np.int64)  # pragma: no mutate


@dataclass(frozen=True)
class SurvivorCell:
    """Of the contracts of one tenure band whose ``period``-th renewal date since the cutoff
    has come (``at_risk``), how many made that renewal, and how many each model expected."""

    band: str
    period: int
    at_risk: int
    actual: int
    sbg: float
    baseline: float


@dataclass(frozen=True)
class HoldOut:
    """Predicted vs actual survivors by tenure band and renewal period after the cutoff,
    their errors, and the log-likelihood of the held-out renewals under each model (a
    proper score: higher is better; it rewards the model whose probabilities match what
    happened, not only its means)."""

    cells: tuple[SurvivorCell, ...]
    log_likelihood_sbg: float
    log_likelihood_baseline: float

    def _errors(self, which: str, relative: bool) -> float:
        cells = [c for c in self.cells if c.at_risk and (c.actual or not relative)]
        if not cells:
            return float("nan")  # pragma: no mutate (float("NAN") is the same NaN)
        errors = [abs(getattr(c, which) - c.actual) / (c.actual if relative else 1) for c in cells]
        return float(np.mean(errors)) * (100.0 if relative else 1.0)

    @property
    def survivors_mae_sbg(self) -> float:
        """Mean absolute error of the survivor counts over the (band, period) cells."""
        return self._errors("sbg", relative=False)

    @property
    def survivors_mae_baseline(self) -> float:
        return self._errors("baseline", relative=False)

    @property
    def survivors_mape_sbg(self) -> float:
        """Mean absolute percentage error (%) over the cells with survivors."""
        return self._errors("sbg", relative=True)

    @property
    def survivors_mape_baseline(self) -> float:
        return self._errors("baseline", relative=True)

    @property
    def contracts(self) -> int:
        return sum(c.at_risk for c in self.cells if c.period == 1)

    def combine(self, other: HoldOut) -> HoldOut:
        """The two segments' cells summed per (band, period), their log-likelihoods added."""
        cells: dict[tuple[str, int], list[float]] = {}
        for c in (*self.cells, *other.cells):
            cell = cells.setdefault((c.band, c.period), [0, 0, 0.0, 0.0])
            cell[0] += c.at_risk
            cell[1] += c.actual
            cell[2] += c.sbg
            cell[3] += c.baseline
        order = {band_label(low, high): i for i, (low, high) in enumerate(TENURE_BANDS)}
        merged = tuple(SurvivorCell(band, period, int(v[0]), int(v[1]), v[2], v[3])
                       for (band, period), v in sorted(cells.items(), key=lambda kv: (order[kv[0][0]], kv[0][1])))
        return HoldOut(merged, self.log_likelihood_sbg + other.log_likelihood_sbg,
                       self.log_likelihood_baseline + other.log_likelihood_baseline)  # fmt: skip


def holdout(
    renewals: npt.ArrayLike,
    opportunities: npt.ArrayLike,
    made: npt.ArrayLike,
    ended: npt.ArrayLike,
    fit: SBGFit,
    churn: float,
) -> HoldOut:
    """Judge both retention models on the contracts running at the cutoff, per contract:
    ``renewals`` made by the cutoff (n), renewal dates that came since (m ≥ 1), renewals
    ``made`` since (k ≤ m) and whether it has ``ended`` since.

    Survivors: in period j (its j-th renewal date since the cutoff, j ≤ m) a contract
    survives when k ≥ j; sBG expects S(n+j)/S(n), the constant rate (1−c)^j. The
    log-likelihood of what each contract did: ended after k more renewals —
    P(T = n+k+1 | T > n) = B(α+1, β+n+k)/B(α, β+n) under sBG, (1−c)^k·c under the
    constant rate; still running after m — S(n+m)/S(n), (1−c)^m."""
    # the dtypes only document: counts as ints or floats, ends as bools or 0/1 give the same figures
    n = np.asarray(renewals, dtype=np.float64)  # pragma: no mutate
    m = np.asarray(opportunities, dtype=np.int64)  # pragma: no mutate
    k = np.asarray(made, dtype=np.float64)  # pragma: no mutate
    gone = np.asarray(ended, dtype=bool)  # pragma: no mutate
    a, b = fit.alpha, fit.beta
    c = min(max(float(churn), 1e-12), 1 - 1e-12)
    base_now = betaln(a, b + n)
    ll_sbg = np.where(gone, betaln(a + 1, b + n + k), betaln(a, b + n + m)) - base_now
    ll_base = np.where(gone, k * np.log1p(-c) + np.log(c), m * np.log1p(-c))
    band = tenure_band(n)
    cells = []
    for index, (low, high) in enumerate(TENURE_BANDS):
        in_band = band == index
        if not in_band.any():
            continue
        for j in range(1, int(m[in_band].max()) + 1):
            risk = in_band & (m >= j)
            sbg = np.exp(betaln(a, b + n[risk] + j) - base_now[risk]).sum()
            cells.append(SurvivorCell(band_label(low, high), j, int(risk.sum()), int((k[risk] >= j).sum()),
                                      float(sbg), float(risk.sum() * (1 - c) ** j)))  # fmt: skip
    return HoldOut(tuple(cells), float(ll_sbg.sum()), float(ll_base.sum()))


def _expected_renewals(survival_next: npt.NDArray[np.float64], opportunities: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """Σ_{j ≤ m} of the conditional survival to the j-th next renewal, per contract."""
    width = survival_next.shape[1]
    mask = np.arange(1, width + 1)[None, :] <= opportunities[:, None]
    return np.asarray((survival_next * mask).sum(axis=1), dtype=np.float64)  # pragma: no mutate (dtype: a float product already)


def backtest(
    contracts: pd.DataFrame, cutoff: date, as_of: date, options: LtvOptions | None = None
) -> list[BacktestRow]:
    """Fit on the history seen at ``cutoff``, predict how many renewals each contract
    running then makes by ``as_of``, and compare with what it did — against a constant
    churn rate per renewal (churned ÷ renewal dates reached by the cutoff, over the same
    history the sBG fit read: the segment's own, or its term's when it is pooled). One row
    per segment with contracts to judge, and a last ``POOLED`` row per term over all of
    them. Each row has the per-account mean absolute error of the renewals and its
    :class:`HoldOut`: survivors by tenure band and period, and the log-likelihood of the
    held-out renewals under each model."""
    if not cutoff < as_of:
        raise InvalidInput(_("the backtest cutoff must be before the as-of day"), field="cutoff")
    fits = fit_segments(contracts, cutoff, options)
    then = tenure(contracts, cutoff, (options or LtvOptions()).observed_from)
    now = tenure(contracts, as_of).set_index("account_id")
    running = then[~then["churned"].to_numpy(dtype=bool)].copy()  # pragma: no mutate (dtype: a bool column)
    running["actual"] = now.loc[running["account_id"], "renewals"].to_numpy() - running["renewals"].to_numpy()
    running["opportunities"] = now.loc[running["account_id"], "renewal_dates"].to_numpy() - running["renewals"].to_numpy()
    running["ended"] = now.loc[running["account_id"], "churned"].to_numpy(dtype=bool)
    running = running[running["opportunities"] > 0]
    rows: list[BacktestRow] = []
    scored: list[pd.DataFrame] = []
    judged: dict[int, HoldOut] = {}
    constant: dict[int, bool] = {}
    for (segment, term), group in running.groupby(["segment", "term_months"], sort=True):
        fit = fits.get((str(segment), _int(term)))
        # fits has every (segment, term) of `then`, and α, β are None together: the and/or mutants are equivalent
        if fit is None or fit.alpha is None or fit.beta is None:  # pragma: no mutate
            continue
        # the same history the sBG fit read: the segment's own, or its term's when it borrows the pooled fit
        history = then[then["term_months"] == term]
        if not fit.pooled:
            history = history[history["segment"] == segment]
        ended = int(history["churned"].sum())
        reached = int((history["renewals"] - history["entered"]).sum()) + ended  # renewal dates inside the history
        p = ended / reached  # a fitted history has an end: reached ≥ ended ≥ 1
        # the dtypes only document (int columns; n + j and (1 − p)^j are floats either way)
        m = group["opportunities"].to_numpy(dtype=np.int64)  # pragma: no mutate
        n = group["renewals"].to_numpy(dtype=np.float64)  # pragma: no mutate
        width = int(m.max())
        j = np.arange(1, width + 1, dtype=np.float64)  # pragma: no mutate
        model = fit.model()
        s_now = model.survival(n)
        sbg = _expected_renewals(model.survival(n[:, None] + j[None, :]) / s_now[:, None], m)
        base = _expected_renewals(np.broadcast_to((1 - p) ** j, (len(m), width)), m)
        actual = group["actual"].to_numpy(dtype=np.float64)  # pragma: no mutate (dtype: counts, averaged as floats anyway)
        scored.append(pd.DataFrame({"term": _int(term), "actual": actual, "sbg": sbg, "base": base}))
        judged_here = holdout(n, m, actual, group["ended"].to_numpy(dtype=bool), model, p)
        judged[_int(term)] = judged[_int(term)].combine(judged_here) if _int(term) in judged else judged_here
        # every segment of a term shares its pooled fit's constant: get(None, …) is equivalent; False is not
        constant[_int(term)] = constant.get(_int(term), True) and fit.constant
        rows.append(BacktestRow(str(segment), _int(term), len(group), float(actual.mean()), float(sbg.mean()),
                                float(base.mean()), float(np.abs(sbg - actual).mean()),
                                float(np.abs(base - actual).mean()), p, fit.pooled, judged_here,
                                fit.constant))  # fmt: skip
    if scored:
        every = pd.concat(scored, ignore_index=True)  # pragma: no mutate (only the values are grouped)
        for term, group in every.groupby("term", sort=True):
            rows.append(BacktestRow(POOLED, _int(term), len(group), float(group["actual"].mean()),
                                    float(group["sbg"].mean()), float(group["base"].mean()),
                                    float((group["sbg"] - group["actual"]).abs().mean()),
                                    float((group["base"] - group["actual"]).abs().mean()), float("nan"), True,
                                    judged.get(_int(term)), constant.get(_int(term), False)))  # fmt: skip
    return rows


# --------------------------------------------------------------------------- simulation


def simulate_contracts(
    segments: Sequence[tuple[str, int, float, float, int]],
    first_start: date,
    as_of: date,
    *,
    payment: int = 10_000,
    currency: str = "JPY",
    seed: int = 0,
) -> pd.DataFrame:
    """Contracts drawn from the sBG process: for each ``(segment, term_months, α, β,
    count)``, ``count`` accounts starting on a uniformly drawn day from ``first_start`` to
    ``as_of``, each with its own churn probability θ ~ Beta(α, β) at every renewal. A
    U-shaped Beta (α, β < 1) is a mix of loyal and flighty accounts in one segment (what a
    constant churn rate cannot describe)."""
    rng = np.random.default_rng(seed)
    span = (as_of - first_start).days
    frames = []
    next_id = 1
    for segment, term, alpha, beta, count in segments:
        theta = np.clip(rng.beta(alpha, beta, count), 1e-9, 1.0)
        periods = rng.geometric(theta)  # the period in which the contract ends (1: never renewed)
        offsets = rng.integers(0, span, count)
        starts = [first_start + timedelta(days=int(o)) for o in offsets]
        horizon = span // 28 + 1  # months: a contract ending later than this is still running
        ends = [add_months(s, int(k) * term) if int(k) * term <= horizon else None
                for s, k in zip(starts, periods, strict=True)]  # fmt: skip
        ends = [e if e is not None and e <= as_of else None for e in ends]
        frames.append(pd.DataFrame({
            "account_id": np.arange(next_id, next_id + count), "segment": segment, "term_months": term,
            "started_on": starts, "ended_on": ends,
            "payment": payment * term, "currency": currency,
        }))  # fmt: skip
        next_id += count
    return pd.concat(frames, ignore_index=True)
