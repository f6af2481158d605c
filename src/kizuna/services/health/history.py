"""Health history (ヘルススコアの履歴): daily snapshots for a range of days built in one
pass, and the reads the account header, the 360 chart and the movers need.

:func:`build_history` writes the same snapshots as ``kizuna health recompute --from``
(score, grades, measures, 7/30-day change, explanation) but computes the measures of
every day at once (:mod:`kizuna.analytics.health_history`) instead of one day at a
time: 180 days of a 1,000-account company in seconds rather than minutes. The demo
builds its history with it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kizuna.analytics import health as calc
from kizuna.analytics.health_history import USAGE_LOOKBACK, HistoryInputs, daily_measures
from kizuna.db import Session
from kizuna.db.queries import health as q
from kizuna.db.queries import health_history as hq
from kizuna.domain.health import ScorecardSet
from kizuna.errors import InvalidInput
from kizuna.i18n import _

#: Days of history the demo builds (and the most one call builds).
HISTORY_DAYS = 180
MAX_HISTORY_DAYS = 3660
#: The 360 header's sparkline covers this many days.
SPARKLINE_DAYS = 30


@dataclass(frozen=True)
class _CardScores:
    key: str
    values: pd.DataFrame  # (day, account_id) → raw values
    scores: calc.Scores
    grade: pd.Series
    letter: pd.Series


def _score_all(values: pd.DataFrame, cards: ScorecardSet, segments: pd.DataFrame) -> list[_CardScores]:
    """Every (day, account) row scored under its account's scorecard, vectorised."""
    seg = segments.set_index("account_id")
    accounts = values.index.get_level_values("account_id")
    ids = pd.unique(accounts)
    seg = seg.reindex(ids)
    key_of = {int(a): cards.for_account(s, t).key for a, s, t in zip(ids, seg["stage"], seg["tier"], strict=True)}
    assignment = np.array([key_of[int(a)] for a in accounts], dtype=object)
    out = []
    for key in sorted(set(key_of.values())):
        card = cards.get(key)
        assert card is not None
        part = values[assignment == key]
        scores = calc.score_accounts(part, card)
        keep = scores.score.notna().to_numpy()
        scores = calc.Scores(scores.score[keep], scores.points[keep], scores.weights[keep])
        grade, letter = calc.grades(scores.score, card.bands)
        out.append(_CardScores(key, part[keep], scores, grade, letter))
    return out


def _day_slice(card: _CardScores, rows: np.ndarray) -> tuple[pd.DataFrame, calc.Scores]:
    s = card.scores
    return card.values.iloc[rows], calc.Scores(s.score.iloc[rows], s.points.iloc[rows], s.weights.iloc[rows])


def _rows_by_day(index: pd.Index) -> dict[date, np.ndarray]:
    """Positions of each day's rows in a (day, account_id) index."""
    codes, days = pd.factorize(index.get_level_values("day"))
    order = np.argsort(codes, kind="stable")
    parts = np.split(order, np.cumsum(np.bincount(codes, minlength=len(days)))[:-1])
    return dict(zip(days, parts, strict=True))


