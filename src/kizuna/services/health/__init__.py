"""Health scores (ヘルススコア): scorecards, daily snapshots with explanations, the
backtest that proves the score predicts churn, and CSM sentiment.

The scorecards in force are the newest version a lead saved (stored in the database),
else the configured TOML file, else the default shipped beside this module
(``default_scorecards.toml``). See ``docs/health.md``.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import tomllib
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from kizuna.analytics import health as calc
from kizuna.db import Session
from kizuna.db.queries import health as q
from kizuna.domain.health import (
    MAX_SENTIMENT_REASON,
    MEASURES,
    SENTIMENT_LABELS,
    ScorecardInvalid,
    ScorecardProblem,
    ScorecardSet,
    ScoringOptions,
    parse_scorecards,
)
from kizuna.domain.usage import DEFAULT_MAPPING, METRIC_EVENTS, METRIC_LOGINS, UsageMapping
from kizuna.errors import InvalidInput, NotFound
from kizuna.i18n import N_, _
from kizuna.services.accounts import RiskItem

log = logging.getLogger(__name__)

BacktestResult = calc.BacktestResult

DEFAULT_SCORECARDS = Path(__file__).with_name("default_scorecards.toml")
#: Days of usage history before the backtest's first observation point: the measures
#: are age-aware (a baseline shorter than the scorecard's minimum is missing).
BACKTEST_HISTORY_DAYS = 30


# --- scorecards ------------------------------------------------------------------------------


def parse_toml(text: str, source: str) -> ScorecardSet:
    """Parse and check scorecard TOML; :class:`ScorecardInvalid` names file, key and why."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScorecardInvalid([ScorecardProblem(source, "", _("not valid TOML: {why}").format(why=exc))]) from None
    return parse_scorecards(doc, source)


def file_source(path: Path | None) -> tuple[str, str]:
    """(TOML text, its name) of the configured file, else of the shipped default."""
    target = path or DEFAULT_SCORECARDS
    try:
        return target.read_text(encoding="utf-8"), str(target)
    except OSError as exc:
        raise ScorecardInvalid([ScorecardProblem(str(target), "", _("cannot read the file: {why}").format(
            why=exc.strerror or exc))]) from None  # fmt: skip


@dataclass(frozen=True)
class ActiveScorecards:
    cards: ScorecardSet
    source: str  # TOML text
    origin: str  # "database version N" or a file path
    version: int | None


def active_scorecards(session: Session, path: Path | None = None) -> ActiveScorecards:
    """The scorecards in force: the newest saved version, else the file."""
    stored = q.latest_scorecard_version(session)
    if stored is not None:
        origin = _("saved version {n}").format(n=stored.id)
        return ActiveScorecards(parse_toml(stored.source, origin), stored.source, origin, stored.id)
    text, name = file_source(path)
    return ActiveScorecards(parse_toml(text, name), text, name, None)


def save_scorecards(session: Session, text: str, *, author_id: int | None, note: str | None = None) -> int:
    """Check and store a new version (it wins over the file from now on). Nothing is
    stored when it is invalid. Returns the version number."""
    if len(text) > 200_000:
        raise InvalidInput(_("the scorecards are longer than {n} characters").format(n="200,000"), field="source")
    parse_toml(text, _("the edited scorecards"))
    return q.add_scorecard_version(session, text, author_id, (note or "").strip()[:500] or None)


@dataclass(frozen=True)
class ScorecardVersion:
    """A saved version of the scorecards (newest first in lists)."""

    version: int
    created_at: datetime
    note: str | None
    author: str | None


def scorecard_versions(session: Session) -> list[ScorecardVersion]:
    return [ScorecardVersion(**r) for r in q.scorecard_versions(session)]


# --- computing scores --------------------------------------------------------------------------


@dataclass(frozen=True)
class DayScores:
    """Every scored account of one day, as frames."""

    day: date
    values: pd.DataFrame  # raw measure values
    score: pd.Series
    grade: pd.Series
    letter: pd.Series
    scorecard: pd.Series
    measures: list[dict[str, dict[str, Any]]]  # aligned with score's index
    # the share of each account's weight that the measures counted as missing carried (0..1)
    lost: pd.Series | None = None
    #: Events in the last 30 days per scored account (the backtest's naive signal).
    events30: pd.Series | None = None


#: :func:`score_days` scores about this many (day, account) rows in one pass (memory grows with it).
BATCH_ROWS = 20_000
#: An account whose score rested on late feeds for more than this share of its weight
#: keeps the score it had before they went late (see docs/health.md#stale-feeds).
HOLD_SHARE = 0.5


class UsageWindows:
    """The usage aggregates of many days, fetched a batch of days per scan."""

    def __init__(self, session: Session, plan: list[date] | None = None, batch: int = 3) -> None:
        self.session = session
        self.batch = batch
        self.plan = list(plan or [])
        self.frames: dict[date, pd.DataFrame] = {}
        self.used: set[date] = set()

    def get(self, day: date) -> pd.DataFrame:
        if day not in self.frames:
            ahead = [d for d in dict.fromkeys(self.plan) if d not in self.frames and d not in self.used and d != day]
            self.frames.update(q.usage_windows(self.session, [day, *ahead[: self.batch - 1]]))
        self.used.add(day)
        return self.frames.pop(day)


def _inputs(session: Session, day: date, lines: pd.DataFrame, usage: UsageWindows | None,
            options: ScoringOptions | None = None, segments: pd.DataFrame | None = None,
            contacts: pd.DataFrame | None = None, history_from: date | None = None) -> calc.MeasureInputs:  # fmt: skip
    windows = usage.get(day) if usage is not None else q.usage_windows(session, [day])[day]
    options = options or ScoringOptions()
    answers = q.survey_answers(session, day, calc.survey_lookback_days(options))
    segments = q.account_segments(session) if segments is None else segments
    if history_from is None:
        history_from = q.store_day_range(session)[0]
    return calc.MeasureInputs(
        lines=lines, usage=windows, surveys=calc.decayed_surveys(answers, options),
        tickets=q.ticket_counts(session, day), onboarding=q.onboarding_counts(session, day),
        sentiment=q.latest_sentiments(session, day), features=tuple(windows.attrs.get("features", ())),
        contacts=q.contact_counts(session) if contacts is None else contacts,
        tiers=segments.set_index("account_id")["tier"], options=options,
        history_from=history_from,
    )  # fmt: skip


