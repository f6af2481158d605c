"""The LTV page (``/ltv``, issue 21): each segment's retention fit from the store's own
contract history — figures and observed vs fitted survival — and the accounts with the
largest lifetime value. JSON twins: ``/api/ltv/segments``, ``/api/accounts/{id}/ltv``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from kizuna.http.auth import CurrentPrincipal, State
from kizuna.http.templating import render
from kizuna.i18n import _
from kizuna.services import ltv_accounts
from kizuna.services.ltv_accounts import SegmentFitView

router = APIRouter(include_in_schema=False)

PALETTE = ("#2f5fd0", "#b3261e", "#1b7f4b", "#d97706", "#7b3fb5", "#0f8a96", "#6b7483")
TOP = 20


def segment_name(segment: str) -> str:
    """A segment as people read it: its label (user data, as is), or what the two
    reserved labels mean."""
    if segment == ltv_accounts.POOLED:
        return _("all segments (pooled)")
    return segment or _("every account")


def survival_chart(fits: list[SegmentFitView]) -> dict[str, Any]:
    """Observed (Kaplan–Meier, solid steps) and fitted (sBG, dashed) survival at each
    renewal, one colour per segment of one term."""
    periods = max((len(f.observed) for f in fits), default=1)
    datasets: list[dict[str, Any]] = []
    for i, f in enumerate(fits):
        colour = PALETTE[i % len(PALETTE)]
        name = segment_name(f.segment)
        datasets.append({"type": "line", "label": _("{segment}: observed").format(segment=name),
                         "data": [round(v * 100, 2) for v in f.observed], "borderColor": colour,
                         "backgroundColor": colour, "borderWidth": 2, "pointRadius": 2, "stepped": True})  # fmt: skip
        if f.fitted:
            fitted = list(f.fitted) + [None] * (periods - len(f.fitted))
            datasets.append({"type": "line", "label": _("{segment}: fitted (sBG)").format(segment=name),
                             "data": [None if v is None else round(v * 100, 2) for v in fitted[:periods]],
                             "borderColor": colour, "backgroundColor": colour, "borderWidth": 2,
                             "borderDash": [6, 4], "pointRadius": 0})  # fmt: skip
    return {
        "type": "line",
        "data": {"labels": list(range(periods)), "datasets": datasets},
        "options": {
            "interaction": {"mode": "index", "intersect": False},
            "plugins": {"legend": {"position": "bottom", "labels": {"boxWidth": 12}}},
            "scales": {
                "x": {"grid": {"display": False}, "title": {"display": True, "text": _("Number of renewals")}},
                "y": {"min": 0, "max": 100, "grid": {"color": "#eef0f3"},
                      "title": {"display": True, "text": _("Still under contract (%)")}},
            },
        },
    }  # fmt: skip


@router.get("/ltv")
def ltv_page(request: Request, state: State, principal: CurrentPrincipal) -> Response:
    with state.unit_of_work() as session:
        fits = ltv_accounts.segment_fits(session)
        top = ltv_accounts.accounts_ltv(session)[:TOP]
        history = ltv_accounts.history_start(session, state.context.ltv)
    terms: dict[int, list[SegmentFitView]] = {}
    for f in fits:
        terms.setdefault(f.term_months, []).append(f)
    groups = [{"term": term, "fits": group, "chart_id": f"ltv-survival-{term}", "chart": survival_chart(group)}
              for term, group in sorted(terms.items())]  # fmt: skip
    context = {"groups": groups, "top": top, "segment_name": segment_name, "history": history,
               "as_of": fits[0].as_of if fits else None}  # fmt: skip
    return render(request, "ltv/index.html", context)
