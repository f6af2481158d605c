"""The usage page (``/usage``): what the tracking API received — events per hour, rejected and
parked counts with their reasons, the API keys that send. JSON twin: ``GET /api/usage``.
``/ingestion`` (its old address) redirects here."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from kizuna.errors import ConfigurationError
from kizuna.http.auth import CurrentPrincipal, State
from kizuna.http.clock import today
from kizuna.http.templating import render
from kizuna.i18n import _
from kizuna.services import health
from kizuna.services.usage import load_mapping, report

router = APIRouter(include_in_schema=False)

COLOURS = {"stored": "#2f6fde", "duplicate": "#9aa4b5", "parked": "#e0a030", "rejected": "#d0473c"}


def hourly_chart(summary: report.IngestionSummary, zone: Any) -> dict[str, Any]:
    """A stacked Chart.js bar chart of messages per hour (drawn by kizuna.js from JSON)."""
    labels = {"stored": _("Stored"), "duplicate": _("Duplicates (retries)"), "parked": _("Parked"),
              "rejected": _("Rejected")}  # fmt: skip
    return {
        "type": "bar",
        "data": {
            "labels": [h.astimezone(zone).strftime("%m/%d %H:00") for h in summary.hours],
            "datasets": [
                {"label": label, "data": summary.per_hour[k], "backgroundColor": COLOURS[k], "stack": "all"}
                for k, label in labels.items()
            ],
        },
        "options": {
            "interaction": {"mode": "index", "intersect": False},
            "plugins": {"legend": {"position": "bottom", "labels": {"boxWidth": 12}}},
            "scales": {
                "x": {"stacked": True, "grid": {"display": False}, "ticks": {"maxTicksLimit": 12, "maxRotation": 0}},
                "y": {"stacked": True, "beginAtZero": True, "ticks": {"precision": 0}},
            },
        },
    }


@router.get("/ingestion")
def old_address() -> Response:
    """The page's address before it was named after its feature (usage)."""
    return RedirectResponse("/usage", status_code=301)


@router.get("/usage")
def usage_page(request: Request, state: State, principal: CurrentPrincipal) -> Response:
    with state.unit_of_work() as session:
        summary = report.summary(session)
        warnings = mapping_warnings(session, today(state.settings), state.settings.usage_mapping)
    zone = state.settings.zone
    return render(request, "usage/index.html", {"summary": summary, "chart": hourly_chart(summary, zone), "zone": zone,
                                                "mapping_warnings": warnings})  # fmt: skip


def mapping_warnings(session: Any, day: Any, mapping_path: Any) -> list[health.MappingWarning]:
    """The usage mapping's silent zeros (accounts with events, none with logins or features);
    none when the mapping file itself is broken (the import and the pipeline say why)."""
    try:
        mapping = load_mapping(mapping_path)
    except ConfigurationError:
        return []
    return health.mapping_warnings(session, day, mapping)
