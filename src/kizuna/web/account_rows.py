"""The accounts list's table rows as HTML, written in Python (issue 19).

The table is most of a list page's server time when Jinja writes it: ~18 cells × 50 rows,
each a few expressions, filter calls, ``_()`` calls and escapes. :func:`account_rows_html`
writes the same rows — byte for byte what ``accounts/_results.html`` wrote with its loop
(checked old against new over every account of a demo store, in both languages) — with
each fixed text translated once per page instead of once per cell.

Escaping: every value from the store (names, domains, owners, industries, the top risk)
and every formatted figure goes through :func:`markupsafe.escape`, as ``{{ … }}`` does in
a template; the translations are escaped once (``_escaped``), as the templates' ``_()``
does, and a value put into a translation (``Select {name}``) is escaped before it is.
Nothing is marked safe unescaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from markupsafe import Markup, escape

from kizuna.domain.health import GRADE_LABELS
from kizuna.domain.segments import FIT_LABELS, STAGE_LABELS, TIER_LABELS
from kizuna.http.i18n import Formatter
from kizuna.http.templating import _label
from kizuna.i18n import _
from kizuna.services.accounts import AccountRow
from kizuna.services.onboarding import Progress


def _escaped(translated: str) -> str:
    """A translation as the templates' ``{{ _("…") }}`` writes it (escaped)."""
    return str(escape(translated))


