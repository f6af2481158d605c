"""Health grades (ヘルススコアの評価) and scorecards: measures, scoring functions,
weights with missing-measure renormalisation, grade bands (green/yellow/red and A–F),
and the checked TOML form of the scorecards.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from kizuna.errors import InvalidInput
from kizuna.i18n import N_, _


class HealthGrade(StrEnum):
    """The traffic-light grade of a health score."""

    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


def _grade_labels() -> dict[str, str]:
    return {"green": N_("green"), "yellow": N_("yellow"), "red": N_("red")}


#: value → English label, for display; pass through ``gettext`` when showing.
GRADE_LABELS: dict[str, str] = _grade_labels()


# --- scorecards (the health scores work) -------------------------------------------------
#
# A scorecard turns measures (raw figures such as "logins vs the account's 90-day
# baseline") into points 0–100 with a scoring function each, averages the points by
# weight inside groups, and the groups by weight into the overall score 0–100. A
# measure with no data is missing, not zero: its weight is shared out among the
# measures that have data (and a group with no data at all among the other groups).


class LetterGrade(StrEnum):
    """The school grade of a health score: A (best) to F."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"
    F = "F"


class Scoring(StrEnum):
    """How a measure's raw value becomes points 0–100.

    ``linear``: straight lines between the breakpoints ``[[value, points], …]``, flat
    beyond the first and the last. ``steps``: the points of the highest breakpoint whose
    value is at most the raw value (below the first: the first's points).
    """

    LINEAR = "linear"
    STEPS = "steps"


class MeasureUnit(StrEnum):
    CHANGE = "change"  # a relative change, −1 … +∞ (shown as −45%)
    SHARE = "share"  # a fraction 0 … 1 (shown as 45%)
    COUNT = "count"
    DAYS = "days"
    MINUTES = "minutes"
    SCORE = "score"  # a survey or sentiment score on its own scale


@dataclass(frozen=True)
class MeasureInfo:
    """What a measure is: its label, its unit and where its data comes from."""

    key: str
    label: str  # English msgid
    unit: MeasureUnit
    description: str  # English msgid


def _measure_catalogue() -> dict[str, MeasureInfo]:
    m = MeasureInfo
    u = MeasureUnit
    items = [
        m("logins_vs_baseline", N_("Logins vs the account's 90-day baseline"), u.CHANGE,
          N_("Logins per day in the last 30 days against the 90 days before them.")),
        m("login_trend", N_("Login trend over 30 days"), u.CHANGE,
          N_("Logins in the last 30 days against the 30 days before them.")),
        m("login_days", N_("Days with logins in the last 30"), u.COUNT,
          N_("How many of the last 30 days had at least one login.")),
        m("active_users_per_seat", N_("Active users ÷ seats"), u.SHARE,
          N_("The most users active on one day in the last 30 days, divided by the seats of the live plan.")),
        m("feature_breadth", N_("Feature adoption breadth"), u.SHARE,
          N_("Distinct features used in the last 30 days, divided by the features available.")),
        m("usage_minutes_per_seat", N_("Usage minutes per seat"), u.MINUTES,
          N_("Session minutes in the last 30 days, divided by the seats.")),
        m("events_vs_baseline", N_("Events vs the account's own baseline"), u.CHANGE,
          N_("Events per day in the last 30 days against the 90 days before them, counting only the days "
             "the account existed.")),
        m("active_days", N_("Active days in the last 30"), u.COUNT,
          N_("How many of the last 30 days had any event (scaled to 30 days for a younger account).")),
        m("events_per_seat", N_("Events per seat"), u.COUNT,
          N_("Events in the last 30 days (per 30 days the account existed), divided by the seats.")),
        m("events_per_active_user", N_("Events per active user a day"), u.COUNT,
          N_("Events in the last 30 days divided by the active users summed over those days.")),
        m("events_percentile", N_("Events per seat among peers"), u.SHARE,
          N_("Where the account's events per seat rank among the accounts on the same plan, from the lowest to the highest.")),
        m("account_age", N_("Account age"), u.DAYS,
          N_("Days since the account's first subscription started (a trial counts): young accounts churn more.")),
        m("nps", N_("NPS score"), u.SCORE,
          N_("Average NPS answer (0–10), each answer weighing half as much every half-life (scorecard [scoring]).")),
        m("csat", N_("CSAT"), u.SCORE,
          N_("Average CSAT answer (1–5), each answer weighing half as much every half-life (scorecard [scoring]).")),
        m("open_tickets", N_("Open tickets"), u.COUNT, N_("Support tickets open on the day.")),
        m("escalated_tickets", N_("Escalated tickets"), u.COUNT,
          N_("Open tickets of high or urgent priority on the day.")),
        m("onboarding_progress", N_("Onboarding progress"), u.SHARE,
          N_("Onboarding milestones completed by the day, divided by all of the account's milestones.")),
        m("days_to_renewal", N_("Days to renewal"), u.DAYS,
          N_("Days until the next anniversary of a live yearly contract (monthly contracts: missing).")),
        m("payment_state", N_("Payment state"), u.SCORE,
          N_("Overdue invoices; Kizuna holds no payment data yet, so this measure is always missing.")),
        m("csm_sentiment", N_("CSM sentiment"), u.SCORE,
          N_("The latest sentiment (1–5) a CSM entered in the last 180 days.")),
        m("milestones_on_time", N_("Onboarding milestones on time"), u.SHARE,
          N_("Of the onboarding milestones due by the day, the share completed by their due date (none due: missing).")),
        m("first_value", N_("First value reached"), u.SHARE,
          N_("1 when the account has used a product feature in the last 30 days (its first value), else 0.")),
        m("activation_vs_tier", N_("Early activation vs the tier's norm"), u.CHANGE,
          N_("Login days per day of the account's life (at most the last 30) against the median of the "
             "established accounts (90 days or older) of its touch tier.")),
    ]  # fmt: skip
    return {info.key: info for info in items}