def score_day(
    session: Session, day: date, cards: ScorecardSet, *, lines: pd.DataFrame | None = None,
    segments: pd.DataFrame | None = None, paying_only: bool = False, default_only: bool = False,
    usage: UsageWindows | None = None, replay_stages: bool = False, contacts: pd.DataFrame | None = None,
    missing: Collection[str] = (), history_from: date | None = None,
) -> DayScores:  # fmt: skip
    """Score every account live on ``day`` from the data up to that day only: the one-day
    case of :func:`score_days` (see there for the options). The measures in ``missing``
    count as missing for every account (their weight is shared out): the caller's
    judgement that their data cannot be trusted that day, e.g. the measures of a late feed
    (``services.freshness.stale_measures_on``)."""
    return score_days(session, [day], cards, lines=lines, segments=segments, paying_only=paying_only,
                      default_only=default_only, usage=usage, replay_stages=replay_stages, contacts=contacts,
                      missing=missing, history_from=history_from)[day]  # fmt: skip


def score_days(
    session: Session, days: Sequence[date], cards: ScorecardSet, *, lines: pd.DataFrame | None = None,
    segments: pd.DataFrame | None = None, paying_only: bool = False, default_only: bool = False,
    usage: UsageWindows | None = None, replay_stages: bool = False, contacts: pd.DataFrame | None = None,
    missing: Collection[str] = (), history_from: date | None = None,
) -> dict[date, DayScores]:  # fmt: skip
    """Score every account live on each of ``days`` from the data up to that day only
    (:func:`measure_days`, then :func:`score_measured`): the measures and the scores of all
    the days computed in one pass over their (day, account) rows — the same row by row as
    each day alone (ranks and medians are taken within each day). ``default_only``: every
    account under the default scorecard. ``replay_stages``: the scorecard by the stage the
    account had on the day (worked out from the data, for the backtest), not by its stage
    now. The measures in ``missing`` count as missing for every account."""
    if not days:
        return {}
    lines = q.subscription_lines(session) if lines is None else lines
    segments = q.account_segments(session) if segments is None else segments
    measured = measure_days(session, days, cards.options, lines=lines, segments=segments, paying_only=paying_only,
                            usage=usage, contacts=contacts, history_from=history_from)  # fmt: skip
    return score_measured(measured, cards, lines=lines, segments=segments, default_only=default_only,
                          replay_stages=replay_stages, missing=missing)  # fmt: skip


@dataclass(frozen=True)
class MeasuredDays:
    """The raw measures of every (day, account) row of some days: all that scoring them
    reads which a scorecard's weights, points and grades do not change — measured once,
    scored under any scorecards with the same ``[scoring]`` options (:func:`score_measured`).
    Each measures frame (by the scorecard's ``min_history_days``) is worked out when first
    asked for."""

    days: tuple[date, ...]
    rows: pd.MultiIndex  # (day, account_id), the days in order
    bounds: tuple[int, ...]  # the rows of days[i] are rows[bounds[i]:bounds[i + 1]]
    inputs: calc.MeasureInputs  # every day's inputs, dated
    events30: tuple[pd.Series, ...]  # each day's events in the last 30 days by account (the naive signal)
    options: ScoringOptions
    by_min_days: dict[int, pd.DataFrame] = field(default_factory=dict, compare=False)
    #: taken from a larger one (:meth:`take`): its measures frames, these rows of them
    whole: tuple[MeasuredDays, np.ndarray] | None = field(default=None, compare=False)

    def values_for(self, min_days: int) -> pd.DataFrame:
        if min_days not in self.by_min_days:
            if self.whole is not None:
                self.by_min_days[min_days] = self.whole[0].values_for(min_days).iloc[self.whole[1]]
            else:
                self.by_min_days[min_days] = calc.measures_by_day(self.rows, self.inputs, min_history_days=min_days)
        return self.by_min_days[min_days]

    def take(self, days: Sequence[date]) -> MeasuredDays:
        """The rows of ``days`` (distinct, each one of :attr:`days`) only, in that order."""
        if tuple(days) == self.days:
            return self
        at = {d: i for i, d in enumerate(self.days)}
        spans = [np.arange(self.bounds[at[d]], self.bounds[at[d] + 1]) for d in days]
        pos = np.concatenate(spans) if spans else np.zeros(0, dtype=np.int64)
        sizes = [len(s) for s in spans]
        return MeasuredDays(tuple(days), self.rows[pos], tuple(np.cumsum([0, *sizes]).tolist()),
                            self.inputs, tuple(self.events30[at[d]] for d in days), self.options, whole=(self, pos))  # fmt: skip


def measure_days(
    session: Session, days: Sequence[date], options: ScoringOptions, *, lines: pd.DataFrame,
    segments: pd.DataFrame, paying_only: bool = False, usage: UsageWindows | None = None,
    contacts: pd.DataFrame | None = None, history_from: date | None = None,
) -> MeasuredDays:  # fmt: skip
    """The raw measures of every account live on each of ``days`` (distinct), each day's
    inputs read from the data up to that day, in the order of ``days``."""
    days = list(days)
    stamps = [pd.Timestamp(d) for d in days]
    inputs = {d: _inputs(session, d, lines, usage, options, segments, contacts, history_from) for d in days}
    ids_of_days = [calc.live_accounts(lines, d, paying_only=paying_only).to_numpy(dtype=np.int64) for d in days]
    sizes = [len(ids) for ids in ids_of_days]
    rows = pd.MultiIndex.from_arrays([pd.DatetimeIndex(stamps).repeat(sizes),
                                      pd.Index(np.concatenate([np.zeros(0, np.int64), *ids_of_days]), dtype=np.int64)],
                                     names=["day", "account_id"])  # fmt: skip
    pairs = list(zip(days, stamps, strict=True))
    frames = {name: pd.concat([getattr(inputs[d], name).assign(day=t) for d, t in pairs], ignore_index=True)
              for name in ("usage", "surveys", "tickets", "onboarding", "sentiment")}  # fmt: skip
    features = {t: cast(tuple[str, ...], inputs[d].features) for d, t in pairs}
    dated = dataclasses.replace(inputs[days[0]], features=features, **frames)
    events30 = tuple(calc.usage_total(inputs[d].usage, "events", "last30") for d in days)
    return MeasuredDays(tuple(days), rows, tuple(np.cumsum([0, *sizes]).tolist()), dated, events30, options)


