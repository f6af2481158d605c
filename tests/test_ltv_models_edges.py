"""The CLV models' closed forms on tiny inputs, by hand (issue 22: mutation testing).

Every expected value is written here from the papers' formulas in their original form
(products and ratios, scipy's ``hyp2f1`` of the printed arguments, a quadrature where the
paper integrates), not from the module's log-space, Euler-transformed rewrites; the
checks of every input are named by column and row. No fit of a big file: ~0.1 s a test."""

from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate
from scipy.special import hyp2f1

from kizuna.analytics import ltv_models as lm
from kizuna.errors import InvalidInput

CDNOW = Path(__file__).parent / "data" / "cdnow"
# BG/NBD parameters for the hand computations: a − 1 = 1/2, b + x − 1 = 3.5 at x = 2
R, ALPHA, A, B = 2.0, 3.0, 1.5, 2.5
BG = lm.BGNBDFit(R, ALPHA, A, B, log_likelihood=0.0, n=0, converged=True, iterations=0)


def _beta(a: float, b: float) -> float:
    return math.exp(math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b))


def _bgnbd_likelihood(x: int, tx: float, t: float, r: float = R, al: float = ALPHA, a: float = A, b: float = B) -> float:
    """FHL 2005a eq. 6, as printed: L = B(a, b+x)/B(a, b) Γ(r+x)α^r/(Γ(r)(α+T)^(r+x))
    + δ(x>0) B(a+1, b+x−1)/B(a, b) Γ(r+x)α^r/(Γ(r)(α+t_x)^(r+x))."""
    g = math.gamma(r + x) / math.gamma(r) * al**r
    alive = _beta(a, b + x) / _beta(a, b) * g / (al + t) ** (r + x)
    dead = _beta(a + 1, b + x - 1) / _beta(a, b) * g / (al + tx) ** (r + x) if x > 0 else 0.0
    return alive + dead


# --------------------------------------------------------------------------- input checks


@pytest.mark.parametrize(
    ("frequency", "recency", "T", "column", "row"),
    [
        ([1, 1, -1], [1, 1, 0], [5, 5, 5], "frequency", 3),
        ([1, 2.5], [1, 1], [5, 5], "frequency", 2),
        ([1, 1], [1, -0.5], [5, 5], "recency", 2),
        ([1, 1, 1], [1, 1, 1], [5, 5, -1], "T", 3),
        ([1, 1], [1, 5.5], [5, 5], "recency", 2),
        ([1, 0], [1, 0.5], [5, 5], "recency", 2),
        ([1, 1], [1, float("inf")], [5, 5], "recency", 2),
        ([1, 1], [1, 1], [5, float("nan")], "T", 2),
    ],
)
def test_each_rfm_check_names_its_column_and_row(
    frequency: list[float], recency: list[float], T: list[float], column: str, row: int
) -> None:
    with pytest.raises(InvalidInput) as err:
        lm.rfm_arrays(frequency, recency, T)
    assert err.value.field == column
    assert err.value.message.endswith(f"(row {row})")
    assert err.value.message.startswith(f"{column} ")


def test_the_rfm_checks_messages_and_what_they_accept() -> None:
    with pytest.raises(InvalidInput) as err:
        lm.rfm_arrays([1, 1], [1], [5, 5])
    assert err.value.message == "frequency, recency and T must have the same length"
    with pytest.raises(InvalidInput) as err:
        lm.rfm_arrays([1], [1], [5, 5])
    assert err.value.message == "frequency, recency and T must have the same length"
    with pytest.raises(InvalidInput) as err:
        lm.rfm_arrays([], [], [])
    assert err.value.message == "no customers to fit"
    with pytest.raises(InvalidInput) as err:
        lm.rfm_arrays([1, 1], [1, float("nan")], [5, 5])
    assert (err.value.message, err.value.field) == ("recency must be a number (row 2)", "recency")
    for bad, message in [
        (([-1], [0], [5]), "frequency must be a whole number ≥ 0 (row 1)"),
        (([1], [-1], [5]), "recency must be ≥ 0 (row 1)"),
        (([1], [0], [0]), "T must be > 0 (row 1)"),
        (([1], [6], [5]), "recency must not be greater than T (row 1)"),
        (([0], [1], [5]), "recency must be 0 when frequency is 0 (row 1)"),
    ]:
        with pytest.raises(InvalidInput) as err:
            lm.rfm_arrays(*bad)
        assert err.value.message == message
    # the edges that are fine: x = 0 and t_x = 0, a last purchase at T, a tiny T; kept as floats
    x, tx, t = lm.rfm_arrays([0, 3, 1], [0, 5, 0], [5, 5, 0.01])
    assert (x.tolist(), tx.tolist(), t.tolist()) == ([0.0, 3.0, 1.0], [0.0, 5.0, 0.0], [5.0, 5.0, 0.01])
    assert (x.dtype, tx.dtype, t.dtype) == (np.float64, np.float64, np.float64)
    # a column of a 2-D shape is read flat
    assert lm.rfm_arrays([[1], [2]], [[1], [2]], [[3], [3]])[0].tolist() == [1.0, 2.0]


# --------------------------------------------------------------------------- BG/NBD


def test_bgnbd_likelihood_probability_alive_and_log_odds_by_hand() -> None:
    # customer 1: x = 2, t_x = 3, T = 5; customer 2: x = 0, T = 4; customer 3: x = 1, t_x = 1, T = 6
    rows = [(2, 3.0, 5.0), (0, 0.0, 4.0), (1, 1.0, 6.0)]
    x, tx, t = (np.array([r[i] for r in rows], dtype=float) for i in range(3))
    hand = sum(math.log(_bgnbd_likelihood(*row)) for row in rows)
    assert lm.bgnbd_log_likelihood(R, ALPHA, A, B, x, tx, t) == pytest.approx(hand, rel=1e-12)
    assert BG.log_likelihood_at({"r": R, "alpha": ALPHA, "a": A, "b": B}, x, tx, t) == pytest.approx(hand, rel=1e-12)
    # P(alive) = 1/(1 + a/(b+x−1) ((α+T)/(α+t_x))^(r+x)):
    # customer 1: 1.5/3.5 (8/6)^4 = 3/7 · 256/81 = 256/189 → 189/445
    # customer 3: a/(b+x−1) = 1.5/2.5 = 3/5; (9/4)^3 = 729/64 → 3·729/320 = 2187/320 → 320/2507
    # customer 2 (no repeat purchase): 1
    assert BG.probability_alive(x, tx, t).tolist() == pytest.approx([189 / 445, 1.0, 320 / 2507], rel=1e-12)
    # r = 2 has ln Γ(r) = 0: other parameters, where every term counts
    for params in [(0.5, 7.0, 0.8, 3.0), (4.0, 1.5, 3.0, 0.6)]:
        hand = sum(math.log(_bgnbd_likelihood(*row, *params)) for row in rows)
        assert lm.bgnbd_log_likelihood(*params, x, tx, t) == pytest.approx(hand, rel=1e-12)


