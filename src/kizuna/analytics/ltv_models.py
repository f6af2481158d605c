"""Probabilistic customer lifetime value (顧客生涯価値) models, fitted by maximum likelihood.

- **BG/NBD** (Fader, Hardie & Lee 2005a): repeat purchases of customers who may have
  quietly left; input per customer ``frequency`` (repeat purchases ``x``), ``recency``
  (time of the last repeat purchase ``t_x``) and ``T`` (time since the first purchase).
- **Pareto/NBD** (Schmittlein, Morrison & Colombo 1987; Fader & Hardie 2005): the same
  data, dropout at any time instead of only after a purchase.
- **Gamma-Gamma** (Fader, Hardie & Lee 2005b; Fader & Hardie 2013): average spend per
  transaction of repeat customers; combined with BG/NBD for the expected residual value.
- **shifted-beta-geometric** (Fader & Hardie 2007, 2010): contract renewals of a cohort
  (継続率), projected survival and the discounted expected residual lifetime (DERL).

Everything is vectorised over customers and computed in log space (``gammaln``,
``betaln``, ``logaddexp``); parameters are optimised on the log scale with analytic
gradients (numerical ones for Pareto/NBD). Pure: arrays in, numbers out.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1

from kizuna.errors import InvalidInput
from kizuna.i18n import _

FloatArray = npt.NDArray[np.float64]
Objective = Callable[[FloatArray], tuple[float, FloatArray]]

#: Months in a year over 12, in days and weeks: converts a monthly horizon to the data's time unit.
DAYS_PER_MONTH = 365.25 / 12
WEEKS_PER_MONTH = DAYS_PER_MONTH / 7
_WARM_START_FROM = 200_000  # customers; above this a subsample's fit is the starting point
_GRAD_TOL = 1e-6  # converged: the largest per-customer gradient on the log scale is below this
_NOT_FINITE = 1e300  # the optimiser's stand-in for a likelihood that is not finite


# --------------------------------------------------------------------------- fitting


@dataclass(frozen=True)
class _Solution:
    x: FloatArray
    mean_nll: float
    converged: bool
    iterations: int


# the default only: with jac=False the same optimum is found by finite differences (~1e-9 away), slower
def _optimise(objective: Objective, start: FloatArray, jac: bool = True) -> _Solution:  # pragma: no mutate
    """Minimise a mean negative log-likelihood over log-parameters (L-BFGS-B, tight tolerances).

    ``converged`` is judged by the gradient itself (a tiny line-search failure at the
    optimum is not a failure)."""

    def fun(theta: FloatArray) -> Any:
        value, grad = objective(theta)
        if not math.isfinite(value):
            return (_NOT_FINITE, np.zeros_like(theta)) if jac else _NOT_FINITE
        return (value, grad) if jac else value

    # errstate and the RuntimeWarning filter overlap: NumPy's floating-point warnings are RuntimeWarnings,
    # so either alone keeps them in (errstate(all=None) leaves them to the filter)
    with np.errstate(all="ignore"), warnings.catch_warnings():  # pragma: no mutate
        warnings.simplefilter("ignore", RuntimeWarning)
        res = minimize(
            fun,
            start,
            # an unknown string is scipy's forward differences: Pareto/NBD's optimum moves in digits below
            # its estimates' published precision (~1e-8); the tests cannot and need not tell them apart
            jac=True if jac else "3-point",  # pragma: no mutate
            # scipy lower-cases the name, and picks L-BFGS-B for a bounded problem when none is given
            method="L-BFGS-B",  # pragma: no mutate
            bounds=[(-20.0, 20.0)] * len(start),
            options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-10, "maxcor": 20},
        )
        theta = np.asarray(res.x, dtype=np.float64)  # pragma: no mutate (res.x is float64 already)
        value, grad = objective(theta)
        if not jac:
            grad = _numeric_gradient(objective, theta)
    converged = bool(math.isfinite(value) and np.max(np.abs(grad)) < _GRAD_TOL and np.all(np.abs(theta) < 19.9))
    return _Solution(theta, float(value), converged, int(res.nit))


def _numeric_gradient(objective: Objective, theta: FloatArray) -> FloatArray:
    grad = np.empty_like(theta)
    for i in range(len(theta)):
        # the step only: any from ~1e-8 to ~1e-5 gives the gradient far inside the convergence check's 1e-6
        h = 1e-6 * max(1.0, abs(float(theta[i])))  # pragma: no mutate
        up, down = theta.copy(), theta.copy()
        up[i] += h
        down[i] -= h
        grad[i] = (objective(up)[0] - objective(down)[0]) / (2 * h)
    return grad


def _as_floats(values: npt.ArrayLike, name: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64).ravel()
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise InvalidInput(_("{column} must be a number (row {row})").format(column=name, row=bad[0] + 1), field=name)
    return array


def _first(mask: npt.NDArray[np.bool_]) -> int | None:
    hits = np.flatnonzero(mask)
    return int(hits[0]) + 1 if hits.size else None


def _check(mask: npt.NDArray[np.bool_], name: str, reason: str) -> None:
    row = _first(mask)
    if row is not None:
        raise InvalidInput(_("{column} {reason} (row {row})").format(column=name, reason=reason, row=row), field=name)


def rfm_arrays(
    frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Validated float arrays of repeat purchases ``x``, recency ``t_x`` and age ``T``.

    Raises :class:`~kizuna.errors.InvalidInput` naming the first bad row (1-based)."""
    x, tx, t = _as_floats(frequency, "frequency"), _as_floats(recency, "recency"), _as_floats(T, "T")
    if not (len(x) == len(tx) == len(t)):
        raise InvalidInput(_("frequency, recency and T must have the same length"))
    if len(x) == 0:
        raise InvalidInput(_("no customers to fit"))
    _check((x < 0) | (x != np.floor(x)), "frequency", _("must be a whole number ≥ 0"))
    _check(tx < 0, "recency", _("must be ≥ 0"))
    _check(t <= 0, "T", _("must be > 0"))
    _check(tx > t, "recency", _("must not be greater than T"))
    _check((x == 0) & (tx > 0), "recency", _("must be 0 when frequency is 0"))
    return x, tx, t


