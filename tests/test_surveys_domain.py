"""The survey rules by hand: the scales, the NPS categories, an answer and a programme checked
(pure calls; ``test_surveys.py`` runs them through the pages, the CLI and the API)."""

from __future__ import annotations

import pytest

from kizuna.domain.enums import SurveyKind
from kizuna.domain.surveys import Answer, check_programme, nps_category, read_answer, scale
from kizuna.errors import InvalidInput


def test_the_scales() -> None:
    assert list(scale(SurveyKind.NPS)) == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert list(scale(SurveyKind.CSAT)) == [1, 2, 3, 4, 5]
    assert list(scale(SurveyKind.CES)) == [1, 2, 3, 4, 5, 6, 7]


def test_the_nps_categories_at_their_edges() -> None:
    assert [nps_category(s) for s in (0, 6, 7, 8, 9, 10)] == [
        "detractor", "detractor", "passive", "passive", "promoter", "promoter",
    ]  # fmt: skip


def test_an_answer_on_the_scale_with_its_why() -> None:
    assert read_answer(SurveyKind.NPS, " 0 ", None) == Answer(0, None)
    assert read_answer(SurveyKind.NPS, "10", "  ") == Answer(10, None)  # a blank why is none
    assert read_answer(SurveyKind.CSAT, "1", "") == Answer(1, None)
    assert read_answer(SurveyKind.CES, "7", " good\r\nfast\t ok ") == Answer(7, "good\nfast\t ok")
    # exactly 2,000 characters are kept (a Windows line end counts as one)
    assert read_answer(SurveyKind.CSAT, "5", "a" * 1998 + "\r\nb") == Answer(5, "a" * 1998 + "\nb")


def _refused(kind: SurveyKind, score: str | None, why: str | None) -> tuple[str, str, str | None]:
    with pytest.raises(InvalidInput) as caught:
        read_answer(kind, score, why)
    return str(caught.value), caught.value.code, caught.value.field


@pytest.mark.parametrize(
    ("kind", "score", "message"),
    [
        (SurveyKind.NPS, "11", "choose a score from 0 to 10"),
        (SurveyKind.NPS, "-1", "choose a score from 0 to 10"),
        (SurveyKind.CSAT, "0", "choose a score from 1 to 5"),
        (SurveyKind.CSAT, "6", "choose a score from 1 to 5"),
        (SurveyKind.CES, "8", "choose a score from 1 to 7"),
        (SurveyKind.CES, "５", "choose a score from 1 to 7"),  # a full-width digit
        (SurveyKind.NPS, "", "choose a score from 0 to 10"),
        (SurveyKind.NPS, None, "choose a score from 0 to 10"),
        (SurveyKind.NPS, "7.5", "choose a score from 0 to 10"),
    ],
)
def test_a_score_off_the_scale_is_refused(kind: SurveyKind, score: str | None, message: str) -> None:
    assert _refused(kind, score, None) == (message, "invalid_survey_answer", "score")


def test_a_why_too_long_or_with_control_characters_is_refused() -> None:
    too_long = ("the answer to “why” is longer than 2000 characters", "invalid_survey_answer", "why")
    assert _refused(SurveyKind.NPS, "9", "a" * 2001) == too_long
    control = ("the answer to “why” holds control characters", "invalid_survey_answer", "why")
    assert _refused(SurveyKind.NPS, "9", "bell\x07") == control
    assert _refused(SurveyKind.NPS, "9", "a\rb") == control  # a lone carriage return
    assert _refused(SurveyKind.NPS, "9", "x\x1fx") == control  # the last C0 control character, 31
    assert _refused(SurveyKind.NPS, "9", "x\x7fx") == control  # DEL, 127
    assert _refused(SurveyKind.NPS, "9", "x\x80x") == control  # the first C1 control character, 128
    assert _refused(SurveyKind.NPS, "9", "x\x9fx") == control  # the last, 159
    # the first character past them (a no-break space, 160), Japanese and an emoji joined by a ZWJ are text
    assert read_answer(SurveyKind.NPS, "9", "a\xa0b 使いやすい 👩\u200d💻") == Answer(9, "a\xa0b 使いやすい 👩\u200d💻")
    assert read_answer(SurveyKind.NPS, "9", "行1\n\t行2") == Answer(9, "行1\n\t行2")
    # a space (32) is no control character
    assert read_answer(SurveyKind.NPS, "9", "a b") == Answer(9, "a b")


def test_a_programme_checked_and_trimmed() -> None:
    assert check_programme(" q3-nps_2 ", " Q3 NPS ", "nps", " How likely? ", "") == (
        "q3-nps_2", "Q3 NPS", SurveyKind.NPS, "How likely?", None,
    )  # fmt: skip
    # the longest key (64), name (200) and question (500) are kept
    key, name, q = "k" * 64, "n" * 200, "q" * 500
    assert check_programme(key, name, "ces", None, q) == (key, name, SurveyKind.CES, None, q)


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        (("", "N", "nps", None, None), "key", "a survey key is 1–64 lower-case letters, digits, - or _"),
        (("k" * 65, "N", "nps", None, None), "key", "a survey key is 1–64 lower-case letters, digits, - or _"),
        (("Q3", "N", "nps", None, None), "key", "a survey key is 1–64 lower-case letters, digits, - or _"),
        (("k", " ", "nps", None, None), "name", "a survey needs a name of 1 to 200 characters"),
        (("k", None, "nps", None, None), "name", "a survey needs a name of 1 to 200 characters"),
        (("k", "n" * 201, "nps", None, None), "name", "a survey needs a name of 1 to 200 characters"),
        (("k", "N", "ces2", None, None), "kind", "the kind must be one of: nps, csat, ces"),
        (("k", "N", "csat", "q" * 501, None), "question_ja", "a question is one line of at most 500 characters"),
        (("k", "N", "csat", None, "two\nlines"), "question_en", "a question is one line of at most 500 characters"),
    ],
)
def test_a_bad_programme_names_its_field(fields: tuple[str, str | None, str, str | None, str | None], field: str,
                                         message: str) -> None:  # fmt: skip
    with pytest.raises(InvalidInput) as caught:
        check_programme(*fields)
    assert (str(caught.value), caught.value.code, caught.value.field) == (message, "invalid_survey_programme", field)