def test_bgnbd_conditional_expectation_is_equation_10_as_printed() -> None:
    # E[Y(t) | x, t_x, T] = (a+b+x−1)/(a−1) [1 − ((α+T)/(α+T+t))^(r+x) 2F1(r+x, b+x; a+b+x−1; t/(α+T+t))]
    #                       / (1 + δ a/(b+x−1) ((α+T)/(α+t_x))^(r+x))
    def eq10(x: int, tx: float, t: float, h: float) -> float:
        z = h / (ALPHA + t + h)
        bracket = 1 - ((ALPHA + t) / (ALPHA + t + h)) ** (R + x) * hyp2f1(R + x, B + x, A + B + x - 1, z)
        odds = A / (B + x - 1) * ((ALPHA + t) / (ALPHA + tx)) ** (R + x) if x > 0 else 0.0
        return (A + B + x - 1) / (A - 1) * bracket / (1 + odds)

    got = BG.expected_purchases(4, [2, 0, 1], [3, 0, 1], [5, 4, 6])
    assert got.tolist() == pytest.approx([eq10(2, 3, 5, 4), eq10(0, 0, 4, 4), eq10(1, 1, 6, 4)], rel=1e-10)
    # the same customer over 10 time units
    assert float(BG.expected_purchases(10.0, [2], [3], [5])[0]) == pytest.approx(eq10(2, 3, 5, 10), rel=1e-10)


def test_bgnbd_new_customer_expectation_is_equation_7_as_printed() -> None:
    # E[X(t)] = (a+b−1)/(a−1) [1 − (α/(α+t))^r 2F1(r, b; a+b−1; t/(α+t))]
    def eq7(h: float) -> float:
        return (A + B - 1) / (A - 1) * (1 - (ALPHA / (ALPHA + h)) ** R * hyp2f1(R, B, A + B - 1, h / (ALPHA + h)))

    got = BG.expected_purchases_new_customer([1.0, 4.0, 30.0])
    assert got.tolist() == pytest.approx([eq7(1.0), eq7(4.0), eq7(30.0)], rel=1e-10)
    assert float(BG.expected_purchases_new_customer(0.0)) == 0.0


def test_the_fits_name_their_parameters() -> None:
    assert (BG.model, BG.params) == ("bgnbd", {"r": 2.0, "alpha": 3.0, "a": 1.5, "b": 2.5})
    pn = lm.ParetoNBDFit(1.0, 2.0, 3.0, 4.0, 0.0, 0, True, 0)
    assert (pn.model, pn.params) == ("paretonbd", {"r": 1.0, "alpha": 2.0, "s": 3.0, "beta": 4.0})
    gg = lm.GammaGammaFit(1.0, 2.0, 3.0, 0.0, 0, True, 0)
    assert (gg.model, gg.params) == ("gammagamma", {"p": 1.0, "q": 2.0, "gamma": 3.0})
    sbg = lm.SBGFit(1.0, 2.0, 0.0, 0, True, 0)
    assert (sbg.model, sbg.params, sbg.periods) == ("sbg", {"alpha": 1.0, "beta": 2.0}, 0)


def test_bgnbd_objective_is_the_mean_negative_log_likelihood() -> None:
    rows = [(2, 3.0, 5.0), (0, 0.0, 4.0), (1, 1.0, 6.0), (2, 4.0, 5.0), (0, 0.0, 5.0), (4, 2.5, 6.0)]
    x, tx, t = (np.array([r[i] for r in rows], dtype=float) for i in range(3))
    objective = lm._bgnbd_objective(x, tx, t)
    for r, al, a, b in [(R, ALPHA, A, B), (0.5, 7.0, 0.8, 3.0), (4.0, 1.5, 3.0, 0.6)]:
        value, grad = objective(np.log([r, al, a, b]))
        hand = -sum(math.log(_bgnbd_likelihood(*row, r=r, al=al, a=a, b=b)) for row in rows) / 6
        assert value == pytest.approx(hand, rel=1e-12)
        # the gradient over the log-parameters: central differences of the hand likelihood
        numeric = []
        for i in range(4):
            up, down = [r, al, a, b], [r, al, a, b]
            up[i] *= math.exp(1e-6)
            down[i] *= math.exp(-1e-6)
            f_up = -sum(math.log(_bgnbd_likelihood(*row, r=up[0], al=up[1], a=up[2], b=up[3])) for row in rows) / 6
            f_dn = -sum(math.log(_bgnbd_likelihood(*row, r=down[0], al=down[1], a=down[2], b=down[3])) for row in rows) / 6
            numeric.append((f_up - f_dn) / 2e-6)
        assert grad.tolist() == pytest.approx(numeric, rel=1e-6, abs=1e-9)


def _cdnow(rows: int) -> list[tuple[int, float, float]]:
    with (CDNOW / "cdnow_customers_summary.csv").open() as fh:
        return [(int(r["frequency"]), float(r["recency"]), float(r["T"])) for r in list(csv.DictReader(fh))[:rows]]


def test_bgnbd_objective_without_repeaters_and_no_warnings_at_b_below_1() -> None:
    # nobody repeated: L = (α/(α+T))^r each; r = 0.5, α = 3: mean of 0.5 ln(3/7) and 0.5 ln(3/8)
    objective = lm._bgnbd_objective(np.array([0.0, 0.0]), np.array([0.0, 0.0]), np.array([4.0, 5.0]))
    value, grad = objective(np.log([0.5, 3.0, 1.5, 2.5]))
    assert value == pytest.approx(-(0.5 * math.log(3 / 7) + 0.5 * math.log(3 / 8)) / 2, rel=1e-12)
    # ∂/∂ln r = r ln(α/(α+T)), ∂/∂ln α = r (1 − α/(α+T)); nothing on a, b
    d_r = -(0.5 * math.log(3 / 7) + 0.5 * math.log(3 / 8)) / 2
    d_alpha = -(0.5 * (1 - 3 / 7) + 0.5 * (1 - 3 / 8)) / 2
    assert grad.tolist() == pytest.approx([d_r, d_alpha, 0.0, 0.0], abs=1e-12)
    # b ≤ 1 makes ln(b + x − 1) of a non-repeater ln 0 or ln of a negative, masked: no warning reaches the caller
    for b in (1.0, 0.6):
        fit = lm.BGNBDFit(R, ALPHA, A, b, 0.0, 0, True, 0)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert fit.probability_alive([0, 0], [0.0, 0.0], [4.0, 9.0]).tolist() == [1.0, 1.0]
    # one repeat purchase is a repeater
    assert lm._require_repeaters(np.array([0.0, 1.0])) is None


