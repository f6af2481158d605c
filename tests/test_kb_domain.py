"""The knowledge base's rules by hand: an article file read, its HTML, the search bigrams and
the language version picked (pure calls; ``test_kb.py`` runs them through the import, the
pages and the API)."""

from __future__ import annotations

import pytest

from kizuna.domain.kb import Article, _markdown, bigrams, candidate_slugs, parse_article, pick_version, render_html
from kizuna.errors import InvalidInput

HEAD = "title: CSV で取引先を取り込む\ncategory: import\nlanguage: ja\nslug: import-accounts-csv\n"


def test_an_article_file_read() -> None:
    text = f"\ufeff---\r\n# a comment line\r\n\r\n{HEAD}---\r\n\r\n本文\r\n- 一\r\n"
    assert parse_article(text, "a.md") == Article("import-accounts-csv", "ja", "CSV で取引先を取り込む", "import",
                                                  "本文\n- 一\n")  # fmt: skip
    # quotes around a value are dropped, then spaces inside them; a longer closing line's dashes too
    quoted = "---\ntitle: ' Quoted '\ncategory: \"guide\"\nlanguage: en\nslug: a\n-----\nBody"
    assert parse_article(quoted, "b.md") == Article("a", "en", "Quoted", "guide", "Body")
    # a value holding a colon (split at the first one); an indented comment; an X at a value's
    # ends is no quote; the body keeps a leading X and its indentation (a code block) and a
    # "---" rule of its own (the block ends at the first closing line)
    text = ("---\n  # indented comment\ntitle: 'Guide: CSV X'\ncategory: \"Xguide\"\nlanguage: en\nslug: g\n---\n"
            "\n    indented code\n\n---\nX marks the spot")
    assert parse_article(text, "g.md") == Article("g", "en", "Guide: CSV X", "Xguide",
                                                  "    indented code\n\n---\nX marks the spot")  # fmt: skip
    assert parse_article("---\ntitle: t\ncategory: c\nlanguage: ja\nslug: s\n---\nX", "x.md").body == "X"
    # what follows the dashes on the closing line stays with the body (here a space: Markdown
    # reads the body the same)
    assert parse_article("---\ntitle: t\ncategory: c\nlanguage: ja\nslug: s\n--- \nbody", "x.md").body == " \nbody"
    assert parse_article("---\ntitle: t\ncategory: c\nlanguage: ja\nslug: s\n---X\nbody", "x.md").body == "X\nbody"
    # the longest title (300), category (100) and slug (120) are kept, and a body of 200,000
    title, category, slug, body = "t" * 300, "c" * 100, "s" * 120, "b" * 200_000
    long = f"---\ntitle: {title}\ncategory: {category}\nlanguage: en\nslug: {slug}\n---\n{body}"
    assert parse_article(long, "c.md") == Article(slug, "en", title, category, body)


def _refused(text: str) -> tuple[str, str, str | None]:
    with pytest.raises(InvalidInput) as caught:
        parse_article(text, "kb/x.md")
    return str(caught.value), caught.value.code, caught.value.field


@pytest.mark.parametrize(
    ("text", "message", "field"),
    [
        (f"{HEAD}---\n", "kb/x.md: front matter: the file must begin with a front matter block between --- lines",
         "front matter"),
        (f"---\n{HEAD}", "kb/x.md: front matter: the front matter is not closed by a --- line", "front matter"),
        # an empty block is closed: its fields are missing
        ("---\n---\nbody", "kb/x.md: title: is missing", "title"),
        # the line number counts the opening --- as line 1
        ("---\ntitle: x\nno colon here\n---\n", "kb/x.md: line 3: a front matter line is “key: value”", "line 3"),
        ("---\ntags: x\n---\n", "kb/x.md: tags: unknown field; the fields are: title, category, language, slug",
         "tags"),
        ("---\n" + "k" * 50 + ": x\n---\n",
         f"kb/x.md: {'k' * 40}: unknown field; the fields are: title, category, language, slug", "k" * 40),
        (f"---\n{HEAD}title: again\n---\n", "kb/x.md: title: given twice", "title"),
        (HEAD.replace("category: import", "category: ''").join(["---\n", "---\n"]), "kb/x.md: category: is missing",
         "category"),
        ("---\ntitle: x\ncategory: y\nlanguage: en\n---\n", "kb/x.md: slug: is missing", "slug"),
        (f"---\ntitle: {'t' * 301}\ncategory: c\nlanguage: en\nslug: s\n---\n",
         "kb/x.md: title: is longer than 300 characters", "title"),
        (f"X---\n{HEAD}---\n", "kb/x.md: front matter: the file must begin with a front matter block between --- lines",
         "front matter"),
        (HEAD.replace("import\n", "c" * 101 + "\n").join(["---\n", "---\n"]),
         "kb/x.md: category: is longer than 100 characters", "category"),
        (HEAD.replace("language: ja", "language: " + "fr" * 15).join(["---\n", "---\n"]),
         f"kb/x.md: language: must be ja or en, not '{'fr' * 10}'", "language"),
        (HEAD.replace("import-accounts-csv", "S" * 50).join(["---\n", "---\n"]),
         f"kb/x.md: slug: a slug is 1–120 lower-case letters, digits or -, not '{'S' * 40}'", "slug"),
        (HEAD.replace("import-accounts-csv", "s" * 121).join(["---\n", "---\n"]),
         f"kb/x.md: slug: a slug is 1–120 lower-case letters, digits or -, not '{'s' * 40}'", "slug"),
        (f"---\n{HEAD}---\n" + "b" * 200_001, "kb/x.md: body: is longer than 200000 characters", "body"),
    ],
)  # fmt: skip
def test_a_bad_article_names_the_file_and_the_field(text: str, message: str, field: str) -> None:
    assert _refused(text) == (message, "invalid_kb_article", field)