def build_history(
    session: Session, as_of: date, *, days: int = HISTORY_DAYS, path: Path | None = None,
    cards: ScorecardSet | None = None, on_day: Callable[[date], None] | None = None,
) -> int:  # fmt: skip
    """Write the snapshots of the ``days`` days up to ``as_of`` (inclusive), replacing
    any of those days, computed in one pass; the accounts list's health columns follow
    ``as_of``. Returns the snapshots written."""
    if not 1 <= days <= MAX_HISTORY_DAYS:
        raise InvalidInput(_("the history must be from 1 to {n} days").format(n=MAX_HISTORY_DAYS), field="days")
    if cards is None:
        from kizuna.services.health import active_scorecards

        cards = active_scorecards(session, path).cards
    first = as_of - timedelta(days=days - 1)
    start = first - timedelta(days=30)  # the 7- and 30-day changes look back
    lines = q.subscription_lines(session)
    if lines.empty:
        return 0
    inputs = HistoryInputs(
        lines=lines,
        usage=hq.usage_rows(session, start - timedelta(days=USAGE_LOOKBACK), as_of),
        surveys=hq.survey_rows(session), tickets=hq.ticket_rows(session),
        milestones=hq.milestone_rows(session), sentiments=hq.sentiment_rows(session),
    )  # fmt: skip
    all_days = [start + timedelta(days=n) for n in range((as_of - start).days + 1)]
    values = daily_measures(inputs, all_days)
    scored = _score_all(values, cards, q.account_segments(session))

    # scores per day and account (rounded, as stored), for the 7- and 30-day changes
    frames = [pd.Series(c.scores.score.to_numpy(), index=c.values.index) for c in scored]
    score_of = pd.concat(frames).round(2) if frames else pd.Series(dtype="float64")
    by_day = {day: group.droplevel("day") for day, group in score_of.groupby(level="day", sort=False)}
    positions = [_rows_by_day(card.values.index) for card in scored]
    recent: dict[date, dict[int, dict[str, dict[str, Any]]]] = {}

    def measures_of(day: date) -> dict[int, dict[str, dict[str, Any]]]:
        if day in recent:
            return recent[day]
        out: dict[int, dict[str, dict[str, Any]]] = {}
        recent[day] = out
        for card, pos in zip(scored, positions, strict=True):
            rows = pos.get(day)
            if rows is None or not len(rows):
                continue
            part, scores = _day_slice(card, rows)
            ids = part.index.get_level_values("account_id").tolist()
            out.update(zip((int(a) for a in ids), calc.measures_json(part, scores), strict=True))
        return out

    written = 0
    last_rows: list[dict[str, Any]] = []
    day = first
    while day <= as_of:
        now = measures_of(day)
        month = measures_of(day - timedelta(days=30))
        recent.pop(day - timedelta(days=30), None)  # needed no more: memory stays flat
        week_s = by_day.get(day - timedelta(days=7), pd.Series(dtype="float64"))
        month_s = by_day.get(day - timedelta(days=30), pd.Series(dtype="float64"))
        rows = []
        for card, pos in zip(scored, positions, strict=True):
            idx = pos.get(day)
            if idx is None or not len(idx):
                continue
            ids = card.values.index.get_level_values("account_id")[idx].to_numpy()
            score = card.scores.score.to_numpy()[idx]
            c7 = np.round(score - week_s.reindex(ids).to_numpy(dtype="float64"), 2).tolist()
            c30 = np.round(score - month_s.reindex(ids).to_numpy(dtype="float64"), 2).tolist()
            grades, letters = card.grade.to_numpy()[idx].tolist(), card.letter.to_numpy()[idx].tolist()
            for a, s, g, letter, w, m in zip(ids.tolist(), np.round(score, 2).tolist(), grades, letters, c7, c30,
                                             strict=True):  # fmt: skip
                measures = now[int(a)]
                rows.append({
                    "account_id": int(a), "day": day, "scorecard": card.key, "score": s, "grade": g, "letter": letter,
                    "change_7d": None if math.isnan(w) else w, "change_30d": None if math.isnan(m) else m,
                    "measures": measures, "explanation": calc.explain(measures, month.get(int(a))),
                })  # fmt: skip
        rows.sort(key=lambda r: r["account_id"])
        q.replace_snapshots(session, day, rows)
        written += len(rows)
        last_rows = rows
        if on_day is not None:
            on_day(day)
        day += timedelta(days=1)
    q.set_account_health(session, as_of, ((r["account_id"], r["score"], r["grade"]) for r in last_rows))
    return written


# --- reading: the account header and the movers ------------------------------------------------


def account_header(session: Session, account_id: int, days: int = SPARKLINE_DAYS) -> dict[str, Any] | None:
    """What the 360 header shows of an account's health: its newest snapshot's score,
    grade, letter and 30-day change, the scores of the ``days`` days up to it (the
    sparkline, oldest first) and the top reason (the explanation's first item, in the
    reader's language). None without any snapshot."""
    rows = hq.recent_snapshots(session, account_id, days)
    if not rows:
        return None
    from kizuna.services.health import explanation_lines

    newest = rows[-1]
    explanation = newest["explanation"]
    return {
        "day": newest["day"], "score": newest["score"], "grade": newest["grade"], "letter": newest["letter"],
        "change_30d": newest["change_30d"], "trend": [(r["day"], r["score"]) for r in rows],
        "top_reason": explanation_lines(explanation[:1])[0] if explanation else None,
    }  # fmt: skip