def test_a_large_file_starts_from_a_subsample_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    # the warm start above 200,000 customers, here above 100: every 200 // 25 = 8th customer is fitted first
    monkeypatch.setattr(lm, "_WARM_START_FROM", 100)
    rows = _cdnow(200)
    x, tx, t = (np.array([r[i] for r in rows], dtype=float) for i in range(3))
    fit = lm.fit_bgnbd(x, tx, t)
    assert (fit.n, fit.converged) == (200, True)

    def ll(p: list[float]) -> float:
        return sum(math.log(_bgnbd_likelihood(*row, r=p[0], al=p[1], a=p[2], b=p[3])) for row in rows)

    best = [fit.r, fit.alpha, fit.a, fit.b]
    assert fit.log_likelihood == pytest.approx(ll(best), rel=1e-10)
    for i in range(4):
        for step in (1.01, 0.99):
            p = list(best)
            p[i] *= step
            assert ll(p) < fit.log_likelihood


def test_a_small_bgnbd_fit_is_the_maximum_of_the_printed_likelihood() -> None:
    rows = _cdnow(200)  # the first 200 CDNOW customers: ~0.1 s
    x, tx, t = (np.array([r[i] for r in rows], dtype=float) for i in range(3))
    fit = lm.fit_bgnbd(x, tx, t)
    assert (fit.n, fit.converged) == (200, True)

    def ll(p: list[float]) -> float:
        return sum(math.log(_bgnbd_likelihood(*row, r=p[0], al=p[1], a=p[2], b=p[3])) for row in rows)

    best = [fit.r, fit.alpha, fit.a, fit.b]
    assert fit.log_likelihood == pytest.approx(ll(best), rel=1e-10)
    assert fit.iterations > 0
    for i in range(4):
        for step in (1.01, 0.99):
            p = list(best)
            p[i] *= step
            assert ll(p) < fit.log_likelihood
    with pytest.raises(InvalidInput) as err:
        lm.fit_bgnbd([0, 0], [0, 0], [3, 4])
    assert (err.value.field, err.value.message) == (
        "frequency", "no customer made a repeat purchase: the model cannot be fitted",
    )  # fmt: skip


# --------------------------------------------------------------------------- Pareto/NBD


def _pnbd_parts_by_quadrature(r: float, al: float, s: float, be: float, x: int, tx: float, t: float) -> tuple[float, float]:
    """(alive at T, died in (t_x, T]) of SMC 1987, with λ and μ integrated out:
    E_λ[λ^x e^{−λu}] = Γ(r+x)α^r/(Γ(r)(α+u)^(r+x)), E_μ[e^{−μT}] = (β/(β+T))^s, and the
    density of the dropout time s β^s/(β+u)^(s+1)."""

    def g(u: float) -> float:
        return math.gamma(r + x) / math.gamma(r) * al**r / (al + u) ** (r + x)

    alive = g(t) * (be / (be + t)) ** s
    died = integrate.quad(lambda u: g(u) * s * be**s / (be + u) ** (s + 1), tx, t, epsabs=0, epsrel=1e-13)[0]
    return alive, died


@pytest.mark.parametrize("params", [(2.0, 4.0, 2.0, 6.0), (1.5, 8.0, 0.7, 3.0), (0.8, 5.0, 1.0, 5.0)],
                         ids=["alpha<beta", "alpha>beta", "alpha=beta,s=1"])  # fmt: skip
def test_paretonbd_probability_alive_and_expectation_by_quadrature(params: tuple[float, float, float, float]) -> None:
    r, al, s, be = params
    fit = lm.ParetoNBDFit(r, al, s, be, 0.0, 0, True, 0)
    rows = [(2, 3.0, 5.0), (0, 0.0, 4.0), (3, 6.0, 6.0), (1, 0.5, 9.0)]
    alive_share = []
    for row in rows:
        alive, died = _pnbd_parts_by_quadrature(*params, *row)
        alive_share.append(alive / (alive + died))
    x, tx, t = (np.array([row[i] for row in rows], dtype=float) for i in range(3))
    assert fit.probability_alive(x, tx, t).tolist() == pytest.approx(alive_share, rel=1e-9)
    assert alive_share[2] == pytest.approx(1.0)  # a purchase at T: alive for sure
    # E[Y(h) | alive] = (r+x)(β+T)/((α+T)(s−1)) [1 − ((β+T)/(β+T+h))^(s−1)], ln((β+T+h)/(β+T)) for s = 1
    h = 7.0
    expected = []
    for (xi, _txi, ti), p in zip(rows, alive_share, strict=True):
        rate = (r + xi) * (be + ti) / (al + ti)
        shape = math.log((be + ti + h) / (be + ti)) if s == 1 else (1 - ((be + ti) / (be + ti + h)) ** (s - 1)) / (s - 1)
        expected.append(rate * shape * p)
    assert fit.expected_purchases(h, x, tx, t).tolist() == pytest.approx(expected, rel=1e-9)


