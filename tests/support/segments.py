"""What every way of cutting text into segments must keep: each word once, in order, in
pieces the engine accepts (the one-shot splitter's tests and the streamed cutter's share these)."""

from __future__ import annotations

import re

from hypothesis import strategies as st

from readaloud.text.segment import Segment


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text)


def spoken_words(text: str, segments: list[Segment]) -> list[str]:
    """The words a listener hears, segment after segment.

    Segments are joined with a space, except where one ends exactly where the next starts: there
    a token longer than the limit was broken in two, and its halves belong together.
    """
    joined = ""
    for index, segment in enumerate(segments):
        if index and segments[index - 1].end != segment.start:
            joined += " "
        joined += segment.text
    return words(joined)


def assert_well_formed(text: str, segments: list[Segment], limit: int) -> None:
    for segment in segments:
        assert segment.text, segment
        assert segment.text == segment.text.strip(), segment
        assert "\n" not in segment.text, segment
        assert "  " not in segment.text, segment
        assert not any(c.isspace() and c != " " for c in segment.text), segment
        assert re.search(r"\w", segment.text), f"wordless segment {segment}"
        assert len(segment.text) <= limit, segment
        assert 0 <= segment.start < segment.end <= len(text), segment
        assert words(text[segment.start : segment.end]) == words(segment.text), segment
    for before, after in zip(segments, segments[1:], strict=False):
        assert before.end <= after.start, (before, after)
    assert spoken_words(text, segments) == words(text)
    # Where no token was broken, the plain " ".join must give back every word as well.
    if all(a.end != b.start for a, b in zip(segments, segments[1:], strict=False)):
        assert words(" ".join(s.text for s in segments)) == words(text)


# --- properties --------------------------------------------------------------------------------

LANGUAGES = st.sampled_from(
    ["en", "de", "fr", "es", "zh", "ja", "ru", "ar", "pt", "ko", None, "xx"]
)
LIMITS = st.sampled_from([None, None, 1, 3, 12, 40, 82])
FRAGMENT_WORDS = st.sampled_from([0, 1, 3, 6])

# Characters that trouble sentence splitters: pysbd's own placeholder symbols, line separators,
# CJK stops, quotes, combining marks, NUL, a lone surrogate, right-to-left text.
AWKWARD = (
    list("∯♟♝ǃ♨☝ƪᓴᓷ✂☏∮ȹȸ☉☈☇☄⎋⌬ᓸᓳᓱᓰ♭♬．⁃")
    + list(".,;:!?…。！？、，“”‘’«»\"'()[]-—–*•#@/\\$%&")
    + ["\n", "\n\n", "\r\n", "\t", " ", "  ", "\u2028", "\x0b", "\x1c", "\x85", "\xa0"]
    + ["\x00", "\u0301", "\ud800", "\u200b", "😀", "漢字", "שלום", "مرحبا", "é", "ß"]
)
ANY_TEXT = st.one_of(
    st.text(st.characters(exclude_categories=())),  # every code point, surrogates included
    st.lists(st.sampled_from(AWKWARD + ["a", "B", "7", "Dr.", "e.g.", " x "]), max_size=60).map(
        "".join
    ),
)

WORD = st.one_of(
    st.sampled_from(
        ["the", "River", "was", "wide", "and", "I", "Dr.", "Mrs.", "U.S.", "e.g.", "i.e."]
        + ["p.m.", "p.", "(see", "5)", "3.14", "$4.50", "10:30", "1,000", "—", "–", "..."]
        + ["Straße", "naïve", "über", "漢字", "日本語", "😀", "l'homme", "don't", '"Stop."']
        + ["https://example.com/a.b?c=d", "www.example.org/x!y", "jane.doe@example.com"]
    ),
    st.from_regex(r"[A-Za-z]{1,12}", fullmatch=True),
    st.from_regex(r"[a-z]{200,320}", fullmatch=True),  # longer than any limit
)
SEPARATOR = st.sampled_from(
    [" "] * 4
    + [", ", "; ", ": ", ". ", "? ", "! ", "... ", " — ", "。", "！", "  ", "\t"]
    + ["\n", "\n\n", ".\n", "\n   \n", "\n- ", "\n* ", "\n• ", "\n1. ", "\n2) ", "\n## "]
)
PROSE = st.lists(st.tuples(WORD, SEPARATOR), max_size=60).map(
    lambda pairs: "".join(word + separator for word, separator in pairs)
)