def _require_repeaters(x: FloatArray) -> None:
    if not np.any(x > 0):
        raise InvalidInput(_("no customer made a repeat purchase: the model cannot be fitted"), field="frequency")


# --------------------------------------------------------------------------- BG/NBD


@dataclass(frozen=True)
class BGNBDFit:
    """A fitted BG/NBD model: purchase rates λ ~ Gamma(r, α), dropout p ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    n: int
    converged: bool
    iterations: int

    model = "bgnbd"

    @property
    def params(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}

    def probability_alive(self, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike) -> FloatArray:
        """P(alive | x, t_x, T): the chance the customer has not dropped out by ``T``."""
        x, tx, t = rfm_arrays(frequency, recency, T)
        return _bgnbd_p_alive(self.r, self.alpha, self.a, self.b, x, tx, t)

    def expected_purchases(
        self, horizon: float, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
    ) -> FloatArray:
        """E[Y(t) | x, t_x, T]: expected purchases in the next ``horizon`` time units (FHL 2005a, eq. 10)."""
        x, tx, t = rfm_arrays(frequency, recency, T)
        return _bgnbd_conditional(self.r, self.alpha, self.a, self.b, float(horizon), x, tx, t)

    def expected_purchases_new_customer(self, horizon: npt.ArrayLike) -> FloatArray:
        """E[X(t)]: expected repeat purchases of a new customer in ``horizon`` (FHL 2005a, eq. 7)."""
        t = np.asarray(horizon, dtype=np.float64)
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        z = t / (alpha + t)
        # (α/(α+t))^r 2F1(r, b; a+b-1; z), by Euler's transformation 2F1(r,b;c;z) =
        # (1-z)^(c-r-b) 2F1(c-r, c-b; c; z) with c = a+b-1: (1-z)^(a-1) 2F1(a+b-1-r, a-1; c; z).
        tail = np.power(1 - z, a - 1) * hyp2f1(a + b - 1 - r, a - 1, a + b - 1, z)
        return np.asarray((a + b - 1) / (a - 1) * (1 - tail), dtype=np.float64)

    def log_likelihood_at(
        self, params: dict[str, float], frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
    ) -> float:
        """The total log-likelihood of the data at other parameter values (for comparisons)."""
        x, tx, t = rfm_arrays(frequency, recency, T)
        return bgnbd_log_likelihood(params["r"], params["alpha"], params["a"], params["b"], x, tx, t)


def bgnbd_log_likelihood(
    r: float, alpha: float, a: float, b: float, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
) -> float:
    """Total BG/NBD log-likelihood (FHL 2005a, eq. 6)."""
    x, tx, t = rfm_arrays(frequency, recency, T)
    return float(np.sum(_bgnbd_ll_terms(r, alpha, a, b, x, tx, t)))


def _bgnbd_log_odds_dead(
    r: float, alpha: float, a: float, b: float, x: FloatArray, tx: FloatArray, t: FloatArray
) -> FloatArray:
    """d = ln[a/(b+x-1)] + (r+x) ln[(α+T)/(α+t_x)], −∞ for x = 0; P(alive) = 1/(1+e^d)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.log(a) - np.log(b + x - 1) + (r + x) * (np.log(alpha + t) - np.log(alpha + tx))
    return np.where(x > 0, d, -np.inf)


def _bgnbd_ll_terms(
    r: float, alpha: float, a: float, b: float, x: FloatArray, tx: FloatArray, t: FloatArray
) -> FloatArray:
    base = (
        gammaln(r + x) - gammaln(r) + r * np.log(alpha)
        + betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + t)
    )  # fmt: skip
    return np.asarray(base + np.logaddexp(0.0, _bgnbd_log_odds_dead(r, alpha, a, b, x, tx, t)), dtype=np.float64)


def _bgnbd_p_alive(
    r: float, alpha: float, a: float, b: float, x: FloatArray, tx: FloatArray, t: FloatArray
) -> FloatArray:
    return np.asarray(expit(-_bgnbd_log_odds_dead(r, alpha, a, b, x, tx, t)), dtype=np.float64)


def _bgnbd_conditional(
    r: float, alpha: float, a: float, b: float, horizon: float, x: FloatArray, tx: FloatArray, t: FloatArray
) -> FloatArray:
    # FHL 2005a eq. 10, with ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z) rewritten by
    # Euler's transformation as (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z): bounded for any x.
    z = horizon / (alpha + t + horizon)
    c = a + b + x - 1
    tail = np.power(1 - z, a - 1) * hyp2f1(a + b - 1 - r, a - 1, c, z)
    expected = c / (a - 1) * (1 - tail)
    return np.asarray(expected * _bgnbd_p_alive(r, alpha, a, b, x, tx, t), dtype=np.float64)


