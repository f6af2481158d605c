"""The public knowledge base: ``/kb`` (the articles by category, and a search that finds
two-character Japanese words) and ``/kb/{slug}`` (an article). No sign-in."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from markupsafe import Markup

from kizuna.http import clock
from kizuna.http.auth import CurrentPrincipal, State
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
def kb_article(request: Request, state: State, slug: str, r: str | None = None) -> Response:
    """The article; ``r`` is an emailed link's signed token: a good one counts a view for its
    contact, a forged one counts nothing and the reader still gets the article."""
    with state.unit_of_work() as session:
        page = kb.article(session, slug)
        if r is not None:
            kb.record_view(session, state.context, page.slug, r, now=clock.now(state.settings))
    # an emailed link's token stays out of other sites' logs and search engines
    headers = {"Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"} if r is not None else None
    if wants_json(request):
        return JSONResponse(page.__dict__, headers=headers)
    # the only Markup of the knowledge base: markdown-it with raw HTML off and safe links only,
    # cleaned again by nh3's allow-list (kizuna.domain.kb.render_html)
    response = render(request, "kb/article.html", {"article": page, "html": Markup(page.html)})
    response.headers.update(headers or {})
    return response


@router.get("/admin/kb")
def kb_stats(request: Request, state: State, principal: CurrentPrincipal) -> Response:
    """Signed in: per article, the links sent by playbooks, their views and readers."""
    with state.unit_of_work() as session:
        rows = kb.stats(session)
    if wants_json(request):
        return JSONResponse({"articles": [r.__dict__ for r in rows]})
    return render(request, "kb/stats.html", {"rows": rows})
