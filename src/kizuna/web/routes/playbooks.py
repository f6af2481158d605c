"""The playbook pages (``/playbooks``): the list, one playbook (its versions and runs),
its effect (treated vs holdout), and the editor leads use — forms driven by the spec of
each trigger and step kind (:mod:`kizuna.domain.playbook_forms`), or the same playbook as
TOML. JSON twins: ``/api/playbooks``.

Everybody signed in reads; a lead or admin (Permission ``manage``) edits, pauses and
resumes. The editor posts to itself: adding, removing or moving a step, changing a kind,
the dry run and switching modes re-render the form with every value kept; saving makes the
next version. A refused value is named by its path next to its field (422), never a 500,
and nothing is written.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from kizuna.domain import playbook_forms as forms
from kizuna.domain import playbooks as pb
from kizuna.domain.auth import Permission
from kizuna.errors import ConfigurationError, Conflict, InvalidInput, NotFound
from kizuna.http.auth import CSRF_FIELD, CurrentPrincipal, Manager, Principal, State, check_csrf
from kizuna.http.clock import today
from kizuna.http.templating import render
from kizuna.i18n import N_, _, gettext
from kizuna.services import playbooks as service

router = APIRouter(include_in_schema=False)

DONE = ("saved", "unchanged", "paused", "resumed")
HORIZONS = (30, 60, 90, 180, 365)
PREVIEW_ROWS = 50

#: What a trigger kind, a step kind and the other choices are called on the pages.
LABELS: dict[str, str] = {
    "at_risk": N_("The account is at risk"), "health_grade": N_("Health grade is"),
    "health_drop": N_("Health score fell by (30 days)"), "renewal_in_days": N_("Renewal within (days)"),
    "new_account": N_("New customer within (days)"), "stage": N_("Lifecycle stage entered"),
    "churn_risk_above": N_("Churn risk above"),
    "task": N_("Create a task"), "wait": N_("Wait"), "webhook": N_("Call a webhook"), "email": N_("Send an email"),
    "champion": N_("the champion"), "all_contacts": N_("all contacts"), "owner": N_("the account's owner"),
    "onboarding": N_("onboarding"), "adoption": N_("adoption"), "expansion": N_("expansion"),
    "high_touch": N_("high touch"), "low_touch": N_("low touch"), "tech_touch": N_("tech touch"),
    "completed": N_("completed"), "exited": N_("left (trigger cleared)"), "holdout": N_("held out"),
}  # fmt: skip


def label(value: object) -> str:
    """A kind or choice in the reader's language; an unknown one (a kind registered later) as it is."""
    key = str(value)
    if key in LABELS:
        return gettext(LABELS[key])
    from kizuna.domain.enums import LABELS as ENUM_LABELS

    return gettext(ENUM_LABELS[key]) if key in ENUM_LABELS else key


def fmt_date(request: Request, value: Any) -> str:
    from kizuna.http.templating import page_context

    return str(page_context(request)["fmt"].date(value))


def can_edit(principal: Principal) -> bool:
    return principal.user_id is not None and Permission.MANAGE in principal.permissions


def _common(principal: Principal) -> dict[str, Any]:
    return {"can_edit": can_edit(principal), "lab": label, "forms": forms}


# --- reading ----------------------------------------------------------------------------------------


@router.get("/playbooks")
def list_page(request: Request, state: State, principal: CurrentPrincipal) -> Response:
    with state.unit_of_work() as session:
        listed = service.overview(session)
    return render(request, "playbooks/list.html", {"listed": listed, **_common(principal)})


@router.get("/playbooks/new")
def new_page(request: Request, state: State, principal: Manager, copy: str = "") -> Response:
    """The editor on a new playbook: blank, or a copy of one (``copy=KEY``)."""
    table: dict[str, Any] = {"name": "", "trigger": {"kind": "at_risk"}, "cooldown_days": 30, "holdout": 0.1,
                             "exit_when_cleared": True, "enabled": True, "steps": [forms.new_step("task")]}  # fmt: skip
    key = ""
    if copy.strip():
        try:
            with state.unit_of_work() as session:
                _n, table = service.table(session, copy.strip()[:64])
            key = f"{copy.strip()[:58]}-copy"
        except NotFound:
            pass
    return _editor(request, state, principal, key, table, original="")


@router.get("/playbooks/{playbook_key}")
def detail_page(request: Request, state: State, principal: CurrentPrincipal, playbook_key: str,
                done: str = "", v: str = "") -> Response:  # fmt: skip
    with state.unit_of_work() as session:
        detail = service.detail(session, playbook_key[:64])
    return render(request, "playbooks/detail.html", {
        "d": detail, "book": detail.book, "done": done if done in DONE else "", "done_version": v[:9] if v.isdecimal() else "",
        **_common(principal),
    })  # fmt: skip


