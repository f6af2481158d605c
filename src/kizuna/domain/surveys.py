"""Surveys that Kizuna sends (アンケート): NPS, CSAT and CES — their scales, standard
questions, and the reading of an answer (promoter, passive, detractor).

Pure: no storage, no clock. ``kizuna.services.surveys`` sends and records them."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from kizuna.domain.enums import SURVEY_SCALES, SurveyKind
from kizuna.errors import InvalidInput
from kizuna.i18n import N_, _

KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
#: The "why" answer's length limit (characters).
WHY_MOST = 2000

#: The kind's standard question, in each language: used when a programme sets none.
QUESTIONS: dict[SurveyKind, dict[str, str]] = {
    SurveyKind.NPS: {"ja": "{account} を友人や同僚に薦める可能性はどのくらいありますか？",
                     "en": "How likely are you to recommend {account} to a friend or colleague?"},
    SurveyKind.CSAT: {"ja": "{account} のサービスにどのくらい満足していますか？",
                      "en": "How satisfied are you with {account}'s service?"},
    SurveyKind.CES: {"ja": "{account} で目的を果たすのはどのくらい簡単でしたか？",
                     "en": "How easy was it to get done what you wanted with {account}?"},
}  # fmt: skip

#: The words at each end of the scale (shown beside the first and last choice).
ENDS: dict[SurveyKind, tuple[str, str]] = {
    SurveyKind.NPS: (N_("Not at all likely"), N_("Extremely likely")),
    SurveyKind.CSAT: (N_("Very dissatisfied"), N_("Very satisfied")),
    SurveyKind.CES: (N_("Very difficult"), N_("Very easy")),
}


def scale(kind: SurveyKind) -> range:
    lo, hi = SURVEY_SCALES[kind]
    return range(lo, hi + 1)


def nps_category(score: int) -> str:
    """Promoter (9–10), passive (7–8) or detractor (0–6)."""
    return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"


@dataclass(frozen=True)
class Answer:
    score: int
    why: str | None


def read_answer(kind: SurveyKind, score: str | None, why: str | None) -> Answer:
    """The page's form, checked: a score on the kind's scale, a "why" of at most WHY_MOST characters."""
    lo, hi = SURVEY_SCALES[kind]
    text = (score or "").strip()
    if not text.isascii() or not text.isdecimal() or not lo <= int(text) <= hi:
        raise InvalidInput(_("choose a score from {lo} to {hi}").format(lo=lo, hi=hi), code="invalid_survey_answer",
                           field="score")  # fmt: skip
    reason = (why or "").replace("\r\n", "\n").strip()
    if len(reason) > WHY_MOST:
        raise InvalidInput(_("the answer to “why” is longer than {n} characters").format(n=WHY_MOST),
                           code="invalid_survey_answer", field="why")  # fmt: skip
    # control characters: C0 (but a line end and a tab), DEL and C1 — Unicode's category Cc
    if any(unicodedata.category(c) == "Cc" and c not in "\n\t" for c in reason):
        raise InvalidInput(_("the answer to “why” holds control characters"), code="invalid_survey_answer",
                           field="why")  # fmt: skip
    return Answer(int(text), reason or None)


def check_programme(key: str, name: str, kind: str, question_ja: str | None, question_en: str | None
                    ) -> tuple[str, str, SurveyKind, str | None, str | None]:  # fmt: skip
    """A programme's fields, checked; ``InvalidInput`` (``invalid_survey_programme``) names the field."""
    def bad(field: str, why: str) -> InvalidInput:
        return InvalidInput(why, code="invalid_survey_programme", field=field)

    key = (key or "").strip()
    if not KEY.fullmatch(key):
        raise bad("key", _("a survey key is 1–64 lower-case letters, digits, - or _"))
    name = (name or "").strip()
    if not name or len(name) > 200:
        raise bad("name", _("a survey needs a name of 1 to 200 characters"))
    if kind not in {k.value for k in SurveyKind}:
        raise bad("kind", _("the kind must be one of: {kinds}").format(kinds=", ".join(k.value for k in SurveyKind)))
    out = []
    for field, q in (("question_ja", question_ja), ("question_en", question_en)):
        q = (q or "").strip()
        if len(q) > 500 or "\n" in q:
            raise bad(field, _("a question is one line of at most {n} characters").format(n=500))
        out.append(q or None)
    return key, name, SurveyKind(kind), out[0], out[1]
