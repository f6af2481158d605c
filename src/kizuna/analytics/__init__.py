"""The analytics engine: every KPI defined once, as Ibis expressions over the store's
tables, so that the same definition runs on SQLite, PostgreSQL, DuckDB and Spark.

Pure: no database sessions, no settings, no clock. Callers pass an Ibis backend (see
:mod:`kizuna.analytics.backend`), the reporting day ``as_of`` and the window.

Modules by feature: :mod:`~kizuna.analytics.periods` (the month grid),
:mod:`~kizuna.analytics.revenue` (MRR, ARR, movements, churn, GRR/NRR),
:mod:`~kizuna.analytics.retention` (cohorts, Kaplan–Meier),
:mod:`~kizuna.analytics.success` (onboarding, upsell/cross-sell, effort, NPS, usage),
:mod:`~kizuna.analytics.support` (ticket KPIs), :mod:`~kizuna.analytics.pareto`
(80/20, Lorenz, Gini) and :mod:`~kizuna.analytics.ltv` (the five seed formulas).
"""