class AccountRowsHtml:
    """Writes the list's rows for one page: the translations looked up once."""

    def __init__(self, fmt: Formatter, as_of: date, *, can_assign: bool) -> None:
        self.fmt = fmt
        self.as_of = as_of
        self.can_assign = can_assign
        self.monthly = _escaped(_("monthly (renews every month)"))
        self.in_days = _escaped(_("in {n} days"))
        self.days_ago = _escaped(_("{n} days ago"))
        self.at_risk = _escaped(_("At risk"))
        self.overdue = _escaped(_("{n} overdue"))
        self.residual = _escaped(_("Residual value {value}"))
        self.unowned = _escaped(_("Unowned"))
        self.select = _escaped(_("Select {name}"))
        self.grades = {k: _escaped(_(v)) for k, v in GRADE_LABELS.items()}
        self.tiers = {k: _escaped(_(v)) for k, v in TIER_LABELS.items()}
        self.stages = {k: _escaped(_(v)) for k, v in STAGE_LABELS.items()}
        self.fits = {k: _escaped(_(v)) for k, v in FIT_LABELS.items()}

    def rows(self, rows: Sequence[AccountRow], top_risks: Mapping[int, str | None],
             onboarding: Mapping[int, Progress] | None) -> Markup:  # fmt: skip
        """Every row, each ``<tr>`` on its lines as the template's loop wrote it."""
        return Markup("".join(self.row(a, top_risks.get(a.id), onboarding.get(a.id) if onboarding else None)
                              for a in rows))  # fmt: skip

    def row(self, a: AccountRow, top_risk: str | None, ob: Progress | None) -> str:
        """One account's ``<tr>…</tr>`` (with the template's indentation and line ends)."""
        fmt = self.fmt
        out = [f'    <tr data-testid="account-row" hx-disable data-id="{a.id}">\n']
        if self.can_assign:
            label = self.select.format(name=escape(a.name))
            out.append(f'<td class="pick"><input type="checkbox" name="account" value="{a.id}" form="bulk-owner" '
                       f'aria-label="{label}" data-testid="pick"></td>')  # fmt: skip
        domain = f'<span class="muted small">{escape(a.domain)}</span>' if a.domain else ""
        out.append(f'      <td class="name"><a href="/accounts/{a.id}">{escape(a.name)}</a>{domain}</td>\n')
        out.append(f"      <td>{escape(a.plan_name or '—')}</td>\n")
        out.append(f'      <td><span class="badge {escape(a.status.value)}">{escape(_label(a.status))}</span></td>\n')
        mrr = escape(fmt.money(a.mrr, a.currency)) if a.currency else "—"
        out.append(f'      <td class="num" data-testid="mrr">{mrr}</td>\n')
        out.append(self._renewal(a))
        out.append(self._health(a))
        out.append(self._trend(a))
        out.append(f'      <td class="risk small" data-testid="top-risk">{escape(top_risk or "—")}</td>\n')
        out.append(f'      <td class="date" data-testid="last-touch">{escape(fmt.date(a.last_touch_at))}</td>\n')
        tier = (f'<span class="tier {escape(a.touch_tier.value)}">{self.tiers[a.touch_tier.value]}</span>'
                if a.touch_tier else "—")  # fmt: skip
        out.append(f'      <td data-testid="tier">{tier}</td>\n')
        stage = self.stages[a.lifecycle_stage.value] if a.lifecycle_stage else "—"
        risk = f' <span class="badge at-risk" data-testid="at-risk">{self.at_risk}</span>' if a.at_risk else ""
        out.append(f'      <td data-testid="stage">{stage}{risk}</td>\n')
        out.append(f'      <td data-testid="onboarding">{self._onboarding(ob)}</td>\n')
        fit = (f'<span class="fit {escape(a.fit_band.value)}" title="{self.fits[a.fit_band.value]}">'
               f'{escape(f"{a.fit_score:.0f}")}</span>' if a.fit_band else "—")  # fmt: skip
        out.append(f'      <td class="num" data-testid="fit">{fit}</td>\n')
        title = ""
        if a.residual_value is not None:
            title = f' title="{self.residual.format(value=escape(fmt.money(a.residual_value, a.currency)))}"'
        ltv = escape(fmt.money(a.ltv, a.currency)) if a.ltv is not None and a.currency else "—"
        out.append(f'      <td class="num" data-testid="ltv"{title}>{ltv}</td>\n')
        churn = escape(fmt.percent(a.churn_risk))  # "—" for none
        out.append(f'      <td class="num" data-testid="churn-risk">{churn}</td>\n')
        out.append(f"      <td>{escape(a.owner_name) if a.owner_name else self.unowned}</td>\n")
        out.append(f"      <td>{escape(a.industry or '—')}</td>\n    </tr>\n")
        return "".join(out)

    def _renewal(self, a: AccountRow) -> str:
        days = a.days_until_renewal(self.as_of)
        soon = " soon" if days is not None and 0 <= days <= 30 else ""
        if a.renewal_on is None and a.contract_term_months == 1:
            when = f'<span class="muted">{self.monthly}</span>'
        else:
            when = str(escape(self.fmt.date(a.renewal_on)))
        if days is not None:
            text = (self.in_days.format(n=escape(self.fmt.number(days))) if days >= 0
                    else self.days_ago.format(n=escape(self.fmt.number(-days))))  # fmt: skip
            when += f'<span class="rel small" data-testid="days-to-renewal">{text}</span>'
        return f'      <td class="date{soon}" data-testid="renewal">{when}</td>\n'

    def _health(self, a: AccountRow) -> str:
        if not a.health_grade:
            return '      <td class="num" data-testid="health">—</td>\n'
        score = escape(f"{a.health_score:.0f}") if a.health_score is not None else ""
        grade = a.health_grade.value
        return (f'      <td class="num" data-testid="health"><span class="grade {escape(grade)}" '
                f'title="{self.grades[grade]}">{score}</span></td>\n')  # fmt: skip

    def _trend(self, a: AccountRow) -> str:
        t = a.health_change_30d
        if t is None:
            return '      <td class="num trend" data-testid="trend">—</td>\n'
        cls, arrow = ("up", "▲") if t > 0.05 else (("down", "▼") if t < -0.05 else ("flat", "±"))
        return (f'      <td class="num trend" data-testid="trend"><span class="{cls}">{arrow} '
                f"{escape(self.fmt.number(abs(t), 1))}</span></td>\n")  # fmt: skip

    def _onboarding(self, ob: Progress | None) -> str:
        if not ob:
            return "—"
        title = f' class="overdue" title="{self.overdue.format(n=escape(ob.overdue))}"' if ob.overdue else ""
        return f"<span{title}>{escape(ob.done)}/{escape(ob.total)}</span>"

