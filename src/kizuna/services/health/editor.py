"""The scorecard editor's forms (スコアカードの編集) and its grade preview.

A lead edits a scorecard on ``/health/scorecards`` with fields rather than TOML: each
group's weight; each measure's weight, scoring (straight lines or steps) and breakpoints
("at this value, this many points"), removing a measure or adding one to a group; each
scorecard's green and yellow bands. :func:`apply_form` turns the fields into a checked
:class:`ScorecardSet` (every problem named by its key path, nothing saved), and
:func:`preview` scores the accounts of the newest scored day with the scorecards in force
and with the edited ones, so the lead sees how many accounts would change grade before
saving.

Breakpoints of a change or a share are typed as percentages (``-45`` for −45 %), the
others in their own unit (days, minutes, a count, a survey score).
"""

from __future__ import annotations

import math
import re
import tomllib
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd

from kizuna.db import Session
from kizuna.db.queries import accounts as account_queries
from kizuna.db.queries import health as q
from kizuna.domain.health import (
    MEASURES,
    MeasureRule,
    MeasureUnit,
    ScorecardInvalid,
    ScorecardProblem,
    ScorecardSet,
    Scoring,
    parse_scorecards,
)
from kizuna.i18n import N_, _
from kizuna.services.health import DEFAULT_SCORECARDS, score_day, to_toml

#: Breakpoints a measure may have in the form.
MAX_POINTS = 12
#: Accounts the preview lists by name.
PREVIEW_LIMIT = 20
#: Units whose raw values (fractions) are typed as percentages.
PERCENT_UNITS = frozenset({MeasureUnit.CHANGE, MeasureUnit.SHARE})
#: What the form calls itself in a problem ("the scorecard form: scorecards.x.y: why").
FORM_SOURCE = N_("the scorecard form")
#: One key of a card, group or measure (TOML bare keys).
_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def _is_percent(measure: str) -> bool:
    return measure in MEASURES and MEASURES[measure].unit in PERCENT_UNITS


def plain_number(value: float) -> str:
    """A number for a form field: no thousands separator, no trailing zeros."""
    # rstrip takes a set of characters: "XX0XX" strips the same (equivalent mutants)
    text = f"{value:.6f}".rstrip("0").rstrip(".")  # pragma: no mutate
    return "0" if text == "-0" else text


def form_value(measure: str, raw: float) -> str:
    """A breakpoint's raw value as the form shows it (a percentage for changes and
    shares): ``-0.45`` → ``-45``."""
    return plain_number(raw * 100 if _is_percent(measure) else raw)


def parse_number(text: str) -> float | None:
    """A number as people type it: full-width digits, a Unicode minus, thousands commas
    and a trailing % are accepted; anything else (or not finite) is ``None``."""
    # rstrip takes a set of characters: "XX%XX" strips the same (equivalent mutant)
    cleaned = unicodedata.normalize("NFKC", text).strip().replace("−", "-").replace(",", "").rstrip("%").strip()  # pragma: no mutate
    if not cleaned:
        return None
    try:
        number = float(cleaned)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


#: A measure's usual range by unit, for one the shipped scorecards do not use.
UNIT_RANGES: dict[MeasureUnit, tuple[tuple[float, float], ...]] = {
    MeasureUnit.CHANGE: ((-0.5, 0.0), (0.0, 100.0)),
    MeasureUnit.SHARE: ((0.0, 0.0), (1.0, 100.0)),
    MeasureUnit.DAYS: ((0.0, 0.0), (90.0, 100.0)),
    MeasureUnit.SCORE: ((1.0, 0.0), (5.0, 100.0)),
}
OTHER_RANGE = ((0.0, 0.0), (10.0, 100.0))


def shipped_scorecards() -> ScorecardSet:
    # the label names the shipped file in a problem it never has; the file is UTF-8 (equivalent mutants)
    text = DEFAULT_SCORECARDS.read_text(encoding="utf-8")  # pragma: no mutate
    return parse_scorecards(tomllib.loads(text), "default")  # pragma: no mutate


