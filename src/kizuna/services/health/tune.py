"""``kizuna health tune``: the default scorecard's measure weights learned from the
store's own churn history, proposed as a new scorecard version (see
:mod:`kizuna.analytics.health_tune` for the model and docs/health.md#tuning).

Every paying account is scored with the default scorecard at each past month-end that
has the whole horizon after it (as the backtest does); who churned within the horizon is
the label. The earlier month-ends train the model, the later third tests it: the ROC-AUC
of the scorecard in force, of the proposal and of the naive signal (fewer events in the
last 30 days) on the test months, side by side. Too little churn to learn from is
refused with the reason. Nothing is saved here: a lead applies the proposal.

The model is pulled towards the weights in force; how hard is chosen within the training
months only (an inner split in time: the earlier training month-ends fit, the later third
of them validates, for each strength of :data:`PENALTIES`). The learned weights are
proposed only when they beat the weights in force on that inner validation clearly: in at
least :data:`MIN_CONFIDENCE` of :data:`CONFIDENCE_DRAWS` paired resamples of the held-out
accounts. Otherwise the proposal keeps the weights in force and says so, with both figures.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kizuna.analytics import health as calc
from kizuna.analytics.health_tune import BOOTSTRAP, L2, PENALTIES, WeightFit, fit_weights
from kizuna.db import Session
from kizuna.domain.health import MeasureGroup, MeasureRule, Scorecard, ScorecardSet
from kizuna.errors import InvalidInput
from kizuna.i18n import _
from kizuna.services.health import (
    BACKTEST_HISTORY_DAYS,
    MeasuredHistory,
    active_scorecards,
    parse_toml,
    to_toml,
)

#: The fewest churns among the training rows, and among the test rows.
MIN_TRAIN_CHURNS = 20
MIN_TEST_CHURNS = 5
#: The fewest month-ends (two to train, one to test).
MIN_MONTHS = 3
#: A proposed weight below this share of the total leaves the measure out.
MIN_WEIGHT = 0.005
#: Paired bootstrap draws over the held-out accounts of the inner validation, and the share
#: of them in which the learned weights must beat the weights in force to be proposed.
CONFIDENCE_DRAWS = 200
MIN_CONFIDENCE = 0.9


@dataclass(frozen=True)
class TunedMeasure:
    key: str
    group: str
    current: float  # its share of the score now (nominal weights, all measures present)
    proposed: float  # its share in the proposal (0: left out)
    low: float  # 5th–95th percentile of the proposed share over the bootstrap
    high: float
    has_data: bool


@dataclass(frozen=True)
class TuneResult:
    scorecard: str
    horizon_days: int
    train_first: date
    train_last: date
    train_months: int
    train_samples: int
    train_churned: int
    test_first: date
    test_last: date
    test_months: int
    test_samples: int
    test_churned: int
    auc_current: float | None
    auc_tuned: float | None
    auc_naive: float | None
    measures: tuple[TunedMeasure, ...]
    proposal: str  # the scorecards' TOML with the default scorecard's weights replaced
    # the inner validation within the training months (how hard the weights in force pull)
    inner_train_months: int = 0
    inner_validation_months: int = 0
    inner_auc_current: float | None = None
    inner_auc_tuned: float | None = None  # the best penalty's
    penalty: float | None = None  # the chosen strength (None: no inner validation was possible)
    kept_current: bool = False  # the learned weights did not beat the weights in force: the proposal keeps them
    inner_confidence: float | None = None  # share of the resamples in which the learned weights won

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for key in ("train_first", "train_last", "test_first", "test_last"):
            out[key] = out[key].isoformat()
        for key in (
            "auc_current",
            "auc_tuned",
            "auc_naive",
            "inner_auc_current",
            "inner_auc_tuned",
            "inner_confidence",
        ):
            out[key] = None if out[key] is None else round(out[key], 4)
        out["measures"] = [
            {k: round(v, 4) if isinstance(v, float) else v for k, v in m.items()} for m in out["measures"]
        ]
        return out


def auc_text(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def default_note(result: TuneResult) -> str:
    """The version note of an applied proposal: where it comes from and its test AUC."""
    auc = auc_text
    return _("tuned from the churn history ({h}-day horizon): test ROC-AUC {current} → {tuned}").format(
        h=result.horizon_days, current=auc(result.auc_current), tuned=auc(result.auc_tuned)
    )


def inner_text(result: TuneResult) -> str:
    """What the inner validation found, and whether the proposal keeps the weights in force."""
    auc = auc_text
    if result.inner_auc_tuned is None or result.inner_auc_current is None:
        return _("The training months are too few to check learned weights against the weights in force: "
                 "the proposal keeps the weights in force.")  # fmt: skip
    values = {"n": result.inner_validation_months, "tuned": auc(result.inner_auc_tuned),
              "current": auc(result.inner_auc_current), "penalty": result.penalty,
              "share": f"{(result.inner_confidence or 0.0) * 100:.0f} %", "need": f"{MIN_CONFIDENCE * 100:.0f} %"}  # fmt: skip
    if result.kept_current:
        return _("On the last {n} training month-ends, held out, the learned weights reach ROC-AUC {tuned} and the "
                 "weights in force {current}; the learned weights win in {share} of the resamples of those accounts "
                 "({need} needed), so the proposal keeps the weights in force.").format(**values)  # fmt: skip
    return _("On the last {n} training month-ends, held out, the learned weights reach ROC-AUC {tuned} and the "
             "weights in force {current}; the learned weights win in {share} of the resamples of those accounts "
             "(pull towards the weights in force: {penalty}), so the proposal uses the learned weights.").format(
                 **values)  # fmt: skip


def nominal_shares(card: Scorecard) -> dict[str, float]:
    """Each measure's share of the score when every measure has data."""
    total = sum(g.weight for g in card.groups)
    return {m.key: g.weight / total * m.weight / sum(x.weight for x in g.measures) for g in card.groups
            for m in g.measures}  # fmt: skip