#: Every measure a scorecard may use, by key.
MEASURES: dict[str, MeasureInfo] = _measure_catalogue()

GRADE_COLOURS: dict[HealthGrade, str] = {
    HealthGrade.GREEN: "#2e9e5b",
    HealthGrade.YELLOW: "#d9a400",
    HealthGrade.RED: "#d64545",
}

#: CSM sentiment values (1–5) → English label.
SENTIMENT_LABELS: dict[int, str] = {
    1: N_("very negative"),
    2: N_("negative"),
    3: N_("neutral"),
    4: N_("positive"),
    5: N_("very positive"),
}
MAX_SENTIMENT_REASON = 2000


@dataclass(frozen=True)
class MeasureRule:
    """One measure in a scorecard group: its weight and its scoring function."""

    key: str
    weight: float
    scoring: Scoring
    points: tuple[tuple[float, float], ...]  # (raw value, points) breakpoints, values increasing

    def to_points(self, value: float) -> float:
        """Points 0–100 for a raw value (see :class:`Scoring`)."""
        xs = [p[0] for p in self.points]
        ys = [p[1] for p in self.points]
        if self.scoring is Scoring.STEPS:
            result = ys[0]
            for x, y in self.points:
                if value >= x:
                    result = y
            return result
        # `<` is the same: at the first breakpoint the first segment gives its points too
        if value <= xs[0]:  # pragma: no mutate
            return ys[0]
        if value >= xs[-1]:
            return ys[-1]
        # equivalent: `strict` (the loop returns before either list runs out, the value being
        # within the breakpoints); `x0 < value` (a value on an inner breakpoint matched the
        # segment before); the vertical-segment test (a value on one was answered before it)
        for (x0, y0), (x1, y1) in zip(self.points, self.points[1:], strict=False):  # pragma: no mutate
            if x0 <= value <= x1:  # pragma: no mutate
                return y0 if x1 == x0 else y0 + (y1 - y0) * (value - x0) / (x1 - x0)  # pragma: no mutate
        return ys[-1]  # pragma: no cover, no mutate  (unreachable, as above)


@dataclass(frozen=True)
class MeasureGroup:
    key: str
    label: str
    weight: float
    measures: tuple[MeasureRule, ...]