def default_rule(measure: str, shipped: ScorecardSet | None = None) -> MeasureRule:
    """The rule a measure gets when a lead adds it: as in the shipped scorecards where it
    appears there (``shipped``: those, by default the file beside this module), else a
    straight line over its unit's usual range; weight 1."""
    for card in (shipped or shipped_scorecards()).scorecards:
        for group in card.groups:
            for rule in group.measures:
                if rule.key == measure:
                    return MeasureRule(measure, 1.0, rule.scoring, rule.points)
    return MeasureRule(measure, 1.0, Scoring.LINEAR, UNIT_RANGES.get(MEASURES[measure].unit, OTHER_RANGE))


def _rule_doc(rule: MeasureRule) -> dict[str, Any]:
    return {"weight": rule.weight, "scoring": rule.scoring.value, "points": [list(p) for p in rule.points]}


def apply_form(cards: ScorecardSet, form: Mapping[str, str]) -> ScorecardSet:
    """The scorecards with the editor's fields applied, checked.

    Fields (text as typed): ``w:CARD.GROUP`` and ``w:CARD.GROUP.MEASURE`` weights;
    ``s:CARD.GROUP.MEASURE`` scoring (``linear`` or ``steps``); ``x:CARD.GROUP.MEASURE.I``
    and ``y:…I`` breakpoint I (value, points; a pair left blank is dropped, a breakpoint
    not in the form keeps its value);
    ``rm:CARD.GROUP.MEASURE`` removes the measure; ``add:CARD.GROUP`` adds a measure;
    ``green:CARD`` and ``yellow:CARD`` the bands. Raises :class:`ScorecardInvalid` naming
    every bad field by its key path; nothing is saved here."""
    source = _(FORM_SOURCE)
    doc = tomllib.loads(to_toml(cards))
    cards_doc: dict[str, Any] = doc["scorecards"]
    problems: list[ScorecardProblem] = []

    def problem(path: str, reason: str) -> None:
        problems.append(ScorecardProblem(source, path, reason))

    def node(parts: list[str]) -> dict[str, Any] | None:
        """The TOML table of a card (1 part), group (2) or measure (3)."""
        # callers pass one to three parts; the length check only guards (equivalent mutants)
        if not 1 <= len(parts) <= 3 or not all(_KEY.match(p) for p in parts):  # pragma: no mutate
            return None
        path = [x for pair in zip(("", "groups", "measures"), parts, strict=False) for x in pair if x]  # pragma: no mutate
        at: Any = cards_doc
        for p in path:
            at = at.get(p) if isinstance(at, dict) else None
        # every table on a path of valid keys is a table or absent (equivalent mutant)
        return at if isinstance(at, dict) else None  # pragma: no mutate

    def key_path(parts: list[str]) -> str:
        # zip's strict=None is strict=False (equivalent mutants)
        pairs = zip(("", "groups", "measures"), parts, strict=False)  # pragma: no mutate
        return ".".join(["scorecards", *(x for pair in pairs for x in pair if x)])

    points: dict[tuple[str, ...], dict[int, tuple[str | None, str | None]]] = {}
    removed: list[list[str]] = []
    added: list[tuple[list[str], str]] = []
    for name, raw in form.items():
        kind, sep, target = name.partition(":")
        if not sep or kind not in ("w", "s", "x", "y", "rm", "add", "green", "yellow"):
            continue  # the CSRF token, the note, the action
        text = str(raw)
        parts = target.split(".")
        if kind in ("x", "y"):
            if len(parts) != 4 or not parts[3].isdecimal() or int(parts[3]) >= MAX_POINTS or node(parts[:3]) is None:
                problem(target, _("no such measure or breakpoint"))
                continue
            pairs = points.setdefault(tuple(parts[:3]), {})
            x_text, y_text = pairs.get(int(parts[3]), (None, None))
            pairs[int(parts[3])] = (text, y_text) if kind == "x" else (x_text, text)
            continue
        if kind in ("green", "yellow"):
            card = node(parts) if len(parts) == 1 else None
            if card is None:
                problem(target, _("no such scorecard"))
                continue
            number = parse_number(text)
            # parse_scorecards checks the band again with the same path and words (equivalent mutants)
            if number is None or not 0 <= number <= 100:  # pragma: no mutate
                problem(f"scorecards.{target}.grades.{kind}", _("must be a number from 0 to 100"))
                continue
            card.setdefault("grades", {})[kind] = number
            continue
        if kind == "add":
            if len(parts) != 2 or node(parts) is None:
                problem(target, _("no such group"))
            elif text.strip():
                added.append((parts, text.strip()))
            continue
        table = node(parts) if len(parts) == 3 or (kind == "w" and len(parts) == 2) else None
        if table is None:
            problem(target, _("no such group or measure"))
        elif kind == "rm":
            if text:
                removed.append(parts)
        elif kind == "s":
            table["scoring"] = text.strip()  # checked by parse_scorecards
        else:
            number = parse_number(text)
            if number is None or number <= 0:
                problem(f"{key_path(parts)}.weight", _("the weight must be a positive number"))
            else:
                table["weight"] = number
    for parts_t, pairs in points.items():
        table = node(list(parts_t))
        assert table is not None
        scale = 100.0 if _is_percent(parts_t[2]) else 1.0
        # a breakpoint not in the form keeps its value; a half sent keeps its other half
        kept = {i: (form_value(parts_t[2], x), plain_number(y)) for i, (x, y) in enumerate(table["points"])}
        # a half missing from both the form and the kept pairs is an error whether blank or not (equivalent mutants)
        merged = {i: (x if x is not None else kept.get(i, ("", ""))[0], y if y is not None else kept.get(i, ("", ""))[1])  # pragma: no mutate
                  for i, (x, y) in pairs.items()}  # fmt: skip  # pragma: no mutate
        merged = {**kept, **merged}
        rebuilt: list[list[float]] = []
        for i in sorted(merged):
            x_text, y_text = merged[i]
            if not x_text.strip() and not y_text.strip():
                continue
            x, y = parse_number(x_text), parse_number(y_text)
            if x is None or y is None:
                problem(
                    f"{key_path(list(parts_t))}.points[{len(rebuilt)}]", _("must be a pair [value, points] of numbers")
                )
                continue  # pragma: no mutate (a problem is raised either way; later pairs only add problems)
            rebuilt.append([x / scale, y])
        table["points"] = rebuilt
    for parts in removed:
        group = node(parts[:2])
        assert group is not None
        del group["measures"][parts[2]]
    for parts, measure in added:
        group = node(parts)
        assert group is not None
        card = cards_doc[parts[0]]
        in_use = {m for g in card["groups"].values() for m in g["measures"]}
        if measure not in MEASURES:
            problem(f"{key_path(parts)}.measures.{measure}", _("unknown measure (known: {keys})").format(
                keys=", ".join(MEASURES)))  # fmt: skip
        elif measure in in_use:
            problem(f"{key_path(parts)}.measures.{measure}", _("the measure is already used in this scorecard"))
        else:
            group["measures"][measure] = _rule_doc(default_rule(measure))
    if problems:
        raise ScorecardInvalid(problems)
    return parse_scorecards(doc, source)


