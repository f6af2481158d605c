"""``/api/playbooks``: the playbooks, one with its versions and runs, and its effect
(treated vs holdout) — the JSON twins of the playbook pages and of ``kizuna playbooks
list|effect``. Editing is in the web app and ``kizuna playbooks load``."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from kizuna.api.routers._common import READ, READ_ONE
from kizuna.api.schemas.playbooks import EffectOut, PlaybookDetailOut, PlaybookOut
from kizuna.domain.playbooks import Playbook
from kizuna.http.auth import CurrentPrincipal, State
from kizuna.http.clock import today
from kizuna.http.limits import LimitedRoute
from kizuna.services import playbooks

router = APIRouter(prefix="/api", tags=["playbooks"], route_class=LimitedRoute)

PlaybookKey = Annotated[str, Path(min_length=1, max_length=64, description="The playbook's key.")]


def _fields(version: int, book: Playbook, enrolled: int, held_out: int) -> dict[str, Any]:
    return {"key": book.key, "version": version, "name": book.name, "enabled": book.enabled,
            "trigger": {"kind": book.trigger.kind, **book.trigger.params},
            "filters": {k: list(v) for k, v in book.filters.items()},
            "steps": [{"kind": s.kind, **{k: v for k, v in s.params.items() if v is not None}} for s in book.steps],
            "cooldown_days": book.cooldown_days, "holdout": book.holdout, "exit_when_cleared": book.exit_when_cleared,
            "enrolled": enrolled, "held_out": held_out}  # fmt: skip


@router.get("/playbooks", response_model=list[PlaybookOut], responses=READ, summary="List playbooks")
def list_playbooks(state: State, principal: CurrentPrincipal) -> list[PlaybookOut]:
    """Every playbook's newest version, by key, with the runs open now."""
    with state.unit_of_work() as session:
        listed = playbooks.overview(session)
    return [PlaybookOut(**_fields(p.version, p.book, p.enrolled, p.held_out)) for p in listed]


@router.get("/playbooks/{playbook_key}", response_model=PlaybookDetailOut, responses=READ_ONE,
            summary="Get a playbook")  # fmt: skip
def get_playbook(playbook_key: PlaybookKey, state: State, principal: CurrentPrincipal) -> PlaybookDetailOut:
    """Its newest version, every version (author, date, note) and the newest runs."""
    with state.unit_of_work() as session:
        d = playbooks.detail(session, playbook_key)
        listed = {p.book.key: p for p in playbooks.overview(session)}
    p = listed[d.book.key]
    return PlaybookDetailOut(**_fields(d.version, d.book, p.enrolled, p.held_out), versions=d.versions,
                             runs_total=d.runs_total, runs=d.runs)  # fmt: skip


@router.get("/playbooks/{playbook_key}/effect", response_model=EffectOut, responses=READ_ONE,
            summary="Does a playbook work? Treated vs holdout")  # fmt: skip
def get_effect(
    playbook_key: PlaybookKey, state: State, principal: CurrentPrincipal,
    horizon_days: Annotated[int, Query(ge=7, le=730, description="Churn counted within this many days.")] = 90,
) -> EffectOut:  # fmt: skip
    """Churn within the horizon, the health change after 30 days, renewal and expansion rates:
    treated vs held out, with sample sizes, the difference and its 95 % interval
    (`enough` is false with fewer than 20 runs in a group)."""
    with state.unit_of_work() as session:
        result = playbooks.effect(session, playbook_key, today(state.settings), horizon_days=horizon_days)
    return EffectOut(**asdict(result))
