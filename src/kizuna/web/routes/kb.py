"""The public knowledge base: ``/kb`` (the articles by category, and a search that finds
two-character Japanese words) and ``/kb/{slug}`` (an article). No sign-in."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from markupsafe import Markup

from kizuna.http.auth import State
from kizuna.http.errors import wants_json
from kizuna.http.templating import render
from kizuna.services import kb

router = APIRouter(include_in_schema=False)


@router.get("/kb")
def kb_index(request: Request, state: State, q: str | None = None, category: str | None = None) -> Response:
    query = (q or "").strip()[:200]
    with state.unit_of_work() as session:
        found = kb.search(session, query) if query else kb.listing(session, category=(category or None))
        groups = kb.categories(session)
    if wants_json(request):
        return JSONResponse({"q": query, "articles": [a.__dict__ for a in found]})
    return render(request, "kb/index.html", {"q": query, "articles": found, "categories": groups,
                                             "category": category or ""})  # fmt: skip


@router.get("/kb/{slug}")
def kb_article(request: Request, state: State, slug: str) -> Response:
    with state.unit_of_work() as session:
        page = kb.article(session, slug)
    if wants_json(request):
        return JSONResponse(page.__dict__)
    # the only Markup of the knowledge base: markdown-it with raw HTML off and safe links only,
    # cleaned again by nh3's allow-list (kizuna.domain.kb.render_html)
    return render(request, "kb/article.html", {"article": page, "html": Markup(page.html)})