def test_paretonbd_a_purchase_at_t_warns_of_nothing() -> None:
    # t_x = T: no time to die in, ln 0 on the way (masked) — the caller (the command line) sees no warning
    fit = lm.ParetoNBDFit(2.0, 4.0, 2.0, 6.0, 0.0, 0, True, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = fit.probability_alive([3, 0], [6.0, 0.0], [6.0, 6.0]).tolist()
    alive, died = _pnbd_parts_by_quadrature(2.0, 4.0, 2.0, 6.0, 0, 0.0, 6.0)
    assert got == pytest.approx([1.0, alive / (alive + died)], rel=1e-9)


def test_paretonbd_new_customer_expectation_by_hand() -> None:
    # E[X(t)] = rβ/(α(s−1)) [1 − (β/(β+t))^(s−1)]: r = 2, α = 4, s = 2, β = 6, t = 3 → 3 (1 − 6/9) = 1
    fit = lm.ParetoNBDFit(2.0, 4.0, 2.0, 6.0, 0.0, 0, True, 0)
    assert fit.expected_purchases_new_customer([3.0, 0.0]).tolist() == pytest.approx([1.0, 0.0], abs=1e-12)
    # s = 3, t = 6: 2·6/(4·2) (1 − (6/12)²) = 1.5 · 3/4 = 9/8
    assert float(lm.ParetoNBDFit(2.0, 4.0, 3.0, 6.0, 0.0, 0, True, 0).expected_purchases_new_customer(6.0)) == pytest.approx(9 / 8)
    # s = 1: rβ/α ln((β+t)/β) = 2·6/4 ln(12/6) = 3 ln 2
    one = lm.ParetoNBDFit(2.0, 4.0, 1.0, 6.0, 0.0, 0, True, 0)
    assert float(one.expected_purchases_new_customer(6.0)) == pytest.approx(3 * math.log(2), rel=1e-12)


# --------------------------------------------------------------------------- Gamma-Gamma


def test_gammagamma_density_expected_value_and_population_mean_by_hand() -> None:
    # f(m | p, q, γ, x) = Γ(px+q)/(Γ(px)Γ(q)) γ^q m^(px−1) x^(px) / (γ+mx)^(px+q)
    # p = 1, q = 2, γ = 3, x = 1, m = 1: Γ(3)/(Γ(1)Γ(2)) · 9 · 1 · 1 / 4³ = 18/64
    # p = 1, q = 2, γ = 3, x = 2, m = 1.5: Γ(4)/(Γ(2)Γ(2)) · 9 · 1.5 · 4 / 6⁴ = 6·54/1296 = 1/4
    # a customer without repeat purchases is left out
    assert lm.gammagamma_log_likelihood(1.0, 2.0, 3.0, [1, 0, 2], [1.0, 0.0, 1.5]) == pytest.approx(
        math.log(18 / 64) + math.log(1 / 4), rel=1e-12
    )
    # p = 2, q = 3, γ = 2, x = 2, m = 1.5: Γ(7)/(Γ(4)Γ(3)) · 8 · 1.5³ · 2⁴ / 5⁷ = 60·8·3.375·16/78125
    assert lm.gammagamma_log_likelihood(2.0, 3.0, 2.0, [2], [1.5]) == pytest.approx(math.log(25920 / 78125), rel=1e-12)
    gg = lm.GammaGammaFit(2.0, 3.0, 2.0, 0.0, 0, True, 0)
    # E[M] = p(γ + x m)/(px + q − 1): 2(2 + 3)/(4 + 2) = 5/3; x = 0: pγ/(q−1) = 2, whatever m says
    assert gg.expected_average_value([2, 0, 0], [1.5, 0.0, 9.0]).tolist() == pytest.approx([5 / 3, 2.0, 2.0])
    assert gg.population_mean_spend == 2.0
    assert lm.GammaGammaFit(2.0, 1.0, 2.0, 0.0, 0, True, 0).population_mean_spend == math.inf
    assert lm.GammaGammaFit(2.0, 0.5, 2.0, 0.0, 0, True, 0).population_mean_spend == math.inf


def test_gammagamma_objective_is_the_mean_negative_log_likelihood() -> None:
    x = np.array([1.0, 2.0, 2.0, 5.0])
    m = np.array([1.0, 1.5, 4.0, 2.5])

    def density(p: float, q: float, g: float, xi: float, mi: float) -> float:
        return (math.gamma(p * xi + q) / (math.gamma(p * xi) * math.gamma(q)) * g**q * mi ** (p * xi - 1)
                * xi ** (p * xi) / (g + mi * xi) ** (p * xi + q))  # fmt: skip

    objective = lm._gammagamma_objective(x, m)
    for p, q, g in [(1.0, 2.0, 3.0), (2.0, 3.0, 2.0), (0.7, 4.5, 9.0)]:
        value, grad = objective(np.log([p, q, g]))
        hand = [math.log(density(p, q, g, xi, mi)) for xi, mi in zip(x, m, strict=True)]
        assert value == pytest.approx(-sum(hand) / 4, rel=1e-12)
        numeric = []
        for i in range(3):
            up, down = [p, q, g], [p, q, g]
            up[i] *= math.exp(1e-6)
            down[i] *= math.exp(-1e-6)
            f_up = -sum(math.log(density(*up, xi, mi)) for xi, mi in zip(x, m, strict=True)) / 4
            f_dn = -sum(math.log(density(*down, xi, mi)) for xi, mi in zip(x, m, strict=True)) / 4
            numeric.append((f_up - f_dn) / 2e-6)
        assert grad.tolist() == pytest.approx(numeric, rel=1e-6, abs=1e-9)


def test_the_spend_checks() -> None:
    with pytest.raises(InvalidInput) as err:
        lm.spend_arrays([1, 2], [1.0])
    assert err.value.message == "frequency and monetary_value must have the same length"
    for bad, field, message in [
        (([1, -2], [1.0, 1.0]), "frequency", "frequency must be a whole number ≥ 0 (row 2)"),
        (([1, 0.5], [1.0, 1.0]), "frequency", "frequency must be a whole number ≥ 0 (row 2)"),
        (([1, 0], [1.0, -0.01]), "monetary_value", "monetary_value must be ≥ 0 (row 2)"),
        (([0, 1], [0.0, 0.0]), "monetary_value", "monetary_value must be > 0 when frequency is > 0 (row 2)"),
        (([0, float("nan")], [0.0, 1.0]), "frequency", "frequency must be a number (row 2)"),
        (([0, 1], [0.0, float("inf")]), "monetary_value", "monetary_value must be a number (row 2)"),
    ]:
        with pytest.raises(InvalidInput) as err:
            lm.spend_arrays(*bad)
        assert (err.value.field, err.value.message) == (field, message)
    x, m = lm.spend_arrays([0, 1], [0.0, 2.0])
    assert (x.tolist(), m.tolist()) == ([0.0, 1.0], [0.0, 2.0])
    with pytest.raises(InvalidInput) as err:
        lm.fit_gammagamma([1, 0, 0], [10.0, 0.0, 0.0])
    assert (err.value.field, err.value.message) == (
        "frequency", "the spend model needs at least 2 customers with frequency > 0",
    )  # fmt: skip


def test_a_small_gammagamma_fit_is_the_maximum_of_the_density() -> None:
    with (CDNOW / "cdnow_spend.csv").open() as fh:
        rows = list(csv.DictReader(fh))[:100]  # 36 of them with repeat purchases
    x = np.array([float(r["frequency"]) for r in rows])
    m = np.array([float(r["monetary_value"]) for r in rows])
    fit = lm.fit_gammagamma(x, m)
    assert (fit.n, fit.converged) == (36, True)
    keep = x > 0

    def ll(p: float, q: float, g: float) -> float:
        return sum(
            math.lgamma(p * xi + q) - math.lgamma(p * xi) - math.lgamma(q) + q * math.log(g)
            + (p * xi - 1) * math.log(mi) + p * xi * math.log(xi) - (p * xi + q) * math.log(g + mi * xi)
            for xi, mi in zip(x[keep], m[keep], strict=True)
        )  # fmt: skip

    assert fit.log_likelihood == pytest.approx(ll(fit.p, fit.q, fit.gamma), rel=1e-10)
    assert fit.iterations > 0
    # two repeat customers are enough to try
    assert lm.fit_gammagamma([1, 2, 0], [3.0, 5.0, 0.0]).n == 2
    for i in range(3):
        for step in (1.01, 0.99):
            p = [fit.p, fit.q, fit.gamma]
            p[i] *= step
            assert ll(*p) < fit.log_likelihood


# --------------------------------------------------------------------------- residual CLV


def test_residual_clv_month_by_month_discounted_by_hand() -> None:
    gg = lm.GammaGammaFit(2.0, 3.0, 2.0, 0.0, 0, True, 0)

    def eq10(x: int, tx: float, t: float, h: float) -> float:
        z = h / (ALPHA + t + h)
        bracket = 1 - ((ALPHA + t) / (ALPHA + t + h)) ** (R + x) * hyp2f1(R + x, B + x, A + B + x - 1, z)
        odds = A / (B + x - 1) * ((ALPHA + t) / (ALPHA + tx)) ** (R + x) if x > 0 else 0.0
        return (A + B + x - 1) / (A - 1) * bracket / (1 + odds)

    # 2 months of 4 time units, 10 % a month, margin 0.5: value 5/3 (x = 2, m = 1.5) and 2 (x = 0)
    # total = [E(4)/1.1 + (E(8) − E(4))/1.21] · value · margin
    got = lm.expected_residual_clv(BG, gg, [2, 0], [3, 0], [5, 4], [1.5, 0.0], months=2,
                                   monthly_discount_rate=0.1, periods_per_month=4.0, margin=0.5)  # fmt: skip
    hand = [
        (eq10(2, 3, 5, 4) / 1.1 + (eq10(2, 3, 5, 8) - eq10(2, 3, 5, 4)) / 1.21) * 5 / 3 * 0.5,
        (eq10(0, 0, 4, 4) / 1.1 + (eq10(0, 0, 4, 8) - eq10(0, 0, 4, 4)) / 1.21) * 2.0 * 0.5,
    ]
    assert got.tolist() == pytest.approx(hand, rel=1e-10)
    # the defaults: weeks, margin 1; one month undiscounted is E(4.348…) · value
    one = lm.expected_residual_clv(BG, gg, [2], [3], [5], [1.5], months=1, monthly_discount_rate=0.0)
    assert float(one[0]) == pytest.approx(eq10(2, 3, 5, 365.25 / 12 / 7) * 5 / 3, rel=1e-10)
    # a month of half a time unit (the data in 2-month steps)
    half = lm.expected_residual_clv(BG, gg, [2], [3], [5], [1.5], months=1, monthly_discount_rate=0.0, periods_per_month=0.5)
    assert float(half[0]) == pytest.approx(eq10(2, 3, 5, 0.5) * 5 / 3, rel=1e-10)
    # a discount rate just above −1 is allowed
    assert lm.expected_residual_clv(BG, gg, [2], [3], [5], [1.5], months=1, monthly_discount_rate=-0.5)[0] == pytest.approx(
        eq10(2, 3, 5, 365.25 / 12 / 7) * 5 / 3 * 2, rel=1e-10
    )


def test_residual_clv_refuses_a_bad_horizon_rate_or_unit() -> None:
    gg = lm.GammaGammaFit(2.0, 3.0, 2.0, 0.0, 0, True, 0)
    cases = [
        ({"months": 0, "monthly_discount_rate": 0.1}, "horizon", "the horizon must be at least 1 month"),
        ({"months": 1, "monthly_discount_rate": -1.0}, "discount_rate", "the discount rate must be greater than -1"),
        ({"months": 1, "monthly_discount_rate": float("nan")}, "discount_rate", "the discount rate must be greater than -1"),
        ({"months": 1, "monthly_discount_rate": 0.1, "periods_per_month": 0.0}, "periods_per_month",
         "periods per month must be > 0"),
    ]  # fmt: skip
    for kwargs, field, message in cases:
        with pytest.raises(InvalidInput) as err:
            lm.expected_residual_clv(BG, gg, [2], [3], [5], [1.5], **kwargs)
        assert (err.value.field, err.value.message) == (field, message)


# --------------------------------------------------------------------------- sBG


def test_sbg_likelihood_survival_retention_and_lifetime_by_hand() -> None:
    # α = β = 1: P(T = t) = B(2, t)/B(1, 1) = 1/(t(t+1)), S(t) = B(1, 1+t)/B(1, 1) = 1/(1+t)
    # cohort 10, 6, 4: 4 lost in period 1 (1/2), 2 in period 2 (1/6), 4 still active (S(2) = 1/3)
    assert lm.sbg_log_likelihood(1.0, 1.0, [0, 1, 2], [10, 6, 4]) == pytest.approx(
        4 * math.log(1 / 2) + 2 * math.log(1 / 6) + 4 * math.log(1 / 3), rel=1e-12
    )
    # α = 2, β = 3: P(T=1) = B(3,3)/B(2,3) = (1/30)/(1/12) = 2/5; P(T=2) = B(3,4)/B(2,3) = (1/60)/(1/12) = 1/5;
    # S(2) = B(2,5)/B(2,3) = (1/30)/(1/12) = 2/5. Cohort 5, 3, 2: 2 ln 2/5 + ln 1/5 + 2 ln 2/5
    assert lm.sbg_log_likelihood(2.0, 3.0, [0, 1, 2], [5, 3, 2]) == pytest.approx(
        4 * math.log(2 / 5) + math.log(1 / 5), rel=1e-12
    )
    fit = lm.SBGFit(1.0, 1.0, 0.0, 0, True, 0)
    assert fit.survival([0, 1, 2, 9]).tolist() == pytest.approx([1.0, 1 / 2, 1 / 3, 1 / 10], rel=1e-12)
    # r_t = (β+t−1)/(α+β+t−1) = t/(t+1)
    assert fit.retention_rate([1, 2, 3]).tolist() == pytest.approx([1 / 2, 2 / 3, 3 / 4], rel=1e-12)
    assert lm.SBGFit(2.0, 3.0, 0.0, 0, True, 0).retention_rate(1).tolist() == pytest.approx(3 / 5)
    # (β+n)/(α−1): α = 2, β = 3, n = 4 → 7; α = 1 exactly: infinite
    assert lm.SBGFit(2.0, 3.0, 0.0, 0, True, 0).expected_remaining_lifetime([0, 4]).tolist() == [3.0, 7.0]
    # α = 3, β = 3: (3 + 4)/2
    assert lm.SBGFit(3.0, 3.0, 0.0, 0, True, 0).expected_remaining_lifetime([0, 4]).tolist() == [1.5, 3.5]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # infinite by the rule, not by a division by 0
        assert fit.expected_remaining_lifetime([0, 4]).tolist() == [math.inf, math.inf]


def test_sbg_derl_by_the_closed_form_of_its_series() -> None:
    # α = β = 1, no renewal yet (n = 1): (β+n−1)/(α+β+n−1) 2F1(1, 2; 3; v) = 1/2 · −2(v + ln(1−v))/v²,
    # v = 1/(1+d) = 1/1.1
    v = 1 / 1.1
    hand = -(v + math.log(1 - v)) / v**2
    fit = lm.SBGFit(1.0, 1.0, 0.0, 0, True, 0)
    assert float(fit.derl(0, 0.1)) == pytest.approx(hand, rel=1e-12)
    # one renewal made (n = 2): 2/3 · 2F1(1, 3; 4; v) = 2/3 · 3 Σ v^k/(3+k) = 2/v³ (−ln(1−v) − v − v²/2)
    assert float(fit.derl(1, 0.1)) == pytest.approx(2 / v**3 * (-math.log(1 - v) - v - v**2 / 2), rel=1e-12)
    for rate in (0.0, -0.1):
        with pytest.raises(InvalidInput) as err:
            fit.derl(0, rate)
        assert (err.value.field, err.value.message) == ("discount_rate", "the discount rate must be > 0 for DERL")


def test_hyp2f1_one_sums_the_series_where_scipy_cannot() -> None:
    # ₂F₁(1, b; c; z) = Σ_k (b)_k/(c)_k z^k, summed here term by term
    def series(b: float, c: float, z: float) -> float:
        total, term, k = 0.0, 1.0, 0
        while term > 1e-18 * total or k == 0:
            total += term
            term *= z * (b + k) / (c + k)
            k += 1
        return total

    for b, c, z in [(2.0, 3.0, 0.5), (99.0, 100.5, 0.9), (100.0, 102.0, 0.9), (400.0, 401.0, 0.99), (3000.0, 3000.5, 0.999)]:
        assert float(lm.hyp2f1_one(b, c, z)) == pytest.approx(series(b, c, z), rel=1e-10), (b, c, z)
        assert lm._hyp2f1_one_series(b, c, z) == pytest.approx(series(b, c, z), rel=1e-12), (b, c, z)
    # arrays: each (b, c) once, put back in place
    got = lm.hyp2f1_one(np.array([400.0, 2.0, 400.0, 500.0]), np.array([401.0, 3.0, 401.0, 502.0]), 0.95)
    assert got.tolist() == pytest.approx([series(400, 401, 0.95), series(2, 3, 0.95), series(400, 401, 0.95),
                                          series(500, 502, 0.95)], rel=1e-10)  # fmt: skip


def test_each_cohort_check_names_its_column() -> None:
    for period, active, field, message in [
        ([0, 1], [10], None, "period and active must have the same length"),
        ([0], [10], "period", "at least two periods are needed (period 0 and period 1)"),
        ([0, 1, 3], [10, 8, 6], "period", "period must run 0, 1, 2, … without gaps (row 3)"),
        ([1, 2], [10, 8], "period", "period must run 0, 1, 2, … without gaps (row 1)"),
        ([0, 1, 2], [10, 8, -1], "active", "active must be a whole number ≥ 0 (row 3)"),
        ([0, 1, 2], [10, 8.5, 6], "active", "active must be a whole number ≥ 0 (row 2)"),
        ([0, 1], [0, 0], "active", "active at period 0 (the cohort size) must be > 0"),
        ([0, 1, 2, 3], [10, 8, 8, 9], "active", "active must not increase from one period to the next (row 4)"),
    ]:
        with pytest.raises(InvalidInput) as err:
            lm.cohort_arrays(period, active)
        assert (err.value.field, err.value.message) == (field, message)
    # two periods, an unchanged count and nobody left are all fine
    p, k = lm.cohort_arrays([0, 1, 2, 3], [10, 10, 0, 0])
    assert (p.tolist(), p.dtype, k.tolist()) == ([0, 1, 2, 3], np.int64, [10.0, 10.0, 0.0, 0.0])
    with pytest.raises(InvalidInput) as err:
        lm.fit_sbg([0, 1, 2], [10, 10, 10])
    assert (err.value.field, err.value.message) == ("active", "no customer churned: the model cannot be fitted")


def test_a_small_sbg_fit_is_the_maximum_of_the_hand_likelihood() -> None:
    active = [20, 12, 9, 7, 6]

    def ll(a: float, b: float) -> float:
        # lost in period t: B(α+1, β+t−1)/B(α, β); still active after the last: B(α, β+4)/B(α, β)
        lost = [active[t - 1] - active[t] for t in range(1, 5)]
        return sum(n * math.log(_beta(a + 1, b + t - 1) / _beta(a, b)) for t, n in zip(range(1, 5), lost, strict=True)) + (
            active[-1] * math.log(_beta(a, b + 4) / _beta(a, b))
        )

    fit = lm.fit_sbg(range(5), active)
    assert (fit.n, fit.periods, fit.converged) == (20, 4, True)
    assert fit.log_likelihood == pytest.approx(ll(fit.alpha, fit.beta), rel=1e-12)
    for da, db in ((1.01, 1), (0.99, 1), (1, 1.01), (1, 0.99)):
        assert ll(fit.alpha * da, fit.beta * db) < fit.log_likelihood
    # the objective and its gradient per cohort member, against the hand likelihood
    lost = np.array([8.0, 3.0, 2.0, 1.0])
    objective = lm._sbg_objective(lost, 6.0, 20.0, np.arange(1.0, 5.0))
    for a, b in ((0.5, 1.5), (2.0, 3.0)):
        value, grad = objective(np.log([a, b]))
        assert value == pytest.approx(-ll(a, b) / 20, rel=1e-12)
        h = 1e-6
        numeric = [(-ll(a * math.exp(h), b) + ll(a * math.exp(-h), b)) / (2 * h) / 20,
                   (-ll(a, b * math.exp(h)) + ll(a, b * math.exp(-h))) / (2 * h) / 20]  # fmt: skip
        assert grad.tolist() == pytest.approx(numeric, rel=1e-6)


# --------------------------------------------------------------------------- sBG over many cohorts


def test_tenure_checks_and_the_tenure_fit_by_hand() -> None:
    with pytest.raises(InvalidInput) as err:
        lm.tenure_arrays([1, 2], [True])
    assert err.value.message == "renewals and churned must have the same length"
    for renewals, field, message in [
        ([1, -1], "renewals", "renewals must be a whole number ≥ 0 (row 2)"),
        ([1, 0.5], "renewals", "renewals must be a whole number ≥ 0 (row 2)"),
    ]:
        with pytest.raises(InvalidInput) as err:
            lm.tenure_arrays(renewals, [True, False])
        assert (err.value.field, err.value.message) == (field, message)
    n, c = lm.tenure_arrays([0, 2], [1, 0])
    assert (n.tolist(), c.tolist(), c.dtype) == ([0.0, 2.0], [True, False], np.bool_)
    for args, field, message in [
        (([1, 2], [True, False], [0]), None, "renewals and entered must have the same length"),
        (([1, 2], [True, False], [0, 3]), "entered", "entered must be a whole number from 0 to the renewals made (row 2)"),
        (([1, 2], [True, False], [-1, 0]), "entered", "entered must be a whole number from 0 to the renewals made (row 1)"),
        (([1, 2], [True, False], [0, 0.5]), "entered", "entered must be a whole number from 0 to the renewals made (row 2)"),
        (([1, 2], [True, False], [0, float("nan")]), "entered", "entered must be a number (row 2)"),
        (([1, float("nan")], [True, False], None), "renewals", "renewals must be a number (row 2)"),
        (([1, 2], [False, False], None), "churned", "no customer churned: the model cannot be fitted"),
        (([0, 0], [True, False], None), "renewals", "no customer renewed: the model cannot be fitted"),
    ]:
        with pytest.raises(InvalidInput) as err:
            lm.fit_sbg_tenures(*args)
        assert (err.value.field, err.value.message) == (field, message)
    # the regular cohort of Fader & Hardie (2007) over 5 years, a 20th of it: 50, 31, 23, 19, 16, 14 active;
    # those lost in year t ended after t − 1 renewals; 14 still running after 5, of which 4 seen from their 2nd
    active = [50, 31, 23, 19, 16, 14]
    renewals = [t - 1 for t in range(1, 6) for _ in range(active[t - 1] - active[t])] + [5] * 14
    churned = [True] * 36 + [False] * 14
    entered = [0] * 46 + [2] * 4

    def ll(a: float, b: float) -> float:
        # ended after n renewals: P(T = n+1) = B(α+1, β+n)/B(α, β); running after n: S(n) = B(α, β+n)/B(α, β);
        # seen from e renewals: divided by S(e)
        total = 0.0
        for n_, c_, e_ in zip(renewals, churned, entered, strict=True):
            term = _beta(a + 1, b + n_) if c_ else _beta(a, b + n_)
            total += math.log(term / _beta(a, b + e_))
        return total

    # the objective per contract and its gradient over (ln α, ln β), against the hand likelihood
    lost_t, lost = np.unique([n + 1 for n, c in zip(renewals, churned, strict=True) if c], return_counts=True)
    alive_n, alive = np.unique([n for n, c in zip(renewals, churned, strict=True) if not c], return_counts=True)
    seen_from, seen = np.unique(entered, return_counts=True)
    objective = lm._sbg_tenure_objective(*(v.astype(float) for v in (lost, lost_t, alive, alive_n, seen, seen_from)))
    for a, b in ((0.5, 1.5), (2.0, 3.0)):
        value, grad = objective(np.log([a, b]))
        assert value == pytest.approx(-ll(a, b) / 50, rel=1e-12)
        h = 1e-6
        numeric = [(ll(a * math.exp(-h), b) - ll(a * math.exp(h), b)) / (2 * h) / 50,
                   (ll(a, b * math.exp(-h)) - ll(a, b * math.exp(h))) / (2 * h) / 50]  # fmt: skip
        assert grad.tolist() == pytest.approx(numeric, rel=1e-6)
    fit = lm.fit_sbg_tenures(renewals, churned, entered)
    assert (fit.n, fit.periods, fit.converged) == (50, 6, True)
    assert fit.iterations > 0
    assert fit.log_likelihood == pytest.approx(ll(fit.alpha, fit.beta), rel=1e-10)
    for da, db in ((1.01, 1), (0.99, 1), (1, 1.01), (1, 0.99)):
        assert ll(fit.alpha * da, fit.beta * db) < fit.log_likelihood


def test_observed_survival_by_hand() -> None:
    # 5 contracts: ended after 0; ended after 2; running after 2; running after 1; ended after 1.
    # renewal 1: all 5 at risk (none is running short of it), 4 made it (the first ended) → 4/5
    # renewal 2: made it: 2 (ended after 2, running after 2); at risk: those + the one ended after 1
    #   (the one running after 1 is short of it: left out) → 2/3
    s = lm.observed_survival([0, 2, 2, 1, 1], [True, True, False, False, True])
    assert s.tolist() == pytest.approx([1.0, 4 / 5, 4 / 5 * 2 / 3], rel=1e-12)
    assert lm.observed_survival([0], [True]).tolist() == [1.0]
    # the contract seen from its 2nd renewal is out of the risk sets at renewals 1 and 2
    s = lm.observed_survival([0, 2, 2, 1, 1], [True, True, False, False, True], [0, 0, 2, 0, 0])
    assert s.tolist() == pytest.approx([1.0, 3 / 4, 3 / 4 * 1 / 2], rel=1e-12)
    # entries as floats (a frame's column) read the same
    assert lm.observed_survival([0, 2, 2, 1, 1], [True, True, False, False, True], [0.0, 0.0, 2.0, 0.0, 0.0]).tolist() == (
        pytest.approx([1.0, 3 / 4, 3 / 8], rel=1e-12)
    )
    # the only end long before the last renewal: renewal 1: 2 of 3; renewals 2 and 3: 2 of 2
    assert lm.observed_survival([0, 3, 3], [True, False, False]).tolist() == pytest.approx([1.0, 2 / 3, 2 / 3, 2 / 3])
    # nobody at risk of renewals 1 and 2 (the one contract is seen from its 2nd): nothing lost there
    assert lm.observed_survival([3], [False], [2]).tolist() == [1.0, 1.0, 1.0, 1.0]
    # no contract at all: S(0) alone
    assert lm.observed_survival([], []).tolist() == [1.0]
    assert lm.observed_survival([], []).dtype == np.float64


def test_simulated_customers_follow_the_story() -> None:
    # p ≈ 0 (Beta(0.001, 1000)): nobody drops out, x is every purchase in (0, T] and the last one is
    # T·Beta(x, 1): E[t_x/T] = x/(x+1) — 1/2 for one purchase, 3/4 for three
    x, tx, t = lm.simulate_bgnbd(40_000, 1.0, 10.0, 0.001, 1000.0, 20.0, seed=3)
    assert t.tolist() == [20.0] * 40_000
    assert (tx[x == 0] == 0).all()
    assert ((tx[x > 0] > 0) & (tx[x > 0] <= 20.0)).all()
    assert float(np.mean(tx[x == 1] / 20)) == pytest.approx(1 / 2, abs=0.01)
    assert float(np.mean(tx[x == 3] / 20)) == pytest.approx(3 / 4, abs=0.01)
    # E[x] = rT/α = 2 while nobody leaves
    assert float(x.mean()) == pytest.approx(2.0, abs=0.03)
    # the seed's default is 0: the same draws
    again = lm.simulate_bgnbd(50, 1.0, 10.0, 0.5, 2.0, [5.0] * 50)
    assert all(np.array_equal(u, v) for u, v in zip(again, lm.simulate_bgnbd(50, 1.0, 10.0, 0.5, 2.0, [5.0] * 50, seed=0), strict=True))


# --------------------------------------------------------------------------- cohort checks, fit and optimiser edges


def test_cohort_checks_of_non_numbers_and_of_the_cohort_size() -> None:
    for period, active, field, message in [
        ([0, float("nan")], [10, 8], "period", "period must be a number (row 2)"),
        ([0, 1], [10, float("inf")], "active", "active must be a number (row 2)"),
        # the cohort size is checked before the counts' order: 0 then 1 is refused for its size
        ([0, 1], [0, 1], "active", "active at period 0 (the cohort size) must be > 0"),
    ]:
        with pytest.raises(InvalidInput) as err:
            lm.cohort_arrays(period, active)
        assert (err.value.field, err.value.message) == (field, message)
    # a cohort of one customer who churns in period 1, and one whose later counts fall to 0: accepted
    assert lm.cohort_arrays([0, 1], [1, 0])[1].tolist() == [1.0, 0.0]
    assert lm.cohort_arrays([0, 1], [5, 0])[1].tolist() == [5.0, 0.0]


def test_a_small_sbg_fit_reports_its_iterations() -> None:
    fit = lm.fit_sbg(range(5), [20, 12, 9, 7, 6])
    # L-BFGS-B from (ln α, ln β) = (0, 0) needs at least one step to the maximum
    assert type(fit.iterations) is int
    assert fit.iterations >= 1


def _quadratic(theta: np.ndarray) -> tuple[float, np.ndarray]:
    # f(θ) = (θ − 1)², f'(θ) = 2(θ − 1)
    return float(((theta - 1) ** 2).sum()), 2 * (theta - 1)


def test_the_optimiser_stops_at_its_bounds_and_says_not_converged() -> None:
    # f = e^(−θ₀) + e^(θ₁) falls forever: θ₀ → +∞, θ₁ → −∞; the bounds are ±20
    def falling(theta: np.ndarray) -> tuple[float, np.ndarray]:
        return float(math.exp(-theta[0]) + math.exp(theta[1])), np.array([-math.exp(-theta[0]), math.exp(theta[1])])

    sol = lm._optimise(falling, np.zeros(2))
    assert sol.x.tolist() == [20.0, -20.0]
    # value 2e^(−20); the gradient ±e^(−20) ≈ 2e−9 is below 1e−6, but a parameter at its bound is no optimum
    assert sol.mean_nll == pytest.approx(2 * math.exp(-20), rel=1e-12)
    assert sol.converged is False


def test_the_optimiser_started_where_the_likelihood_is_not_finite() -> None:
    # NaN beyond θ = 4: the start θ = 5 gives the huge stand-in value and a zero gradient, so no step is taken
    def walled(theta: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = _quadratic(theta)
        return (float("nan"), grad) if theta[0] > 4 else (value, grad)

    for jac in (True, False):
        sol = lm._optimise(walled, np.array([5.0]), jac=jac)
        assert (sol.x.tolist(), sol.iterations, sol.converged) == ([5.0], 0, False)
        assert math.isnan(sol.mean_nll)


def test_the_optimiser_by_default_takes_the_objectives_gradient() -> None:
    # the gradient given is 0 everywhere: L-BFGS-B believes the start is the optimum (with finite
    # differences it would move to θ = 1)
    sol = lm._optimise(lambda theta: (_quadratic(theta)[0], np.zeros(1)), np.array([3.0]))
    assert (sol.x.tolist(), sol.mean_nll, sol.iterations, sol.converged) == ([3.0], 4.0, 0, True)
    # by finite differences (jac=False) the same objective's minimum θ = 1, f = 0 is found
    sol = lm._optimise(lambda theta: (_quadratic(theta)[0], np.zeros(1)), np.array([3.0]), jac=False)
    assert sol.x[0] == pytest.approx(1.0, abs=1e-6)
    assert sol.converged is True


def test_without_a_gradient_convergence_is_judged_by_finite_differences() -> None:
    # f = −θ below θ = 3 and NaN from 3 on: the best finite point is short of 3 with slope −1, no optimum;
    # the objective's gradient is a stand-in 0 (as Pareto/NBD's), which must not be read as converged
    def cliff(theta: np.ndarray) -> tuple[float, np.ndarray]:
        return (float("nan") if theta[0] >= 3 else -float(theta[0])), np.zeros(1)

    sol = lm._optimise(cliff, np.array([0.0]), jac=False)
    assert 0.0 < sol.x[0] < 3.0
    assert sol.converged is False


def test_the_optimiser_keeps_warnings_from_the_caller() -> None:
    # an overflow in NumPy and a RuntimeWarning raised by the objective stay inside; no unknown solver option
    def noisy(theta: np.ndarray) -> tuple[float, np.ndarray]:
        np.exp(np.array([1000.0]))
        warnings.warn("a stand-in for scipy's warning", RuntimeWarning, stacklevel=1)
        if theta[0] == 3.0:  # only RuntimeWarnings are silenced: another kind reaches the caller
            warnings.warn("not a RuntimeWarning", UserWarning, stacklevel=1)
        return _quadratic(theta)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sol = lm._optimise(noisy, np.array([3.0]))
    assert {str(w.message) for w in caught} == {"not a RuntimeWarning"}
    assert sol.x[0] == pytest.approx(1.0, abs=1e-8)