def _bgnbd_objective(x: FloatArray, tx: FloatArray, t: FloatArray) -> Objective:
    """Mean negative log-likelihood and its gradient over (ln r, ln α, ln a, ln b).

    Sufficient statistics keep it fast on millions of customers: terms in ``x`` alone are
    summed once per distinct frequency, terms in ``T`` alone once per distinct ``T``;
    only the repeaters' ``log(1 + e^d)`` term is evaluated customer by customer."""
    n = float(len(x))
    xi = x.astype(np.int64)
    per_x_counts = np.bincount(xi).astype(np.float64)  # pragma: no mutate (counts enter float sums alike)
    present = np.flatnonzero(per_x_counts)
    xv, counts = present.astype(np.float64), per_x_counts[present]  # pragma: no mutate (ints enter float sums alike)
    tv, t_index = np.unique(t, return_inverse=True)
    t_counts = np.bincount(t_index).astype(np.float64)  # every index of np.unique's inverse occurs
    t_xsum = np.bincount(t_index, weights=x)  # Σ x over customers of each T
    rep = np.flatnonzero(xi > 0)
    x_r, tx_r, t_r = x[rep], tx[rep], t[rep]
    gap_r = t_r - tx_r
    k_index = xi[rep] - 1  # b + x − 1 = b + k_index
    k_max = int(k_index.max()) + 1 if len(rep) else 1
    ks = np.arange(k_max, dtype=np.float64)

    def objective(theta: FloatArray) -> tuple[float, FloatArray]:
        r, alpha, a, b = (float(v) for v in np.exp(theta))
        # x-only and T-only terms
        log_at = np.log(alpha + tv)
        weight_t = r * t_counts + t_xsum
        ll = float(counts @ (gammaln(r + xv) + betaln(a, b + xv)))
        ll += n * (-gammaln(r) + r * math.log(alpha) - betaln(a, b)) - float(weight_t @ log_at)
        # the repeaters: log(1 + e^d), d = ln a − ln(b+x−1) + (r+x) ln((α+T)/(α+t_x))
        inv_atx = 1.0 / (alpha + tx_r)
        ratio = gap_r * inv_atx
        log_ratio = np.log1p(ratio)
        log_b_k = np.log(b + ks)
        rx = r + x_r
        d = rx * log_ratio
        d += math.log(a)
        d -= log_b_k[k_index]
        e = np.exp(-np.abs(d))
        ll += float(np.maximum(d, 0.0).sum() + np.log1p(e).sum())
        sig = np.where(d >= 0, 1.0, e) / (1.0 + e)  # expit(d)
        # gradient on the natural scale
        g_r = float(counts @ digamma(r + xv)) + n * (math.log(alpha) - digamma(r)) - float(t_counts @ log_at)
        g_r += float(sig @ log_ratio)
        g_alpha = n * r / alpha - float(weight_t @ (1.0 / (alpha + tv)))
        # 1/(α+T) − 1/(α+t_x) = −ratio / ((α+T)) = −inv_atx · ratio / (1 + ratio)
        g_alpha -= float(sig @ (rx * inv_atx * ratio / (1.0 + ratio)))
        g_a = float(counts @ (digamma(a + b) - digamma(a + b + xv))) + float(sig.sum()) / a
        g_b = float(counts @ (digamma(b + xv) - digamma(a + b + xv))) + n * (digamma(a + b) - digamma(b))
        g_b -= float(np.bincount(k_index, weights=sig, minlength=k_max) @ (1.0 / (b + ks)))
        grad = np.array([g_r * r, g_alpha * alpha, g_a * a, g_b * b])
        return -ll / n, -grad / n

    return objective


def fit_bgnbd(frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike) -> BGNBDFit:
    """Fit BG/NBD by maximum likelihood (FHL 2005a)."""
    x, tx, t = rfm_arrays(frequency, recency, T)
    _require_repeaters(x)
    # only the starting point: another one reaches the same maximum (the published estimates)
    rate = max(float(x.sum() / t.sum()), 1e-6)  # pragma: no mutate
    start = np.log(np.array([1.0, 1.0 / rate, 1.0, 1.0]))  # pragma: no mutate
    if len(x) > _WARM_START_FROM:
        # a large file: start from the fit of an evenly spaced 1/k of the customers
        k = len(x) // (_WARM_START_FROM // 4)
        sub = slice(None, None, k)
        if np.any(x[sub] > 0):
            start = _optimise(_bgnbd_objective(x[sub], tx[sub], t[sub]), start).x
    objective = _bgnbd_objective(x, tx, t)
    sol = _optimise(objective, start)
    r, alpha, a, b = (float(v) for v in np.exp(sol.x))
    return BGNBDFit(r, alpha, a, b, -sol.mean_nll * len(x), len(x), sol.converged, sol.iterations)


# --------------------------------------------------------------------------- Pareto/NBD