@router.get("/playbooks/{playbook_key}/effect")
def effect_page(request: Request, state: State, principal: CurrentPrincipal, playbook_key: str,
                horizon: str = "90") -> Response:  # fmt: skip
    day = today(state.settings)
    error, status = "", 200
    days = int(horizon) if horizon.isdecimal() and len(horizon) < 5 else -1
    with state.unit_of_work() as session:
        detail = service.detail(session, playbook_key[:64], limit=1)
        try:
            result = service.effect(session, detail.book.key, day, horizon_days=days)
        except InvalidInput as exc:
            error, status, days = exc.message, 422, 90
            result = service.effect(session, detail.book.key, day, horizon_days=days)
    judged = day - timedelta(days=result.horizon_days)
    rows = [(result.churn, N_("Churned within the horizon"), "rate", True),
            (result.health_change, N_("Health change after 30 days (points)"), "points", False),
            (result.renewal, N_("Renewed (terms ending within the horizon)"), "rate", False),
            (result.expansion, N_("Paying more at the horizon's end"), "rate", False)]  # fmt: skip
    return render(request, "playbooks/effect.html", {
        "book": detail.book, "book_version": detail.version, "e": result, "rows": rows, "horizons": HORIZONS,
        "error": error, "min_group": service.MIN_GROUP, "ci_label": _("95 % interval"),
        "intro": _("Treated vs held out: the runs that began at least {n} days ago (by {day}), {runs} in all. The "
                   "difference is treated − holdout, with its 95 % interval; an interval that does not cross 0 is a "
                   "likely effect.").format(n=result.horizon_days, day=fmt_date(request, judged),
                                            runs=f"{result.runs:,}"),
        **_common(principal),
    }, status=status)  # fmt: skip


# --- the editor ---------------------------------------------------------------------------------------


@router.get("/playbooks/{playbook_key}/edit")
def edit_page(request: Request, state: State, principal: Manager, playbook_key: str, mode: str = "forms") -> Response:
    with state.unit_of_work() as session:
        _n, table = service.table(session, playbook_key[:64])
    key = playbook_key[:64]
    if mode == "toml":
        return _editor(request, state, principal, key, table, original=key, toml=forms.to_toml(key, table))
    if not forms.forms_cover(table):
        return _editor(request, state, principal, key, table, original=key, toml=forms.to_toml(key, table),
                       error=_("This playbook has parts the forms cannot show (a branch step, an email in two "
                               "languages or another key): edit it as TOML, so that nothing of it is lost."))  # fmt: skip
    return _editor(request, state, principal, key, table, original=key)


def _errors(exc: ConfigurationError) -> tuple[str, dict[str, str]]:
    """(the message, {path: the reason}) — the path prefix the validator puts first is taken off."""
    why = exc.message
    path = exc.field or ""
    if path and f": {path}: " in why:
        why = why.split(f": {path}: ", 1)[1]
    if path and "." not in path and "[" not in path:  # the key itself (``Risk!``)
        return exc.message, {"key": why}
    return exc.message, ({path: why} if path else {})


def _editor(request: Request, state: State, principal: Principal, key: str, table: dict[str, Any], *,
            original: str, toml: str | None = None, error: str = "", errors: dict[str, str] | None = None,
            preview: service.Preview | None = None, note: str = "", status: int = 200) -> Response:  # fmt: skip
    with state.unit_of_work() as session:
        offered = service.choices(session)
    trigger = table.get("trigger") if isinstance(table.get("trigger"), dict) else {}
    filters = table.get("filters") if isinstance(table.get("filters"), dict) else {}
    steps = [s for s in table.get("steps", []) if isinstance(s, dict)] if isinstance(table.get("steps"), list) else []
    return render(request, "playbooks/edit.html", {
        "key": key, "original": original, "t": table, "trigger": trigger, "filters": filters, "steps": steps,
        "toml": toml, "error": error, "errors": errors or {}, "preview": preview, "preview_rows": PREVIEW_ROWS,
        "note": note, "trigger_kinds": sorted(pb.TRIGGERS), "step_kinds": list(forms.STEP_FIELDS),
        "offered": offered, **_common(principal),
    }, status=status)  # fmt: skip