def score_measured(
    measured: MeasuredDays, cards: ScorecardSet, *, lines: pd.DataFrame, segments: pd.DataFrame,
    default_only: bool = False, replay_stages: bool = False, missing: Collection[str] = (),
) -> dict[date, DayScores]:  # fmt: skip
    """Every row of ``measured`` scored under ``cards`` (whose ``[scoring]`` options must be
    the ones it was measured with), by day (see :func:`score_days` for the options)."""
    if cards.options != measured.options:
        raise ValueError("the days were measured with other [scoring] options than these scorecards'")
    rows, bounds, days = measured.rows, measured.bounds, measured.days
    ids = [rows.get_level_values("account_id")[bounds[i] : bounds[i + 1]] for i in range(len(days))]

    def one_day(frame: pd.DataFrame, i: int) -> pd.DataFrame:
        return frame.iloc[bounds[i] : bounds[i + 1]].set_axis(pd.Index(ids[i], name="account_id"))

    if default_only:
        assignment = pd.Series(cards.default.key, index=rows, dtype=object)
    elif replay_stages:
        values = calc.mark_missing(measured.values_for(cards.default.min_history_days), set(missing))
        keys: list[str] = []
        for i, d in enumerate(days):
            keys += [cards.for_account(s, None).key for s in calc.replay_stages(lines, one_day(values, i), d)]
        assignment = pd.Series(keys, index=rows, dtype=object)
    else:
        assignment = scorecard_keys(cards, segments, rows)
    scored = score_rows(measured.values_for, assignment, cards, missing)
    out = {}
    for i, d in enumerate(days):
        span = slice(bounds[i], bounds[i + 1])
        keep = scored.score.iloc[span].notna().to_numpy()

        def part(series: pd.Series, i: int = i, span: slice = span, keep: np.ndarray = keep) -> pd.Series:
            return pd.Series(series.iloc[span].to_numpy()[keep], index=pd.Index(ids[i], name="account_id")[keep])

        score = part(scored.score)
        events30 = measured.events30[i].reindex(score.index).fillna(0.0)
        out[d] = DayScores(d, one_day(scored.values, i)[keep], score, part(scored.grade), part(scored.letter),
                           part(assignment), list(scored.measures.iloc[span][keep]), part(scored.lost), events30)  # fmt: skip
    return out


class MeasuredHistory:
    """The raw measures of the paying accounts' days of one store, kept to score any
    scorecards from them (their weights, points and grades do not change them; their
    ``[scoring]`` options do, and key what is kept). The backtest replays its days through
    one, and so does the tuning (``services.health.tune``); give the same one to several
    backtests of one store (as it is: the store must not change meanwhile) and each day is
    read and measured once (docs/health.md#backtest)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.lines = q.subscription_lines(session)
        self.segments, self.contacts = q.account_segments(session), q.contact_counts(session)
        self.first, self.last = q.store_day_range(session)
        self.kept: dict[tuple[ScoringOptions, date], MeasuredDays] = {}

    def scores(self, plan: Sequence[date], cards: ScorecardSet, *, replay_stages: bool = False,
               default_only: bool = False, batch: int = 3) -> Iterator[tuple[date, DayScores]]:  # fmt: skip
        """Each day of ``plan`` scored under ``cards`` (paying accounts, from the data up to
        that day), in the plan's order. The days not yet kept are measured a chunk of
        :data:`BATCH_ROWS` rows at a time (usage read ``batch`` days per scan), when the
        plan first reaches them."""
        options = cards.options
        todo = [d for d in dict.fromkeys(plan) if (options, d) not in self.kept]
        usage = UsageWindows(self.session, todo, batch=batch)
        per_chunk = max(1, BATCH_ROWS // max(1, self.lines["account_id"].nunique()))
        at = 0
        while at < len(plan):
            if (options, plan[at]) not in self.kept:
                start = todo.index(plan[at])
                chunk, todo = todo[start : start + per_chunk], todo[:start] + todo[start + per_chunk :]
                measured = measure_days(self.session, chunk, options, lines=self.lines, segments=self.segments,
                                        paying_only=True, usage=usage, contacts=self.contacts,
                                        history_from=self.first)  # fmt: skip
                self.kept.update({(options, d): measured for d in chunk})
            measured = self.kept[(options, plan[at])]
            run: list[date] = []  # the plan's next days kept together: scored in one pass
            while at < len(plan) and plan[at] not in run and self.kept.get((options, plan[at])) is measured:
                run.append(plan[at])
                at += 1
            scored = score_measured(measured.take(run), cards, lines=self.lines, segments=self.segments,
                                    default_only=default_only, replay_stages=replay_stages)  # fmt: skip
            for day in run:
                yield day, scored[day]


def scorecard_keys(cards: ScorecardSet, segments: pd.DataFrame, accounts: pd.Index) -> pd.Series:
    """The scorecard of each account (by its stage and tier now), on ``accounts``' index
    (account ids, or (day, account_id) rows)."""
    ids = accounts.get_level_values("account_id") if isinstance(accounts, pd.MultiIndex) else accounts
    seg = segments.drop_duplicates("account_id").set_index("account_id")
    keys = {int(a): cards.for_account(s, t).key for a, s, t in zip(seg.index, seg["stage"], seg["tier"], strict=True)}
    default = cards.for_account(None, None).key
    return pd.Series([keys.get(int(a), default) for a in ids], index=accounts, dtype=object)


@dataclass(frozen=True)
class RowScores:
    """Scores of the rows of a measures frame (accounts of a day, or (day, account) rows),
    in its order; score NaN where no measure had data."""

    values: pd.DataFrame
    score: pd.Series
    grade: pd.Series
    letter: pd.Series
    measures: pd.Series  # {measure: {value, points, weight}} per row
    lost: pd.Series  # the share of the weight that the measures in ``missing`` carried


def score_rows(values_for: Any, assignment: pd.Series, cards: ScorecardSet,
               missing: Collection[str] = ()) -> RowScores:  # fmt: skip
    """Every row scored under its scorecard (``assignment``: the scorecard key per row);
    ``values_for(min_history_days)``: the measures frame (rows as ``assignment``) with that
    minimum history. The measures in ``missing`` count as missing for every row."""
    index = assignment.index
    values = calc.mark_missing(values_for(cards.default.min_history_days), set(missing))
    lost = np.zeros(len(index))
    score = np.full(len(index), np.nan)
    grade = np.full(len(index), "", dtype=object)
    letter = np.full(len(index), "", dtype=object)
    measures = np.full(len(index), None, dtype=object)
    keys = assignment.to_numpy()
    for key in pd.unique(keys):
        card = cards.get(str(key))
        assert card is not None
        pos = np.nonzero(keys == key)[0]
        full = values_for(card.min_history_days).iloc[pos]
        part = calc.mark_missing(full, set(missing))
        if card.min_history_days != cards.default.min_history_days:
            values.iloc[pos] = part
        scores = calc.score_accounts(part, card, missing)
        late = [c for c in card.measure_keys if c in missing]
        if late:  # how much of the score the late measures carried, had they been trusted
            lost[pos] = calc.score_accounts(full, card).weights[late].sum(axis=1).to_numpy()
        g, letters = calc.grades(scores.score, card.bands)
        score[pos], grade[pos], letter[pos] = scores.score.to_numpy(), g.to_numpy(), letters.to_numpy()
        for i, row in zip(pos, calc.measures_json(part, scores), strict=True):
            measures[i] = row
    return RowScores(values, pd.Series(score, index=index), pd.Series(grade, index=index),
                     pd.Series(letter, index=index), pd.Series(measures, index=index, dtype=object),
                     pd.Series(lost, index=index))  # fmt: skip


def hold_day(scored: DayScores, cards: ScorecardSet, before: list[pd.DataFrame]) -> DayScores:
    """The day's grades with hysteresis: ``before`` holds the score, grade and letter by
    account of the days before, yesterday first (see ``analytics.health.hold_grades``)."""
    if not before:
        return scored
    previous = before[0]
    recent = pd.concat([b["score"] for b in before], axis=1, keys=range(len(before)))
    grade, letter = scored.grade.copy(), scored.letter.copy()
    for key in pd.unique(scored.scorecard):
        card = cards.get(str(key))
        assert card is not None
        ids = scored.scorecard.index[scored.scorecard == key]
        g, l_ = calc.held_grades(scored.score.loc[ids], previous.reindex(ids), recent.reindex(ids), card.bands,
                                 cards.options)  # fmt: skip
        grade.loc[ids], letter.loc[ids] = g, l_
    return dataclasses.replace(scored, grade=grade, letter=letter)


def _days_before(session: Session, day: date, n: int, memo: dict[date, pd.DataFrame]) -> list[pd.DataFrame]:
    """Score, grade and letter by account of the ``n`` days before ``day`` (yesterday first):
    remembered from this run, else the stored snapshots."""
    wanted = [day - timedelta(days=k) for k in range(1, n + 1)]
    missing = [d for d in wanted if d not in memo]
    if missing:
        stored = q.snapshot_grades(session, min(missing), max(missing))
        stored["day"] = pd.to_datetime(stored["day"]).dt.date
        for d in missing:
            memo[d] = stored[stored["day"] == d].set_index("account_id")[["score", "grade", "letter"]]
    return [memo[d] for d in wanted]


def _history_days(options: ScoringOptions) -> int:
    """How many days before a day its grades' hysteresis reads (0: no hysteresis)."""
    if options.grade_margin <= 0 and options.grade_confirm_days <= 1:
        return 0
    return max(1, options.grade_confirm_days - 1)