def field_of(path: str) -> str:
    """The editor row a problem's key path belongs to: ``CARD.GROUP.MEASURE``,
    ``CARD.GROUP`` or ``CARD`` (``""`` when it names no card)."""
    parts = path.split(".")
    if len(parts) < 2 or parts[0] != "scorecards":
        return ""
    keys = [parts[1]]
    if len(parts) >= 4 and parts[2] == "groups":
        keys.append(parts[3])
        if len(parts) >= 6 and parts[4] == "measures":
            keys.append(parts[5])
    return ".".join(keys)


# --- the preview -----------------------------------------------------------------------


@dataclass(frozen=True)
class GradeMove:
    """How many accounts would go from one grade to another."""

    before: str
    after: str
    accounts: int


@dataclass(frozen=True)
class ChangedAccount:
    account_id: int
    name: str
    score_before: float
    score_after: float
    grade_before: str
    grade_after: str


@dataclass(frozen=True)
class GradePreview:
    """The grades of one day's accounts with the scorecards in force and with the edit
    (without hysteresis on either side, so the two compare like for like)."""

    day: date
    accounts: int
    before: dict[str, int]
    after: dict[str, int]
    moves: tuple[GradeMove, ...]  # only changes of grade, the largest first
    changed: tuple[ChangedAccount, ...]  # the accounts changing grade, the largest score change first
    changed_total: int
    mean_before: float | None
    mean_after: float | None


