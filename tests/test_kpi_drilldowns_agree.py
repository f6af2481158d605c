"""The KPI report computes the account-month MRR, its segments and the upsell/cross-sell
counts from the earning lines fetched once (pandas, issue 19); the drill-downs list the
accounts behind a number with their own SQL (Ibis). Both must tell the same story: on the
small demo, every reported month's MRR and paying accounts, by plan too, and the upsell
and cross-sell counts are the sums and counts of the drill-downs' rows."""

from __future__ import annotations

from pathlib import Path

import pytest

from kizuna.services import kpis
from tests.demo_stores import SMALL_DEMO, DemoStores


@pytest.mark.parametrize("months", [3, 12])
def test_the_report_and_its_drilldowns_agree_on_the_demo(demo_stores: DemoStores, tmp_path: Path, months: int) -> None:
    url = demo_stores.sqlite_url(SMALL_DEMO, tmp_path / "demo.db")
    options = kpis.KpiOptions(months=months, segment_by="plan")
    backend = kpis.open_backend(url)
    try:
        report = kpis.kpi_report(backend, SMALL_DEMO.as_of, options)
        checked = 0
        for r in report.revenue.itertuples():
            rows = kpis.kpi_accounts(backend, SMALL_DEMO.as_of, options, metric="mrr", month=r.month)
            assert (int(rows["value"].sum()), len(rows)) == (int(r.mrr), int(r.accounts)), r.month
            checked += int(r.accounts)
        by = report.revenue_by_segment
        last = by[by["month"] == by["month"].max()]
        for r in last.itertuples():
            rows = kpis.kpi_accounts(backend, SMALL_DEMO.as_of, options, metric="mrr", segment=r.segment)
            assert (int(rows["value"].sum()), len(rows)) == (int(r.mrr), int(r.accounts)), r.segment
        up = kpis.kpi_accounts(backend, SMALL_DEMO.as_of, options, metric="upsell")
        cross = kpis.kpi_accounts(backend, SMALL_DEMO.as_of, options, metric="cross_sell")
    finally:
        kpis.close_backend(backend)
    assert checked > 0
    assert len(last) > 1  # the demo has paying accounts on more than one plan
    assert len(up) == report.expansion.upsell_accounts
    assert len(cross) == report.expansion.cross_sell_accounts > 0  # (the small demo has no upsell in the window)