def recompute(
    session: Session, as_of: date, *, since: date | None = None, path: Path | None = None,
    on_day: Any = None, missing: frozenset[str] = frozenset(), hold_since: date | None = None,
    cards: ScorecardSet | None = None, scores: Callable[[date], DayScores] | None = None,
) -> int:  # fmt: skip
    """Write the snapshots of ``as_of`` (or of every day from ``since`` to ``as_of``):
    score, grades, measures, 7/30-day change and explanation; the accounts list's
    health columns follow the newest day. Returns the snapshots written. ``missing``:
    measures counted as missing on ``as_of`` (see :func:`score_day`); ``hold_since``: the
    first day their feeds were late — an account that rested on them for more than
    ``HOLD_SHARE`` of its weight keeps its score of that day. ``scores``: a day's
    :class:`DayScores` computed beforehand (the history builds many days at once,
    ``services.health.history``); by default :func:`score_day` one day at a time."""
    if since is not None and since > as_of:
        raise InvalidInput(_("--from must not be after --as-of"), field="from")
    if since is not None and (as_of - since).days > 3660:
        raise InvalidInput(_("the backfill is longer than ten years"), field="from")
    cards = active_scorecards(session, path).cards if cards is None else cards
    lines = q.subscription_lines(session)
    segments = q.account_segments(session)
    day = since or as_of
    written = 0
    cache: dict[date, pd.DataFrame] = {}
    stored = q.snapshot_days(session, day - timedelta(days=30), day - timedelta(days=1))
    plan = []
    for n in range((as_of - day).days + 1):
        d = day + timedelta(days=n)
        plan += [d] + [e for e in (d - timedelta(days=7), d - timedelta(days=30)) if e < day and e not in stored]
    usage = UsageWindows(session, plan)
    held: dict[date, pd.DataFrame] = {}
    while day <= as_of:
        late = day == as_of
        written += _recompute_day(session, day, cards, lines, segments, cache, usage, held,
                                  missing if late else frozenset(), hold_since if late else None, scores,
                                  list_columns=late)  # fmt: skip
        for old in [d for d in cache if d < day - timedelta(days=29)]:
            del cache[old]  # the next days read 7 and 30 days back only: memory stays flat
        if on_day is not None:
            on_day(day)
        day += timedelta(days=1)
    return written


def _earlier(session: Session, day: date, cards: ScorecardSet, lines: pd.DataFrame, segments: pd.DataFrame,
             cache: dict[date, pd.DataFrame], usage: UsageWindows,
             scores: Callable[[date], DayScores] | None = None) -> pd.DataFrame:  # fmt: skip
    """Scores and measures of an earlier day: stored snapshots, else computed (not stored)."""
    if day in cache:
        return cache[day]
    stored = q.snapshots_on(session, day)
    if stored.empty:
        scored = scores(day) if scores is not None else score_day(session, day, cards, lines=lines, segments=segments,
                                                                   usage=usage)  # fmt: skip
        stored = pd.DataFrame({"account_id": scored.score.index, "score": scored.score.to_numpy(),
                               "measures": scored.measures})  # fmt: skip
    frame = stored.set_index("account_id")
    cache[day] = frame
    return frame


