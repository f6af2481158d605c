"""Success plans (サクセスプラン): the customer's own objectives — what success means to them,
in their metric, from a baseline to a target by a due date — with milestones and tasks
under each, and a status.

The status rule (docs/success.md): *progress* = (current − baseline) ÷ (target − baseline)
(0 with no current value; a target below the baseline works the same way, downwards) and
*time elapsed* = days since the start ÷ days from the start to the due date (0…1).

- **on track**: progress ≥ 1 (reached), or progress ≥ time elapsed − 0.10;
- **at risk**: progress ≥ time elapsed − 0.25;
- **off track**: below that, or the due date has passed without reaching the target.

Pure: no clock (``today`` is passed in).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from typing import Any

from kizuna.domain.dates import DateOutOfRange, in_range, out_of_range_message
from kizuna.errors import InvalidInput
from kizuna.i18n import N_, _

ON_TRACK, AT_RISK, OFF_TRACK = "on_track", "at_risk", "off_track"
TRACKS = (ON_TRACK, AT_RISK, OFF_TRACK)
TRACK_LABELS = {ON_TRACK: N_("On track"), AT_RISK: N_("At risk"), OFF_TRACK: N_("Off track")}
#: How far progress may lag the time elapsed and still be on track, or at risk.
ON_TRACK_LAG = 0.10
AT_RISK_LAG = 0.25
TITLE_MAX = 300
METRIC_MAX = 200
VALUE_LIMIT = 1e15


@dataclass(frozen=True)
class Track:
    status: str
    progress: float  # 0 … (may pass 1)
    elapsed: float  # 0 … 1


def track(*, baseline: float, target: float, current: float | None, started_on: date, due_on: date,
          today: date) -> Track:  # fmt: skip
    """The objective's status by the rule of this module's docstring."""
    progress = 0.0 if current is None else max(0.0, (current - baseline) / (target - baseline))
    span = (due_on - started_on).days
    elapsed = 1.0 if span <= 0 else min(1.0, max(0.0, (today - started_on).days / span))
    if progress >= 1.0:
        return Track(ON_TRACK, progress, elapsed)
    if today > due_on:
        return Track(OFF_TRACK, progress, elapsed)
    lag = elapsed - progress
    status = ON_TRACK if lag <= ON_TRACK_LAG + 1e-9 else AT_RISK if lag <= AT_RISK_LAG + 1e-9 else OFF_TRACK
    return Track(status, progress, elapsed)


def _bad(message: str, code: str, field: str) -> InvalidInput:
    return InvalidInput(message, code=code, field=field)


def text(value: Any, field: str, most: int, *, required: bool = True) -> str | None:
    out = " ".join(value.split()) if isinstance(value, str) else ""
    if not out:
        if required:
            raise _bad(_("{field}: this is needed").format(field=field), f"{field}_missing", field)
        return None
    if len(out) > most:
        raise _bad(_("{field}: longer than {n} characters").format(field=field, n=most), f"{field}_too_long", field)
    return out


def number(value: Any, field: str, *, required: bool = True) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _bad(_("{field}: a number is needed").format(field=field), "invalid_number", field)
        return None
    try:
        out = float(value.replace(",", "")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise _bad(_("{field}: must be a number").format(field=field), "invalid_number", field) from None
    if isinstance(value, bool) or not math.isfinite(out) or abs(out) > VALUE_LIMIT:
        raise _bad(_("{field}: must be a number").format(field=field), "invalid_number", field)
    return out


def day(value: Any, field: str, *, required: bool = True) -> date | None:
    """A date (``date`` or ISO text) in the accepted range (``date_out_of_range`` otherwise)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _bad(_("{field}: a date is needed").format(field=field), "invalid_date", field)
        return None
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value.strip())
        except ValueError:
            raise _bad(_("{field} must be a date like 2026-12-31").format(field=field), "invalid_date", field) from None
    if not isinstance(value, date):
        raise _bad(_("{field} must be a date like 2026-12-31").format(field=field), "invalid_date", field)
    if not in_range(value):
        raise _bad(f"{field}: {out_of_range_message(value)}", DateOutOfRange.code, field)
    return value


@dataclass(frozen=True)
class Objective:
    title: str
    metric: str
    baseline: float
    target: float
    current: float | None
    started_on: date
    due_on: date


def check_objective(values: dict[str, Any], *, today: date) -> Objective:
    """An objective from a form or the API, or ``InvalidInput`` naming the field."""
    title = text(values.get("title"), "title", TITLE_MAX)
    metric = text(values.get("metric"), "metric", METRIC_MAX)
    baseline = number(values.get("baseline_value"), "baseline_value")
    target = number(values.get("target_value"), "target_value")
    current = number(values.get("current_value"), "current_value", required=False)
    started = day(values.get("started_on"), "started_on", required=False) or today
    due = day(values.get("due_on"), "due_on")
    assert title
    assert metric
    assert due
    assert baseline is not None
    assert target is not None
    if target == baseline:
        raise _bad(_("target_value: the target equals the baseline, so there is nothing to reach"),
                   "target_equals_baseline", "target_value")  # fmt: skip
    if due <= started:
        raise _bad(_("due_on: the due date must come after the start ({start})").format(start=started.isoformat()),
                   "due_before_start", "due_on")  # fmt: skip
    return Objective(title, metric, baseline, target, current, started, due)