@dataclass(frozen=True)
class GradeBands:
    """Score thresholds: green from ``green``, yellow from ``yellow``, red below;
    letters A–D from their thresholds, F below D."""

    green: float = 70.0
    yellow: float = 45.0
    letters: tuple[tuple[LetterGrade, float], ...] = (
        (LetterGrade.A, 85.0),
        (LetterGrade.B, 70.0),
        (LetterGrade.C, 55.0),
        (LetterGrade.D, 40.0),
    )

    def grade(self, score: float) -> HealthGrade:
        if score >= self.green:
            return HealthGrade.GREEN
        return HealthGrade.YELLOW if score >= self.yellow else HealthGrade.RED

    def letter(self, score: float) -> LetterGrade:
        for letter, threshold in self.letters:
            if score >= threshold:
                return letter
        return LetterGrade.F


@dataclass(frozen=True)
class Scorecard:
    """Measures in groups, with weights, and the grade bands. Assigned to accounts by
    lifecycle stage or touch tier; the default scorecard takes every other account."""

    key: str
    name: str
    groups: tuple[MeasureGroup, ...]
    bands: GradeBands = field(default_factory=GradeBands)
    stages: tuple[str, ...] = ()
    tiers: tuple[str, ...] = ()
    default: bool = False
    #: Days of history a baseline or trend window needs (fewer: the measure is missing).
    min_history_days: int = 14

    @property
    def measure_keys(self) -> tuple[str, ...]:
        return tuple(m.key for g in self.groups for m in g.measures)

    def rule(self, key: str) -> MeasureRule:
        for g in self.groups:
            for m in g.measures:
                if m.key == key:
                    return m
        raise KeyError(key)

    def effective_weights(self, available: Mapping[str, bool]) -> dict[str, float]:
        """Each measure's share of the overall score (summing to 1) given which measures
        have data; missing measures get 0 and their weight is shared out."""
        group_sums: dict[str, float] = {}
        for g in self.groups:
            # `get(key)`/`get(key, None)` are the same: missing and False are both falsy
            total = sum(m.weight for m in g.measures if available.get(m.key, False))  # pragma: no mutate
            if total > 0:
                group_sums[g.key] = total
        groups_total = sum(g.weight for g in self.groups if g.key in group_sums)
        weights: dict[str, float] = {}
        for g in self.groups:
            for m in g.measures:
                if g.key in group_sums and available.get(m.key, False):
                    weights[m.key] = (g.weight / groups_total) * (m.weight / group_sums[g.key])
                else:
                    weights[m.key] = 0.0
        return weights

    def score(self, values: Mapping[str, float | None]) -> ScoreResult | None:
        """The overall score of one account's raw measure values (None: missing).
        None when no measure has data."""
        points = {
            k: self.rule(k).to_points(v)
            for k, v in values.items()
            if k in self.measure_keys and v is not None and not math.isnan(v)
        }
        weights = self.effective_weights({k: k in points for k in self.measure_keys})
        if not points:
            return None
        total = sum(weights[k] * p for k, p in points.items())
        return ScoreResult(total, self.bands.grade(total), self.bands.letter(total), points, weights)


@dataclass(frozen=True)
class ScoreResult:
    score: float
    grade: HealthGrade
    letter: LetterGrade
    points: dict[str, float]
    weights: dict[str, float]


@dataclass(frozen=True)
class ScoringOptions:
    """What keeps scores and grades from jumping (the ``[scoring]`` table of the TOML).

    ``*_half_life_days``: a survey answer weighs half as much every so many days, both in
    the account's average and in the measure's share of the score, so an answer fades
    out instead of falling off a window edge (0: the old plain average over 365 days for
    NPS, 180 for CSAT). ``grade_margin`` / ``grade_confirm_days``: a grade changes only
    when the score is past the band edge by the margin, or has stayed past it for that
    many days in a row (0 / 1: no hysteresis). ``partial_tracking_ratio``: when the seats
    are more than this many times the users the data tracks, the per-seat measures are
    taken per tracked user (0: never)."""

    nps_half_life_days: float = 120.0
    csat_half_life_days: float = 60.0
    grade_margin: float = 3.0
    grade_confirm_days: int = 3
    partial_tracking_ratio: float = 2.0

    def half_life(self, kind: str) -> float:
        return self.nps_half_life_days if kind == "nps" else self.csat_half_life_days


#: The ``[scoring]`` keys: (lowest, highest) allowed.
SCORING_LIMITS: dict[str, tuple[float, float]] = {
    "nps_half_life_days": (0, 3650), "csat_half_life_days": (0, 3650), "grade_margin": (0, 50),
    "grade_confirm_days": (1, 90), "partial_tracking_ratio": (0, 1000),
}  # fmt: skip


