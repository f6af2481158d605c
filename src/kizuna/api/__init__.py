"""The JSON REST API under ``/api/`` (OpenAPI at ``/docs``): thin routes over the services."""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    from kizuna.api.routers import (
        accounts,
        activities,
        churn,
        contacts,
        customer360,
        health,
        home,
        jobs,
        kpis,
        ltv,
        opportunities,
        plans,
        playbooks,
        products,
        renewals,
        segments,
        status,
        subscriptions,
        survey_responses,
        surveys,
        tasks,
        tickets,
        usage,
    )

    return [
        home.router,
        kpis.router,
        customer360.router,
        ltv.router,
        churn.router,
        renewals.router,
        opportunities.router,
        accounts.router,
        contacts.router,
        products.router,
        subscriptions.router,
        tickets.router,
        survey_responses.router,
        surveys.router,
        activities.router,
        tasks.router,
        playbooks.router,
        plans.router,
        segments.router,
        health.router,
        jobs.router,
        status.router,
        usage.router,
        usage.summary_router,
    ]
