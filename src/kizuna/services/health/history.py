"""Health history (ヘルススコアの履歴): daily snapshots for a range of days, and the
reads the account header, the 360 chart and the movers need.

:func:`build_history` writes exactly what ``kizuna health recompute --from`` writes (the
same code: :func:`kizuna.services.health.recompute` — scores, held grades, 7/30-day
changes, explanations), but gets each day's measures from
:func:`kizuna.analytics.health.measures_by_day` over a block of days at once, fed by the
raw rows read once (:mod:`kizuna.analytics.health_history`), instead of from one round
of aggregate queries per day. The demo builds its 180 days with it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kizuna.analytics import health as calc
from kizuna.analytics.health_history import HistoryInputs, day_inputs
from kizuna.db import Session
from kizuna.db.queries import health as q
from kizuna.db.queries import health_history as hq
from kizuna.domain.health import ScorecardSet
from kizuna.domain.usage import USAGE_WINDOW_DAYS
from kizuna.errors import InvalidInput
from kizuna.i18n import _

#: Days of history the demo builds (and the most one call builds).
HISTORY_DAYS = 180
MAX_HISTORY_DAYS = 3660
#: The 360 header's sparkline covers this many days.
SPARKLINE_DAYS = 30
#: Days whose measures are computed together (memory grows with it): at least this many,
BLOCK_DAYS = 10
#: and more for a small book, up to about this many (day, account) rows a block (each
#: block has a fixed cost of some hundred pandas calls, which dominates on a small store).
BLOCK_ROWS = 30_000


class BlockScores:
    """:class:`~kizuna.services.health.DayScores` of any day from ``first`` on, computed a
    block of ``block`` days at a time (the blocks before the one asked for are let go)."""

    def __init__(self, session: Session, first: date, last: date, cards: ScorecardSet,
                 block: int | None = None) -> None:  # fmt: skip
        self.first, self.last, self.cards = first, last, cards
        self.lines = q.subscription_lines(session)
        self.segments = q.account_segments(session)
        if block is None:  # days a block: as many as BLOCK_ROWS rows allow, at least BLOCK_DAYS
            accounts = max(1, self.lines["account_id"].nunique())
            block = min(max(BLOCK_DAYS, BLOCK_ROWS // accounts), (last - first).days + 1)
        self.block = block
        self.raw = HistoryInputs(
            lines=self.lines, usage=hq.usage_rows(session, first - timedelta(days=USAGE_WINDOW_DAYS), last),
            surveys=hq.survey_rows(session), tickets=hq.ticket_rows(session),
            milestones=hq.milestone_rows(session), sentiments=hq.sentiment_rows(session),
        )  # fmt: skip
        self.contacts = q.contact_counts(session)
        self.history_from = q.store_day_range(session)[0]
        self.done: dict[int, dict[date, Any]] = {}

    def __call__(self, day: date) -> Any:
        n = (day - self.first).days // self.block
        if n not in self.done:
            # the history asks for each day, 7 and 30 days before it: older blocks are let go
            for old in [k for k in self.done if k < n and self._end(k) < day - timedelta(days=30)]:
                del self.done[old]
            start = self.first + timedelta(days=n * self.block)
            days = [start + timedelta(days=k) for k in range(self.block) if start + timedelta(days=k) <= self.last]
            self.done[n] = self._score(days)
        return self.done[n][day]

    def _end(self, n: int) -> date:
        return self.first + timedelta(days=(n + 1) * self.block - 1)

    def _score(self, days: list[date]) -> dict[date, Any]:
        from kizuna.services.health import DayScores, score_rows, scorecard_keys

        cards = self.cards
        tiers = self.segments.set_index("account_id")["tier"]
        inputs = day_inputs(self.raw, days, options=cards.options, contacts=self.contacts, tiers=tiers,
                            history_from=self.history_from)  # fmt: skip
        live = calc.lines_on(self.lines, days, paying_only=False)[["day", "account_id"]].drop_duplicates()
        rows = pd.MultiIndex.from_frame(live.sort_values(["day", "account_id"]))
        by_min_days: dict[int, pd.DataFrame] = {}

        def values_for(min_days: int) -> pd.DataFrame:
            if min_days not in by_min_days:
                by_min_days[min_days] = calc.measures_by_day(rows, inputs, min_history_days=min_days)
            return by_min_days[min_days]

        assignment = scorecard_keys(cards, self.segments, rows)
        scored = score_rows(values_for, assignment, cards)
        keep = scored.score.notna().to_numpy()
        stamps = rows.get_level_values("day")
        out = {}
        for day in days:
            pos = np.nonzero(keep & (stamps == pd.Timestamp(day)))[0]
            ids = pd.Index(rows.get_level_values("account_id")[pos], name="account_id")

            def part(series: pd.Series, pos: np.ndarray = pos, ids: pd.Index = ids) -> pd.Series:
                return pd.Series(series.to_numpy()[pos], index=ids)

            values = scored.values.iloc[pos].set_axis(ids)
            out[day] = DayScores(day, values, part(scored.score).astype("float64"), part(scored.grade),
                                 part(scored.letter), part(assignment), list(scored.measures.to_numpy()[pos]),
                                 part(scored.lost).astype("float64"))  # fmt: skip
        return out


def build_history(
    session: Session, as_of: date, *, days: int = HISTORY_DAYS, path: Path | None = None,
    cards: ScorecardSet | None = None, on_day: Callable[[date], None] | None = None,
) -> int:  # fmt: skip
    """Write the snapshots of the ``days`` days up to ``as_of`` (inclusive), replacing
    any of those days: the same rows as ``recompute(session, as_of, since=…)``, the
    measures computed a block of days at a time. Returns the snapshots written."""
    if not 1 <= days <= MAX_HISTORY_DAYS:
        raise InvalidInput(_("the history must be from 1 to {n} days").format(n=MAX_HISTORY_DAYS), field="days")
    from kizuna.services.health import active_scorecards, recompute

    if cards is None:
        cards = active_scorecards(session, path).cards
    first = as_of - timedelta(days=days - 1)
    if q.subscription_lines(session).empty:
        return 0
    scores = BlockScores(session, first - timedelta(days=30), as_of, cards)  # the 7- and 30-day changes look back
    return recompute(session, as_of, since=first, cards=cards, scores=scores, on_day=on_day)


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