@dataclass(frozen=True)
class ScorecardSet:
    """Every scorecard of the company; exactly one is the default."""

    scorecards: tuple[Scorecard, ...]
    options: ScoringOptions = field(default_factory=ScoringOptions)

    @property
    def default(self) -> Scorecard:
        return next(c for c in self.scorecards if c.default)

    def get(self, key: str) -> Scorecard | None:
        return next((c for c in self.scorecards if c.key == key), None)

    def for_account(self, stage: str | None, tier: str | None) -> Scorecard:
        """The scorecard of the account's lifecycle stage, else of its touch tier, else the default."""
        for card in self.scorecards:
            if stage and stage in card.stages:
                return card
        for card in self.scorecards:
            if tier and tier in card.tiers:
                return card
        return self.default


@dataclass(frozen=True)
class ScorecardProblem:
    """One problem in a scorecard file: where (file and key path) and why."""

    source: str
    key: str
    reason: str

    def __str__(self) -> str:
        return f"{self.source}: {self.key}: {self.reason}" if self.key else f"{self.source}: {self.reason}"


class ScorecardInvalid(InvalidInput):
    """A scorecard file or edit is not valid; nothing was saved."""

    def __init__(self, problems: Sequence[ScorecardProblem]) -> None:
        self.problems = list(problems)
        first = str(self.problems[0]) if self.problems else ""
        message = _("the scorecards are not valid ({count} problems): {first}").format(
            count=len(self.problems), first=first
        )
        super().__init__(message, code="invalid_scorecard", field=self.problems[0].key if self.problems else None)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def parse_scorecards(doc: Mapping[str, Any], source: str) -> ScorecardSet:
    """Check a parsed scorecard TOML document and build the scorecards.

    Raises :class:`ScorecardInvalid` listing every problem (file, key path, reason)."""
    problems: list[ScorecardProblem] = []

    def problem(key: str, reason: str) -> None:
        problems.append(ScorecardProblem(source, key, reason))

    bands = _parse_bands(doc.get("grades", {}), "grades", problem, GradeBands())
    options = _parse_options(doc.get("scoring", {}), "scoring", problem)
    cards_doc = doc.get("scorecards")
    if not isinstance(cards_doc, Mapping) or not cards_doc:
        problem("scorecards", _("at least one scorecard is needed ([scorecards.<key>])"))
        raise ScorecardInvalid(problems)
    unknown_top = sorted(set(doc) - {"grades", "scorecards", "scoring"})
    for key in unknown_top:
        problem(key, _("unknown key (expected grades, scoring or scorecards)"))
    cards: list[Scorecard] = []
    for card_key, card_doc in cards_doc.items():
        path = f"scorecards.{card_key}"
        if not isinstance(card_doc, Mapping):
            problem(path, _("must be a table"))
            continue
        card = _parse_card(str(card_key), card_doc, path, problem, bands)
        if card is not None:
            cards.append(card)
    defaults = [c.key for c in cards if c.default]
    if cards and len(defaults) != 1:
        problem("scorecards", _("exactly one scorecard must have default = true (found {n})").format(n=len(defaults)))
    seen: dict[tuple[str, str], str] = {}
    for card in cards:
        for kind, names in (("stage", card.stages), ("tier", card.tiers)):
            for name in names:
                other = seen.get((kind, name))
                if other is not None:
                    problem(f"scorecards.{card.key}.{kind}s", _("{name!r} is already assigned to scorecard {other!r}")
                            .format(name=name, other=other))  # fmt: skip
                seen[(kind, name)] = card.key
    if problems:
        raise ScorecardInvalid(problems)
    return ScorecardSet(tuple(cards), options)


def _parse_options(doc: Any, path: str, problem: Any) -> ScoringOptions:
    if not isinstance(doc, Mapping):
        problem(path, _("must be a table"))
        return ScoringOptions()
    for key in sorted(set(doc) - set(SCORING_LIMITS)):
        problem(f"{path}.{key}", _("unknown key (expected one of: {keys})").format(keys=", ".join(SCORING_LIMITS)))
    values: dict[str, Any] = {}
    for key, (lo, hi) in SCORING_LIMITS.items():
        if key not in doc:
            continue
        number = _number(doc[key])
        whole = key == "grade_confirm_days"
        if number is None or not lo <= number <= hi or (whole and not number.is_integer()):
            reason = _("must be a whole number from {lo} to {hi}") if whole else _("must be a number from {lo} to {hi}")
            problem(f"{path}.{key}", reason.format(lo=f"{lo:g}", hi=f"{hi:g}"))
            continue
        values[key] = int(number) if whole else number
    return ScoringOptions(**values)