def _recompute_day(session: Session, day: date, cards: ScorecardSet, lines: pd.DataFrame, segments: pd.DataFrame,
                   cache: dict[date, pd.DataFrame], usage: UsageWindows,
                   held: dict[date, pd.DataFrame] | None = None, missing: frozenset[str] = frozenset(),
                   hold_since: date | None = None, scores: Callable[[date], DayScores] | None = None,
                   list_columns: bool = True) -> int:  # fmt: skip
    """Score and store one day; ``list_columns``: and write the accounts list's columns (a
    backfill writes them on its last day only: each day's write replaces the one before, so
    the last day's is what stays)."""
    week = _earlier(session, day - timedelta(days=7), cards, lines, segments, cache, usage, scores)
    month = _earlier(session, day - timedelta(days=30), cards, lines, segments, cache, usage, scores)
    if scores is not None and not missing:
        scored = scores(day)
    else:
        scored = score_day(session, day, cards, lines=lines, segments=segments, usage=usage, missing=missing)
    if hold_since is not None and hold_since < day and scored.lost is not None:
        # a late feed: accounts that leaned on it keep the score they had on its first late day
        before = _earlier(session, hold_since, cards, lines, segments, cache, usage, scores)["score"]
        scored = _hold(scored, before, cards)
    held = {} if held is None else held
    scored = hold_day(scored, cards, _days_before(session, day, _history_days(cards.options), held))
    held[day] = pd.DataFrame({"score": scored.score, "grade": scored.grade, "letter": scored.letter})
    for old in [d for d in held if d <= day - timedelta(days=max(1, _history_days(cards.options)))]:
        del held[old]  # a backfill keeps only the days the next day's hysteresis reads
    week_score = week["score"].reindex(scored.score.index)
    month_score = month["score"].reindex(scored.score.index)
    month_measures = month["measures"].to_dict()
    rows = []
    score = scored.score.to_numpy(dtype="float64")
    change_7d = np.round(score - week_score.to_numpy(dtype="float64"), 2).tolist()
    change_30d = np.round(score - month_score.to_numpy(dtype="float64"), 2).tolist()
    columns = zip(scored.score.index.tolist(), np.round(score, 2).tolist(), scored.scorecard.astype(str).tolist(),
                  scored.grade.tolist(), scored.letter.tolist(), change_7d, change_30d, scored.measures, strict=True)  # fmt: skip
    for account_id, s, card, grade, letter, c7, c30, measures in columns:
        rows.append({
            "account_id": int(account_id), "day": day, "scorecard": card, "score": s, "grade": grade, "letter": letter,
            "change_7d": None if math.isnan(c7) else c7, "change_30d": None if math.isnan(c30) else c30,
            "measures": measures, "explanation": calc.explain(measures, month_measures.get(account_id)),
        })  # fmt: skip
    q.replace_snapshots(session, day, rows)
    cache[day] = pd.DataFrame({"score": scored.score.round(2), "measures": scored.measures}, index=scored.score.index)
    if list_columns:
        q.set_account_health(session, day, ((r["account_id"], r["score"], r["grade"]) for r in rows))
    return len(rows)


def _hold(scored: DayScores, before: pd.Series, cards: ScorecardSet) -> DayScores:
    """Accounts that rested on late feeds for more than ``HOLD_SHARE`` of their weight
    keep their score (and its grade) from before the feeds went late; the others keep
    the renormalised score."""
    assert scored.lost is not None
    ids = scored.lost.index[scored.lost > HOLD_SHARE]
    kept = before.reindex(ids).dropna().astype("float64")
    if kept.empty:
        return scored
    score, grade, letter = scored.score.copy(), scored.grade.copy(), scored.letter.copy()
    for key in pd.unique(scored.scorecard.loc[kept.index]):
        card = cards.get(str(key))
        assert card is not None
        part = kept[scored.scorecard.loc[kept.index] == key]
        g, letters = calc.grades(part, card.bands)
        score.loc[part.index], grade.loc[part.index], letter.loc[part.index] = part, g, letters
    return replace(scored, score=score, grade=grade, letter=letter)


def recompute_step(
    session: Session, as_of: date, scorecards_path: Path | None, mapping: UsageMapping | None = None,
    missing: frozenset[str] = frozenset(), hold_since: date | None = None,
) -> int:
    """The daily pipeline's step: the scorecards in force (a saved version, else the
    file ``KIZUNA_HEALTH_SCORECARDS`` names, else the shipped default); ``missing``: the
    measures of late feeds, counted as missing; ``hold_since``: when they went late. Logs a
    warning for each :func:`mapping_warnings` (a mapping that turns activity into none)."""
    for warning in mapping_warnings(session, as_of, mapping or DEFAULT_MAPPING):
        log.warning("health scores: %s", warning.message)
    return recompute(session, as_of, path=scorecards_path, missing=missing, hold_since=hold_since)


@dataclass(frozen=True)
class MappingWarning:
    """Accounts with events that the usage mapping turns into accounts without activity."""

    entry: str  # the mapping entry to fix: "[login] events" or "[features]"
    accounts: int  # accounts with events in the last 30 days
    message: str  # in the reader's language


def mapping_warnings(session: Session, as_of: date, mapping: UsageMapping) -> list[MappingWarning]:
    """Silent zeros: accounts sent events in the 30 days up to ``as_of`` but none of them
    has a login (no event matches the sign-in rule) or a feature use (no event matches
    a ``[features]`` entry). The health measures of a metric nobody reports are missing
    for everyone (not zero), but the mapping entry should be fixed."""
    counts = q.accounts_reporting(session, as_of - timedelta(days=30), as_of)
    n = counts[METRIC_EVENTS]
    out: list[MappingWarning] = []
    if n and not counts[METRIC_LOGINS]:
        names = ", ".join(sorted(mapping.login_events))
        out.append(MappingWarning("[login] events", n, _(
            "{n} accounts sent events in the last 30 days but none has a login: no event matches the usage "
            "mapping's [login] events ({events}). Name the product's sign-in event there, or set "
            "[login] any_activity = true to count a day with any event as an active day; until then the "
            "login measures are missing for every account.").format(n=n, events=names)))  # fmt: skip
    if n and not counts["features"] and mapping.features:
        out.append(MappingWarning("[features]", n, _(
            "{n} accounts sent events in the last 30 days but none used a feature: no event matches the usage "
            "mapping's [features] entries ({events}). Map the product's feature events there; until then "
            "feature adoption is missing for every account.").format(
                n=n, events=", ".join(sorted(mapping.features)[:6]))))  # fmt: skip
    return out


# --- reading -------------------------------------------------------------------------------------


