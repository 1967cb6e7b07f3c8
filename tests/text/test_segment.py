"""Segmentation: every word is spoken once, in order, in pieces the engine accepts."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, example, given, settings
from support.segments import (
    ANY_TEXT,
    FRAGMENT_WORDS,
    LANGUAGES,
    LIMITS,
    PROSE,
    assert_well_formed,
    spoken_words,
    words,
)

from readaloud.text.segment import (
    DEFAULT_MAX_CHARS,
    LANGUAGE_MAX_CHARS,
    iter_segments,
    max_chars_for,
    split,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=ANY_TEXT, language=LANGUAGES, max_chars=LIMITS, fragment=FRAGMENT_WORDS)
@example(text="ab ,,,,,,,", language="en", max_chars=5, fragment=0)  # punctuation too long to join
@example(text="Visit https://example.com/a.b?c=d now.", language="en", max_chars=None, fragment=6)
def test_any_text_keeps_every_word(
    text: str, language: str | None, max_chars: int | None, fragment: int
) -> None:
    segments = split(text, language, max_chars=max_chars, first_fragment_words=fragment)
    limit = max_chars_for(language) if max_chars is None else max_chars
    assert_well_formed(text, segments, limit)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=PROSE, language=LANGUAGES, max_chars=LIMITS, fragment=FRAGMENT_WORDS)
def test_prose_keeps_every_word(
    text: str, language: str | None, max_chars: int | None, fragment: int
) -> None:
    segments = split(text, language, max_chars=max_chars, first_fragment_words=fragment)
    limit = max_chars_for(language) if max_chars is None else max_chars
    assert_well_formed(text, segments, limit)


@settings(max_examples=50, deadline=None)
@given(text=PROSE)
def test_iter_segments_matches_split(text: str) -> None:
    assert list(iter_segments(text)) == split(text)


# --- what a listener hears ---------------------------------------------------------------------

SENTENCE_600 = " ".join(["somewhere"] * 59 + ["everywhere"])  # 600 characters, no punctuation
LONG_TOKEN = "x" * 400

CASES = [
    pytest.param(
        "Dr. Smith arrived. He was late.", {}, ["Dr. Smith arrived.", "He was late."], id="dr-smith"
    ),
    pytest.param(
        "The U.S. economy grew. E.g. this is fine, i.e. ok.",
        {},
        ["The U.S. economy grew.", "E.g. this is fine, i.e. ok."],
        id="abbreviations",
    ),
    pytest.param(
        "It costs $4.50 today. Pi is 3.14 roughly.",
        {},
        ["It costs $4.50 today.", "Pi is 3.14 roughly."],
        id="decimals-money",
    ),
    pytest.param("Wait... what? Really.", {}, ["Wait... what?", "Really."], id="ellipsis"),
    pytest.param(
        'He said, "Stop." Then left.', {}, ['He said, "Stop."', "Then left."], id="quotes"
    ),
    pytest.param(
        "Shopping list:\n- eggs\n* milk and\n  fresh bread\n• butter",
        {},
        ["Shopping list:", "eggs", "milk and fresh bread", "butter"],
        id="bullet-list",
    ),
    pytest.param(
        "Steps:\n1. Open the box.\n2) Take out the manual. Read it.",
        {},
        ["Steps:", "1. Open the box.", "2) Take out the manual.", "Read it."],
        id="numbered-list",
    ),
    pytest.param(
        "Introduction\nThe text begins here.",
        {},
        ["Introduction", "The text begins here."],
        id="heading-paragraph",
    ),
    pytest.param(
        "## Getting started ##\nInstall it first.",
        {},
        ["Getting started", "Install it first."],
        id="markdown-heading",
    ),
    pytest.param(
        "The river was wide and\ndeep, and it was cold.",
        {"first_fragment_words": 0},
        ["The river was wide and deep, and it was cold."],
        id="wrapped-line-is-no-heading",
    ),
    pytest.param(
        "First paragraph has no stop\n\n\nSecond one neither",
        {},
        ["First paragraph has no stop", "Second one neither"],
        id="blank-lines",
    ),
    pytest.param(
        "Go to https://example.com/a.b?c=d now. Write to jane.doe@example.com today.",
        {},
        ["Go to https://example.com/a.b?c=d now.", "Write to jane.doe@example.com today."],
        id="url-email",
    ),
    pytest.param(
        "这是第一句。这是第二句！这是第三句？好的。",
        {"language": "zh"},
        ["这是第一句。", "这是第二句！", "这是第三句？", "好的。"],
        id="cjk",
    ),
    pytest.param(
        "Das ist z. B. ein Test. Und noch einer.",
        {"language": "de"},
        ["Das ist z. B. ein Test.", "Und noch einer."],
        id="german-abbreviation",
    ),
    pytest.param(
        "今日は晴れです。明日は雨でしょう。",
        {"language": "ja"},
        ["今日は晴れです。", "明日は雨でしょう。"],
        id="japanese",
    ),
    pytest.param(
        "O Dr. Silva chegou. Ele estava atrasado.",
        {"language": "pt-BR"},  # pysbd has no Portuguese: English rules
        ["O Dr. Silva chegou.", "Ele estava atrasado."],
        id="language-without-pysbd-rules",
    ),
    pytest.param("Hello!!! ??? World.", {}, ["Hello!!! ???", "World."], id="punctuation-run"),
    pytest.param(  # pysbd uses "∯" internally and loses the sentence without our masking
        "Use the ∯ sign. Then stop.", {}, ["Use the ∯ sign.", "Then stop."], id="pysbd-symbol"
    ),
    pytest.param(
        "Roses are red\nViolets are blue\nSugar is sweet\nAnd so are you.",
        {},
        ["Roses are red", "Violets are blue", "Sugar is sweet", "And so are you."],
        id="short-lines-read-apart",
    ),
    pytest.param(
        "The quick brown fox jumped over the lazy dog near the river bank.",
        {},
        ["The quick brown fox jumped over", "the lazy dog near the river bank."],
        id="first-fragment-by-count",
    ),
    pytest.param(
        "When the storm finally passed, we walked down to the harbour at night.",
        {},
        ["When the storm finally passed,", "we walked down to the harbour at night."],
        id="first-fragment-at-comma",
    ),
    pytest.param(
        "The quick brown fox jumped over the lazy dog near the river bank.",
        {"first_fragment_words": 0},
        ["The quick brown fox jumped over the lazy dog near the river bank."],
        id="first-fragment-off",
    ),
    pytest.param(
        "Hi there. The quick brown fox jumped over the lazy dog near the river bank.",
        {},
        ["Hi there.", "The quick brown fox jumped over the lazy dog near the river bank."],
        id="first-fragment-only-first-sentence",
    ),
    pytest.param("", {}, [], id="empty"),
    pytest.param(" \n\t\n ", {}, [], id="whitespace"),
    pytest.param("... !!! ?\n- \n* * *\n#", {}, [], id="punctuation-only"),
]


@pytest.mark.parametrize(("text", "options", "expected"), CASES)
def test_listener_hears(text: str, options: dict, expected: list[str]) -> None:
    segments = split(text, **options)
    assert [s.text for s in segments] == expected
    assert_well_formed(text, segments, max_chars_for(options.get("language", "en")))


def test_segment_offsets_point_into_the_original() -> None:
    text = "Intro\n\n- Dr. Smith  arrived.\n## Next ##"
    segments = split(text)
    assert [(s.text, text[s.start : s.end]) for s in segments] == [
        ("Intro", "Intro"),
        ("Dr. Smith arrived.", "Dr. Smith  arrived."),
        ("Next", "Next"),
    ]


@pytest.mark.parametrize("fragment", [0, 6])
def test_long_sentence_without_punctuation_splits_at_spaces(fragment: int) -> None:
    assert len(SENTENCE_600) == 600
    segments = split(SENTENCE_600, first_fragment_words=fragment)
    assert len(segments) >= 3
    for segment in segments:
        assert len(segment.text) <= 250
        # Cut between words, never inside one.
        assert segment.start == 0 or SENTENCE_600[segment.start - 1] == " "
        assert segment.end == 600 or SENTENCE_600[segment.end] == " "
    assert words(" ".join(s.text for s in segments)) == words(SENTENCE_600)


def test_long_sentence_prefers_clause_punctuation() -> None:
    clause = " ".join(["word"] * 30)  # 149 characters
    text = f"{clause}, {clause}; {clause}."
    segments = split(text, first_fragment_words=0)
    assert [s.text for s in segments] == [f"{clause},", f"{clause};", f"{clause}."]


def test_single_overlong_token_is_hard_split() -> None:
    segments = split(f"See {LONG_TOKEN} now.", first_fragment_words=0)
    assert all(len(s.text) <= 250 for s in segments)
    assert "".join(s.text for s in segments).replace(" ", "") == f"See{LONG_TOKEN}now."


def test_overlong_url_breaks_after_punctuation_not_inside_words() -> None:
    url = "https://example.com/" + "/".join(["segment"] * 60)
    segments = split(url)
    assert len(segments) > 1
    assert all(len(s.text) <= 250 for s in segments)
    assert spoken_words(url, segments) == words(url)
    assert words(" ".join(s.text for s in segments)) == words(url)  # no word broken


def test_chinese_without_stops_respects_its_limit() -> None:
    text = "我们" * 100
    segments = split(text, "zh")
    assert all(len(s.text) <= 82 for s in segments)
    assert "".join(s.text for s in segments) == text


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", 250),
        ("en-US", 250),
        ("en_US", 250),
        ("EN", 250),
        ("de", 253),
        ("zh", 82),
        ("zh-cn", 82),
        ("zh_CN", 82),
        ("ja", 71),
        ("pt-BR", 203),
        ("xx", DEFAULT_MAX_CHARS),
        ("", DEFAULT_MAX_CHARS),
        (None, DEFAULT_MAX_CHARS),
    ],
)
def test_max_chars_for(language: str | None, expected: int) -> None:
    assert max_chars_for(language) == expected


def test_every_language_limit_bounds_segments() -> None:
    text = " ".join(["Lorem ipsum dolor sit amet consectetur adipiscing elit"] * 40)
    for language, limit in LANGUAGE_MAX_CHARS.items():
        segments = split(text, language)
        assert all(len(s.text) <= limit for s in segments), language
        assert spoken_words(text, segments) == words(text), language


def test_invalid_options_are_refused() -> None:
    with pytest.raises(ValueError, match="max_chars"):
        split("Hello.", max_chars=0)
    with pytest.raises(ValueError, match="first_fragment_words"):
        split("Hello.", first_fragment_words=-1)


def test_threads_share_the_segmenters_safely() -> None:
    # The daemon splits on its server thread and its synthesis worker at the same time.
    inputs = [(case.values[0], case.values[1].get("language", "en")) for case in CASES] * 8
    expected = [split(text, language) for text, language in inputs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda args: split(*args), inputs))
    assert results == expected