def test_the_html_keeps_safe_links_and_shows_html_as_text() -> None:
    assert render_html('[t](https://x.example "T") [m](mailto:a@b.jp) [r](../guide) ![a](http://x.example/i.png "I")'
                       " <b>x</b>") == (
        '<p><a href="https://x.example" title="T" rel="noopener noreferrer nofollow">t</a> '
        '<a href="mailto:a@b.jp" rel="noopener noreferrer nofollow">m</a> '
        '<a href="../guide" rel="noopener noreferrer nofollow">r</a> '
        '<img src="http://x.example/i.png" alt="a" title="I"> &lt;b&gt;x&lt;/b&gt;</p>\n'
    )  # fmt: skip
    # a javascript: or data: link is not made a link at all
    assert render_html("[j](javascript:alert(1)) [d](data:text/html,x)") == (
        "<p>[j](javascript:alert(1)) [d](data:text/html,x)</p>\n"
    )


def test_a_numbered_list_keeps_its_first_number() -> None:
    # steps interrupted by a paragraph go on at 3, not again at 1
    assert render_html("1. one\n2. two\n\nA note.\n\n3. three\n") == (
        "<ol>\n<li>one</li>\n<li>two</li>\n</ol>\n<p>A note.</p>\n<ol start=\"3\">\n<li>three</li>\n</ol>\n"
    )
    # a fenced block's language class is dropped, the rest kept
    assert render_html("```python\nx = 1\n```\n\n> q\n\n---\n") == (
        "<pre><code>x = 1\n</code></pre>\n<blockquote>\n<p>q</p>\n</blockquote>\n<hr>\n"
    )


def test_the_markdown_reader_alone() -> None:
    md = _markdown()
    # raw HTML off, no linkify, no typographer: quotes and a bare address stay as written
    assert md.render('<i>x</i> "q" https://x.example') == '<p>&lt;i&gt;x&lt;/i&gt; &quot;q&quot; https://x.example</p>\n'
    assert md.render("[j]( JAVASCRIPT:y)") == "<p>[j]( JAVASCRIPT:y)</p>\n"
    assert md.render("[h](HTTPS://x.example)") == '<p><a href="HTTPS://x.example">h</a></p>\n'


def test_the_search_bigrams() -> None:
    # "CSV 取込": cs, sv, 取込 ("v " and " 取" hold a space: left out)
    assert bigrams("CSV 取込") == {"cs", "sv", "取込"}
    assert bigrams("abab") == {"ab", "ba"}
    assert bigrams("a") == set()
    assert bigrams("") == set()


A = Article("onboard", "en", "On", "c", "")
A_JA = Article("onboard-ja", "ja", "オン", "c", "")
A_EN = Article("onboard-en", "en", "On (en)", "c", "")
OTHER = Article("other", "ja", "他", "c", "")


def test_the_language_version_of_an_article() -> None:
    # the reader's language among slug, its base and the base's -ja and -en versions
    assert pick_version([OTHER, A_JA, A_EN], "onboard", "ja") is A_JA
    assert pick_version([OTHER, A_JA, A_EN], "onboard-ja", "en") is A_EN
    # two in the reader's language: the slug itself first
    assert pick_version([A_EN, A], "onboard", "en") is A
    assert pick_version([A, A_EN], "onboard-en", "en") is A_EN
    # none in the reader's language: the slug itself, else any in the names' order
    assert pick_version([A_EN, A_JA], "onboard-ja", "fr") is A_JA
    assert pick_version([A_EN, A_JA], "onboard", "fr") is A_JA
    # only the base exists: found from either language's name
    assert pick_version([A], "onboard-en", "en") is A
    assert pick_version([A], "onboard-ja", "en") is A
    assert pick_version([OTHER], "onboard", "ja") is None
    assert pick_version([], "onboard", "ja") is None


def test_the_candidate_slugs_of_a_set_of_names() -> None:
    assert candidate_slugs(["guide-ja", "faq"]) == ["faq", "faq-en", "faq-ja", "guide", "guide-en", "guide-ja"]
    assert candidate_slugs(["x-en"]) == ["x", "x-en", "x-ja"]
    assert candidate_slugs([]) == []
