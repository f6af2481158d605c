"""The success plan's one-page, customer-facing summary for a business review, as PDF
(the HTML version is the page ``/accounts/{id}/success-plan/summary``).

Rendered with fpdf2 and a Japanese font the machine has: Debian's ``fonts-noto-cjk``
(Noto Sans CJK JP) or, failing that, the IPA Gothic of ``fonts-ipafont-gothic``. A
machine with neither gets :class:`PdfFontMissing` (code ``pdf_font_missing``) naming the
package to install — never a broken PDF with empty boxes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

from kizuna.domain.success_plans import TRACK_LABELS
from kizuna.errors import KizunaError
from kizuna.i18n import _, language
from kizuna.services.success_plans import SuccessPlan

#: (path, index in a font collection); the first that exists is used.
FONTS: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 0),
    ("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc", 0),
    ("/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf", 0),
    ("/usr/share/fonts/truetype/fonts-japanese-gothic.ttf", 0),
)


class PdfFontMissing(KizunaError):
    code = "pdf_font_missing"


def find_font(candidates: Sequence[tuple[str, int]] = FONTS) -> tuple[str, int]:
    for path, index in candidates:
        if Path(path).is_file():
            return path, index
    raise PdfFontMissing(_("The PDF needs a Japanese font and none is installed: install the Debian package "
                           "fonts-noto-cjk (apt-get install fonts-noto-cjk). The HTML summary works without it."))


def _number(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _day(value: date | None) -> str:
    return value.isoformat() if value else "—"


def render_pdf(plan: SuccessPlan, lang: str, fonts: Sequence[tuple[str, int]] | None = None) -> bytes:
    """The summary as one A4 page (more when there are many objectives), in ``lang``."""
    from fpdf import FPDF  # imported here: only the PDF download pays for it

    path, index = find_font(FONTS if fonts is None else fonts)
    with language(lang):
        pdf = FPDF(format="A4")
        pdf.set_auto_page_break(auto=True, margin=15)
        pdf.add_font("body", fname=path, collection_font_number=index)
        pdf.add_page()
        pdf.set_title(_("Success plan"))
        pdf.set_font("body", size=18)
        pdf.multi_cell(0, 10, _("Success plan: {account}").format(account=plan.account_name), new_x="LMARGIN",
                       new_y="NEXT")  # fmt: skip
        pdf.set_font("body", size=10)
        pdf.multi_cell(0, 6, _("As of {day}").format(day=plan.as_of.isoformat()), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(4)
        if not plan.objectives:
            pdf.multi_cell(0, 6, _("No objective yet."), new_x="LMARGIN", new_y="NEXT")
        for o in plan.objectives:
            pdf.set_font("body", size=13)
            status = _(TRACK_LABELS[o.track.status]) if o.track else "—"
            pdf.multi_cell(0, 8, f"{o.title} — {status}", new_x="LMARGIN", new_y="NEXT")
            pdf.set_font("body", size=10)
            line = _("{metric}: from {baseline} to {target} by {due}; now {current}").format(
                metric=o.metric or "—", baseline=_number(o.baseline_value), target=_number(o.target_value),
                due=_day(o.due_on), current=_number(o.current_value))  # fmt: skip
            pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
            if o.track:
                pdf.multi_cell(0, 6, _("Progress {progress} with {elapsed} of the time gone").format(
                    progress=f"{round(o.track.progress * 100)}%", elapsed=f"{round(o.track.elapsed * 100)}%"),
                    new_x="LMARGIN", new_y="NEXT")  # fmt: skip
            for m in o.milestones:
                mark = "[x]" if m.done else "[ ]"
                pdf.multi_cell(0, 6, f"  {mark} {m.name}  {_day(m.due_on)}", new_x="LMARGIN", new_y="NEXT")
            pdf.ln(3)
        return bytes(pdf.output())