def describe_value(measure: str, value: float | None) -> str:
    """A measure's raw value for people: −45%, 60%, 3, 120 days, 7.5."""
    if value is None:
        return _("no data")
    unit = MEASURES[measure].unit.value if measure in MEASURES else "count"
    if unit == "change":
        return f"{value * 100:+.0f}%".replace("-", "−")
    if unit == "share":
        return f"{value * 100:.0f}%"
    if unit == "days":
        return _("{n} days").format(n=f"{value:.0f}")
    if unit == "minutes":
        return _("{n} min").format(n=f"{value:,.0f}")
    if unit == "score":
        return f"{value:.1f}"
    return f"{value:,.0f}"


def explanation_lines(items: Sequence[Mapping[str, Any] | RiskItem]) -> list[str]:
    """The stored explanation in the reader's language."""
    out = []
    for entry in items:
        item = entry.as_dict() if isinstance(entry, RiskItem) else entry
        key = item.get("measure", "")
        label = _(MEASURES[key].label) if key in MEASURES else key
        pts = f"{item.get('points', 0):+.0f}".replace("-", "−")
        if item.get("kind") == "change":
            line = _("{measure} {value} (30 days ago: {before}): {points} points").format(
                measure=label, value=describe_value(key, item.get("value")),
                before=describe_value(key, item.get("before")), points=pts)  # fmt: skip
        else:
            line = _("{measure} {value}: {points} points below full marks").format(
                measure=label, value=describe_value(key, item.get("value")), points=pts)  # fmt: skip
        basis = item.get("basis")
        if isinstance(basis, dict):
            line += " " + _("(per tracked user: the data tracks {tracked} users of {seats} seats)").format(
                tracked=f"{basis.get('tracked_users', 0):,}", seats=f"{basis.get('seats', 0):,}")  # fmt: skip
        out.append(line)
    return out


@dataclass(frozen=True)
class Measure:
    """One measure of a snapshot: its raw value, its points (0–100) and its weight (None: missing)."""

    value: float | None
    points: float | None
    weight: float


@dataclass(frozen=True)
class Snapshot:
    """An account's health on one day."""

    day: date
    scorecard: str
    score: float
    grade: str
    letter: str
    change_7d: float | None
    change_30d: float | None
    measures: dict[str, Measure]
    explanation: list[RiskItem]

    @property
    def reasons(self) -> list[str]:
        """The explanation in the reader's language."""
        return explanation_lines(self.explanation)

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> Snapshot:
        measures = {k: Measure(m.get("value"), m.get("points"), float(m.get("weight") or 0))
                    for k, m in (row["measures"] or {}).items()}  # fmt: skip
        return cls(day=row["day"], scorecard=row["scorecard"], score=row["score"], grade=str(row["grade"]),
                   letter=row["letter"], change_7d=row["change_7d"], change_30d=row["change_30d"],
                   measures=measures, explanation=[RiskItem.of(i) for i in row["explanation"] or ()])  # fmt: skip


@dataclass(frozen=True)
class Sentiment:
    """A CSM's sentiment entry (1 very negative … 5 very positive) and why."""

    id: int
    value: int
    reason: str
    entered_at: datetime
    author: str | None = None


@dataclass(frozen=True)
class AccountHealth:
    account_id: int
    name: str
    history: list[Snapshot]  # oldest first
    sentiments: list[Sentiment]  # newest first


def account_health(session: Session, account_id: int, days: int = 180) -> AccountHealth:
    """The account's snapshots of the last ``days`` days (newest last) and sentiment entries."""
    name = q.account_exists(session, account_id)
    if name is None:
        raise NotFound(_("no account with id {id}").format(id=account_id), code="account_not_found")
    latest = q.latest_snapshot_day(session)
    since = latest - timedelta(days=days) if latest else None
    history = [Snapshot.of(r) for r in q.snapshot_history(session, account_id, since)]
    return AccountHealth(account_id, name, history, [Sentiment(**r) for r in q.sentiments(session, account_id)])


def find_account(session: Session, key: str) -> int:
    """An account by id, external id, exact or partial name (``services.accounts.find_account``)."""
    from kizuna.services.accounts import find_account as find

    return find(session, key)


@dataclass
class GradeCounts:
    green: int = 0
    yellow: int = 0
    red: int = 0


@dataclass(frozen=True)
class Mover:
    """An account whose score changed much over 7 or 30 days."""

    account_id: int
    name: str
    score: float
    grade: str
    change: float
    explanation: list[RiskItem]
    mrr: int | None = None  # minor units of ``currency``: what is at stake
    currency: str | None = None
    owner_id: int | None = None  # who to call
    owner_name: str | None = None

    @property
    def reasons(self) -> list[str]:
        return explanation_lines(self.explanation)


@dataclass(frozen=True)
class Movers:
    dropped_7d: list[Mover] = field(default_factory=list)
    improved_7d: list[Mover] = field(default_factory=list)
    dropped_30d: list[Mover] = field(default_factory=list)
    improved_30d: list[Mover] = field(default_factory=list)


@dataclass(frozen=True)
class HealthSummary:
    """The newest snapshot day: accounts per grade, per touch tier (``none``: no tier) and grade, the movers."""

    day: date | None
    grades: GradeCounts
    tiers: dict[str, GradeCounts]
    movers: Movers


def summary(session: Session, limit: int = 10) -> HealthSummary:
    """Distribution by grade and tier on the newest snapshot day, and the movers."""
    day = q.latest_snapshot_day(session)
    if day is None:
        return HealthSummary(None, GradeCounts(), {}, Movers())
    grades = GradeCounts()
    tiers: dict[str, GradeCounts] = {}
    for tier, grade, n in q.grade_counts(session, day):
        setattr(grades, grade, getattr(grades, grade) + n)
        setattr(tiers.setdefault(tier or "none", GradeCounts()), grade, n)

    def movers(period: str, rising: bool) -> list[Mover]:
        return [Mover(r["account_id"], r["name"], r["score"], r["grade"], r["change"],
                      [RiskItem.of(i) for i in r["explanation"] or ()], r["mrr"], r["currency"], r["owner_id"],
                      r["owner_name"])
                for r in q.movers(session, day, f"change_{period}", limit, rising=rising)]  # fmt: skip

    return HealthSummary(day, grades, tiers, Movers(movers("7d", False), movers("7d", True), movers("30d", False),
                                                    movers("30d", True)))  # fmt: skip


# --- CSM sentiment -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SentimentEntry:
    """A sentiment just entered."""

    id: int
    account_id: int
    value: int
    reason: str
    entered_at: datetime