@dataclass(frozen=True)
class ParetoNBDFit:
    """A fitted Pareto/NBD model: purchase rates λ ~ Gamma(r, α), dropout rates μ ~ Gamma(s, β)."""

    r: float
    alpha: float
    s: float
    beta: float
    log_likelihood: float
    n: int
    converged: bool
    iterations: int

    model = "paretonbd"

    @property
    def params(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "s": self.s, "beta": self.beta}

    def probability_alive(self, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike) -> FloatArray:
        """P(alive | x, t_x, T) (Fader & Hardie 2005, eq. 18)."""
        x, tx, t = rfm_arrays(frequency, recency, T)
        return _pnbd_p_alive(self.r, self.alpha, self.s, self.beta, x, tx, t)

    def expected_purchases(
        self, horizon: float, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
    ) -> FloatArray:
        """E[Y(t) | x, t_x, T]: expected purchases in the next ``horizon`` (SMC 1987; Fader & Hardie 2005)."""
        x, tx, t = rfm_arrays(frequency, recency, T)
        r, alpha, s, beta = self.r, self.alpha, self.s, self.beta
        if abs(s - 1) < 1e-9:
            shape = np.log((beta + t + horizon) / (beta + t))
        else:
            shape = (1 - np.power((beta + t) / (beta + t + horizon), s - 1)) / (s - 1)
        rate = (r + x) * (beta + t) / (alpha + t)
        return np.asarray(rate * shape * _pnbd_p_alive(r, alpha, s, beta, x, tx, t), dtype=np.float64)

    def expected_purchases_new_customer(self, horizon: npt.ArrayLike) -> FloatArray:
        """E[X(t)] for a customer just acquired."""
        # whole-number horizons give the same floats: β, α are floats
        t = np.asarray(horizon, dtype=np.float64)  # pragma: no mutate
        r, alpha, s, beta = self.r, self.alpha, self.s, self.beta
        if abs(s - 1) < 1e-9:
            return np.asarray(r * beta / alpha * np.log((beta + t) / beta), dtype=np.float64)
        return np.asarray(r * beta / (alpha * (s - 1)) * (1 - np.power(beta / (beta + t), s - 1)), dtype=np.float64)


def _pnbd_log_tail(r: float, alpha: float, s: float, beta: float, x: FloatArray, at: FloatArray) -> FloatArray:
    """ln of 2F1(r+s+x, ·; r+s+x+1; z(at)) / (max(α,β)+at)^(r+s+x) (Fader & Hardie 2005, eq. 5),
    rewritten by Euler's transformation so the series has a = 1 and stays bounded."""
    c = r + s + x + 1
    # `>` would be the same: at α = β both forms are (α+at)^−(r+s+x) (z = 0)
    if alpha >= beta:  # pragma: no mutate
        z = (alpha - beta) / (alpha + at)
        return np.asarray(np.log(hyp2f1(1.0, r + x, c, z)) - (r + x) * np.log(alpha + at) - s * np.log(beta + at))
    z = (beta - alpha) / (beta + at)
    return np.asarray(np.log(hyp2f1(1.0, s + 1, c, z)) + (1 - r - x) * np.log(alpha + at) - (s + 1) * np.log(beta + at))


