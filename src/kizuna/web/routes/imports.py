"""Import in the browser (leads and admins): upload a CSV or JSON Lines file, map its
columns, check it (a dry run), import it — the engine of ``kizuna import``.

``GET /imports`` the form · ``POST /imports`` receives the file (streamed to disk, size
limit ``KIZUNA_UPLOAD_MAX_BYTES``) and shows the mapping · ``POST /imports/{token}/check``
runs the dry run · ``GET /imports/{token}/check?page=N`` its counts and problems ·
``POST /imports/{token}/run`` imports all or nothing.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from kizuna.errors import ImportRejected, InvalidInput, RowError
from kizuna.http.auth import CSRF_FIELD, CSRF_HEADER, Manager, State, check_csrf
from kizuna.http.clock import today
from kizuna.http.state import AppState
from kizuna.http.templating import render
from kizuna.i18n import _
from kizuna.services.imports import ENTITIES, ParseContext, entity, saved
from kizuna.services.imports.finish import after_import
from kizuna.services.imports.uploads import (
    MappingRejected,
    Upload,
    UploadStore,
    mapping_from_form,
    too_large,
)

router = APIRouter(include_in_schema=False)

PROBLEMS_PER_PAGE = 50
_CHUNK = 1 << 16
#: Room for the multipart envelope and the small fields around the file.
_ENVELOPE = 64 * 1024


def store(state: AppState) -> UploadStore:
    folder = state.settings.upload_dir or Path(tempfile.gettempdir()) / "kizuna-uploads"
    return UploadStore(folder, state.settings.upload_max_bytes)


def _user_id(principal: Manager) -> int | None:
    return principal.user_id


def _ctx(state: AppState) -> ParseContext:
    return ParseContext(state.settings.zone, state.settings.default_currency)


def _entities() -> list[tuple[str, str]]:
    return [(name, spec.summary) for name, spec in ENTITIES.items()]


def _upload_page(request: Request, state: AppState, *, error: str | None = None, entity_name: str = "accounts",
                 status: int = 200) -> Response:  # fmt: skip
    with state.unit_of_work() as session:
        mappings = saved.all_mappings(session)
    return render(request, "imports/upload.html", {
        "entities": _entities(), "entity": entity_name, "error": error, "mappings": mappings,
        "max_bytes": state.settings.upload_max_bytes,
    }, status=status)  # fmt: skip


@router.get("/imports")
def upload_form(request: Request, state: State, principal: Manager) -> Response:
    return _upload_page(request, state)


def _chunks(file: BinaryIO) -> Iterator[bytes]:
    while chunk := file.read(_CHUNK):
        yield chunk


@router.post("/imports")
async def receive_upload(request: Request, state: State, principal: Manager) -> Response:
    limit = state.settings.upload_max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdecimal() and int(declared) > limit + _ENVELOPE:
        # refused before the body is read
        return await run_in_threadpool(_upload_page, request, state, error=too_large(limit).message, status=413)
    form = await request.form(max_files=1, max_fields=10)
    try:
        check_csrf(principal, str(form.get(CSRF_FIELD) or "") or request.headers.get(CSRF_HEADER))
        entity_name = str(form.get("entity") or "")
        file = form.get("file")
        if not isinstance(file, UploadFile) or not file.filename:
            return await run_in_threadpool(_upload_page, request, state, error=_("choose a file to upload"),
                                           entity_name=entity_name, status=422)  # fmt: skip
        uploads = store(state)
        try:
            upload = await run_in_threadpool(uploads.receive, _chunks(file.file), filename=file.filename,
                                             entity_name=entity_name, user_id=_user_id(principal))  # fmt: skip
        except InvalidInput as exc:
            status = 413 if exc.code == "upload_too_large" else 422
            return await run_in_threadpool(_upload_page, request, state, error=exc.message, entity_name=entity_name,
                                           status=status)  # fmt: skip
    finally:
        await form.close()
    return RedirectResponse(f"/imports/{upload.token}/mapping", status_code=303)


def _mapping_page(request: Request, state: AppState, upload: Upload, *, problems: list[RowError] | None = None,
                  targets: list[str] | None = None, mapping_name: str | None = None,
                  status: int = 200) -> Response:  # fmt: skip
    uploads = store(state)
    spec = entity(upload.entity)
    with state.unit_of_work() as session:
        preview = uploads.preview(session, upload)
    chosen = targets if targets is not None else [s.target or "" for s in preview.suggestions]
    fed = {t for t in chosen if t}
    options = spec.columns + ([spec.self_ref.column] if spec.self_ref else [])
    required = [(fd.column, fd.column in fed) for fd in spec.fields if fd.required]
    if mapping_name is None:
        mapping_name = upload.mapping_name or (preview.saved.name if preview.saved else "")
    return render(request, "imports/mapping.html", {
        "upload": upload, "spec": spec, "preview": preview, "chosen": chosen, "options": options,
        "required_columns": {fd.column for fd in spec.fields if fd.required}, "required": required,
        "problems": problems or [], "mapping_name": mapping_name,
    }, status=status)  # fmt: skip


@router.get("/imports/{token}/mapping")
def mapping_page(request: Request, state: State, principal: Manager, token: str) -> Response:
    upload = store(state).get(token, _user_id(principal))
    return _mapping_page(request, state, upload)


@router.post("/imports/{token}/check")
async def check_upload(request: Request, state: State, principal: Manager, token: str) -> Response:
    form = await request.form(max_files=0, max_fields=2000)
    check_csrf(principal, str(form.get(CSRF_FIELD) or "") or request.headers.get(CSRF_HEADER))
    targets = [str(v) for v in form.getlist("target")]
    mapping_name = str(form.get("mapping_name") or "")
    return await run_in_threadpool(_check, request, state, principal, token, targets, mapping_name)


def _check(request: Request, state: AppState, principal: Manager, token: str, targets: list[str],
           mapping_name: str) -> Response:  # fmt: skip
    uploads = store(state)
    upload = uploads.get(token, _user_id(principal))
    spec = entity(upload.entity)
    columns = uploads.columns(upload)
    try:
        mapping = mapping_from_form(spec, columns, targets)
        with state.unit_of_work() as session:
            uploads.check(session, upload, mapping, ctx=_ctx(state), save_as=mapping_name,
                          user_id=_user_id(principal))  # fmt: skip
    except MappingRejected as exc:
        return _mapping_page(request, state, upload, problems=exc.problems, targets=targets,
                             mapping_name=mapping_name, status=422)  # fmt: skip
    except InvalidInput as exc:
        problem = RowError(upload.filename, 1, exc.field or "", exc.message)
        keep = targets if len(targets) == len(columns) else None
        return _mapping_page(request, state, upload, problems=[problem], targets=keep, mapping_name=mapping_name,
                             status=422)  # fmt: skip
    return RedirectResponse(f"/imports/{upload.token}/check", status_code=303)


def _check_page(request: Request, upload: Upload, page: int, *, status: int = 200, rejected: bool = False) -> Response:
    check: dict[str, Any] = upload.check or {}
    problems = [RowError(*p) for p in check.get("problems", [])]
    pages = max(1, -(-len(problems) // PROBLEMS_PER_PAGE))
    page = min(max(1, page), pages)
    shown = problems[(page - 1) * PROBLEMS_PER_PAGE : page * PROBLEMS_PER_PAGE]
    return render(request, "imports/check.html", {
        "upload": upload, "check": check, "problems": shown, "total_problems": len(problems), "page": page,
        "pages": pages, "rejected": rejected, "spec": entity(upload.entity),
    }, status=status)  # fmt: skip


@router.get("/imports/{token}/check")
def check_page(request: Request, state: State, principal: Manager, token: str, page: int = 1) -> Response:
    upload = store(state).get(token, _user_id(principal))
    if upload.check is None:
        return RedirectResponse(f"/imports/{upload.token}/mapping", status_code=303)
    return _check_page(request, upload, page)


@router.post("/imports/{token}/run")
async def run_import(request: Request, state: State, principal: Manager, token: str) -> Response:
    form = await request.form(max_files=0, max_fields=5)
    check_csrf(principal, str(form.get(CSRF_FIELD) or "") or request.headers.get(CSRF_HEADER))
    return await run_in_threadpool(_run, request, state, principal, token)


def _run(request: Request, state: AppState, principal: Manager, token: str) -> Response:
    uploads = store(state)
    upload = uploads.get(token, _user_id(principal))
    try:
        with state.unit_of_work() as session:
            summary = uploads.run(session, upload, ctx=_ctx(state))
            after_import(session, [upload.entity], today(state.settings), state.context.rollup)
    except ImportRejected:
        return _check_page(request, upload, 1, status=422, rejected=True)
    uploads.remove(upload)
    return render(request, "imports/done.html", {"upload": upload, "summary": summary, "spec": entity(upload.entity)})