def compare(before: pd.DataFrame, after: pd.DataFrame, names: Mapping[int, str], day: date,
            limit: int = PREVIEW_LIMIT) -> GradePreview:  # fmt: skip
    """Compare two scorings of the same day (frames indexed by account: ``score``,
    ``grade``). An account scored on one side only counts on that side."""
    grades = ("green", "yellow", "red")
    count_b = before["grade"].value_counts()
    count_a = after["grade"].value_counts()
    both = before.join(after, how="inner", lsuffix="_b", rsuffix="_a")
    moved = both[both["grade_b"] != both["grade_a"]]
    counted: dict[tuple[str, str], int] = {}
    # the two columns of one frame: strict or not is the same (equivalent mutants)
    for b, a in zip(moved["grade_b"].astype(str), moved["grade_a"].astype(str), strict=True):  # pragma: no mutate
        counted[(b, a)] = counted.get((b, a), 0) + 1
    moves = sorted((GradeMove(b, a, n) for (b, a), n in counted.items()),
                   key=lambda m: (-m.accounts, grades.index(m.before), grades.index(m.after)))  # fmt: skip
    # ties keep the accounts' order with any sort of these sizes; the kind only makes it certain (equivalent)
    delta = (moved["score_a"] - moved["score_b"]).abs().sort_values(ascending=False, kind="stable")  # pragma: no mutate
    top = moved.loc[delta.index[:limit]]
    # columns of one frame, already float and str: the casts and strict are for the type checker (equivalent)
    columns = zip(top.index.astype(int).tolist(), top["score_b"].astype(float).tolist(),  # pragma: no mutate
                  top["score_a"].astype(float).tolist(), top["grade_b"].astype(str).tolist(),  # pragma: no mutate
                  top["grade_a"].astype(str).tolist(), strict=True)  # pragma: no mutate
    changed = tuple(ChangedAccount(i, names.get(i, str(i)), sb, sa, gb, ga) for i, sb, sa, gb, ga in columns)

    def mean(frame: pd.DataFrame) -> float | None:
        return None if frame.empty else round(float(frame["score"].mean()), 1)

    return GradePreview(day, len(before.index.union(after.index)),
                        {g: int(count_b.get(g, 0)) for g in grades}, {g: int(count_a.get(g, 0)) for g in grades},
                        tuple(moves), changed, len(moved), mean(before), mean(after))  # fmt: skip


def newest_day(session: Session) -> date | None:
    """The newest day with health snapshots (what the preview scores)."""
    return q.latest_snapshot_day(session)


def preview(session: Session, current: ScorecardSet, candidate: ScorecardSet, day: date,
            missing: frozenset[str] = frozenset()) -> GradePreview:  # fmt: skip
    """Score ``day``'s accounts (the newest scored day, usually) with ``current`` and
    with ``candidate``; ``missing``: the measures of late feeds, as the daily job counts
    them."""
    # read once for both scorings; score_day reads them itself when not given (equivalent mutants)
    shared: dict[str, Any] = {"lines": q.subscription_lines(session), "segments": q.account_segments(session)}  # pragma: no mutate
    frames = []
    for cards in (current, candidate):
        scored = score_day(session, day, cards, missing=missing, **shared)  # pragma: no mutate (shared: read once)
        # the grade comes from the unrounded score; the rounding is for showing it (equivalent mutants)
        frames.append(pd.DataFrame({"score": scored.score.round(2), "grade": scored.grade}))  # pragma: no mutate
    before, after = frames
    ids = [int(i) for i in before.index.union(after.index)]
    names = account_queries.names_of(session, ids)
    return compare(before, after, names, day)
