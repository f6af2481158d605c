"""The accounts list's rows written in Python (``kizuna.web.account_rows``, issue 19): each
cell as the template wrote it, and every value from the store escaped."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from kizuna.domain.health import HealthGrade
from kizuna.domain.segments import FitBand, LifecycleStage, TouchTier
from kizuna.http.i18n import Formatter
from kizuna.i18n import language
from kizuna.services.accounts import AccountRow, AccountStatus
from kizuna.services.onboarding import Progress
from kizuna.web.account_rows import AccountRowsHtml

TOKYO = ZoneInfo("Asia/Tokyo")
AS_OF = date(2026, 12, 7)


def _row(**changes: object) -> AccountRow:
    plain = AccountRow(
        id=7, external_id="ACC-7", name="さくら商事", domain=None, industry=None, employee_count=None,
        status=AccountStatus.PROSPECT, mrr=0, currency=None, renewal_on=None, contract_term_months=None,
        customer_since=None, churned_on=None, owner_id=None, owner_name=None, plan_id=None, plan_name=None,
    )  # fmt: skip
    return replace(plain, **changes)  # type: ignore[arg-type]


def _html(row: AccountRow, *, lang: str = "en", can_assign: bool = False, top_risk: str | None = None,
          progress: Progress | None = None) -> str:  # fmt: skip
    with language(lang):
        writer = AccountRowsHtml(Formatter(lang, TOKYO), AS_OF, can_assign=can_assign)
        return str(writer.rows([row], {row.id: top_risk}, {row.id: progress} if progress else None))


def _cells(html: str) -> list[str]:
    return [line.strip() for line in html.splitlines()]


def test_an_account_with_nothing_but_a_name_shows_dashes() -> None:
    assert _html(_row()) == (
        '    <tr data-testid="account-row" hx-disable data-id="7">\n'
        '      <td class="name"><a href="/accounts/7">さくら商事</a></td>\n'
        "      <td>—</td>\n"
        '      <td><span class="badge prospect">prospect</span></td>\n'
        '      <td class="num" data-testid="mrr">—</td>\n'
        '      <td class="date" data-testid="renewal">—</td>\n'
        '      <td class="num" data-testid="health">—</td>\n'
        '      <td class="num trend" data-testid="trend">—</td>\n'
        '      <td class="risk small" data-testid="top-risk">—</td>\n'
        '      <td class="date" data-testid="last-touch">—</td>\n'
        '      <td data-testid="tier">—</td>\n'
        '      <td data-testid="stage">—</td>\n'
        '      <td data-testid="onboarding">—</td>\n'
        '      <td class="num" data-testid="fit">—</td>\n'
        '      <td class="num" data-testid="ltv">—</td>\n'
        '      <td class="num" data-testid="churn-risk">—</td>\n'
        "      <td>Unowned</td>\n"
        "      <td>—</td>\n"
        "    </tr>\n"
    )


def test_a_full_row_in_english_and_in_japanese() -> None:
    row = _row(
        domain="sakura.co.jp", industry="Retail", status=AccountStatus.ACTIVE, mrr=1_196_000, currency="JPY",
        renewal_on=date(2026, 12, 19), contract_term_months=12, owner_name="Aoi Tanaka", plan_name="Growth",
        touch_tier=TouchTier.HIGH, lifecycle_stage=LifecycleStage.ADOPTION, at_risk=True, fit_score=81.6,
        fit_band=FitBand.STRONG, health_score=42.5, health_grade=HealthGrade.RED,
        last_touch_at=datetime(2026, 11, 30, 16, 0, tzinfo=UTC), health_change_30d=-12.34, ltv=5_000_000,
        residual_value=3_250_000, churn_risk=0.1234,
    )  # fmt: skip
    progress = Progress(done=3, total=5, overdue=2)
    assert _cells(_html(row, top_risk="Logins fell 40 %", progress=progress))[1:18] == [
        '<td class="name"><a href="/accounts/7">さくら商事</a><span class="muted small">sakura.co.jp</span></td>',
        "<td>Growth</td>",
        '<td><span class="badge active">active</span></td>',
        '<td class="num" data-testid="mrr">¥1,196,000</td>',
        '<td class="date soon" data-testid="renewal">Dec 19, 2026<span class="rel small" '
        'data-testid="days-to-renewal">in 12 days</span></td>',
        # 42.5 rounds half to even, as "%.0f" does
        '<td class="num" data-testid="health"><span class="grade red" title="red">42</span></td>',
        '<td class="num trend" data-testid="trend"><span class="down">▼ 12.3</span></td>',
        '<td class="risk small" data-testid="top-risk">Logins fell 40 %</td>',
        # 16:00 UTC is the next day in Tokyo
        '<td class="date" data-testid="last-touch">Dec 1, 2026</td>',
        '<td data-testid="tier"><span class="tier high">high touch</span></td>',
        '<td data-testid="stage">adoption <span class="badge at-risk" data-testid="at-risk">At risk</span></td>',
        '<td data-testid="onboarding"><span class="overdue" title="2 overdue">3/5</span></td>',
        '<td class="num" data-testid="fit"><span class="fit strong" title="strong fit">82</span></td>',
        '<td class="num" data-testid="ltv" title="Residual value ¥3,250,000">¥5,000,000</td>',
        '<td class="num" data-testid="churn-risk">12.3%</td>',
        "<td>Aoi Tanaka</td>",
        "<td>Retail</td>",
    ]
    ja = _cells(_html(row, lang="ja", progress=progress))
    assert ja[5] == ('<td class="date soon" data-testid="renewal">2026/12/19<span class="rel small" '
                     'data-testid="days-to-renewal">あと 12 日</span></td>')  # fmt: skip
    assert ja[11] == '<td data-testid="stage">活用 <span class="badge at-risk" data-testid="at-risk">要注意</span></td>'
    assert ja[12] == '<td data-testid="onboarding"><span class="overdue" title="2 件が期限超過">3/5</span></td>'
    assert ja[14] == '<td class="num" data-testid="ltv" title="残存価値 ¥3,250,000">¥5,000,000</td>'


def test_renewals_past_far_and_monthly_and_the_trend_band() -> None:
    assert _cells(_html(_row(renewal_on=date(2026, 11, 27))))[5] == (
        '<td class="date" data-testid="renewal">Nov 27, 2026<span class="rel small" '
        'data-testid="days-to-renewal">10 days ago</span></td>'
    )
    # 30 days away is "soon", 31 is not; a renewal today is (0 days)
    assert _cells(_html(_row(renewal_on=date(2027, 1, 6))))[5].startswith('<td class="date soon" data-testid="renewal">')
    assert _cells(_html(_row(renewal_on=date(2027, 1, 7))))[5].startswith('<td class="date" data-testid="renewal">Jan 7')
    assert 'class="date soon"' in _html(_row(renewal_on=AS_OF))
    assert "in 0 days" in _html(_row(renewal_on=AS_OF))
    assert _cells(_html(_row(contract_term_months=1)))[5] == (
        '<td class="date" data-testid="renewal"><span class="muted">monthly (renews every month)</span></td>'
    )
    trends = {t: _cells(_html(_row(health_change_30d=t)))[7] for t in (0.05, 0.051, -0.05, -0.051, 0.0)}
    assert trends == {
        # ±0.05 is flat, and shown rounded half to even (0.05 → 0.0)
        0.05: '<td class="num trend" data-testid="trend"><span class="flat">± 0.0</span></td>',
        0.051: '<td class="num trend" data-testid="trend"><span class="up">▲ 0.1</span></td>',
        -0.05: '<td class="num trend" data-testid="trend"><span class="flat">± 0.0</span></td>',
        -0.051: '<td class="num trend" data-testid="trend"><span class="down">▼ 0.1</span></td>',
        0.0: '<td class="num trend" data-testid="trend"><span class="flat">± 0.0</span></td>',
    }


def test_onboarding_without_overdue_and_a_grade_without_a_score() -> None:
    assert _cells(_html(_row(), progress=Progress(2, 4, 0)))[12] == '<td data-testid="onboarding"><span>2/4</span></td>'
    assert _cells(_html(_row(health_grade=HealthGrade.GREEN)))[6] == (
        '<td class="num" data-testid="health"><span class="grade green" title="green"></span></td>'
    )
    # a residual value alone still titles the cell; the LTV itself needs a currency
    assert _cells(_html(_row(residual_value=0, currency="USD")))[14] == (
        '<td class="num" data-testid="ltv" title="Residual value $0.00">—</td>'
    )


def test_names_and_other_stored_text_are_escaped() -> None:
    row = _row(
        name='<script>alert("x")</script>', domain="a&b.example", owner_name="O'Brien & <Co>",
        industry='"Quotes" & more', plan_name="<b>Plan</b>",
    )  # fmt: skip
    html = _html(row, can_assign=True, top_risk="<img src=x onerror=alert(1)>")
    assert "<script>" not in html
    assert "<b>" not in html
    assert "<img" not in html
    cells = _cells(html)
    assert cells[1] == (
        '<td class="pick"><input type="checkbox" name="account" value="7" form="bulk-owner" '
        'aria-label="Select &lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" data-testid="pick"></td>'
        '      <td class="name"><a href="/accounts/7">&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;</a>'
        '<span class="muted small">a&amp;b.example</span></td>'
    )
    assert cells[2] == "<td>&lt;b&gt;Plan&lt;/b&gt;</td>"
    assert cells[8] == '<td class="risk small" data-testid="top-risk">&lt;img src=x onerror=alert(1)&gt;</td>'
    assert cells[16:18] == ["<td>O&#39;Brien &amp; &lt;Co&gt;</td>", "<td>&#34;Quotes&#34; &amp; more</td>"]
    # a name that looks like a placeholder is not filled in
    assert 'aria-label="{name} を選択"' in _html(_row(name="{name}"), lang="ja", can_assign=True)


def test_several_rows_follow_each_other_and_none_is_empty() -> None:
    with language("en"):
        writer = AccountRowsHtml(Formatter("en", TOKYO), AS_OF, can_assign=False)
        two = str(writer.rows([_row(), _row(id=8, name="B")], {}, None))
        assert writer.rows([], {}, None) == ""
    assert two == _html(_row()) + _html(_row(id=8, name="B"))
    assert '<a href="/accounts/8">B</a>' in two


def test_money_without_a_currency_is_a_dash_even_an_empty_one() -> None:
    """An empty currency shows "—" as no currency does (never a bare "5.00")."""
    cells = _cells(_html(_row(mrr=500, ltv=700, residual_value=None, currency="", churn_risk=None)))
    assert cells[4] == '<td class="num" data-testid="mrr">—</td>'
    assert cells[14] == '<td class="num" data-testid="ltv">—</td>'
    assert cells[15] == '<td class="num" data-testid="churn-risk">—</td>'
    assert _cells(_html(_row(ltv=None, currency="JPY")))[14] == '<td class="num" data-testid="ltv">—</td>'


def test_floats_are_written_once_per_value_as_babel_writes_them() -> None:
    """The float cache (issue 19) keeps the sign of zero apart and each locale's own text."""
    en, ja = Formatter("en", TOKYO), Formatter("ja", TOKYO)
    assert [en.number(v, 1) for v in (0.0, -0.0, 0.0, 1234.56, 0.05, 0.15)] == ["0.0", "-0.0", "0.0", "1,234.6", "0.0",
                                                                                 "0.2"]  # fmt: skip
    assert [ja.number(1234.56, 2), en.number(2.5), en.number(3.5), en.number(7)] == ["1,234.56", "2", "4", "7"]
    assert [en.percent(0.1234), en.percent(-0.0), en.percent(1.0, 0)] == ["12.3%", "-0.0%", "100%"]


def test_whole_numbers_and_decimals_are_written_as_babel_writes_them() -> None:
    """Values that are not floats take Babel's apply directly (not remembered)."""
    en = Formatter("en", TOKYO)
    assert [en.number(1234567, 2), en.number(Decimal("0.125"), 2), en.number(Decimal("-1234.5"), 1)] == [
        "1,234,567.00", "0.12", "-1,234.5"]  # fmt: skip
    assert en.percent(Decimal("0.0625")) == "6.2%"
