"""Sparklines: a small line of numbers drawn as inline SVG on the server (no script).

:func:`sparkline` turns values into the ``points`` of an SVG ``<polyline>`` in a
``width`` × ``height`` box (the y axis fixed to ``low``–``high``, e.g. 0–100 for health
scores, so two accounts' lines compare), with the last point for a dot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Sparkline:
    width: int
    height: int
    points: str  # "x,y x,y …" for <polyline points>
    last_x: float
    last_y: float


def sparkline(values: Sequence[float], *, width: int = 120, height: int = 32, low: float = 0.0,
              high: float = 100.0, pad: float = 2.0) -> Sparkline | None:  # fmt: skip
    """The line of ``values`` (at least two), oldest first; None for fewer."""
    if len(values) < 2:
        return None
    span = (high - low) or 1.0
    step = (width - 2 * pad) / (len(values) - 1)
    xy = []
    for i, value in enumerate(values):
        clipped = min(max(float(value), low), high)
        x = pad + i * step
        y = pad + (high - clipped) / span * (height - 2 * pad)
        xy.append((round(x, 1), round(y, 1)))
    return Sparkline(width, height, " ".join(f"{x:g},{y:g}" for x, y in xy), xy[-1][0], xy[-1][1])