def _form_dict(raw: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in raw:
        out[name] = raw.getlist(name) if name.startswith("filters.") else raw.get(name)
    return out


@router.post("/playbooks/editor")
async def editor_post(request: Request, state: State, principal: Manager) -> Response:
    """Every button of the editor: ``op`` = add:KIND, remove:I, up:I, down:I, refresh, preview,
    save, toml (to TOML mode), forms (back to the forms)."""
    raw = await request.form()
    check_csrf(principal, str(raw.get(CSRF_FIELD) or ""))
    form = _form_dict(raw)
    op = str(form.get("op") or "refresh")[:40]
    original = str(form.get("original") or "")[:64]
    note = str(form.get("note") or "")[:500]
    if form.get("toml") is not None and op != "toml":
        return await _toml_post(request, state, principal, form, op, original, note)
    key, table = forms.table_from_form(form)
    key = original or key[:64]
    steps: list[dict[str, Any]] = table["steps"]
    verb, _sep, arg = op.partition(":")
    index = int(arg) if arg.isdecimal() else -1
    if verb == "add" and arg in forms.STEP_FIELDS and len(steps) < 30:
        steps.append(forms.new_step(arg))
    elif verb == "remove" and 0 <= index < len(steps):
        steps.pop(index)
    elif verb in ("up", "down"):
        table["steps"] = forms.move(steps, index, -1 if verb == "up" else 1)
    elif verb == "toml":
        return _editor(request, state, principal, key, table, original=original, toml=forms.to_toml(key or "new", table),
                       note=note)  # fmt: skip
    elif verb in ("preview", "save"):
        return _check(request, state, principal, key, table, original=original, save=verb == "save", note=note)
    return _editor(request, state, principal, key, table, original=original, note=note)


async def _toml_post(request: Request, state: State, principal: Principal, form: dict[str, Any], op: str,
                     original: str, note: str) -> Response:  # fmt: skip
    text = str(form.get("toml") or "")[:200_000]
    key = original
    try:
        books = pb.parse_playbooks(text, "TOML")
        import tomllib

        tables = tomllib.loads(text).get("playbooks", {})
        if len(books) != 1:
            raise ConfigurationError(_("TOML: write exactly one [playbooks.<key>] table"), code="invalid_playbook",
                                     field="playbooks")  # fmt: skip
        if original and books[0].key != original:
            raise ConfigurationError(_("TOML: the key stays {key}; to make another playbook, copy this one").format(
                key=original), code="invalid_playbook", field="playbooks")  # fmt: skip
        key = books[0].key
        table = dict(tables[key])
    except ConfigurationError as exc:
        message, errors = _errors(exc)
        return _editor(request, state, principal, key, {}, original=original, toml=text, error=message, errors=errors,
                       note=note, status=422)  # fmt: skip
    if op == "forms":
        return _editor(request, state, principal, key, table, original=original, note=note)
    return _check(request, state, principal, key, table, original=original, save=op == "save", note=note, toml=text)


def _check(request: Request, state: State, principal: Principal, key: str, table: dict[str, Any], *, original: str,
           save: bool, note: str, toml: str | None = None) -> Response:  # fmt: skip
    """Validate the draft; then show its dry run, or save it as the next version."""
    try:
        book = pb.parse_playbook(key, table, source="playbook")
        with state.unit_of_work() as session:
            if not original and any(b.key == key for _n, b in service.current(session)):
                raise Conflict(_("a playbook with the key {key} exists already; choose another key").format(key=key),
                               code="playbook_exists", field=f"{key}.key")  # fmt: skip
            if save:
                saved = service.save_table(session, key, table, created_by_id=principal.user_id, note=note)
            else:
                number = next((n for n, b in service.current(session) if b.key == key), 0)
                plan = service.preview_book(session, book, number + 1, today(state.settings))
    except (ConfigurationError, Conflict) as exc:
        message, errors = _errors(exc) if isinstance(exc, ConfigurationError) else (exc.message, {"key": exc.message})
        return _editor(request, state, principal, key, table, original=original, toml=toml, error=message,
                       errors=errors, note=note, status=422)  # fmt: skip
    if save:
        done = "saved" if saved.changed else "unchanged"
        return RedirectResponse(f"/playbooks/{key}?done={done}&v={saved.version}", status_code=303)
    return _editor(request, state, principal, key, table, original=original, toml=toml, preview=plan, note=note)


@router.post("/playbooks/{playbook_key}/{action}")
async def pause_or_resume(request: Request, state: State, principal: Manager, playbook_key: str, action: str) -> Response:
    """``pause`` or ``resume``: the next version, with ``enabled`` off or on."""
    raw = await request.form()
    check_csrf(principal, str(raw.get(CSRF_FIELD) or ""))
    if action not in ("pause", "resume"):
        raise NotFound(_("unknown action {action!r}").format(action=action[:40]), code="unknown_action")
    with state.unit_of_work() as session:
        saved = service.set_enabled(session, playbook_key[:64], action == "resume", created_by_id=principal.user_id)
    done = ("resumed" if action == "resume" else "paused") if saved.changed else "unchanged"
    return RedirectResponse(f"/playbooks/{saved.key}?done={done}&v={saved.version}", status_code=303)