def with_weights(card: Scorecard, shares: dict[str, float]) -> Scorecard:
    """``card`` with measure weights = the shares (in per cent, one decimal) and each
    group's weight = the sum of its measures'; measures under :data:`MIN_WEIGHT` and
    groups left empty are dropped."""
    groups = []
    for g in card.groups:
        rules = tuple(MeasureRule(m.key, round(shares[m.key] * 100, 1), m.scoring, m.points)
                      for m in g.measures if shares.get(m.key, 0.0) >= MIN_WEIGHT)  # fmt: skip
        if rules:
            groups.append(MeasureGroup(g.key, g.label, round(sum(r.weight for r in rules), 1), rules))
    return dataclasses.replace(card, groups=tuple(groups))


def _observations(cards: ScorecardSet, days: list[date], measures: MeasuredHistory) -> pd.DataFrame:
    """The default scorecard's measures of every paying account at each of ``days``, with
    ``events30``: read through the store's kept measures, as the backtest reads them."""
    frames = []
    for day, scored in measures.scores(days, cards, default_only=True):
        values = scored.values.copy()
        values.insert(0, "day", day)
        values.insert(1, "events30", scored.events30.to_numpy() if scored.events30 is not None else np.nan)
        frames.append(values.rename_axis("account_id").reset_index())
    return pd.concat(frames, ignore_index=True)