def enter_sentiment(session: Session, account_id: int, *, value: str | int, reason: str, author_id: int | None,
                    now: datetime) -> SentimentEntry:  # fmt: skip
    """Record a CSM's sentiment (1–5) with why; it counts from the next recompute."""
    if q.account_exists(session, account_id) is None:
        raise NotFound(_("no account with id {id}").format(id=account_id), code="account_not_found")
    try:
        number = int(str(value).strip())
    except ValueError:
        number = 0
    if number not in SENTIMENT_LABELS:
        raise InvalidInput(_("the sentiment must be a whole number from 1 to 5"), field="value")
    text = (reason or "").strip()
    if not text:
        raise InvalidInput(_("say why: the reason is required"), field="reason")
    if len(text) > MAX_SENTIMENT_REASON:
        raise InvalidInput(_("the reason is longer than {n} characters").format(n=MAX_SENTIMENT_REASON),
                           field="reason")  # fmt: skip
    entry = q.add_sentiment(session, account_id, author_id, number, text, now)
    return SentimentEntry(entry.id, account_id, number, text, entry.entered_at)


# --- backtest ------------------------------------------------------------------------------------


def backtest(
    session: Session, *, as_of: date, horizon_days: int = 90, path: Path | None = None,
    cards: ScorecardSet | None = None, on_day: Any = None, stability_days: int = 30,
    measures: MeasuredHistory | None = None,
) -> calc.BacktestResult:  # fmt: skip
    """Replay history: at each month-end with at least :data:`BACKTEST_HISTORY_DAYS` of
    usage behind it (the measures are age-aware) and the whole horizon before ``as_of``,
    score every paying account with the scorecard of the stage it had then (worked out
    from the data) from the data up to that day, and check who churned within the
    horizon. Grades carry their hysteresis over the days before each month-end. Beside
    the score: each measure's own AUC (as the default scorecard reads it) and the naive
    signal's (fewer events in the last 30 days = riskier). Then score every day of the
    last ``stability_days`` of history and count the day-to-day grade changes per 1,000
    accounts, with and without hysteresis. ``measures``: the store's measures kept from
    an earlier backtest (or tuning) of it, to score other scorecards without reading and
    measuring the days again (the same figures to the bit)."""
    if not 7 <= horizon_days <= 730:
        raise InvalidInput(_("--horizon-days must be from 7 to 730"), field="horizon_days")
    if not 0 <= stability_days <= 366:
        raise InvalidInput(_("--stability-days must be from 0 to 366"), field="stability_days")
    cards = cards or active_scorecards(session, path).cards
    measures = MeasuredHistory(session) if measures is None else measures
    lines = measures.lines
    first, last = measures.first, measures.last
    if first is None or last is None:
        raise InvalidInput(_("there is no usage history to backtest on"), field="as_of")
    end = min(as_of, last) - timedelta(days=horizon_days)
    start = first + timedelta(days=BACKTEST_HISTORY_DAYS)
    days = calc.month_ends(start, end)
    if not days:
        raise InvalidInput(_("the history is too short for a {n}-day horizon").format(n=horizon_days),
                           field="horizon_days")  # fmt: skip
    frames = []
    back = _history_days(cards.options)
    warm = back + 2 if back else 0  # days scored before each month-end to settle its grades
    stable_days = [min(as_of, last) - timedelta(days=k) for k in range(stability_days - 1, -1, -1)]
    settle = [stable_days[0] - timedelta(days=k) for k in range(warm, 0, -1)] if stable_days else []
    plan = [d - timedelta(days=k) for d in days for k in range(warm, -1, -1)] + settle + stable_days
    # the days are scored in the order of the plan (consecutive days share most of a usage scan)
    raws = measures.scores(plan, cards, replay_stages=True, batch=max(4, warm + 1))
    memo: dict[date, pd.DataFrame] = {}
    points = []

    def scored_on(day: date) -> tuple[DayScores, DayScores]:
        planned, raw = next(raws)
        assert planned == day
        before = [memo[d] for d in (day - timedelta(days=k) for k in range(1, back + 1)) if d in memo]
        held = hold_day(raw, cards, before if len(before) == back else [])
        memo[day] = pd.DataFrame({"score": held.score, "grade": held.grade, "letter": held.letter})
        return raw, held

    for day in days:
        for k in range(warm, 0, -1):
            scored_on(day - timedelta(days=k))
        _raw, scored = scored_on(day)
        frames.append(pd.DataFrame({"day": day, "account_id": scored.score.index, "score": scored.score.to_numpy(),
                                    "grade": scored.grade.to_numpy(),
                                    "events30": scored.events30.to_numpy() if scored.events30 is not None else np.nan}))  # fmt: skip
        points.append(calc.score_accounts(scored.values, cards.default).points)
        memo.clear()
        if on_day is not None:
            on_day(day)
    daily = []
    for day in settle:
        scored_on(day)
    for day in stable_days:
        raw, held = scored_on(day)
        daily.append(pd.DataFrame({"day": day, "account_id": held.score.index, "grade": held.grade.to_numpy(),
                                   "raw_grade": raw.grade.to_numpy()}))  # fmt: skip
    table = pd.concat(frames, ignore_index=True)
    churns = calc.churn_events(lines)
    churns = churns[churns["churned_on"] <= pd.Timestamp(end + timedelta(days=horizon_days))]
    result = calc.backtest_metrics(table, churns, horizon_days, points=pd.concat(points, ignore_index=True))
    if not daily:
        return result
    stable = pd.concat(daily, ignore_index=True)
    return dataclasses.replace(
        result, stability_days=len(stable_days), grade_changes_per_1000=calc.grade_changes_per_1000(stable),
        raw_grade_changes_per_1000=calc.grade_changes_per_1000(stable, "raw_grade"),
    )  # fmt: skip


@dataclass(frozen=True)
class RocPoint:
    fpr: float
    tpr: float


@dataclass(frozen=True)
class GradeChurn:
    accounts: int
    churned: int
    rate: float


@dataclass(frozen=True)
class MeasureAucRow:
    """One measure's own ROC-AUC in the backtest, and which way it points."""

    measure: str
    auc: float | None
    direction: str  # right, wrong, none (DIRECTION_LABELS)
    samples: int
    churned: int


