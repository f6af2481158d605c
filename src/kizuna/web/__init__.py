"""The server-rendered web app (Jinja2 + htmx): thin routes over the services."""

from __future__ import annotations

from fastapi import APIRouter


def routes() -> list[APIRouter]:
    from kizuna.web.routes import accounts, admin, api_docs, auth, home
    from kizuna.web.routes import health as health_routes
    from kizuna.web.routes import imports as import_routes
    from kizuna.web.routes import jobs as job_routes
    from kizuna.web.routes import kb as kb_routes
    from kizuna.web.routes import kpis as kpi_routes
    from kizuna.web.routes import ltv as ltv_routes
    from kizuna.web.routes import opportunities as opportunity_routes
    from kizuna.web.routes import plans as plan_routes
    from kizuna.web.routes import playbooks as playbook_routes
    from kizuna.web.routes import renewals as renewal_routes
    from kizuna.web.routes import segments as segment_routes
    from kizuna.web.routes import surveys as survey_routes
    from kizuna.web.routes import tasks as task_routes
    from kizuna.web.routes import unsubscribe as unsubscribe_routes
    from kizuna.web.routes import usage as usage_routes

    return [auth.router, home.router, accounts.router, segment_routes.router, health_routes.router, kpi_routes.router,
            ltv_routes.router, opportunity_routes.router, usage_routes.router, import_routes.router, api_docs.router,
            job_routes.router, task_routes.router, playbook_routes.router, admin.router, unsubscribe_routes.router,
            survey_routes.router, kb_routes.router, plan_routes.router, renewal_routes.router]  # fmt: skip