def tune(session: Session, *, as_of: date, horizon_days: int = 90, path: Path | None = None,
         cards: ScorecardSet | None = None, bootstrap: int = BOOTSTRAP,
         measures: MeasuredHistory | None = None) -> TuneResult:  # fmt: skip
    """Learn the default scorecard's weights from the month-ends before ``as_of`` (see
    the module). Raises :class:`InvalidInput` when the history is too short or has too
    few churns, saying which. ``measures``: the store's measures kept from a backtest of
    it (the month-ends' raw measures are the backtest's)."""
    if not 7 <= horizon_days <= 730:
        raise InvalidInput(_("--horizon-days must be from 7 to 730"), field="horizon_days")
    cards = cards or active_scorecards(session, path).cards
    measures = MeasuredHistory(session) if measures is None else measures
    first, last = measures.first, measures.last
    if first is None or last is None:
        raise InvalidInput(_("there is no usage history to learn from"), field="as_of")
    end = min(as_of, last) - timedelta(days=horizon_days)
    days = calc.month_ends(first + timedelta(days=BACKTEST_HISTORY_DAYS), end)
    if len(days) < MIN_MONTHS:
        raise InvalidInput(_("tuning needs at least {need} month-ends with {h} days of history after them; "
                             "this store has {n}").format(need=MIN_MONTHS, h=horizon_days, n=len(days)),
                           field="horizon_days", code="too_little_history")  # fmt: skip
    table = _observations(cards, days, measures)
    churns = calc.churn_events(measures.lines)
    y = calc.label_churn(table, churns, horizon_days).to_numpy(dtype=bool)
    n_test = max(1, len(days) // 3)
    test_days = set(days[-n_test:])
    is_test = table["day"].isin(test_days).to_numpy()
    train_y, test_y = y[~is_test], y[is_test]
    if train_y.sum() < MIN_TRAIN_CHURNS or test_y.sum() < MIN_TEST_CHURNS:
        raise InvalidInput(_("too few churns to learn from: {train} in the training months (at least {need_train}) "
                             "and {test} in the test months (at least {need_test})").format(
                               train=int(train_y.sum()), need_train=MIN_TRAIN_CHURNS, test=int(test_y.sum()),
                               need_test=MIN_TEST_CHURNS),
                           field="horizon_days", code="too_few_churns")  # fmt: skip
    return learn(table, y, days, cards, horizon_days=horizon_days, bootstrap=bootstrap)


def _shares_of(fit: WeightFit) -> dict[str, float]:
    return dict(zip(fit.keys, fit.weights.tolist(), strict=True))


def _auc_of(card: Scorecard, values: pd.DataFrame, y: np.ndarray) -> float | None:
    return calc.signal_auc(y, -calc.score_accounts(values, card).score.to_numpy(dtype="float64"))


def _auc_by_weights(group: np.ndarray, y: np.ndarray, weight: np.ndarray) -> float | None:
    """The weighted ROC-AUC of a risk whose sorted distinct values are ``group`` (the index
    of each row's value): P(risk of a churner > a stayer's) + ½·P(tie)."""
    pos = np.bincount(group, weights=weight * y)
    neg = np.bincount(group, weights=weight * (1.0 - y))
    total_pos, total_neg = pos.sum(), neg.sum()
    if total_pos <= 0 or total_neg <= 0:
        return None
    below = np.cumsum(neg) - neg
    # a plain sum, not a BLAS dot: on a busy machine BLAS threads made this step tenfold slower
    return float(np.sum(pos * (below + neg / 2)) / (total_pos * total_neg))


def beat_share(y: np.ndarray, current: np.ndarray, tuned: np.ndarray, accounts: np.ndarray,
               draws: int = CONFIDENCE_DRAWS, seed: int = 0) -> float:  # fmt: skip
    """The share of paired bootstrap draws over ``accounts`` (an account's rows drawn
    together, as weights) in which the risk ``tuned`` has a higher ROC-AUC than ``current``;
    rows where either is NaN are left out, draws with one outcome only do not count."""
    known = ~(np.isnan(current) | np.isnan(tuned))
    labels = np.asarray(y, dtype="float64")[known]
    by_current = np.unique(current[known], return_inverse=True)[1]
    by_tuned = np.unique(tuned[known], return_inverse=True)[1]
    ids, position = np.unique(accounts[known], return_inverse=True)
    rng = np.random.default_rng(seed)
    wins = counted = 0
    for _draw in range(draws):
        times = np.bincount(rng.integers(0, len(ids), len(ids)), minlength=len(ids))[position].astype("float64")
        a, b = _auc_by_weights(by_current, labels, times), _auc_by_weights(by_tuned, labels, times)
        if a is None or b is None:
            continue
        counted += 1
        wins += b > a
    return wins / counted if counted else 0.0


def _risk(card: Scorecard, values: pd.DataFrame) -> np.ndarray:
    return -calc.score_accounts(values, card).score.to_numpy(dtype="float64")


def choose_penalty(values: pd.DataFrame, y: np.ndarray, days: list[date], card: Scorecard,
                   penalties: tuple[float, ...] = PENALTIES) -> tuple[float | None, float | None, float | None, int, float | None]:  # fmt: skip
    """The inner validation: on the training rows ``values`` (indexed by account, with a
    ``day`` column), fit on the earlier month-ends and score the later third of them with
    the scorecard in force and with the learned weights at each penalty. Returns the
    chosen penalty (the best on validation; ties go to the stronger pull), the validation
    AUC of the weights in force and of the chosen weights, the validation month-ends and
    the share of paired resamples of the validation accounts the chosen weights win."""
    n_val = max(1, len(days) // 3)
    is_val = values["day"].isin(set(days[-n_val:])).to_numpy()
    if len(days) < 2 or not 0 < y[~is_val].sum() < (~is_val).sum():
        return None, None, None, 0, None
    fit_rows, val_rows = values[~is_val], values[is_val]
    points = calc.score_accounts(fit_rows, card).points
    prior = np.array([nominal_shares(card)[k] for k in points.columns])
    current = _risk(card, val_rows)
    best: tuple[float | None, float | None, np.ndarray | None] = (None, None, None)
    for penalty in sorted(penalties, reverse=True):
        fit = fit_weights(points, y[~is_val], fit_rows.index.to_numpy(), l2=penalty, bootstrap=0, prior=prior)
        if fit.weights.sum() <= 0:
            continue
        risk = _risk(with_weights(card, _shares_of(fit)), val_rows)
        auc = calc.signal_auc(y[is_val], risk)
        if auc is not None and (best[1] is None or auc > best[1]):
            best = (penalty, auc, risk)
    share = None if best[2] is None else beat_share(y[is_val], current, best[2], val_rows.index.to_numpy())
    return best[0], calc.signal_auc(y[is_val], current), best[1], n_val, share


def learn(table: pd.DataFrame, y: np.ndarray, days: list[date], cards: ScorecardSet, *, horizon_days: int,
          bootstrap: int = BOOTSTRAP) -> TuneResult:  # fmt: skip
    """The model, its inner validation and the outer test on the scored month-ends
    ``table`` (``account_id``, ``day``, ``events30`` and the measures' values per row;
    ``y``: churned within the horizon per row); ``days``: its month-ends in order."""
    n_test = max(1, len(days) // 3)
    test_days = set(days[-n_test:])
    train_list = sorted(set(days) - test_days)
    is_test = table["day"].isin(test_days).to_numpy()
    train_y = y[~is_test]
    card = cards.default
    values = table.set_index("account_id")
    train = values[~is_test]
    penalty, inner_current, inner_tuned, n_val, confidence = choose_penalty(train, train_y, train_list, card)
    # no inner validation possible (one training month-end, or one outcome in its fit rows): the usual strength
    strength = L2 if penalty is None else penalty
    points = calc.score_accounts(train, card).points
    nominal = nominal_shares(card)
    prior = np.array([nominal[k] for k in points.columns])
    fit = fit_weights(points, train_y, train.index.to_numpy(), l2=strength, bootstrap=bootstrap, prior=prior)
    learned = _shares_of(fit)
    if sum(learned.values()) <= 0:
        raise InvalidInput(_("no measure of the scorecard predicts churn on this history: nothing to propose"),
                           field="horizon_days", code="nothing_learned")  # fmt: skip
    kept = (inner_tuned is None or inner_current is None or inner_tuned <= inner_current
            or (confidence or 0.0) < MIN_CONFIDENCE)  # fmt: skip
    shares = nominal if kept else learned
    tuned_card = card if kept else with_weights(card, shares)
    proposal = dataclasses.replace(cards, scorecards=tuple(tuned_card if c.key == card.key else c
                                                           for c in cards.scorecards))  # fmt: skip
    text = to_toml(proposal)
    parse_toml(text, _("the proposal"))  # the proposal is a valid scorecard file
    test = values[is_test]
    test_y = y[is_test]
    naive = test["events30"].to_numpy(dtype="float64")
    group_of = {m.key: g.key for g in card.groups for m in g.measures}
    measures = tuple(sorted(
        (TunedMeasure(k, group_of[k], nominal[k], shares[k] if shares[k] >= MIN_WEIGHT else 0.0, float(lo), float(hi),
                      bool(has)) for k, lo, hi, has in zip(fit.keys, fit.low, fit.high, fit.has_data, strict=True)),
        key=lambda m: (-m.proposed, -m.current, m.key)))  # fmt: skip
    current_auc = _auc_of(card, test, test_y)
    return TuneResult(
        card.key, horizon_days, train_list[0], train_list[-1], len(train_list), int((~is_test).sum()),
        int(train_y.sum()), min(test_days), max(test_days), n_test, int(is_test.sum()), int(test_y.sum()),
        current_auc, current_auc if kept else _auc_of(tuned_card, test, test_y),
        calc.signal_auc(test_y, -naive), measures, text,
        len(train_list) - n_val if n_val else 0, n_val, inner_current, inner_tuned, penalty, kept, confidence,
    )  # fmt: skip
