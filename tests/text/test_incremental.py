"""Text that arrives in pieces: every word is spoken once, in order, and a sentence is cut as soon
as its end is certain — not before (abbreviations, numbers, quotes), not later."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.segments import ANY_TEXT, LANGUAGES, LIMITS, PROSE, assert_well_formed

from readaloud.text.incremental import LineCutter, SentenceCutter
from readaloud.text.segment import Segment, max_chars_for


def pieces_of(text: str, cuts: list[int]) -> list[str]:
    points = sorted({min(len(text), c) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in zip(points, points[1:], strict=False)]


def fed(cutter: SentenceCutter | LineCutter, pieces: list[str]) -> list[Segment]:
    segments = [s for piece in pieces for unit in cutter.feed(piece) for s in unit]
    return segments + [s for unit in cutter.flush() for s in unit]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.one_of(ANY_TEXT, PROSE),
    cuts=st.lists(st.integers(0, 400), max_size=40),
    language=LANGUAGES,
    max_chars=LIMITS,
)
def test_any_split_of_the_input_keeps_every_word(
    text: str, cuts: list[int], language: str | None, max_chars: int | None
) -> None:
    cutter = SentenceCutter(language, max_chars=max_chars)
    segments = fed(cutter, pieces_of(text, cuts))
    assert_well_formed(text, segments, max_chars_for(language) if max_chars is None else max_chars)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=PROSE, cuts=st.lists(st.integers(0, 400), max_size=40), max_chars=LIMITS)
def test_any_split_into_lines_keeps_every_word(
    text: str, cuts: list[int], max_chars: int | None
) -> None:
    segments = fed(LineCutter("en", max_chars=max_chars), pieces_of(text, cuts))
    assert_well_formed(text, segments, max_chars_for("en") if max_chars is None else max_chars)
    for segment in segments:  # no segment spans two lines
        assert "\n" not in text[segment.start : segment.end]


def word_by_word(text: str) -> list[str]:
    """The pieces an LLM client prints: each word with the space before it."""
    words = text.split(" ")
    return [words[0]] + [" " + word for word in words[1:]]


def cut_after(pieces: list[str], **options: object) -> list[tuple[str, str]]:
    """(the text fed when a segment was cut, that segment) for each segment, in order."""
    cutter = SentenceCutter("en", **options)  # type: ignore[arg-type]
    cuts = []
    so_far = ""
    for piece in pieces:
        so_far += piece
        cuts += [(so_far, s.text) for unit in cutter.feed(piece) for s in unit]
    return cuts + [("<end>", s.text) for unit in cutter.flush() for s in unit]


def test_a_sentence_is_cut_with_its_last_character() -> None:
    cuts = cut_after(word_by_word("Hello there my friend. How are you today?"))
    assert cuts[0] == ("Hello there my friend.", "Hello there my friend.")
    # The last sentence needs no flush either: its question mark is certain.
    assert cuts[1] == (
        "Hello there my friend. How are you today?",
        "How are you today?",
    )


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        pytest.param("I met Dr. Smith today. Yes.", ["I met Dr. Smith today.", "Yes."], id="dr"),
        pytest.param("We met at 5 p.m. yesterday. Fine.", ["We met at 5 p.m. yesterday.", "Fine."]),
        pytest.param("It costs 3.5 dollars. Cheap.", ["It costs 3.5 dollars.", "Cheap."]),
        pytest.param("It costs 3. Then more.", ["It costs 3.", "Then more."], id="number-end"),
        pytest.param("Fruit, e.g. apples, is good. Yes.", ["Fruit, e.g. apples, is good.", "Yes."]),
        pytest.param('He said "Stop." Then left.', ['He said "Stop."', "Then left."]),
    ],
)
def test_a_sentence_end_that_is_not_certain_waits(text: str, sentences: list[str]) -> None:
    # Character by character: the hardest split, where every "." is at the end of the input.
    assert [segment for _, segment in cut_after(list(text), first_fragment_words=0)] == sentences


def test_a_name_with_a_dot_in_it_is_kept_when_its_dot_comes_with_what_follows() -> None:
    # A full stop after a plain word at the very end of the input is taken as the end: waiting
    # for the next word would delay every sentence. Programs print ".com" with its dot.
    cuts = cut_after(["Go to example", ".com", " now.", " Ok."], first_fragment_words=0)
    assert [segment for _, segment in cuts] == ["Go to example.com now.", "Ok."]


def test_a_number_waits_only_for_the_next_character() -> None:
    cuts = cut_after(["It costs 3.", " Then", " more."], first_fragment_words=0)
    assert cuts[0] == ("It costs 3. Then", "It costs 3.")


def test_a_long_first_sentence_starts_before_it_ends() -> None:
    text = "When the river rose that spring, the whole village moved up the hill to wait."
    cuts = cut_after(word_by_word(text))
    # As split() cuts a whole text: once the sentence has more than 6 + 2 words.
    fed_then = "When the river rose that spring, the whole village"
    assert cuts[0] == (fed_then, "When the river rose that spring,")


def test_a_paragraph_end_is_certain_and_a_pause_flushes_the_rest() -> None:
    cutter = SentenceCutter("en", first_fragment_words=0)
    assert cutter.feed("A heading without a stop") == []
    [(segment,)] = cutter.feed("\n\n")
    assert segment.text == "A heading without a stop"
    assert cutter.feed("then a line") == []
    [(segment,)] = cutter.flush()
    assert (segment.text, segment.start) == ("then a line", 26)
    assert cutter.pending == ""


def test_cjk_stops_are_certain() -> None:
    cutter = SentenceCutter("ja", first_fragment_words=0)
    [(segment,)] = cutter.feed("今日は晴れです。")
    assert segment.text == "今日は晴れです。"


def test_lines_are_units_of_their_segments() -> None:
    cutter = LineCutter("en", max_chars=20)
    assert cutter.feed("build step one finished fine. ok") == []
    units = cutter.feed("\nstep two\nste")
    assert [[s.text for s in unit] for unit in units] == [
        ["build step one", "finished fine.", "ok"],
        ["step two"],
    ]
    assert [[s.text for s in unit] for unit in cutter.flush()] == [["ste"]]