@dataclass(frozen=True)
class BacktestSummary:
    """The backtest as the page and ``/api/health/backtest`` show it (rounded figures), with
    the scorecards it replayed."""

    horizon_days: int
    evaluations: int
    samples: int
    churned: int
    auc: float | None
    roc: list[RocPoint]
    by_grade: dict[str, GradeChurn]
    lift_red_over_green: float | None
    median_lead_days: float | None
    churn_events: int
    red_before_churn: int
    first_day: date | None
    last_day: date | None
    stability_days: int = 0  # days over which day-to-day grade changes were counted
    grade_changes_per_1000: float | None = None  # per day per 1,000 accounts, with the hysteresis
    raw_grade_changes_per_1000: float | None = None  # the same without it
    naive_auc: float | None = None  # fewer events in the last 30 days = riskier: the floor to beat
    measures: list[MeasureAucRow] = field(default_factory=list)  # each measure's own ROC-AUC
    scorecards: str | None = None
    scorecards_version: int | None = None

    @classmethod
    def of(cls, result: calc.BacktestResult, scorecards: str | None = None, version: int | None = None
           ) -> BacktestSummary:  # fmt: skip
        data = backtest_json(result)
        return cls(**{**data, "roc": [RocPoint(**p) for p in data["roc"]],
                      "measures": [MeasureAucRow(**m) for m in data["measures"]],
                      "by_grade": {g: GradeChurn(int(v["accounts"]), int(v["churned"]), float(v["rate"]))
                                   for g, v in data["by_grade"].items()},
                      "first_day": result.first_day, "last_day": result.last_day},
                   scorecards=scorecards, scorecards_version=version)  # fmt: skip
#: A measure's direction in the backtest (:attr:`MeasureAuc.direction`) → English label.
DIRECTION_LABELS = {
    "right": N_("as scored (fewer points, more churn)"),
    "wrong": N_("the wrong way (fewer points, less churn)"),
    "none": N_("no data"),
}


def backtest_json(result: calc.BacktestResult) -> dict[str, Any]:
    return {
        "horizon_days": result.horizon_days, "evaluations": result.evaluations, "samples": result.samples,
        "churned": result.churned, "auc": None if result.auc is None else round(result.auc, 4),
        "roc": [{"fpr": a, "tpr": b} for a, b in result.roc], "by_grade": result.by_grade,
        "lift_red_over_green": None if result.lift_red_over_green is None else round(result.lift_red_over_green, 2),
        "median_lead_days": result.median_lead_days, "churn_events": result.churn_events,
        "red_before_churn": result.red_before_churn,
        "first_day": result.first_day.isoformat() if result.first_day else None,
        "last_day": result.last_day.isoformat() if result.last_day else None,
        "stability_days": result.stability_days,
        "grade_changes_per_1000": _rounded(result.grade_changes_per_1000),
        "raw_grade_changes_per_1000": _rounded(result.raw_grade_changes_per_1000),
        "naive_auc": None if result.naive_auc is None else round(result.naive_auc, 4),
        "measures": [{"measure": m.key, "auc": None if m.auc is None else round(m.auc, 4), "direction": m.direction,
                      "samples": m.samples, "churned": m.churned} for m in result.measures],
    }  # fmt: skip


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


# --- editing weights in the UI -------------------------------------------------------------------


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        number = float(value)
        return str(int(number)) if number.is_integer() else repr(number)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(type(value))


def _bands_toml(bands: Any) -> str:
    letters = ", ".join(f"{k.value} = {_toml_value(v)}" for k, v in bands.letters)
    return f"green = {_toml_value(bands.green)}\nyellow = {_toml_value(bands.yellow)}\nletters = {{ {letters} }}\n"


def to_toml(cards: ScorecardSet) -> str:
    """Scorecards as TOML (what the weights form saves; comments are not kept)."""
    base = cards.default.bands
    out = ["# Saved from the scorecards page. See docs/health.md.\n", "[grades]\n", _bands_toml(base), "\n[scoring]\n"]
    out += [f"{f.name} = {_toml_value(getattr(cards.options, f.name))}\n" for f in dataclasses.fields(cards.options)]
    for card in cards.scorecards:
        out.append(f"\n[scorecards.{card.key}]\nname = {_toml_value(card.name)}\n")
        if card.default:
            out.append("default = true\n")
        if card.stages:
            out.append(f"stages = {_toml_value(list(card.stages))}\n")
        if card.tiers:
            out.append(f"tiers = {_toml_value(list(card.tiers))}\n")
        if card.min_history_days != 14:
            out.append(f"min_history_days = {card.min_history_days}\n")
        if card.bands != base:
            out.append(f"\n[scorecards.{card.key}.grades]\n{_bands_toml(card.bands)}")
        for group in card.groups:
            out.append(f"\n[scorecards.{card.key}.groups.{group.key}]\nlabel = {_toml_value(group.label)}\n"
                       f"weight = {_toml_value(group.weight)}\n\n[scorecards.{card.key}.groups.{group.key}.measures]\n")  # fmt: skip
            for m in group.measures:
                pts = _toml_value([list(p) for p in m.points])
                out.append(
                    f'{m.key} = {{ weight = {_toml_value(m.weight)}, scoring = "{m.scoring.value}", points = {pts} }}\n'
                )
    return "".join(out)


def cached_backtest(
    session: Session, cache: dict[Any, Any], *, as_of: date, horizon_days: int, path: Path | None, now: float
) -> BacktestSummary:
    """The backtest as JSON, kept in ``cache`` (the app's) for ten minutes per
    scorecards version, history and horizon: replaying two years takes seconds."""
    active = active_scorecards(session, path)
    key = (active.source, q.store_day_range(session), horizon_days, as_of)
    hit = cache.get(key)
    if hit is not None and now - hit[0] < 600:
        summary: BacktestSummary = hit[1]
        return summary
    result = backtest(session, as_of=as_of, horizon_days=horizon_days, cards=active.cards)
    data = BacktestSummary.of(result, active.origin, active.version)
    if len(cache) > 16:
        cache.clear()
    cache[key] = (now, data)
    return data


def feature_table(session: Session, backend: Any, days: Sequence[date], path: Path | None = None, *,
                  paying_only: bool = False) -> pd.DataFrame:  # fmt: skip
    """The health feature table (one row per day and live account, one column per raw
    measure; NaN: missing) for ``days``, aggregated on the analytics ``backend`` (the
    store, PostgreSQL, DuckDB or Spark: ``kizuna.analytics.health_inputs``) with the
    scoring options of the scorecards in force (read from the store's ``session``)."""
    from kizuna.analytics import health_inputs

    cards = active_scorecards(session, path).cards
    return health_inputs.measures_on(health_inputs.health_tables(backend), days, cards.options,
                                     paying_only=paying_only, min_history_days=cards.default.min_history_days)  # fmt: skip