def _parse_bands(doc: Any, path: str, problem: Any, base: GradeBands) -> GradeBands:
    if not isinstance(doc, Mapping):
        problem(path, _("must be a table"))
        return base
    for key in sorted(set(doc) - {"green", "yellow", "letters"}):
        problem(f"{path}.{key}", _("unknown key (expected green, yellow or letters)"))
    green, yellow = base.green, base.yellow
    for name in ("green", "yellow"):
        if name in doc:
            number = _number(doc[name])
            if number is None or not 0 <= number <= 100:
                problem(f"{path}.{name}", _("must be a number from 0 to 100"))
            elif name == "green":
                green = number
            else:
                yellow = number
    if yellow > green:
        problem(f"{path}.yellow", _("the yellow band ({yellow}) overlaps the green band: it must not start above green ({green})")
                .format(yellow=yellow, green=green))  # fmt: skip
    letters = dict(base.letters)
    letters_doc = doc.get("letters", {})
    if not isinstance(letters_doc, Mapping):
        problem(f"{path}.letters", _("must be a table"))
    else:
        for key, raw in letters_doc.items():
            if key not in ("A", "B", "C", "D"):
                problem(f"{path}.letters.{key}", _("unknown letter (expected A, B, C or D; F is below D)"))
                continue
            number = _number(raw)
            if number is None or not 0 <= number <= 100:
                problem(f"{path}.letters.{key}", _("must be a number from 0 to 100"))
            else:
                letters[LetterGrade(key)] = number
    ordered = [(LetterGrade(k), letters[LetterGrade(k)]) for k in ("A", "B", "C", "D")]
    for (hi_letter, hi), (lo_letter, lo) in itertools.pairwise(ordered):
        if lo >= hi:
            problem(f"{path}.letters.{lo_letter}", _("the bands overlap: {lo_letter} ({lo}) must be below {hi_letter} ({hi})")
                    .format(lo_letter=lo_letter, lo=lo, hi_letter=hi_letter, hi=hi))  # fmt: skip
    return GradeBands(green=green, yellow=yellow, letters=tuple(ordered))