def _pnbd_parts(
    r: float, alpha: float, s: float, beta: float, x: FloatArray, tx: FloatArray, t: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(log of the common factor, log of the 'alive at T' term, log of the total bracket)."""
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    alive = -(r + x) * np.log(alpha + t) - s * np.log(beta + t)
    f_tx = _pnbd_log_tail(r, alpha, s, beta, x, tx)
    f_t = _pnbd_log_tail(r, alpha, s, beta, x, t)
    with np.errstate(divide="ignore", invalid="ignore"):
        died = np.log(s) - np.log(r + s + x) + f_tx + np.log(-np.expm1(np.minimum(f_t - f_tx, 0.0)))
    died = np.where(tx < t, died, -np.inf)
    return np.asarray(common), np.asarray(alive), np.asarray(np.logaddexp(alive, died))


def paretonbd_log_likelihood(
    r: float, alpha: float, s: float, beta: float, frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike
) -> float:
    """Total Pareto/NBD log-likelihood (Fader & Hardie 2005, eqs. 3–5)."""
    x, tx, t = rfm_arrays(frequency, recency, T)
    common, _alive, bracket = _pnbd_parts(r, alpha, s, beta, x, tx, t)
    return float(np.sum(common + bracket))


def _pnbd_p_alive(
    r: float, alpha: float, s: float, beta: float, x: FloatArray, tx: FloatArray, t: FloatArray
) -> FloatArray:
    _common, alive, bracket = _pnbd_parts(r, alpha, s, beta, x, tx, t)
    return np.asarray(np.exp(alive - bracket), dtype=np.float64)


def fit_paretonbd(frequency: npt.ArrayLike, recency: npt.ArrayLike, T: npt.ArrayLike) -> ParetoNBDFit:
    """Fit Pareto/NBD by maximum likelihood; distinct (x, t_x, T) rows are evaluated once."""
    x, tx, t = rfm_arrays(frequency, recency, T)
    _require_repeaters(x)
    rows, weights = np.unique(np.column_stack([x, tx, t]), axis=0, return_counts=True)
    ux, utx, ut = rows[:, 0].copy(), rows[:, 1].copy(), rows[:, 2].copy()
    w = weights.astype(np.float64)  # pragma: no mutate (astype(None) is float64 too)
    n = float(len(x))

    def objective(theta: FloatArray) -> tuple[float, FloatArray]:
        r, alpha, s, beta = (float(v) for v in np.exp(theta))
        common, _alive, bracket = _pnbd_parts(r, alpha, s, beta, ux, utx, ut)
        return -float(w @ (common + bracket)) / n, np.zeros(4)

    # start from the BG/NBD fit's purchase process: close to the optimum, few iterations
    bg = fit_bgnbd(x, tx, t)
    # only the starting point: another one reaches the same maximum (the published estimates)
    start = np.log(np.array([bg.r, bg.alpha, 1.0, max(float(t.mean()), 1.0)]))  # pragma: no mutate
    sol = _optimise(objective, start, jac=False)
    r, alpha, s, beta = (float(v) for v in np.exp(sol.x))
    return ParetoNBDFit(r, alpha, s, beta, paretonbd_log_likelihood(r, alpha, s, beta, x, tx, t), len(x),
                        sol.converged, sol.iterations)  # fmt: skip


# --------------------------------------------------------------------------- Gamma-Gamma


def spend_arrays(frequency: npt.ArrayLike, monetary_value: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Validated arrays of repeat purchases and average spend per repeat purchase."""
    x, m = _as_floats(frequency, "frequency"), _as_floats(monetary_value, "monetary_value")
    if len(x) != len(m):
        raise InvalidInput(_("frequency and monetary_value must have the same length"))
    _check((x < 0) | (x != np.floor(x)), "frequency", _("must be a whole number ≥ 0"))
    _check(m < 0, "monetary_value", _("must be ≥ 0"))
    _check((x > 0) & (m == 0), "monetary_value", _("must be > 0 when frequency is > 0"))
    return x, m


@dataclass(frozen=True)
class GammaGammaFit:
    """A fitted Gamma-Gamma spend model: spend z ~ Gamma(p, ν), ν ~ Gamma(q, γ)."""

    p: float
    q: float
    gamma: float
    log_likelihood: float
    n: int
    converged: bool
    iterations: int

    model = "gammagamma"

    @property
    def params(self) -> dict[str, float]:
        return {"p": self.p, "q": self.q, "gamma": self.gamma}

    @property
    def population_mean_spend(self) -> float:
        """E[Z] = pγ/(q−1) (infinite when q ≤ 1)."""
        return self.p * self.gamma / (self.q - 1) if self.q > 1 else math.inf

    def expected_average_value(self, frequency: npt.ArrayLike, monetary_value: npt.ArrayLike) -> FloatArray:
        """E[M | p, q, γ, m_x, x] = p(γ + x m_x)/(px + q − 1): a weighted average of the
        population mean and the customer's own (FHL 2005b, eq. 5). A customer with no
        repeat purchase gets the population mean."""
        x, m = spend_arrays(frequency, monetary_value)
        return np.asarray(self.p * (self.gamma + x * m) / (self.p * x + self.q - 1), dtype=np.float64)


def gammagamma_log_likelihood(
    p: float, q: float, gamma: float, frequency: npt.ArrayLike, monetary_value: npt.ArrayLike
) -> float:
    """Total Gamma-Gamma log-likelihood of the customers with frequency > 0."""
    x, m = spend_arrays(frequency, monetary_value)
    keep = x > 0
    return float(np.sum(_gg_ll_terms(p, q, gamma, x[keep], m[keep])))


def _gg_ll_terms(p: float, q: float, gamma: float, x: FloatArray, m: FloatArray) -> FloatArray:
    px = p * x
    return np.asarray(
        gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(gamma)
        + (px - 1) * np.log(m) + px * np.log(x) - (px + q) * np.log(gamma + m * x)
    )  # fmt: skip


def _gammagamma_objective(x: FloatArray, m: FloatArray) -> Objective:
    """Mean negative log-likelihood and its gradient over (ln p, ln q, ln γ); x > 0, m > 0.

    Terms in ``x`` alone are summed once per distinct frequency; per customer only
    ln(γ + m·x) is evaluated."""
    n = float(len(x))
    xi = x.astype(np.int64)
    per_x_counts = np.bincount(xi).astype(np.float64)  # pragma: no mutate (counts enter float sums alike)
    present = np.flatnonzero(per_x_counts)
    xv, counts = present.astype(np.float64), per_x_counts[present]  # pragma: no mutate (ints enter float sums alike)
    mx = m * x
    log_m, log_x = np.log(m), np.log(x)
    sum_log_m, sum_x_log_mx = float(log_m.sum()), float(x @ (log_m + log_x))

    def objective(theta: FloatArray) -> tuple[float, FloatArray]:
        p, q, gamma = (float(v) for v in np.exp(theta))
        pk = p * xv
        log_gmx = np.log(gamma + mx)
        inv_gmx = 1.0 / (gamma + mx)
        sum_log_gmx, sum_x_log_gmx = float(log_gmx.sum()), float(x @ log_gmx)
        ll = float(counts @ (gammaln(pk + q) - gammaln(pk))) + n * (q * math.log(gamma) - gammaln(q))
        ll += p * sum_x_log_mx - sum_log_m - p * sum_x_log_gmx - q * sum_log_gmx
        dig = digamma(pk + q)
        g_p = float(counts @ (xv * (dig - digamma(pk)))) + sum_x_log_mx - sum_x_log_gmx
        g_q = float(counts @ dig) + n * (math.log(gamma) - digamma(q)) - sum_log_gmx
        g_gamma = n * q / gamma - p * float(x @ inv_gmx) - q * float(inv_gmx.sum())
        grad = np.array([g_p * p, g_q * q, g_gamma * gamma])
        return -ll / n, -grad / n

    return objective


def fit_gammagamma(frequency: npt.ArrayLike, monetary_value: npt.ArrayLike) -> GammaGammaFit:
    """Fit the Gamma-Gamma spend model on the customers with frequency > 0."""
    x, m = spend_arrays(frequency, monetary_value)
    keep = x > 0
    x, m = x[keep], m[keep]
    if len(x) < 2:
        raise InvalidInput(_("the spend model needs at least 2 customers with frequency > 0"), field="frequency")
    objective = _gammagamma_objective(x, m)
    mean, var = float(m.mean()), float(m.var())
    start = np.log(np.array([max(mean**2 / max(var, 1e-9), 0.1), 2.0, max(mean, 1e-3)]))
    sol = _optimise(objective, start)
    p, q, gamma = (float(v) for v in np.exp(sol.x))
    return GammaGammaFit(p, q, gamma, -sol.mean_nll * len(x), len(x), sol.converged, sol.iterations)


def expected_residual_clv(
    purchases: BGNBDFit,
    spend: GammaGammaFit,
    frequency: npt.ArrayLike,
    recency: npt.ArrayLike,
    T: npt.ArrayLike,
    monetary_value: npt.ArrayLike,
    *,
    months: int,
    monthly_discount_rate: float,
    periods_per_month: float = WEEKS_PER_MONTH,
    margin: float = 1.0,
) -> FloatArray:
    """Expected residual value of each customer over the next ``months`` months.

    Month ``i`` contributes the BG/NBD expected purchases during that month times the
    Gamma-Gamma expected average spend times ``margin``, discounted by
    ``(1 + monthly_discount_rate) ** i`` (end-of-month convention). ``periods_per_month``
    converts months to the time unit of ``recency`` and ``T`` (weeks by default)."""
    if months < 1:
        raise InvalidInput(_("the horizon must be at least 1 month"), field="horizon")
    if not (monthly_discount_rate > -1):
        raise InvalidInput(_("the discount rate must be greater than -1"), field="discount_rate")
    if periods_per_month <= 0:
        raise InvalidInput(_("periods per month must be > 0"), field="periods_per_month")
    x, tx, t = rfm_arrays(frequency, recency, T)
    value = spend.expected_average_value(x, monetary_value) * margin
    total = np.zeros_like(x)
    previous = np.zeros_like(x)
    for i in range(1, months + 1):
        cumulative = _bgnbd_conditional(purchases.r, purchases.alpha, purchases.a, purchases.b,
                                        i * periods_per_month, x, tx, t)  # fmt: skip
        total += (cumulative - previous) / (1 + monthly_discount_rate) ** i
        previous = cumulative
    return np.asarray(total * value, dtype=np.float64)


# --------------------------------------------------------------------------- shifted-beta-geometric


def cohort_arrays(period: npt.ArrayLike, active: npt.ArrayLike) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """Validated (periods 0, 1, …, n) and the customers active at the start of each."""
    p, k = _as_floats(period, "period"), _as_floats(active, "active")
    if len(p) != len(k):
        raise InvalidInput(_("period and active must have the same length"))
    if len(p) < 2:
        raise InvalidInput(_("at least two periods are needed (period 0 and period 1)"), field="period")
    _check(p != np.arange(len(p)), "period", _("must run 0, 1, 2, … without gaps"))
    _check((k < 0) | (k != np.floor(k)), "active", _("must be a whole number ≥ 0"))
    if k[0] <= 0:
        raise InvalidInput(_("active at period 0 (the cohort size) must be > 0"), field="active")
    _check(np.concatenate([[False], k[1:] > k[:-1]]), "active", _("must not increase from one period to the next"))
    return p.astype(np.int64), k


@dataclass(frozen=True)
class SBGFit:
    """A fitted shifted-beta-geometric model: churn probability θ ~ Beta(α, β)."""

    alpha: float
    beta: float
    log_likelihood: float
    n: int
    converged: bool
    iterations: int
    periods: int = 0

    model = "sbg"

    @property
    def params(self) -> dict[str, float]:
        return {"alpha": self.alpha, "beta": self.beta}

    def survival(self, t: npt.ArrayLike) -> FloatArray:
        """S(t) = B(α, β+t)/B(α, β): share of the cohort still active at the start of period ``t``."""
        tt = np.asarray(t, dtype=np.float64)  # pragma: no mutate (int t: β + t and the ratio are float all the same)
        return np.asarray(np.exp(betaln(self.alpha, self.beta + tt) - betaln(self.alpha, self.beta)))

    def retention_rate(self, t: npt.ArrayLike) -> FloatArray:
        """r_t = S(t)/S(t−1) = (β+t−1)/(α+β+t−1), for t ≥ 1: rises with tenure (heterogeneity, not loyalty)."""
        tt = np.asarray(t, dtype=np.float64)  # pragma: no mutate (int t: β + t and the ratio are float all the same)
        return np.asarray((self.beta + tt - 1) / (self.alpha + self.beta + tt - 1))

    def derl(self, renewals: npt.ArrayLike, discount_rate: float) -> FloatArray:
        """Discounted expected residual lifetime of a customer who has made ``renewals``
        renewals, in payments (Fader & Hardie 2010, eq. 6): the expected number of further
        payments, the next one (at the coming renewal) undiscounted, each later one
        discounted by ``1 + discount_rate`` per period. Multiply by the payment per period."""
        if not discount_rate > 0:
            raise InvalidInput(_("the discount rate must be > 0 for DERL"), field="discount_rate")
        n = np.asarray(renewals, dtype=np.float64) + 1
        a, b = self.alpha, self.beta
        return np.asarray((b + n - 1) / (a + b + n - 1) * hyp2f1_one(b + n, a + b + n, 1 / (1 + discount_rate)))

    def expected_remaining_lifetime(self, renewals: npt.ArrayLike) -> FloatArray:
        """Expected number of further renewals of a customer who has made ``renewals``:
        (β+n)/(α−1), infinite when α ≤ 1 (heavy-tailed lifetimes)."""
        n = np.asarray(renewals, dtype=np.float64)
        if self.alpha <= 1:
            return np.full(n.shape, np.inf)
        return np.asarray((self.beta + n) / (self.alpha - 1))


#: Below this second parameter scipy's ``hyp2f1(1, b; c; z)`` is exact to ~1e-12; above it
#: it loses digits and from b ≈ 150–200 returns NaN or inf (a nearly constant churn rate:
#: α + β in the hundreds or more).
_HYP2F1_SAFE_B = 100.0
_SERIES_BLOCK = 2048


def _hyp2f1_one_series(b: float, c: float, z: float) -> float:
    """₂F₁(1, b; c; z) = Σ_k (b)_k/(c)_k z^k summed term by term (0 ≤ z < 1, c > b > 0):
    each term is the last × z(b+k)/(c+k) < z, so the sum stops when a term is below 1e-16
    of it (≈ 37/(1 − z) terms)."""
    total, term, k = 0.0, 1.0, 0.0
    while True:
        t = k + np.arange(_SERIES_BLOCK, dtype=np.float64)
        terms = term * np.cumprod(np.concatenate(([1.0], z * (b + t[:-1]) / (c + t[:-1]))))
        total += float(terms.sum())
        term = float(terms[-1]) * z * (b + t[-1]) / (c + t[-1])
        k += _SERIES_BLOCK
        if term <= 1e-16 * total or not math.isfinite(total):
            return total


def hyp2f1_one(b: npt.ArrayLike, c: npt.ArrayLike, z: float) -> FloatArray:
    """₂F₁(1, b; c; z) for 0 ≤ z < 1 and c > b > 0 (DERL's series), also where scipy's
    ``hyp2f1`` fails (large b): those values are summed term by term, once per distinct (b, c)."""
    bb, cc = np.broadcast_arrays(np.asarray(b, dtype=np.float64), np.asarray(c, dtype=np.float64))
    out = np.asarray(hyp2f1(1.0, bb, cc, z), dtype=np.float64).copy()
    bad = (bb >= _HYP2F1_SAFE_B) | ~np.isfinite(out)
    if bad.any():
        pairs, back = np.unique(np.stack([bb[bad], cc[bad]], axis=1), axis=0, return_inverse=True)
        values = np.array([_hyp2f1_one_series(float(pb), float(pc), z) for pb, pc in pairs])
        out[bad] = values[np.asarray(back).reshape(-1)]
    return out


def sbg_log_likelihood(alpha: float, beta: float, period: npt.ArrayLike, active: npt.ArrayLike) -> float:
    """Total sBG log-likelihood of a cohort (Fader & Hardie 2007, eq. 6)."""
    _p, k = cohort_arrays(period, active)
    t = np.arange(1, len(k), dtype=np.float64)  # pragma: no mutate (int periods: β + t is float all the same)
    lost = k[:-1] - k[1:]
    log_p = betaln(alpha + 1, beta + t - 1) - betaln(alpha, beta)
    log_s = betaln(alpha, beta + t[-1]) - betaln(alpha, beta)
    return float(lost @ log_p + k[-1] * log_s)


def _sbg_objective(lost: FloatArray, survivors: float, size: float, t: FloatArray) -> Objective:
    """Mean negative log-likelihood per cohort member and its gradient over (ln α, ln β)."""
    last = float(t[-1])

    def objective(theta: FloatArray) -> tuple[float, FloatArray]:
        a, b = np.exp(theta)
        ll = lost @ (betaln(a + 1, b + t - 1)) + survivors * betaln(a, b + last) - size * betaln(a, b)
        g_a = lost @ (digamma(a + 1) - digamma(a + b + t)) + survivors * (digamma(a) - digamma(a + b + last))
        g_b = lost @ (digamma(b + t - 1) - digamma(a + b + t)) + survivors * (digamma(b + last) - digamma(a + b + last))
        g_a -= size * (digamma(a) - digamma(a + b))
        g_b -= size * (digamma(b) - digamma(a + b))
        return -float(ll) / size, -np.array([g_a * a, g_b * b]) / size

    return objective


def fit_sbg(period: npt.ArrayLike, active: npt.ArrayLike) -> SBGFit:
    """Fit sBG to a cohort's active counts (period 0 = cohort size)."""
    _p, k = cohort_arrays(period, active)
    t = np.arange(1, len(k), dtype=np.float64)  # pragma: no mutate (int periods: β + t is float all the same)
    lost = k[:-1] - k[1:]
    last, survivors, size = float(t[-1]), float(k[-1]), float(k[0])
    if float(lost.sum()) == 0:
        raise InvalidInput(_("no customer churned: the model cannot be fitted"), field="active")
    objective = _sbg_objective(lost, survivors, size, t)
    sol = _optimise(objective, np.zeros(2))
    a, b = (float(v) for v in np.exp(sol.x))
    return SBGFit(a, b, sbg_log_likelihood(a, b, _p, k), int(size), sol.converged, sol.iterations, int(last))


# --------------------------------------------------------------------------- simulation


def simulate_bgnbd(
    n: int, r: float, alpha: float, a: float, b: float, T: npt.ArrayLike, seed: int = 0
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Draw ``(frequency, recency, T)`` for ``n`` customers from the BG/NBD process.

    λ ~ Gamma(r, rate α); p ~ Beta(a, b); purchases arrive as a Poisson process and the
    customer drops out right after each repeat purchase with probability p. Given N
    purchases in (0, T] the arrival times are uniform order statistics, so the last
    observed one is T·Beta(x, N−x+1)."""
    rng = np.random.default_rng(seed)
    ages = np.broadcast_to(np.asarray(T, dtype=np.float64), (n,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    arrivals = rng.poisson(lam * ages)
    lifetime_purchases = rng.geometric(np.clip(p, 1e-12, 1.0))  # dropout after the J-th repeat purchase
    x = np.minimum(arrivals, lifetime_purchases).astype(np.float64)
    rep = x > 0
    tx = np.zeros(n)
    tx[rep] = ages[rep] * rng.beta(x[rep], arrivals[rep] - x[rep] + 1)
    return x, tx, ages


# --------------------------------------------------------------------------- sBG over many cohorts


def tenure_arrays(renewals: npt.ArrayLike, churned: npt.ArrayLike) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Validated per-contract tenure: renewals made (whole numbers ≥ 0) and whether the
    contract has ended (after its last renewal's period) or is still running (censored)."""
    n = _as_floats(renewals, "renewals")
    c = np.asarray(churned, dtype=bool)
    if len(n) != len(c):
        raise InvalidInput(_("renewals and churned must have the same length"))
    _check((n < 0) | (n != np.floor(n)), "renewals", _("must be a whole number ≥ 0"))
    return n, c


def _sbg_tenure_objective(
    lost: FloatArray, lost_t: FloatArray, alive: FloatArray, alive_n: FloatArray, seen: FloatArray, seen_from: FloatArray
) -> Objective:
    """Mean negative log-likelihood per contract over (ln α, ln β): ``lost[i]`` contracts
    ended in period ``lost_t[i]`` (P(T=t) = B(α+1, β+t−1)/B(α, β)) and ``alive[j]`` are
    still running after ``alive_n[j]`` renewals (S(n) = B(α, β+n)/B(α, β)); ``seen[k]`` of
    them were first observed after ``seen_from[k]`` renewals, each term divided by
    S(seen_from) (left truncation; 0 for contracts observed from their start)."""
    size = float(lost.sum() + alive.sum())

    def objective(theta: FloatArray) -> tuple[float, FloatArray]:
        a, b = np.exp(theta)
        ll = lost @ betaln(a + 1, b + lost_t - 1) + alive @ betaln(a, b + alive_n) - seen @ betaln(a, b + seen_from)
        g_a = lost @ (digamma(a + 1) - digamma(a + b + lost_t)) + alive @ (digamma(a) - digamma(a + b + alive_n))
        g_b = lost @ (digamma(b + lost_t - 1) - digamma(a + b + lost_t)) + alive @ (digamma(b + alive_n) - digamma(a + b + alive_n))
        g_a -= seen @ (digamma(a) - digamma(a + b + seen_from))
        g_b -= seen @ (digamma(b + seen_from) - digamma(a + b + seen_from))
        return -float(ll) / size, -np.array([g_a * a, g_b * b]) / size

    return objective


def fit_sbg_tenures(renewals: npt.ArrayLike, churned: npt.ArrayLike, entered: npt.ArrayLike | None = None) -> SBGFit:
    """Fit sBG to contracts of many cohorts at once (each observed for as long as it has
    been running): a contract that ended after ``n`` renewals churned in period ``n + 1``;
    one still running after ``n`` renewals survived ``n`` (right-censored). With a single
    cohort this is :func:`fit_sbg`'s likelihood (Fader & Hardie 2007, eq. 6); with
    several it is the sum over cohorts of each one's (their 2007 appendix).

    ``entered``: per contract, the renewals it had made before the data's history begins
    (left truncation: a book whose earlier churns were never recorded holds only the
    contracts that survived to the history's start; each is conditioned on that, its
    likelihood divided by S(entered)). Default 0: every contract observed from its start."""
    n, c = tenure_arrays(renewals, churned)
    e = np.zeros_like(n) if entered is None else _as_floats(entered, "entered")
    if len(e) != len(n):
        raise InvalidInput(_("renewals and entered must have the same length"))
    _check((e < 0) | (e != np.floor(e)) | (e > n), "entered", _("must be a whole number from 0 to the renewals made"))
    if not c.any():
        raise InvalidInput(_("no customer churned: the model cannot be fitted"), field="churned")
    if float(n.max(initial=0)) == 0:
        raise InvalidInput(_("no customer renewed: the model cannot be fitted"), field="renewals")
    lost_t, lost = np.unique(n[c] + 1, return_counts=True)
    alive_n, alive = np.unique(n[~c], return_counts=True)
    seen_from, seen = np.unique(e, return_counts=True)
    objective = _sbg_tenure_objective(lost.astype(np.float64), lost_t.astype(np.float64),
                                      alive.astype(np.float64), alive_n.astype(np.float64),
                                      seen.astype(np.float64), seen_from.astype(np.float64))  # fmt: skip
    sol = _optimise(objective, np.zeros(2))
    a, b = (float(v) for v in np.exp(sol.x))
    return SBGFit(a, b, -sol.mean_nll * len(n), len(n), sol.converged, sol.iterations, int(n.max(initial=0)) + 1)


def observed_survival(renewals: npt.ArrayLike, churned: npt.ArrayLike, entered: npt.ArrayLike | None = None) -> FloatArray:
    """Kaplan–Meier survival at each renewal 0, 1, …, m (S(0) = 1) of contracts observed
    for different lengths: at renewal t, those who reached it (renewed t times, or ended
    in period t) are at risk; those still running short of it are left out, and so are
    those first observed after it (``entered``: renewals made before the history began)."""
    n, c = tenure_arrays(renewals, churned)
    e = np.zeros(len(n), dtype=np.int64) if entered is None else np.asarray(entered, dtype=np.int64)
    top = int(n.max(initial=0))
    reached = np.bincount(n.astype(np.int64))[::-1].cumsum()[::-1]  # renewed ≥ k times (0 … top)
    late = np.bincount(e, minlength=top + 2)[::-1].cumsum()[::-1]  # entered after ≥ k renewals
    ended = np.bincount(n[c].astype(np.int64), minlength=top + 2)  # ended after k renewals
    out = [1.0]
    for t in range(1, top + 1):
        made = reached[t] - late[t]
        at_risk = made + ended[t - 1]
        out.append(out[-1] * (made / at_risk if at_risk else 1.0))
    return np.asarray(out, dtype=np.float64)  # pragma: no mutate (a list of floats is float64 anyway)