def _parse_card(key: str, doc: Mapping[str, Any], path: str, problem: Any, bands: GradeBands) -> Scorecard | None:
    allowed = {"name", "default", "stages", "tiers", "grades", "groups", "min_history_days"}
    for extra in sorted(set(doc) - allowed):
        problem(f"{path}.{extra}", _("unknown key (expected one of: {keys})").format(keys=", ".join(sorted(allowed))))
    name = doc.get("name", key)
    if not isinstance(name, str) or not name.strip():
        problem(f"{path}.name", _("must be a non-empty text"))
        name = key  # pragma: no mutate (a stand-in after a problem: the parse raises, nothing built is returned)
    default = doc.get("default", False)
    if not isinstance(default, bool):
        problem(f"{path}.default", _("must be true or false"))
        default = False  # pragma: no mutate (a stand-in after a problem: the parse raises, nothing built is returned)
    lists: dict[str, tuple[str, ...]] = {}
    for list_key in ("stages", "tiers"):
        raw = doc.get(list_key, [])
        if not isinstance(raw, list) or not all(isinstance(x, str) and x for x in raw):
            problem(f"{path}.{list_key}", _("must be a list of names"))
            raw = []
        lists[list_key] = tuple(raw)
    card_bands = _parse_bands(doc["grades"], f"{path}.grades", problem, bands) if "grades" in doc else bands
    min_days = doc.get("min_history_days", 14)
    if isinstance(min_days, bool) or not isinstance(min_days, int) or not 1 <= min_days <= 90:
        problem(f"{path}.min_history_days", _("must be a whole number of days from 1 to 90"))
        min_days = 14  # pragma: no mutate (a stand-in after a problem: the parse raises, nothing built is returned)
    groups_doc = doc.get("groups")
    groups: list[MeasureGroup] = []
    used: set[str] = set()
    if not isinstance(groups_doc, Mapping) or not groups_doc:
        problem(f"{path}.groups", _("at least one group of measures is needed"))
        return None
    for group_key, group_doc in groups_doc.items():
        gpath = f"{path}.groups.{group_key}"
        if not isinstance(group_doc, Mapping):
            problem(gpath, _("must be a table"))
            continue
        for extra in sorted(set(group_doc) - {"label", "weight", "measures"}):
            problem(f"{gpath}.{extra}", _("unknown key (expected label, weight or measures)"))
        weight = _number(group_doc.get("weight"))
        if weight is None or weight <= 0:
            problem(f"{gpath}.weight", _("the weight must be a positive number"))
            weight = 1.0  # pragma: no mutate (a stand-in after a problem: the parse raises, nothing built is returned)
        label = group_doc.get("label", group_key)
        if not isinstance(label, str):
            problem(f"{gpath}.label", _("must be a text"))
            label = str(group_key)  # pragma: no mutate (a stand-in after a problem: the parse raises, nothing built is returned)
        measures_doc = group_doc.get("measures")
        if not isinstance(measures_doc, Mapping) or not measures_doc:
            problem(f"{gpath}.measures", _("at least one measure is needed"))
            continue
        rules: list[MeasureRule] = []
        for measure_key, measure_doc in measures_doc.items():
            mpath = f"{gpath}.measures.{measure_key}"
            if measure_key not in MEASURES:
                problem(mpath, _("unknown measure (known: {keys})").format(keys=", ".join(MEASURES)))
                continue
            if measure_key in used:
                problem(mpath, _("the measure is already used in this scorecard"))
                continue
            used.add(measure_key)
            rule = _parse_rule(str(measure_key), measure_doc, mpath, problem)
            if rule is not None:
                rules.append(rule)
        if rules:
            groups.append(MeasureGroup(str(group_key), label, weight, tuple(rules)))
    return Scorecard(key, name, tuple(groups), card_bands, lists["stages"], lists["tiers"], default, min_days)


def _parse_rule(key: str, doc: Any, path: str, problem: Any) -> MeasureRule | None:
    if not isinstance(doc, Mapping):
        problem(path, _("must be a table with weight, scoring and points"))
        return None
    ok = True
    for extra in sorted(set(doc) - {"weight", "scoring", "points"}):
        problem(f"{path}.{extra}", _("unknown key (expected weight, scoring or points)"))
    weight = _number(doc.get("weight"))
    if weight is None or weight <= 0:
        problem(f"{path}.weight", _("the weight must be a positive number"))
        ok = False  # pragma: no mutate (a stand-in after a problem: the parse raises, nothing built is returned)
    try:
        scoring = Scoring(doc.get("scoring", "linear"))
    except ValueError:
        problem(f"{path}.scoring", _("must be linear or steps"))
        scoring, ok = Scoring.LINEAR, False  # pragma: no mutate (a stand-in after a problem: the parse raises, nothing built is returned)
    raw = doc.get("points")
    pairs: list[tuple[float, float]] = []
    if not isinstance(raw, list) or not raw:
        problem(f"{path}.points", _("must be a list of [value, points] pairs"))
        return None
    for i, pair in enumerate(raw):
        x = _number(pair[0]) if isinstance(pair, list) and len(pair) == 2 else None
        y = _number(pair[1]) if isinstance(pair, list) and len(pair) == 2 else None
        if x is None or y is None:
            problem(f"{path}.points[{i}]", _("must be a pair [value, points] of numbers"))
            return None
        if not 0 <= y <= 100:
            problem(f"{path}.points[{i}]", _("points must be from 0 to 100"))
            ok = False  # pragma: no mutate (a stand-in after a problem: the parse raises, nothing built is returned)
        if pairs and x <= pairs[-1][0]:
            problem(f"{path}.points[{i}]", _("the values must increase from one pair to the next"))
            ok = False  # pragma: no mutate (a stand-in after a problem: the parse raises, nothing built is returned)
        pairs.append((x, y))
    # `and`: the same (a weight of None has set ok to False; a rule built despite a problem is never returned)
    if not ok or weight is None:  # pragma: no mutate
        return None
    return MeasureRule(key, weight, scoring, tuple(pairs))
